"""Handshake signature checks (KALSHI_WS.md §2): RSA-PSS or Ed25519 over ts + GET + path.

The simulator must be as strict as Kalshi so a client that signs wrongly fails here
rather than against production. ``verify`` returns a short reason for the 401 body.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kalshi_cli.errors import UsageError
from kalshi_cli.protocol import WS_PATH

__all__ = ["HEADERS", "PublicKey", "SignatureCheck", "load_public_key", "message", "read_public_key", "verify"]

HEADERS = ("KALSHI-ACCESS-KEY", "KALSHI-ACCESS-TIMESTAMP", "KALSHI-ACCESS-SIGNATURE")
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def load_public_key(pem: bytes | str) -> PublicKey:
    """A PEM SubjectPublicKeyInfo (RSA or Ed25519) as a key object."""
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError("public key must be RSA or Ed25519")
    return key


def read_public_key(path: Path | None) -> bytes | None:
    """The PEM of ``--public-key PATH``, checked to be a usable key, or a one-line error naming the file.

    The error never quotes the file's content (a private key passed by mistake stays unprinted).
    """
    if path is None:
        return None
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read public key {path}: {exc.strerror or exc}") from None
    try:
        load_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise UsageError(f"--public-key {path} is not a PEM public key (RSA or Ed25519)") from None
    return pem


def message(timestamp: str, path: str = WS_PATH) -> bytes:
    """The signed text: timestamp + "GET" + path without its query string."""
    return f"{timestamp}GET{path.split('?')[0]}".encode()


def verify(
    headers: Mapping[str, str],
    key: PublicKey,
    *,
    tolerance_s: float | None = 30.0,
    key_id: str | None = None,
    now_ms: int | None = None,
    path: str = WS_PATH,
) -> str | None:
    """None when the three headers prove possession of ``key`` for a GET of ``path``; otherwise why not."""
    for name in HEADERS:
        if not headers.get(name):
            return f"missing {name} header"
    if key_id is not None and headers["KALSHI-ACCESS-KEY"] != key_id:
        return "unknown API key"
    ts = headers["KALSHI-ACCESS-TIMESTAMP"]
    if not ts.isdigit():
        return "KALSHI-ACCESS-TIMESTAMP is not Unix milliseconds"
    if tolerance_s is not None and tolerance_s > 0:
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        if abs(now - int(ts)) > tolerance_s * 1000:
            return "timestamp expired (outside the allowed clock skew)"
    try:
        sig = base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"], validate=True)
    except (binascii.Error, ValueError):
        return "KALSHI-ACCESS-SIGNATURE is not base64"
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, message(ts, path))
        else:
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            key.verify(sig, message(ts, path), pss, hashes.SHA256())
    except InvalidSignature:
        return "bad signature"
    return None


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """One server's signature policy, shared by its handshake and its REST routes."""

    key: PublicKey | None = None
    tolerance_s: float | None = 30.0
    key_id: str | None = None

    @staticmethod
    def signed(headers: Mapping[str, str]) -> bool:
        """Whether the request carries any of the signature headers."""
        return any(headers.get(h) for h in HEADERS)

    def why_not(self, headers: Mapping[str, str], path: str = WS_PATH) -> str | None:
        """None when the request is accepted (always, without a key); otherwise the reason for the 401."""
        if self.key is None:
            return None
        return verify(headers, self.key, tolerance_s=self.tolerance_s, key_id=self.key_id, path=path)
