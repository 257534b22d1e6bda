"""RSA key generation below 1024 bits, which OpenSSL through ``cryptography`` refuses.

The YANG model (like Cisco IOS XR) accepts moduli from 512 bits so that a device can still talk
to old peers.  ``cryptography`` only generates keys of 1024 bits or more but loads and uses
smaller ones, so for 512..1023 we find the primes here, following FIPS 186-5 appendix A.1.3 in
spirit: random probable primes with the top two bits set (so the modulus has exactly the
requested length), Miller-Rabin with random bases from ``secrets``, |p - q| and d large enough,
gcd(e, p - 1) = 1.  ``RSAPrivateNumbers.private_key`` then validates the result in OpenSSL.
Such keys are weak by construction; the key store warns when one is made.
"""

from __future__ import annotations

import math
import secrets

from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["generate_small_rsa"]

PUBLIC_EXPONENT = 65537
_MR_ROUNDS = 40
_SMALL_PRIMES = tuple(p for p in range(3, 2000) if all(p % d for d in range(2, math.isqrt(p) + 1)))


def generate_small_rsa(bits: int) -> rsa.RSAPrivateKey:
    """A fresh RSA key of exactly ``bits`` bits, for 512 <= bits < 1024."""
    if not 512 <= bits < 1024:
        raise ValueError("generate_small_rsa is for 512..1023-bit moduli")
    e = PUBLIC_EXPONENT
    while True:
        p = _random_prime(bits - bits // 2, e)
        q = _random_prime(bits // 2, e)
        if abs(p - q) <= 1 << (bits // 2 - 100):
            continue
        d = pow(e, -1, math.lcm(p - 1, q - 1))
        if d.bit_length() <= bits // 2:
            continue
        public = rsa.RSAPublicNumbers(e, p * q)
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=rsa.rsa_crt_dmp1(d, p),
            dmq1=rsa.rsa_crt_dmq1(d, q),
            iqmp=rsa.rsa_crt_iqmp(p, q),
            public_numbers=public,
        )
        return numbers.private_key()


def _random_prime(bits: int, e: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (0b11 << (bits - 2)) | 1
        if any(candidate % p == 0 for p in _SMALL_PRIMES):
            continue
        if math.gcd(candidate - 1, e) != 1:
            continue
        if _is_probable_prime(candidate):
            return candidate


def _is_probable_prime(n: int) -> bool:
    """Miller-Rabin with random bases; error probability below 2**-80 for these sizes."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(_MR_ROUNDS):
        a = 2 + secrets.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True
