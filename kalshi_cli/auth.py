"""Kalshi request signing (KALSHI_WS.md §2): load a private key, sign, build the headers.

The message is ``timestamp_ms + METHOD + path`` with the query string cut off; RSA keys sign
with RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt), Ed25519 keys with plain Ed25519. Key
material never appears in an error message: every failure names the file and the cause only.
"""

from __future__ import annotations

import base64
import re
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
    "looks_like_key_material",
    "shown_value",
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


#: A run of base64 this long is more than any path component or key id a user types.
_MIN_BASE64 = 40
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{%d,}={0,2}" % _MIN_BASE64)
_PEM_MARKERS = (b"-----BEGIN", b"-----END", b"PRIVATE KEY")
#: The longest value quoted back in a message (a path, a key id); longer ones are described.
MAX_SHOWN = 200


def looks_like_key_material(value: str | bytes) -> bool:
    """True for PEM text (markers) or a key's base64 body, whole or in lines, with or without ``\\n``.

    Errs towards True: a false positive only makes a message describe a value instead of
    quoting it, while a false negative would print a private key.
    """
    data = value.encode("utf-8", "replace") if isinstance(value, str) else value
    if any(marker in data.upper() for marker in _PEM_MARKERS):
        return True
    compact = re.sub(rb"\s+|\\[nr]", b"", data)
    return any(_high_entropy(run) for run in _BASE64_RUN.findall(compact))


def _high_entropy(run: bytes) -> bool:
    """Letters of both cases and digits mixed through a long run: base64, not words or a path.

    Base64 is ~40% capitals, ~40% small letters and ~15% digits; a path, a word or a UUID is
    not. A run of 64 may lack digits (1 in 50,000 do). Any private key's body passes, and any
    64 characters of one (an Ed25519 PKCS#8 body is 64 characters, ~40 distinct).
    """
    upper, lower, digits = (len(re.findall(cls, run)) for cls in (rb"[A-Z]", rb"[a-z]", rb"[0-9]"))
    return upper * 8 >= len(run) and lower * 8 >= len(run) and (digits >= 1 or len(run) >= 64) and len(set(run)) >= 20


def shown_value(value: str, label: str) -> str:
    """``value`` fit to quote in a message, or a description of it when it must not be quoted.

    Key material is never quoted, nor a value with control characters (newlines) or longer
    than ``MAX_SHOWN``: those are described by ``label`` and length.
    """
    if looks_like_key_material(value):
        return f"(the {label} value, not shown: it looks like key material)"
    if len(value) > MAX_SHOWN or any(ch < " " or ch == "\x7f" for ch in value):
        return f"(the {label} value, {len(value)} characters, not shown)"
    return value


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
