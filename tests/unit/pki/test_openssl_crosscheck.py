"""Cross-checks against the openssl CLI, the independent oracle for keys, certificates, CSRs.

Every value the engine computes and an operator may compare by hand (public key PEM,
fingerprints, serial numbers, subjects, request contents) is checked against what
``openssl`` prints for the same object.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.pki import (
    Entity,
    KeyAlgorithm,
    KeyStore,
    KeyUsage,
    build_csr,
    load_certificate,
    load_csr_info,
)
from tests.unit.pki.helpers import openssl, stored_key_file


def _passphrase(store: KeyStore) -> str:
    return (store.directory / "master.key").read_bytes().hex()


def _openssl_date(text: bytes) -> datetime:
    value = text.decode().strip().split("=", 1)[1]
    return datetime.strptime(value, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("algorithm", "modulus"),
    [
        (KeyAlgorithm.RSA, 2048),
        (KeyAlgorithm.RSA, 512),
        (KeyAlgorithm.ECDSA_P256, 0),
        (KeyAlgorithm.ECDSA_P384, 0),
        (KeyAlgorithm.ED25519, 0),
    ],
    ids=["rsa2048", "rsa512", "p256", "p384", "ed25519"],
)
@pytest.mark.filterwarnings("ignore::agent.pki.WeakKeyWarning")
def test_public_key_matches_openssl_of_the_stored_private_key(
    store: KeyStore, algorithm: KeyAlgorithm, modulus: int, tmp_path: Path
) -> None:
    info = store.generate("k", algorithm, modulus=modulus or 2048)
    key_file = stored_key_file(store.directory, "k", tmp_path / "k.p8")
    pub = openssl("pkey", "-in", str(key_file), "-passin", f"pass:{_passphrase(store)}", "-pubout")
    assert info.components[0].public_key_pem.encode() == pub
    der = openssl(
        "pkey",
        "-in",
        str(key_file),
        "-passin",
        f"pass:{_passphrase(store)}",
        "-pubout",
        "-outform",
        "DER",
    )
    assert info.components[0].public_key_der == der


def test_stored_keys_are_pbes2_aes256_and_need_the_master_key(
    store: KeyStore, tmp_path: Path
) -> None:
    store.generate("k", KeyAlgorithm.ECDSA_P256)
    key_file = stored_key_file(store.directory, "k", tmp_path / "k.p8")
    structure = openssl("asn1parse", "-in", str(key_file)).decode()
    assert "PBES2" in structure and "aes-256-cbc" in structure and "hmacWithSHA256" in structure
    with pytest.raises(Exception, match="pkey"):
        openssl("pkey", "-in", str(key_file), "-passin", "pass:" + "00" * 32)


@pytest.mark.parametrize("bits", [512, 768, 1023])
@pytest.mark.filterwarnings("ignore::agent.pki.WeakKeyWarning")
def test_legacy_rsa_keys_pass_openssl_check(store: KeyStore, bits: int, tmp_path: Path) -> None:
    store.generate("old", modulus=bits)
    key_file = stored_key_file(store.directory, "old", tmp_path / "old.p8")
    out = openssl(
        "rsa",
        "-in",
        str(key_file),
        "-passin",
        f"pass:{_passphrase(store)}",
        "-check",
        "-noout",
        "-text",
    ).decode()
    assert "RSA key ok" in out
    assert f"Private-Key: ({bits} bit, 2 primes)" in out
    assert "publicExponent: 65537" in out


def test_usage_keys_both_open_with_openssl(store: KeyStore, tmp_path: Path) -> None:
    info = store.generate("u", modulus=2048, usage=KeyUsage.USAGE_KEYS)
    for component in info.components:
        role = component.role.value
        key_file = stored_key_file(store.directory, "u", tmp_path / f"{role}.p8", role)
        pub = openssl(
            "pkey", "-in", str(key_file), "-passin", f"pass:{_passphrase(store)}", "-pubout"
        )
        assert component.public_key_pem.encode() == pub


@pytest.fixture(scope="module")
def openssl_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A root made by 'openssl req -x509', named like the Cisco seed's CA."""
    work = tmp_path_factory.mktemp("ca")
    key, cert = work / "ca.key", work / "ca.pem"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-days",
        "3650",
        "-set_serial",
        "1",
        "-subj",
        "/C=US/ST=CA/L=San Jose/O=Cisco Systems/OU=HFR/CN=Root coax-u10 Certificate Manager",
        "-addext",
        "subjectAltName=DNS:ca.example.com,IP:192.0.2.1,email:pki@example.com",
        "-addext",
        "crlDistributionPoints=URI:http://ca.example.com/root.crl",
    )
    return key, cert


def test_certificate_fields_match_openssl(openssl_ca: tuple[Path, Path]) -> None:
    _key, path = openssl_ca
    cert = load_certificate(path.read_bytes())

    def x509(*args: str) -> bytes:
        return openssl("x509", "-in", str(path), "-noout", *args)

    # OpenSSL 3.0 prints "sha1 Fingerprint=", later releases "SHA1 Fingerprint=".
    assert x509("-fingerprint", "-sha1").decode().strip().split("=")[1] == cert.sha1_fingerprint
    assert x509("-fingerprint", "-sha256").decode().strip().split("=")[1] == (
        cert.sha256_fingerprint
    )
    assert x509("-serial").decode().strip() == "serial=01" == f"serial={cert.serial_number}"
    assert x509("-subject", "-nameopt", "RFC2253").decode().strip() == f"subject={cert.subject}"
    assert x509("-issuer", "-nameopt", "RFC2253").decode().strip() == f"issuer={cert.issuer}"
    assert cert.subject == (
        "CN=Root coax-u10 Certificate Manager,OU=HFR,O=Cisco Systems,L=San Jose,ST=CA,C=US"
    )
    assert _openssl_date(x509("-startdate")) == cert.not_before
    assert _openssl_date(x509("-enddate")) == cert.not_after
    text = x509("-text").decode()
    assert f"Signature Algorithm: {cert.signature_algorithm}" in text
    assert "DNS:ca.example.com, IP Address:192.0.2.1, email:pki@example.com" in text
    assert cert.subject_alt_names == ("DNS:ca.example.com", "IP:192.0.2.1", "email:pki@example.com")
    assert cert.crl_distribution_points == ("http://ca.example.com/root.crl",)
    assert cert.is_ca and cert.is_self_issued and cert.is_issued_by(cert)


def test_long_serial_matches_openssl(tmp_path: Path) -> None:
    path = tmp_path / "c.pem"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        str(tmp_path / "k.pem"),
        "-out",
        str(path),
        "-subj",
        "/CN=x",
        "-sha384",
        "-set_serial",
        "0x00C0FFEE0123456789ABCDEF",
    )
    cert = load_certificate(path.read_bytes())
    serial = openssl("x509", "-in", str(path), "-noout", "-serial").decode().strip()
    assert serial == "serial=C0FFEE0123456789ABCDEF"
    assert cert.serial_number.replace(":", "") == "C0FFEE0123456789ABCDEF"
    assert (cert.public_key_algorithm, cert.key_size) == (KeyAlgorithm.ECDSA_P384, 384)
    assert cert.signature_algorithm == "ecdsa-with-SHA384"


ENTITY = Entity(
    common_name="router1",
    organizational_unit="Network",
    organization="Example Corp",
    locality="San Jose",
    state="CA",
    country="US",
    email="noc@example.com",
    fqdn="router1.example.com",
    ip_address="192.0.2.10",
)


@pytest.mark.parametrize(
    "algorithm",
    [KeyAlgorithm.RSA, KeyAlgorithm.ECDSA_P256, KeyAlgorithm.ECDSA_P384, KeyAlgorithm.ED25519],
    ids=str,
)
def test_csr_verifies_and_reads_back_in_openssl(
    store: KeyStore, tmp_path: Path, algorithm: KeyAlgorithm
) -> None:
    store.generate("k", algorithm)
    pem = build_csr(
        store.private_key("k"),
        ENTITY,
        fqdn_default="ignored.example",
        challenge_password="s3cret-Pass",
    )
    path = tmp_path / "req.pem"
    path.write_bytes(pem)
    openssl("req", "-in", str(path), "-verify", "-noout")
    subject = openssl("req", "-in", str(path), "-noout", "-subject", "-nameopt", "RFC2253")
    assert subject.decode().strip() == f"subject={load_csr_info(pem).subject}"
    assert subject.decode().strip() == (
        "subject=CN=router1,OU=Network,O=Example Corp,L=San Jose,ST=CA,C=US"
    )
    text = openssl("req", "-in", str(path), "-noout", "-text").decode()
    assert "DNS:router1.example.com, IP Address:192.0.2.10, email:noc@example.com" in text
    assert re.search(r"challengePassword\s*:s3cret-Pass", text)


def test_cisco_default_subject_in_openssl(store: KeyStore, tmp_path: Path) -> None:
    store.generate("k", KeyAlgorithm.RSA)
    path = tmp_path / "req.pem"
    path.write_bytes(
        build_csr(store.private_key("k"), Entity(), fqdn_default="myrouter.mydomain.com")
    )
    openssl("req", "-in", str(path), "-verify", "-noout")
    text = openssl("req", "-in", str(path), "-noout", "-text").decode()
    assert "Subject: unstructuredName = myrouter.mydomain.com" in text
    assert "challengePassword" not in text


def test_offline_enrollment_round_trip(
    store: KeyStore, tmp_path: Path, openssl_ca: tuple[Path, Path]
) -> None:
    """Huawei's offline flow: our request, signed by 'openssl x509 -req', loads and matches."""
    ca_key, ca_cert = openssl_ca
    info = store.generate("device", KeyAlgorithm.ECDSA_P256)
    request = tmp_path / "req.pem"
    request.write_bytes(
        build_csr(store.private_key("device"), Entity(), fqdn_default="myrouter.mydomain.com")
    )
    issued = openssl(
        "x509",
        "-req",
        "-in",
        str(request),
        "-CA",
        str(ca_cert),
        "-CAkey",
        str(ca_key),
        "-set_serial",
        "0x6E",
        "-days",
        "7",
        "-copy_extensions",
        "copy",
    )
    cert = load_certificate(issued)
    ca = load_certificate(ca_cert.read_bytes())
    assert cert.matches_public_key(info.components[0].public_key_der)
    assert cert.is_issued_by(ca) and not ca.is_issued_by(cert)
    assert cert.subject == "unstructuredName=myrouter.mydomain.com"
    assert cert.serial_number == "6E"
    assert cert.subject_alt_names == ("DNS:myrouter.mydomain.com",)
