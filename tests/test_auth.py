"""Signing: verified with the public key (PSS is randomized), every key format, clear errors."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from kalshi_cli.auth import auth_headers, key_kind, load_private_key, sign, signing_message
from kalshi_cli.errors import KeyFileError
from tests.conftest import pem_private


def verify_pss(public_key, signature_b64: str, message: bytes) -> None:
    public_key.verify(
        base64.b64decode(signature_b64, validate=True),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_signing_message_strips_query_and_uppercases_method():
    assert signing_message(1787925912345, "get", "/trade-api/v2/portfolio/fills?limit=2&ticker=X") == (
        b"1787925912345GET/trade-api/v2/portfolio/fills"
    )


def test_headers_verify_with_rsa_public_key(rsa_key):
    headers = auth_headers("kid", rsa_key, timestamp_ms=1787925912345)
    assert headers["KALSHI-ACCESS-KEY"] == "kid"
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1787925912345"
    verify_pss(rsa_key.public_key(), headers["KALSHI-ACCESS-SIGNATURE"], b"1787925912345GET/trade-api/ws/v2")


def test_pss_signature_is_randomized_but_both_verify(rsa_key):
    msg = b"1GET/trade-api/ws/v2"
    a, b = sign(rsa_key, msg), sign(rsa_key, msg)
    assert a != b
    verify_pss(rsa_key.public_key(), a, msg)
    verify_pss(rsa_key.public_key(), b, msg)


def test_wrong_message_does_not_verify(rsa_key):
    sig = sign(rsa_key, b"1GET/trade-api/ws/v2")
    with pytest.raises(InvalidSignature):
        verify_pss(rsa_key.public_key(), sig, b"2GET/trade-api/ws/v2")


def test_ed25519_signs_plainly(ed_key):
    key = load_private_key(pem_private(ed_key), source="ed.pem")
    assert key_kind(key) == "ed25519"
    headers = auth_headers("kid", key, timestamp_ms=5)
    ed_key.public_key().verify(base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"]), b"5GET/trade-api/ws/v2")


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8])
def test_loads_pkcs1_and_pkcs8(rsa_key, fmt):
    pem = pem_private(rsa_key, fmt)
    assert (b"BEGIN RSA PRIVATE KEY" in pem) == (fmt == serialization.PrivateFormat.TraditionalOpenSSL)
    key = load_private_key(pem, source="k.pem")
    assert key_kind(key) == "rsa"


def test_encrypted_key_needs_the_right_passphrase(rsa_key):
    pem = pem_private(rsa_key, password=b"s3cret")
    assert key_kind(load_private_key(pem, source="k.pem", password=b"s3cret")) == "rsa"
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_private_key(pem, source="k.pem", password=b"nope")
    with pytest.raises(KeyFileError, match="encrypted"):
        load_private_key(pem, source="k.pem", password=None)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"hello", "not a PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "could not be read"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "public key"),
    ],
)
def test_garbage_is_a_clear_error(data, needle):
    with pytest.raises(KeyFileError, match=needle) as info:
        load_private_key(data, source="k.pem")
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_other_key_types_are_refused():
    pem = pem_private(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyFileError, match="RSA .* and Ed25519"):
        load_private_key(pem, source="ec.pem")


def test_errors_never_contain_key_material(rsa_key):
    pem = pem_private(rsa_key, password=b"pw")
    with pytest.raises(KeyFileError) as info:
        load_private_key(pem, source="k.pem", password=b"bad")
    body = pem.decode().splitlines()[2]
    assert body not in str(info.value)
