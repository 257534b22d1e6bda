"""_cms.sign writes its DER by hand; asn1crypto's cms classes (what it used before, and an
independent encoder) must produce the very same bytes for the same inputs."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from asn1crypto import cms, core  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from agent.pki.enroll import _cms
from tests.unit.pki.helpers import make_cert, name, rsa_key

_KEY = rsa_key()


def _asn1crypto_sign(
    content: bytes,
    attributes: Sequence[_cms.Attribute],
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    digest: str,
) -> bytes:
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [_cms._digest(digest, content)]}),
            *(cms.CMSAttribute({"type": oid, "values": [value]}) for oid, value in attributes),
        ]
    )
    signature = key.sign(signed_attrs.dump(), padding.PKCS1v15(), _cms.hash_for(digest))
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    sid = cms.IssuerAndSerialNumber(
        {
            "issuer": parsed["tbs_certificate"]["issuer"],
            "serial_number": parsed["tbs_certificate"]["serial_number"],
        }
    )
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value=sid),
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
            "signature": signature,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [parsed],
            "signer_infos": [signer],
        }
    )
    der: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
    return der


@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 70000], ids=lambda n: f"{n}B")
def test_sign_matches_asn1crypto_byte_for_byte(digest: str, size: int) -> None:
    cert = make_cert(name("signer", o="Org"), _KEY.public_key(), _KEY, serial=2**70 + 5)
    content = os.urandom(size)
    attributes = [
        ("2.16.840.1.113733.1.9.7", core.PrintableString("AB" * 40)),
        ("2.16.840.1.113733.1.9.2", core.PrintableString("19")),
        ("2.16.840.1.113733.1.9.5", core.OctetString(os.urandom(16))),
    ]
    ours = _cms.sign(content, attributes, _KEY, cert, digest)
    assert ours == _asn1crypto_sign(content, attributes, _KEY, cert, digest)
    message = _cms.verify(ours, [cert])
    assert message.content == content and message.digest == digest


def test_sign_refuses_an_unsupported_digest() -> None:
    cert = make_cert(name("signer"), _KEY.public_key(), _KEY)
    with pytest.raises(_cms.CmsError, match="md5"):
        _cms.sign(b"x", [], _KEY, cert, "md5")
