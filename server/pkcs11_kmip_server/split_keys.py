"""The secret sharing of Split Key objects (KMIP 2.1 §13.1): XOR and Shamir's polynomial sharing.

XOR: every part is needed; all but the last are random and the last makes the XOR the
secret. Polynomial sharing [Shamir 1979]: the secret is cut into field elements and each
is the constant term of a random polynomial of degree Threshold - 1; part `i` holds the
polynomials' values at x = i (its Key Part Identifier), and any Threshold parts give the
secret back by Lagrange interpolation at 0. The fields are the table `FIELDS`:

- GF(2^8) with the reduction polynomial x^8+x^4+x^3+x^2+1 (0x11D, as §13.1 says; the
  shares of TC-SJ-2-20 are of this field), one byte per element;
- GF(2^16) = GF(2^8)[y]/(y^2+y+m), m = 0x3A, an element uy+v the two bytes (u, v). §13.1
  prints the constant term of a product as ru+svm; multiplying out with y^2 = y+m gives
  rum+sv, which is what makes this a field, so that is what is used;
- the prime field GF(p), p the Prime Field Size (a prime above 2^L for an L-bit secret):
  the whole secret is one element, each part the value in as many bytes as p needs.

Faults are `SplitError`s with the reason the operations give the client.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pkcs11_kmip.kmip.spec.enums import SplitKeyMethod

RandomBytes = Callable[[int], bytes]


class SplitError(ValueError):
    """A request the sharing cannot serve; `too_few` when fewer parts than the threshold are given."""

    def __init__(self, message: str, too_few: bool = False) -> None:
        super().__init__(message)
        self.too_few = too_few


def _gf256_mul(a: int, b: int) -> int:
    """Product in GF(2^8) modulo x^8+x^4+x^3+x^2+1."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
    return product


_GF256_PRODUCTS = [[_gf256_mul(a, b) for b in range(256)] for a in range(256)]
_M = 0x3A  # y^2 = y + m in GF(2^16)


def _gf65536_mul(a: int, b: int) -> int:
    """(ry+s)(uy+v) = (ru+rv+su)y + (rum+sv) in GF(2^8)[y]/(y^2+y+m)."""
    r, s, u, v = a >> 8, a & 0xFF, b >> 8, b & 0xFF
    mul = _GF256_PRODUCTS
    ru = mul[r][u]
    high = ru ^ mul[r][v] ^ mul[s][u]
    low = mul[ru][_M] ^ mul[s][v]
    return high << 8 | low


@dataclass(frozen=True)
class Field:
    """A finite field of characteristic 2 with `size` elements, each `width` bytes of the secret."""

    size: int
    width: int
    mul: Callable[[int, int], int]

    def add(self, a: int, b: int) -> int:
        return a ^ b

    def inverse(self, a: int) -> int:
        """a^(size-2): Fermat in the multiplicative group of order size-1."""
        result, base, exponent = 1, a, self.size - 2
        while exponent:
            if exponent & 1:
                result = self.mul(result, base)
            base = self.mul(base, base)
            exponent >>= 1
        return result


@dataclass(frozen=True)
class PrimeField:
    """GF(p): elements are integers modulo p."""

    size: int

    def add(self, a: int, b: int) -> int:
        return (a + b) % self.size

    def mul(self, a: int, b: int) -> int:
        return a * b % self.size

    def inverse(self, a: int) -> int:
        return pow(a, -1, self.size)


FIELDS: dict[SplitKeyMethod, Field] = {
    SplitKeyMethod.POLYNOMIAL_SHARING_GF2_8: Field(256, 1, _gf256_mul),
    SplitKeyMethod.POLYNOMIAL_SHARING_GF2_16: Field(65536, 2, _gf65536_mul),
}
PRIME = SplitKeyMethod.POLYNOMIAL_SHARING_PRIME_FIELD
XOR = SplitKeyMethod.XOR
METHODS = frozenset({XOR, PRIME, *FIELDS})


def _is_probable_prime(n: int, rounds: int = 24) -> bool:
    """Miller-Rabin with random bases (an error chance of at most 4^-rounds)."""
    if n < 4:
        return n in (2, 3)
    if n % 2 == 0:
        return False
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(2 + secrets.randbelow(n - 3), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


# The Mersenne primes 2^e - 1 the server picks from when the client names no Prime Field
# Size (the least above 2^L; no search, no test). The largest bounds the prime field here:
# testing a client's prime costs time that grows with the cube of its size (~1 s at 2281 bits).
MERSENNE_EXPONENTS = (61, 89, 107, 127, 521, 607, 1279, 2203, 2281)
MAX_PRIME_BITS = MERSENNE_EXPONENTS[-1]


def default_prime(secret_bits: int) -> int:
    """The Prime Field Size chosen for an L-bit secret: the least Mersenne prime above 2^L."""
    for exponent in MERSENNE_EXPONENTS:
        if exponent > secret_bits:
            return (1 << exponent) - 1
    raise SplitError(f"secrets of more than {MAX_PRIME_BITS - 1} bits are not shared in a prime field here")


def check_prime_field(size: int, secret_bits: int) -> None:
    if size.bit_length() > MAX_PRIME_BITS:
        raise SplitError(f"a Prime Field Size of more than {MAX_PRIME_BITS} bits is not used here")
    if size <= 1 << secret_bits or not _is_probable_prime(size):
        raise SplitError(f"the Prime Field Size must be a prime above 2^{secret_bits}")


def check_split(method: SplitKeyMethod, parts: int, threshold: int, prime: int | None = None) -> None:
    """Whether `parts` parts of which `threshold` rebuild the secret can be made by `method`."""
    if method not in METHODS:
        raise SplitError(f"Split Key Method {method.name} is not supported")
    if not 1 <= threshold <= parts:
        raise SplitError(f"a threshold of {threshold} of {parts} parts: it must be from 1 to the parts")
    if method is XOR and threshold != parts:
        raise SplitError("XOR splits need every part: the Split Key Threshold must equal the Split Key Parts")
    if prime is not None and method is not PRIME:
        raise SplitError("a Prime Field Size goes with Polynomial Sharing Prime Field only")
    largest = FIELDS[method].size - 1 if method in FIELDS else (prime or 0) - 1
    if method is not XOR and parts > largest and (prime is not None or method is not PRIME):
        raise SplitError(f"{method.name} makes at most {largest} parts")


def _evaluate(field: Field | PrimeField, coefficients: Sequence[int], x: int) -> int:
    """Horner's rule; coefficients[0] is the constant term."""
    value = 0
    for coefficient in reversed(coefficients):
        value = field.add(field.mul(value, x), coefficient)
    return value


def _elements(data: bytes, width: int) -> list[int]:
    return [int.from_bytes(data[i : i + width], "big") for i in range(0, len(data), width)]


def split(
    method: SplitKeyMethod,
    secret: bytes,
    parts: int,
    threshold: int,
    prime: int | None = None,
    random_bytes: RandomBytes = secrets.token_bytes,
) -> list[bytes]:
    """The parts of `secret`, part i (1-based) at index i-1."""
    check_split(method, parts, threshold, prime)
    if method is XOR:
        shares = [random_bytes(len(secret)) for _ in range(parts - 1)]
        last = secret
        for share in shares:
            last = bytes(a ^ b for a, b in zip(last, share, strict=True))
        return [*shares, last]
    if method is PRIME:
        if prime is None:
            raise SplitError("Polynomial Sharing Prime Field needs its Prime Field Size")
        check_prime_field(prime, 8 * len(secret))
        width = (prime.bit_length() + 7) // 8
        # random coefficients below p: 8 bytes more than p needs make the bias negligible
        field: Field | PrimeField = PrimeField(prime)
        coefficients = [[int.from_bytes(secret, "big")]]
        coefficients[0] += [
            int.from_bytes(random_bytes(width + 8), "big") % prime for _ in range(threshold - 1)
        ]
    else:
        field = FIELDS[method]
        width = field.width
        if len(secret) % width:
            raise SplitError(f"{method.name} shares secrets of whole {8 * width}-bit pieces")
        pieces = _elements(secret, width)
        randoms = _elements(random_bytes(width * (threshold - 1) * len(pieces)), width)
        # per piece: the secret piece, then its threshold-1 random coefficients
        coefficients = [
            [piece, *randoms[k * (threshold - 1) : (k + 1) * (threshold - 1)]]
            for k, piece in enumerate(pieces)
        ]
    return [
        b"".join(_evaluate(field, poly, x).to_bytes(width, "big") for poly in coefficients)
        for x in range(1, parts + 1)
    ]


def join(
    method: SplitKeyMethod,
    shares: dict[int, bytes],
    threshold: int,
    secret_length: int | None = None,
    prime: int | None = None,
) -> bytes:
    """The secret from parts by Key Part Identifier; `secret_length` (bytes) for the prime field."""
    if len(shares) < threshold:
        raise SplitError(f"{len(shares)} parts given, {threshold} needed", too_few=True)
    if len({len(share) for share in shares.values()}) != 1:
        raise SplitError("the parts differ in length: they are not of one split")
    if method is XOR:
        secret = bytes(len(next(iter(shares.values()))))
        for share in shares.values():
            secret = bytes(a ^ b for a, b in zip(secret, share, strict=True))
        return secret
    if method is PRIME:
        if prime is None or secret_length is None:
            raise SplitError("the parts of a prime field split need their Prime Field Size and key length")
        field: Field | PrimeField = PrimeField(prime)
        width = len(next(iter(shares.values())))
    elif method in FIELDS:
        field = FIELDS[method]
        width = field.width
    else:
        raise SplitError(f"Split Key Method {method.name} is not supported")
    chosen = dict(sorted(shares.items())[:threshold])  # more parts than the degree needs add nothing
    columns = {x: _elements(share, width) for x, share in chosen.items()}
    # Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_j - x_i); in characteristic 2, - is +
    weights = {}
    for i in chosen:
        numerator, denominator = 1, 1
        for j in chosen:
            if j != i:
                numerator = field.mul(numerator, j)
                difference = (j - i) % field.size if isinstance(field, PrimeField) else j ^ i
                denominator = field.mul(denominator, difference)
        weights[i] = field.mul(numerator, field.inverse(denominator))
    pieces = []
    for k in range(len(next(iter(columns.values())))):
        value = 0
        for i, column in columns.items():
            value = field.add(value, field.mul(weights[i], column[k]))
        pieces.append(value)
    if isinstance(field, PrimeField):
        assert secret_length is not None
        if pieces[0] >= 1 << (8 * secret_length):
            raise SplitError("the parts do not rebuild a secret of the key's length")
        return pieces[0].to_bytes(secret_length, "big")
    return b"".join(piece.to_bytes(width, "big") for piece in pieces)
