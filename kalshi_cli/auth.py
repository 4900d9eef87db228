"""Kalshi request signing (KALSHI_WS.md §2): load a private key, sign, build the headers.

The message is ``timestamp_ms + METHOD + path`` with the query string cut off; RSA keys sign
with RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt), Ed25519 keys with plain Ed25519. Key
material never appears in an error message: every failure names the file and the cause only.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING

from kalshi_cli.errors import KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    PrivateKey = RSAPrivateKey | Ed25519PrivateKey

__all__ = [
    "HEADER_KEY",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "auth_headers",
    "key_kind",
    "load_private_key",
    "sign",
    "signing_message",
]

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"


def load_private_key(pem: bytes, *, source: str, password: bytes | None = None) -> PrivateKey:
    """Load a PEM private key (PKCS#1 or PKCS#8, RSA or Ed25519, optionally encrypted).

    Args:
        pem: the PEM text.
        source: where it came from (a path or an environment variable name), for messages.
        password: the passphrase for an encrypted key.

    Raises:
        KeyFileError: not a PEM private key, encrypted without (or with a wrong) passphrase,
            or a key type Kalshi does not accept.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if b"-----BEGIN" not in pem or b"PRIVATE KEY-----" not in pem:
        if b"PUBLIC KEY-----" in pem:
            raise KeyFileError(f"{source} holds a public key; Kalshi signing needs the private key")
        raise KeyFileError(f"{source} is not a PEM private key (expected '-----BEGIN ... PRIVATE KEY-----')")
    encrypted = b"ENCRYPTED" in pem
    try:
        key = serialization.load_pem_private_key(pem, password=password if encrypted else None)
    except TypeError:
        # cryptography raises TypeError when a passphrase is needed but missing.
        raise KeyFileError(
            f"{source} is encrypted: give its passphrase in KALSHI_PRIVATE_KEY_PASSWORD "
            "(or run on a terminal to be asked for it)"
        ) from None
    except ValueError as exc:
        if encrypted:
            raise KeyFileError(f"wrong passphrase for the encrypted key {source}") from None
        raise KeyFileError(f"{source} could not be read as a private key ({_short(exc)})") from None
    except Exception as exc:  # unsupported algorithms and the like
        raise KeyFileError(f"{source} could not be read as a private key ({_short(exc)})") from None
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise KeyFileError(
        f"{source} holds a {type(key).__name__.removeprefix('_')} key; Kalshi accepts RSA "
        "(RSA-PSS signatures) and Ed25519 keys only"
    )


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def key_kind(key: PrivateKey) -> str:
    """``"rsa"`` or ``"ed25519"``: the scheme a key signs with."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ed25519"


def signing_message(timestamp_ms: int | str, method: str, path: str) -> bytes:
    """The bytes Kalshi verifies: timestamp + upper-case method + path without its query."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


def sign(key: PrivateKey, message: bytes) -> str:
    """Base64 (standard, padded) signature of ``message`` with the key's scheme."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
            hashes.SHA256(),
        )
    else:
        signature = key.sign(message)
    return base64.b64encode(signature).decode("ascii")


def auth_headers(
    key_id: str,
    key: PrivateKey,
    *,
    method: str = "GET",
    path: str = "/trade-api/ws/v2",
    timestamp_ms: int | None = None,
) -> dict[str, str]:
    """The three ``KALSHI-ACCESS-*`` headers, freshly signed (one set per connection attempt)."""
    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: ts,
        HEADER_SIGNATURE: sign(key, signing_message(ts, method, path)),
    }
