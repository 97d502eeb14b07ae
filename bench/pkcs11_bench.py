#!/usr/bin/env python3
"""PKCS#11 through our library, against SoftHSM2 directly and p11-kit's RPC forwarding.

One SoftHSM2 token, three ways to reach it, in the same run:

  softhsm   /usr/lib/softhsm/libsofthsm2.so loaded by the application itself
  p11-kit   p11-kit-client.so, forwarding every call over a unix socket to
            `p11-kit server` (no TLS, no KMIP): the cheapest forwarding there is
  ours      libpkcs11_kmip.so: every call in a KMIP PKCS#11 operation over mutual
            TLS to `pkcs11-kmip serve`, which calls SoftHSM2 in a worker process

The application is python-pkcs11 in a fresh process per (path, threads), as a real
application issues its calls: a sign is C_SignInit + C_Sign after finding the key
(python-pkcs11 also reads attributes when it wraps a key object). Cases:

  random32    32 random bytes: one C_GenerateRandom, the raw per-call cost
  find        find an AES key by label: C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal
  ecdsa       ECDSA P-256 over a SHA-256 digest (key found once per thread)
  rsa         RSA-2048 PKCS#1 v1.5 with SHA-256
  aes-gcm     AES-256-GCM encrypt of 64 bytes (p11-kit 0.24 does not forward GCM: n/a)

Each case runs for --duration seconds per round with T threads, each with its own
session (one login per process); rounds alternate the order of the paths, and the
table shows the median over the rounds.

    python bench/pkcs11_bench.py                     # 3 rounds, 1 and 8 threads, 3 s per case
    python bench/pkcs11_bench.py --rounds 5 --threads 1,4 --duration 5 --json out.json
    python bench/pkcs11_bench.py --rounds 0 --cpu 3000     # only CPU per forwarded call
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
P11KIT_CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
TOKEN, PIN, SO_PIN = "bench", "1234", "5678"
CASES = ("random32", "find", "ecdsa", "rsa", "aes-gcm")
PATHS = ("softhsm", "p11-kit", "ours")
DIGEST = bytes(range(32))


# --- the application side (runs in a child process: --worker) ----------------------------


def worker(module: str, case: str, threads: int, duration: float) -> float | None:
    """Ops/s of `case` with `threads` threads, each in its own session, through `module`.

    None when the module does not offer the case's mechanism.
    """
    import pkcs11
    from pkcs11 import KeyType, Mechanism, ObjectClass

    token = pkcs11.lib(module).get_token(token_label=TOKEN)
    login = token.open(user_pin=PIN)  # the process's login; other sessions share it
    if case == "aes-gcm" and Mechanism.AES_GCM not in set(token.slot.get_mechanisms()):
        return None

    def operation(session: Any) -> Callable[[], object]:
        if case == "random32":
            return lambda: session.generate_random(256)
        if case == "find":
            return lambda: session.get_key(label="aes", object_class=ObjectClass.SECRET_KEY)
        if case == "ecdsa":
            ec = session.get_key(label="ec", object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC)
            return lambda: ec.sign(DIGEST, mechanism=Mechanism.ECDSA)
        if case == "rsa":
            rsa = session.get_key(label="rsa", object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.RSA)
            return lambda: rsa.sign(b"x" * 64, mechanism=Mechanism.SHA256_RSA_PKCS)
        if case == "aes-gcm":
            aes = session.get_key(label="aes", object_class=ObjectClass.SECRET_KEY)
            params = pkcs11.mechanisms.GCMParams(bytes(12), b"", 128)
            return lambda: aes.encrypt(b"y" * 64, mechanism=Mechanism.AES_GCM, mechanism_param=params)
        raise ValueError(case)

    sessions = [login] + [token.open() for _ in range(threads - 1)]
    calls = [operation(session) for session in sessions]
    for call in calls:
        call()  # warm: keys found, connections and code paths hot
    counts = [0] * threads
    errors: list[BaseException] = []
    start_line = threading.Barrier(threads + 1)
    stop_at = time.perf_counter() + 3600.0  # set for real once every thread is at the line

    def loop(index: int, call: Callable[[], object]) -> None:
        start_line.wait()
        done = 0
        try:
            while time.perf_counter() < stop_at:
                call()
                done += 1
        except BaseException as error:  # reported below: a failed thread is a failed case
            errors.append(error)
        counts[index] = done

    workers = [threading.Thread(target=loop, args=(i, c)) for i, c in enumerate(calls)]
    for thread in workers:
        thread.start()
    started = time.perf_counter()
    stop_at = started + duration
    start_line.wait()
    for thread in workers:
        thread.join()
    rate = sum(counts) / (time.perf_counter() - started)
    if errors:
        raise errors[0]
    for session in sessions:
        session.close()
    return rate


def cpu_worker(module: str, calls: int) -> None:
    """Per forwarded C_GenerateRandom in this process: CPU and wall time (--cpu).

    Prints READY once warm and waits for a line on stdin, so that the parent reads the
    server's CPU counters around exactly the timed calls; then one JSON line.
    """
    import pkcs11

    session = pkcs11.lib(module).get_token(token_label=TOKEN).open(user_pin=PIN)
    for _ in range(200):
        session.generate_random(256)
    print("READY", flush=True)
    sys.stdin.readline()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        session.generate_random(256)
    done = {"cpu": (time.process_time() - cpu) / calls, "wall": (time.perf_counter() - wall) / calls}
    print(json.dumps(done), flush=True)
    session.close()


def descendants(pid: int) -> list[int]:
    """A process and all its descendants (children are listed by the thread that made them)."""
    found, queue = [], [pid]
    while queue:
        each = queue.pop()
        found.append(each)
        with contextlib.suppress(FileNotFoundError):
            for task in Path(f"/proc/{each}/task").iterdir():
                with contextlib.suppress(FileNotFoundError):
                    queue += [int(child) for child in (task / "children").read_text().split()]
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in descendants(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def settle(pid: int, timeout: float = 20.0) -> None:
    """Wait until the server's tree is idle: the spare HSM worker that a C_Initialize has it
    start imports for a good part of a CPU second, which is no forwarded call's cost."""
    deadline = time.monotonic() + timeout
    last = tree_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = tree_cpu(pid)
        if now - last < 0.02:
            return
        last = now


def measure_cpu(path: str, env: dict[str, str], server: int, calls: int) -> dict[str, float]:
    """Microseconds per forwarded call: the application's CPU, the server tree's CPU, wall."""
    job = json.dumps({"module": module_path(path), "calls": calls})
    child = subprocess.Popen(
        [sys.executable, __file__, "--cpu-worker", job],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    if child.stdout.readline().strip() != "READY":
        raise RuntimeError(f"{path}: the CPU worker did not start")
    settle(server)
    before = tree_cpu(server)
    child.stdin.write("go\n")
    child.stdin.flush()
    done = json.loads(child.stdout.readline())
    after = tree_cpu(server)
    child.wait(60)
    return {"app": done["cpu"] * 1e6, "server": (after - before) / calls * 1e6, "wall": done["wall"] * 1e6}


# --- the paths to the token ----------------------------------------------------------------


def venv_script(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def make_token(root: Path) -> dict[str, str]:
    """A SoftHSM2 token with the keys the cases use; the environment that finds it."""
    (root / "tokens").mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
        env=env,
        check=True,
        capture_output=True,
    )
    keys = f"""
import pkcs11
from pkcs11 import KeyType
token = pkcs11.lib({SOFTHSM!r}).get_token(token_label={TOKEN!r})
with token.open(rw=True, user_pin={PIN!r}) as s:
    s.generate_key(KeyType.AES, 256, label="aes", store=True)
    s.generate_keypair(KeyType.RSA, 2048, label="rsa", store=True)
    params = s.create_domain_parameters(KeyType.EC, {{pkcs11.Attribute.EC_PARAMS:
        pkcs11.util.ec.encode_named_curve_parameters("secp256r1")}}, local=True)
    params.generate_keypair(label="ec", store=True)
"""
    subprocess.run([sys.executable, "-c", "import pkcs11.util.ec\n" + keys], env=env, check=True)
    return env


@contextlib.contextmanager
def p11kit_server(root: Path, token_env: dict[str, str]) -> Iterator[tuple[dict[str, str], int]]:
    """`p11-kit server` forwarding the token; the environment p11-kit-client.so needs, its pid."""
    socket = root / "p11-kit.sock"
    server = subprocess.Popen(
        ["p11-kit", "server", "-f", "-s", "--provider", SOFTHSM, "-n", str(socket), f"pkcs11:token={TOKEN}"],
        env=token_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if socket.exists():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("p11-kit server did not start")
        yield {**os.environ, "P11_KIT_SERVER_ADDRESS": f"unix:path={socket}"}, server.pid
    finally:
        server.terminate()
        server.wait(10)


@contextlib.contextmanager
def our_server(root: Path, token_env: dict[str, str]) -> Iterator[tuple[dict[str, str], int]]:
    """`pkcs11-kmip serve` with the token behind it; the environment our library needs, its pid."""
    import socket as sockets

    data = root / "server"
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cli = venv_script("pkcs11-kmip")
    subprocess.run([cli, "init", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}"], check=True)
    with (data / "server.toml").open("a") as config:
        config.write(
            f'\n[pkcs11]\nmodule = "{SOFTHSM}"\n'
            f'environment = {{ SOFTHSM2_CONF = "{token_env["SOFTHSM2_CONF"]}" }}\n'
        )
    log = (root / "server.log").open("w")
    server = subprocess.Popen([cli, "serve", "--data-dir", str(data)], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            if "listening on" in (root / "server.log").read_text():
                break
            if server.poll() is not None:
                raise RuntimeError((root / "server.log").read_text())
            time.sleep(0.05)
        env = {**os.environ, "PKCS11_KMIP_CONFIG": str(data / "clients" / "admin" / "pkcs11-kmip.toml")}
        env.pop("SOFTHSM2_CONF", None)  # only the server knows where the token is
        yield env, server.pid
    finally:
        server.terminate()
        server.wait(30)
        log.close()


@functools.cache
def module_path(path: str) -> str:
    if path == "softhsm":
        return SOFTHSM
    if path == "p11-kit":
        return P11KIT_CLIENT
    out = subprocess.run(
        [venv_script("pkcs11-kmip"), "provider-path"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def measure(
    path: str, env: dict[str, str], threads: int, case: str, args: argparse.Namespace
) -> float | str | None:
    """Ops/s of one case in a fresh process; None if the path lacks the mechanism, or why it died.

    One process per case, so a module that crashes under threads (SoftHSM2 2.6 does,
    loaded directly) loses only that figure.
    """
    job = {"module": module_path(path), "case": case, "threads": threads, "duration": args.duration}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"failed: {last[:80]}"
    result: float | None = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the report ----------------------------------------------------------------------------


def fmt(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    return "n/a" if value is None else f"{value:,.0f}"


def ratio(ours: float | str | None, other: float | str | None) -> str:
    if not isinstance(ours, float) or not isinstance(other, float) or not other:
        return "-"
    return f"{ours / other:.3g}x"


def median(values: list[float | str | None]) -> float | str | None:
    """The median of the rounds that measured something; else what went wrong."""
    numbers = [v for v in values if isinstance(v, float)]
    if numbers:
        return float(statistics.median(numbers))
    return next((v for v in values if isinstance(v, str)), None)


Rounds = list[dict[str, dict[int, dict[str, float | str | None]]]]


def report(rounds: Rounds, args: argparse.Namespace) -> str:
    lines = [
        "| case | threads | SoftHSM2 direct ops/s | p11-kit RPC ops/s | ours ops/s"
        " | ours / p11-kit | ours / direct | ours us/op (1 thread) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in args.cases:
        for threads in args.threads:
            medians = {path: median([r[path][threads][case] for r in rounds]) for path in PATHS}
            ours = medians["ours"]
            per_op = f"{1e6 / ours:,.0f}" if isinstance(ours, float) and threads == 1 else ""
            lines.append(
                f"| {case} | {threads} | {fmt(medians['softhsm'])} | {fmt(medians['p11-kit'])}"
                f" | {fmt(ours)} | {ratio(ours, medians['p11-kit'])} | {ratio(ours, medians['softhsm'])}"
                f" | {per_op} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per case and round")
    parser.add_argument("--cases", type=lambda s: s.split(","), default=list(CASES))
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    parser.add_argument(
        "--cpu",
        type=int,
        default=0,
        metavar="CALLS",
        help="also measure CPU per forwarded C_GenerateRandom over CALLS calls (application, server tree)",
    )
    parser.add_argument("--cpu-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        print(json.dumps(worker(job["module"], job["case"], job["threads"], job["duration"])))
        return
    if args.cpu_worker:
        job = json.loads(args.cpu_worker)
        cpu_worker(job["module"], job["calls"])
        return
    for tool in ("softhsm2-util", "p11-kit"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (scripts/setup installs it)")
    with tempfile.TemporaryDirectory(prefix="pkcs11-bench-") as tmp:
        root = Path(tmp)
        token_env = make_token(root)
        with (
            p11kit_server(root, token_env) as (p11kit_env, p11kit_pid),
            our_server(root, token_env) as (our_env, our_pid),
        ):
            envs = {"softhsm": token_env, "p11-kit": p11kit_env, "ours": our_env}
            rounds: Rounds = []
            for number in range(args.rounds):
                order = PATHS if number % 2 == 0 else tuple(reversed(PATHS))
                figures: dict[str, dict[int, dict[str, float | str | None]]] = {path: {} for path in PATHS}
                for threads in args.threads:
                    for path in order:
                        figures[path][threads] = {
                            case: measure(path, envs[path], threads, case, args) for case in args.cases
                        }
                        shown = ", ".join(f"{c}={fmt(v)}" for c, v in figures[path][threads].items())
                        print(f"round {number + 1} {path:8} threads={threads}: {shown}", flush=True)
                rounds.append(figures)
            cpu: dict[str, dict[str, float]] = {}
            for path, pid in (("p11-kit", p11kit_pid), ("ours", our_pid)) if args.cpu else ():
                cpu[path] = measure_cpu(path, envs[path], pid, args.cpu)
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=1))
    if rounds:
        print()
        print(f"python-pkcs11, {os.cpu_count()} cores, {args.rounds} rounds x {args.duration:g} s per case")
        print(report(rounds, args))
    if cpu:
        print()
        print(f"per forwarded C_GenerateRandom, 1 thread, {args.cpu:,} calls (us)")
        print("| path | application CPU | server process tree CPU | wall |")
        print("|---|---:|---:|---:|")
        for path, spent in cpu.items():
            print(f"| {path} | {spent['app']:,.0f} | {spent['server']:,.0f} | {spent['wall']:,.0f} |")


if __name__ == "__main__":
    main()
