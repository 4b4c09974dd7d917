"""Recombining a data key split with Shamir's secret sharing (SOPS key groups with `shamir_threshold`).

With several key groups, SOPS splits the data key byte by byte over GF(2^8) (the AES field,
x^8 + x^4 + x^3 + x + 1) and encrypts one share per group; a share is the polynomial values followed by
its x coordinate. Any `shamir_threshold` shares give the key back by Lagrange interpolation at x = 0.
"""

from __future__ import annotations

from collections.abc import Sequence

_REDUCTION = 0x11B


def _gf_mul(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a ^= _REDUCTION
        b >>= 1
    return product


def _gf_inverse(a: int) -> int:
    # a^254 = a^-1 in GF(2^8) (a != 0).
    result, base, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            result = _gf_mul(result, base)
        base = _gf_mul(base, base)
        exponent >>= 1
    return result


def combine(shares: Sequence[bytes]) -> bytes:
    """The secret from shares of equal length (at least two bytes: one value and the x coordinate)."""
    if len(shares) < 2:
        raise ValueError("at least two shares are needed to recombine a secret")
    length = len(shares[0])
    if length < 2 or any(len(share) != length for share in shares):
        raise ValueError("all shares must have the same length, at least two bytes")
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs):
        raise ValueError("two shares have the same x coordinate")
    # Lagrange basis at 0: prod_{j != i} x_j / (x_i - x_j); subtraction is XOR in GF(2^8).
    weights = []
    for i, xi in enumerate(xs):
        weight = 1
        for j, xj in enumerate(xs):
            if i != j:
                weight = _gf_mul(weight, _gf_mul(xj, _gf_inverse(xi ^ xj)))
        weights.append(weight)
    secret = bytearray(length - 1)
    for position in range(length - 1):
        value = 0
        for weight, share in zip(weights, shares, strict=True):
            value ^= _gf_mul(weight, share[position])
        secret[position] = value
    return bytes(secret)
