"""Key pairs the server generates (Create Key Pair, Re-key Key Pair).

What a client may ask for is data: RSA moduli of 2048-4096 bits, EC keys on a
Recommended Curve (or the NIST curve of a Cryptographic Length), and the Edwards and
Montgomery curves. `key_pair_spec` turns the request's attributes into one checked
choice; `generate_key_pair` is the narrow step a crypto provider implements:
parameters in, private and public key blocks (in the default formats) out.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pkcs11_kmip.kmip.messages.objects import KeyBlock
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, RecommendedCurve, ResultReason
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.formats import KeyKind

A = CryptographicAlgorithm
RC = RecommendedCurve

RSA_LENGTHS = range(2048, 4096 + 1, 256)
RSA_PUBLIC_EXPONENT = 65537

# A Cryptographic Length alone names the NIST prime curve of that size.
CURVES_BY_LENGTH = {224: RC.P_224, 256: RC.P_256, 384: RC.P_384, 521: RC.P_521}
# Curves the server reads in registered keys but never generates keys on.
WEAK_CURVES = frozenset({RC.P_192})
# Asymmetric algorithms KMIP defines that the server does not implement.
UNSUPPORTED = frozenset({A.DSA, A.DH, A.SM2, A.GOSTR34_10_2012, A.XMSS, A.SPHINCS_256})


@dataclass(frozen=True)
class KeyPairSpec:
    """A checked request for a key pair: which kind, its algorithm, length and curve."""

    kind: KeyKind
    algorithm: CryptographicAlgorithm
    length: int
    curve: RecommendedCurve | None


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


def key_pair_spec(
    algorithm: CryptographicAlgorithm | None, length: int | None, curve: RecommendedCurve | None
) -> KeyPairSpec:
    """What to generate for these Cryptographic Algorithm, Length and Recommended Curve."""
    if algorithm is None:
        raise _invalid("a key pair needs a Cryptographic Algorithm")
    if algorithm in formats.RSA.algorithms:
        if curve is not None:
            raise _invalid("RSA keys have no Recommended Curve")
        if length is None:
            raise _invalid("an RSA key pair needs a Cryptographic Length")
        if length not in RSA_LENGTHS:
            first, last = RSA_LENGTHS[0], RSA_LENGTHS[-1]
            raise _invalid(
                f"RSA keys are {first} to {last} bits in steps of {RSA_LENGTHS.step}, not {length}"
            )
        return KeyPairSpec(formats.RSA, algorithm, length, None)
    named = _only_curve(algorithm)
    octets = formats.octet_kind(algorithm, curve if curve is not None else named)
    if octets is None and named is not None:
        raise _invalid(f"{algorithm.name} keys are on curve {named.name}, not {curve.name if curve else '?'}")
    if octets is not None:
        if length not in (None, octets.length):
            raise _invalid(f"{octets.name} keys are {octets.length} bits, not {length}")
        assert octets.length is not None
        return KeyPairSpec(octets, algorithm, octets.length, octets.curve)
    if algorithm in formats.EC.algorithms:
        return _ec_spec(algorithm, length, curve)
    if algorithm in UNSUPPORTED:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"{algorithm.name} key pairs are not supported")
    raise _invalid(f"{algorithm.name} is not an asymmetric algorithm this server generates key pairs for")


def _only_curve(algorithm: CryptographicAlgorithm) -> RecommendedCurve | None:
    """Ed25519 and Ed448 name their curve; EC and ECDH do not."""
    return next((kind.curve for kind in formats.OCTET_KINDS if kind.algorithms == (algorithm,)), None)


def _ec_spec(
    algorithm: CryptographicAlgorithm, length: int | None, curve: RecommendedCurve | None
) -> KeyPairSpec:
    if curve is None:
        curve = CURVES_BY_LENGTH.get(length) if length is not None else None
        if curve is None:
            lengths = "/".join(str(n) for n in CURVES_BY_LENGTH)
            raise _invalid(
                f"{algorithm.name} key pairs need a Recommended Curve or a Cryptographic Length of {lengths}"
            )
    if curve not in formats.EC_CURVES or curve in WEAK_CURVES:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"curve {curve.name} is not supported")
    size = formats.EC_CURVES[curve]().key_size
    if length not in (None, size):
        raise _invalid(f"curve {curve.name} keys are {size} bits, not {length}")
    return KeyPairSpec(formats.EC, algorithm, size, curve)


def generate_key_pair(spec: KeyPairSpec) -> tuple[KeyBlock, KeyBlock]:
    """A new key pair: the private and the public key blocks, in the kind's default formats."""
    private: formats.PrivateKeyType
    if spec.kind is formats.RSA:
        private = rsa.generate_private_key(RSA_PUBLIC_EXPONENT, spec.length)
    elif spec.kind is formats.EC:
        assert spec.curve is not None
        private = ec.generate_private_key(formats.EC_CURVES[spec.curve]())
    else:
        private = spec.kind.private_type.generate()  # type: ignore[attr-defined]
    return (
        formats.write_key(private, spec.kind.private_formats[0], spec.algorithm),
        formats.write_key(private.public_key(), spec.kind.public_formats[0], spec.algorithm),
    )
