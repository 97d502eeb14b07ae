"""Changing a test server's server.toml the way an operator would: stop, edit, start."""

from __future__ import annotations

import tomllib
from typing import Any

from testsupport.server import RunningServer


def reconfigure(server: RunningServer, section: str, **settings: Any) -> None:
    """Restart `server` (same port, same data) with `settings` replaced in `[section]` of server.toml.

    Only existing keys are replaced, line by line, so the file keeps its comments.
    """
    path = server.data_dir / "server.toml"
    lines = path.read_text().splitlines(keepends=True)
    current = ""
    pending = dict(settings)
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
            continue
        key = stripped.partition("=")[0].strip()
        if current == section and key in pending:
            value = pending.pop(key)
            rendered = f'"{value}"' if isinstance(value, str) else str(value)
            lines[number] = f"{key} = {rendered}\n"
    assert not pending, f"server.toml has no {sorted(pending)} in [{section}]"
    text = "".join(lines)
    assert {key: tomllib.loads(text)[section][key] for key in settings} == settings
    server.stop()
    path.write_text(text)
    server.start()
