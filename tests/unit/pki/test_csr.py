"""PKCS #10 requests: subject from the entity, the Cisco default subject, SANs, attributes."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import AttributeOID

from agent.pki import (
    Digest,
    Entity,
    ErrorCode,
    KeyAlgorithm,
    KeyRole,
    KeyStore,
    KeyUsage,
    PkiError,
    PrivateKey,
    build_csr,
    load_csr_info,
)
from tests.unit.pki.helpers import rsa_key

HUAWEI_ENTITY = Entity(
    common_name="router1",
    organizational_unit="Network",
    organization="Example Corp",
    locality="Shenzhen",
    state="Guangdong",
    country="CN",
    email="noc@example.com",
    fqdn="router1.example.com",
    ip_address="192.0.2.10",
)


@pytest.fixture(scope="module")
def key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_entity_fields_become_the_subject_and_alt_names(key: PrivateKey) -> None:
    info = load_csr_info(build_csr(key, HUAWEI_ENTITY, fqdn_default="ignored.example"))
    assert info.subject == ("CN=router1,OU=Network,O=Example Corp,L=Shenzhen,ST=Guangdong,C=CN")
    assert info.subject_alt_names == (
        "DNS:router1.example.com",
        "IP:192.0.2.10",
        "email:noc@example.com",
    )
    assert info.signature_valid and not info.has_challenge_password
    assert info.signature_algorithm == "ecdsa-with-SHA256"
    assert (info.public_key_algorithm, info.key_size) == (KeyAlgorithm.ECDSA_P256, 256)


def test_no_dn_gives_cisco_unstructured_name(key: PrivateKey) -> None:
    """The seed's 'unstructuredName=myrouter.mydomain.com' for a trustpoint without subject."""
    pem = build_csr(key, Entity(), fqdn_default="myrouter.mydomain.com")
    info = load_csr_info(pem)
    assert info.subject == "unstructuredName=myrouter.mydomain.com"
    assert info.subject_alt_names == ("DNS:myrouter.mydomain.com",)
    csr = x509.load_pem_x509_csr(pem)
    (attribute,) = csr.subject
    assert attribute.oid == x509.NameOID.UNSTRUCTURED_NAME


def test_entity_fqdn_wins_over_the_device_fqdn(key: PrivateKey) -> None:
    info = load_csr_info(build_csr(key, Entity(fqdn="vpn.example.com"), fqdn_default="r.d"))
    assert info.subject == "unstructuredName=vpn.example.com"
    assert info.subject_alt_names == ("DNS:vpn.example.com",)


def test_alt_names_only_entity_still_needs_a_subject(key: PrivateKey) -> None:
    info = load_csr_info(build_csr(key, Entity(ip_address="2001:db8::7"), fqdn_default="r.d"))
    assert info.subject == "unstructuredName=r.d"
    assert info.subject_alt_names == ("DNS:r.d", "IP:2001:db8::7")


def test_no_subject_at_all_is_refused(key: PrivateKey) -> None:
    with pytest.raises(PkiError) as caught:
        build_csr(key, Entity(email="a@b.c"), fqdn_default=None)
    assert caught.value.code is ErrorCode.INVALID_SUBJECT


def test_dn_without_fqdn_has_no_dns_name(key: PrivateKey) -> None:
    info = load_csr_info(build_csr(key, Entity(common_name="x"), fqdn_default=None))
    assert info.subject == "CN=x" and info.subject_alt_names == ()


def test_serial_number_attribute(key: PrivateKey) -> None:
    entity = Entity(common_name="r1", serial_number="FOC1234X0AB")
    info = load_csr_info(build_csr(key, entity, fqdn_default=None))
    assert info.subject == "serialNumber=FOC1234X0AB,CN=r1"


def test_challenge_password_attribute(key: PrivateKey) -> None:
    pem = build_csr(key, Entity(), fqdn_default="r.d", challenge_password="s3cr3t pass")
    assert load_csr_info(pem).has_challenge_password
    csr = x509.load_pem_x509_csr(pem)
    value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
    assert value == b"s3cr3t pass"
    assert "s3cr3t" not in repr(load_csr_info(pem))


@pytest.mark.parametrize(
    ("entity", "needle"),
    [
        (Entity(country="USA"), "country"),
        (Entity(common_name="x", ip_address="999.1.1.1"), "IP"),
        (Entity(common_name="x", fqdn="bücher.example"), ""),
    ],
    ids=["country", "ip", "non-ascii-fqdn"],
)
def test_invalid_entity_values(key: PrivateKey, entity: Entity, needle: str) -> None:
    with pytest.raises(PkiError) as caught:
        build_csr(key, entity, fqdn_default=None)
    assert caught.value.code is ErrorCode.INVALID_SUBJECT
    assert needle.lower() in str(caught.value).lower()


@pytest.mark.parametrize("digest", list(Digest), ids=str)
def test_signature_hashes(digest: Digest) -> None:
    key = rsa_key(2048)
    info = load_csr_info(
        build_csr(key, Entity(common_name="x"), fqdn_default=None, signature_hash=digest)
    )
    assert info.signature_algorithm == f"{digest.value}WithRSAEncryption"
    assert info.signature_valid


def test_ed25519_signs_without_a_hash() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    info = load_csr_info(
        build_csr(key, Entity(common_name="x"), fqdn_default=None, signature_hash=Digest.SHA512)
    )
    assert info.signature_algorithm == "ED25519" and info.signature_valid


def test_small_rsa_key_cannot_sign_with_sha512(store: KeyStore) -> None:
    with pytest.warns(UserWarning):
        store.generate("tiny", modulus=512)
    key = store.private_key("tiny")
    assert load_csr_info(build_csr(key, Entity(), fqdn_default="r.d")).signature_valid
    with pytest.raises(PkiError) as caught:
        build_csr(key, Entity(), fqdn_default="r.d", signature_hash=Digest.SHA512)
    assert caught.value.code is ErrorCode.UNSUPPORTED_KEY_PARAMETERS


def test_usage_keys_request_their_key_usage(store: KeyStore) -> None:
    info = store.generate("u", modulus=2048, usage=KeyUsage.USAGE_KEYS)
    usages = {}
    for role in info.roles:
        csr = load_csr_info(
            build_csr(store.private_key("u", role), Entity(), fqdn_default="r.d", role=role)
        )
        assert csr.public_key_der == info.component(role).public_key_der
        usages[role] = csr.key_usage
    assert usages == {
        KeyRole.SIGNATURE: ("digitalSignature",),
        KeyRole.ENCRYPTION: ("keyEncipherment",),
    }


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"junk",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
    ids=["empty", "junk", "pem-junk", "wrong-label"],
)
def test_load_csr_info_refuses(data: bytes) -> None:
    with pytest.raises(PkiError) as caught:
        load_csr_info(data)
    assert caught.value.code is ErrorCode.MALFORMED_CSR


def test_load_csr_info_der(key: PrivateKey) -> None:
    pem = build_csr(key, Entity(common_name="x"), fqdn_default=None)
    info = load_csr_info(pem)
    assert load_csr_info(info.der) == info
    assert info.pem.encode() == pem
