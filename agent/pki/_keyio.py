"""Key material in and out of ``cryptography``: generation, classification, parsing, at rest.

Kept apart from the key store so that the store deals only in labels, files and metadata, and
this module only in key objects and bytes.  Every parser turns the library's exceptions into a
:class:`PkiError` whose message says what to fix without echoing the input, which may be a
private key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from asn1crypto import pkcs12 as asn1_pkcs12  # type: ignore[import-untyped]
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import pkcs12

from agent.pki._encoding import der_tlv, iter_pem_blocks, looks_like_pem, pem_encode
from agent.pki._rsa_legacy import PUBLIC_EXPONENT, generate_small_rsa
from agent.pki._vocab import KeyAlgorithm, KeyFormat
from agent.pki.errors import ErrorCode, PkiError

__all__ = [
    "MAX_KEY_INPUT",
    "RSA_MAX_BITS",
    "RSA_MIN_BITS",
    "RSA_WEAK_BELOW",
    "PrivateKey",
    "PublicKey",
    "classify",
    "decrypt_at_rest",
    "encrypt_at_rest",
    "generate_private_key",
    "parse_key_pair",
    "parse_public_key",
    "spki_der",
    "supported",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

RSA_MIN_BITS = 512
RSA_MAX_BITS = 4096
RSA_WEAK_BELOW = 2048
ED25519_BITS = 256
# A PKCS #12 archive with a long chain is a few tens of KiB; anything near this is not a key.
MAX_KEY_INPUT = 1 << 20
# At rest: see encrypt_at_rest for why one PBKDF2 round.
_AT_REST_ROUNDS = 1
_SALT_BYTES = 16
_AES_BLOCK_BYTES = 16
_SEQUENCE, _OCTETS = 0x30, 0x04
_PBES2 = bytes.fromhex("06092a864886f70d01050d")  # 1.2.840.113549.1.5.13
_PBKDF2 = bytes.fromhex("06092a864886f70d01050c")  # 1.2.840.113549.1.5.12
_ROUNDS = bytes((0x02, 0x01, _AT_REST_ROUNDS))  # INTEGER
_HMAC_SHA256 = bytes.fromhex("300c06082a864886f70d02090500")  # hmacWithSHA256, NULL
_AES256_CBC = bytes.fromhex("060960864801650304012a")  # 2.16.840.1.101.3.4.1.42

_CURVES: dict[KeyAlgorithm, ec.EllipticCurve] = {
    KeyAlgorithm.ECDSA_P256: ec.SECP256R1(),
    KeyAlgorithm.ECDSA_P384: ec.SECP384R1(),
}
_CURVE_NAMES = {curve.name: algorithm for algorithm, curve in _CURVES.items()}

_Loader = Callable[[bytes, bytes | None], PrivateKeyTypes]


def _malformed(message: str) -> PkiError:
    return PkiError(ErrorCode.MALFORMED_KEY, message)


def _unsupported(message: str) -> PkiError:
    return PkiError(ErrorCode.UNSUPPORTED_KEY_PARAMETERS, message)


# ---------------------------------------------------------------------------------------------
# generation and classification


def generate_private_key(algorithm: KeyAlgorithm, modulus: int) -> PrivateKey:
    """A fresh key; ``modulus`` matters for RSA only.  CPU-heavy for large RSA moduli."""
    if algorithm is KeyAlgorithm.RSA:
        check_rsa_modulus(modulus)
        if modulus < 1024:
            return generate_small_rsa(modulus)
        return rsa.generate_private_key(PUBLIC_EXPONENT, modulus)
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm])
    if algorithm is KeyAlgorithm.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    raise _unsupported("algorithm ecdsa needs a curve: use ecdsa-p256 or ecdsa-p384")


def check_rsa_modulus(modulus: int) -> None:
    if not RSA_MIN_BITS <= modulus <= RSA_MAX_BITS:
        raise _unsupported(
            f"RSA modulus {modulus} is outside {RSA_MIN_BITS}..{RSA_MAX_BITS} bits",
        )


def classify(public_key: PublicKeyTypes) -> tuple[KeyAlgorithm | None, int | None]:
    """Algorithm identity and size in bits of any public key; None where YANG has no name."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return KeyAlgorithm.RSA, public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = public_key.curve
        return _CURVE_NAMES.get(curve.name, KeyAlgorithm.ECDSA), curve.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return KeyAlgorithm.ED25519, ED25519_BITS
    if isinstance(public_key, dsa.DSAPublicKey):
        return None, public_key.key_size
    if isinstance(public_key, ed448.Ed448PublicKey):
        return None, 456
    return None, None


def supported(public_key: PublicKeyTypes) -> tuple[KeyAlgorithm, int]:
    """Algorithm and size of a key the store may hold; unsupported-key-parameters otherwise."""
    algorithm, size = classify(public_key)
    if algorithm is None or algorithm is KeyAlgorithm.ECDSA or size is None:
        raise _unsupported(
            "only RSA, ECDSA P-256/P-384 and Ed25519 keys are supported",
        )
    if algorithm is KeyAlgorithm.RSA:
        check_rsa_modulus(size)
    return algorithm, size


def spki_der(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _narrow_private(key: PrivateKeyTypes) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        supported(key.public_key())
        return key
    raise _unsupported("only RSA, ECDSA P-256/P-384 and Ed25519 keys are supported")


def _narrow_public(key: PublicKeyTypes) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        supported(key)
        return key
    raise _unsupported("only RSA, ECDSA P-256/P-384 and Ed25519 keys are supported")


# ---------------------------------------------------------------------------------------------
# at rest


def encrypt_at_rest(key: PrivateKey, passphrase: bytes) -> bytes:
    """PKCS #8 PEM, PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) under ``passphrase``.

    Built here rather than with BestAvailableEncryption only to set the PBKDF2 iteration
    count: the passphrase is the 256-bit random master key, which no dictionary attack can
    guess, so stretching it adds nothing while ``cryptography``'s 2048 rounds cost ~0.4 ms
    each time a key is written and again each time it is read.  Any PKCS #8 reader (OpenSSL,
    :func:`decrypt_at_rest`) honours the count written in the file, so keys written with more
    rounds still load."""
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, iv = os.urandom(_SALT_BYTES), os.urandom(_AES_BLOCK_BYTES)
    kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, _AT_REST_ROUNDS).derive(passphrase)
    padder = padding.PKCS7(_AES_BLOCK_BYTES * 8).padder()
    encryptor = Cipher(algorithms.AES256(kek), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    return pem_encode(
        "ENCRYPTED PRIVATE KEY", _encrypted_private_key_info(salt, iv, sealed)
    ).encode("ascii")


def _encrypted_private_key_info(salt: bytes, iv: bytes, sealed: bytes) -> bytes:
    """EncryptedPrivateKeyInfo (RFC 5958) with PBES2 parameters (RFC 8018 appendix A.4),
    as DER written directly: asn1crypto takes ~4 ms to build this small structure."""
    kdf = der_tlv(
        _SEQUENCE, _PBKDF2 + der_tlv(_SEQUENCE, der_tlv(_OCTETS, salt) + _ROUNDS + _HMAC_SHA256)
    )
    scheme = der_tlv(_SEQUENCE, _AES256_CBC + der_tlv(_OCTETS, iv))
    algorithm = der_tlv(_SEQUENCE, _PBES2 + der_tlv(_SEQUENCE, kdf + scheme))
    return der_tlv(_SEQUENCE, algorithm + der_tlv(_OCTETS, sealed))


def decrypt_at_rest(data: bytes, passphrase: bytes) -> PrivateKey:
    """The stored key; keystore-damaged if it does not decrypt (wrong or changed master key).

    RSA validation is skipped: it costs ~55 ms per 2048-bit load (a primality check of the
    factors) and only matters for untrusted keys.  Stored keys were validated when they were
    generated or imported, and only this agent can write the 0600 keystore."""
    try:
        key = serialization.load_pem_private_key(
            data, passphrase, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PkiError(
            ErrorCode.KEYSTORE_DAMAGED,
            "a stored private key does not decrypt with the master key",
        ) from exc
    return _narrow_private(key)


# ---------------------------------------------------------------------------------------------
# import


def parse_public_key(data: bytes) -> PublicKey:
    """A peer's public key: PEM 'PUBLIC KEY' / 'RSA PUBLIC KEY', or DER SPKI / PKCS #1."""
    if len(data) > MAX_KEY_INPUT:
        raise _malformed("the public key is larger than 1 MiB")
    try:
        if looks_like_pem(data):
            key = serialization.load_pem_public_key(_pem_block(data, ("PUBLIC KEY",)))
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _malformed(
            "not a public key: expected PEM 'PUBLIC KEY' or 'RSA PUBLIC KEY', or DER "
            "SubjectPublicKeyInfo or PKCS #1",
        ) from exc
    return _narrow_public(key)


def parse_key_pair(data: bytes, passphrase: bytes | None) -> tuple[PrivateKey, KeyFormat]:
    """A private key: PKCS #8 PEM or DER (encrypted or not; legacy PEM too) or PKCS #12 DER."""
    if len(data) > MAX_KEY_INPUT:
        raise _malformed("the key is larger than 1 MiB")
    if looks_like_pem(data):
        block = _pem_block(data, ("PRIVATE KEY",))
        key = _load_private(serialization.load_pem_private_key, block, passphrase)
        if key is None:
            raise _malformed("the PEM private key block does not hold a PKCS #8 private key")
        return _narrow_private(key), KeyFormat.PKCS8
    key = _load_private(serialization.load_der_private_key, data, passphrase)
    if key is not None:
        return _narrow_private(key), KeyFormat.PKCS8
    return _narrow_private(_load_pkcs12(data, passphrase)), KeyFormat.PKCS12


def _pem_block(data: bytes, suffixes: Sequence[str]) -> bytes:
    for block in iter_pem_blocks(data):
        if block.label.endswith(tuple(suffixes)):
            return block.text
    wanted = " or ".join(repr(s) for s in suffixes)
    raise _malformed(f"no complete PEM block labelled {wanted} found")


def _load_private(loader: _Loader, data: bytes, passphrase: bytes | None) -> PrivateKeyTypes | None:
    """The key, or None if ``data`` is no private key in this encoding at all."""
    try:
        return loader(data, None)
    except TypeError:
        pass  # encrypted: "Password was not given but private key is encrypted"
    except UnsupportedAlgorithm as exc:
        raise _unsupported("the key's algorithm or encryption is not supported") from exc
    except ValueError:
        return None
    if not passphrase:
        raise PkiError(
            ErrorCode.BAD_PASSPHRASE, "the private key is encrypted: give its passphrase"
        )
    try:
        return loader(data, passphrase)
    except (ValueError, TypeError) as exc:
        raise PkiError(
            ErrorCode.BAD_PASSPHRASE, "the passphrase does not decrypt the private key"
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise _unsupported("the key's encryption algorithm is not supported") from exc


def _load_pkcs12(data: bytes, passphrase: bytes | None) -> PrivateKeyTypes:
    # An archive exported with an empty password is common; try it when none was given.
    for attempt in (passphrase,) if passphrase else (None, b""):
        try:
            key, _cert, _chain = pkcs12.load_key_and_certificates(data, attempt)
        except ValueError:
            continue
        except UnsupportedAlgorithm as exc:
            raise _unsupported("the PKCS #12 archive uses an unsupported algorithm") from exc
        if key is None:
            raise _malformed("the PKCS #12 archive holds no private key")
        return key
    if _is_pfx(data):
        raise PkiError(
            ErrorCode.BAD_PASSPHRASE,
            "the passphrase does not open the PKCS #12 archive"
            if passphrase
            else "the PKCS #12 archive is encrypted: give its passphrase",
        )
    raise _malformed(
        "not a private key: expected PKCS #8 (PEM or DER, optionally encrypted) or PKCS #12",
    )


def _is_pfx(data: bytes) -> bool:
    """True if ``data`` has the outer structure of a PKCS #12 PFX (RFC 7292 section 4).

    Used only to tell a wrong passphrase from garbage, since ``cryptography`` reports both as
    the same ValueError.
    """
    try:
        pfx = asn1_pkcs12.Pfx.load(data, strict=True)
        version = pfx["version"].native
        content_type = pfx["auth_safe"]["content_type"].native
    except (ValueError, TypeError, KeyError):
        return False
    return bool(version == "v3" and content_type in ("data", "signed_data"))
