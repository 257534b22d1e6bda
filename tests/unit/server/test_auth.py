from __future__ import annotations

from agent.server import auth


def test_hash_and_verify() -> None:
    h = auth.hash_password("s3cret")
    assert h.startswith("$scrypt$") and "s3cret" not in h
    assert auth.verify_password("s3cret", h)
    assert not auth.verify_password("s3creT", h)


def test_verify_rejects_garbage() -> None:
    assert not auth.verify_password("x", "")
    assert not auth.verify_password("x", "$bcrypt$a$b$c")
    assert not auth.verify_password("x", "$scrypt$ln=zz$a$b")


def test_generated_passwords_differ() -> None:
    assert auth.generate_password() != auth.generate_password()
    assert len(auth.generate_password()) >= 20


def test_key_blob_ignores_comment_and_options() -> None:
    line = 'from="10.0.0.1" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk netops@laptop'
    assert auth.key_blob(line) == ("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIOk")
    assert auth.key_blob("garbage") is None
