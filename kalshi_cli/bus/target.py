"""A bus URL and its credentials: ``nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT][,HOST:PORT...][/STREAM]``.

``tls://`` instead of ``nats://`` turns TLS on (the system's CAs, or ``NATS_CA``'s file). Credentials
come from the URL first, then the environment: ``NATS_USER``/``NATS_PASSWORD``, ``NATS_TOKEN``,
``NATS_CREDS`` (a ``.creds`` file: JWT and NKey seed) or ``NATS_NKEY`` (an NKey seed file). No flag
takes a password (a command line is visible to every user of the machine). ``display`` is the URL
with any password or token as ``***``: the only form a message ever shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from kalshi_cli.errors import UsageError

__all__ = ["DEFAULT_PORT", "DEFAULT_STREAM", "BusTarget", "is_bus_url", "parse_target"]

DEFAULT_PORT = 4222
DEFAULT_STREAM = "KALSHI"
_SCHEMES = ("nats", "tls")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?")


@dataclass(frozen=True)
class BusTarget:
    """Where the bus is and how to sign in: never printed except through ``display``."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    stream: str
    stream_given: bool
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    creds_file: str | None = None
    nkey_file: str | None = None
    ca_file: str | None = None

    @property
    def servers(self) -> list[str]:
        return [f"{self.scheme}://{_host_text(h)}:{p}" for h, p in self.hosts]

    @property
    def display(self) -> str:
        """The URL as messages show it: a password or token is ``***``."""
        auth = ""
        if self.token is not None and self._token_in_url:
            auth = "***@"
        elif self.user is not None and self._user_in_url:
            auth = f"{self.user}:***@" if self.password is not None else f"{self.user}@"
        hosts = ",".join(f"{_host_text(h)}:{p}" for h, p in self.hosts)
        return f"{self.scheme}://{auth}{hosts}/{self.stream}"

    # whether the URL (not the environment) carried the credential: the environment's are not shown
    _user_in_url: bool = field(default=False, repr=False)
    _token_in_url: bool = field(default=False, repr=False)

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect`` (servers, credentials, TLS)."""
        opts: dict[str, Any] = {"servers": self.servers}
        if self.user is not None:
            opts["user"] = self.user
            opts["password"] = self.password or ""
        if self.token is not None:
            opts["token"] = self.token
        if self.creds_file is not None:
            opts["user_credentials"] = self.creds_file
        if self.nkey_file is not None:
            opts["nkeys_seed"] = self.nkey_file
        if self.scheme == "tls":
            import ssl

            opts["tls"] = ssl.create_default_context(cafile=self.ca_file)
        return opts


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def is_bus_url(text: str | None) -> bool:
    return bool(text) and str(text).split("://", 1)[0].lower() in _SCHEMES


def _redacted(url: str) -> str:
    """``url`` with whatever sits before an ``@`` hidden, for the messages of a URL that does not parse."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***" if "@" in url else url
    at = rest.rfind("@", 0, rest.find("/") if "/" in rest else len(rest))
    return f"{scheme}://***@{rest[at + 1 :]}" if at >= 0 else url


def parse_target(url: str, *, option: str, environ: Mapping[str, str] | None = None) -> BusTarget:
    """Parse a bus URL given to ``option`` (``--sink``, ``--from``), credentials from ``environ`` too.

    Raises:
        UsageError: not a ``nats://``/``tls://`` URL, a bad host, port or stream name, or a
            credential file that does not exist.
    """
    env = os.environ if environ is None else environ
    shown = _redacted(url)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _SCHEMES:
        raise UsageError(f"{option} expects nats://HOST:PORT[/STREAM] (or tls://...); got {shown!r}")
    if "?" in rest or "#" in rest:
        raise UsageError(f"{option}: a bus URL takes no query or fragment; got {shown!r}")
    netloc, _, path = rest.partition("/")
    auth, at, hostpart = netloc.rpartition("@")
    if not at:
        auth, hostpart = "", netloc
    hosts = []
    for item in hostpart.split(","):
        m = _HOST.fullmatch(item)
        port = int(m.group(2)) if m and m.group(2) else DEFAULT_PORT
        if m is None or not 0 < port < 65536:
            raise UsageError(f"{option}: bad host or port {item!r} in {shown!r}")
        hosts.append((m.group(1).strip("[]"), port))
    stream = path.strip("/") or DEFAULT_STREAM
    if not _STREAM_NAME.fullmatch(stream):
        raise UsageError(
            f"{option}: the stream name must be letters, digits, '_' or '-' (no dots, slashes or spaces); "
            f"got {stream!r}"
        )
    user = password = token = None
    user_in_url = token_in_url = False
    if auth:
        name, colon, secret = auth.partition(":")
        if colon:
            user, password, user_in_url = unquote(name), unquote(secret), True
        else:
            token, token_in_url = unquote(name), True  # nats://TOKEN@host, as the nats tools read it
    elif env.get("NATS_TOKEN"):
        token = env["NATS_TOKEN"]
    elif env.get("NATS_USER"):
        user, password = env["NATS_USER"], env.get("NATS_PASSWORD", "")
    creds = env.get("NATS_CREDS") or None
    nkey = env.get("NATS_NKEY") or None
    for name, path_value in (("NATS_CREDS", creds), ("NATS_NKEY", nkey), ("NATS_CA", env.get("NATS_CA"))):
        if path_value and not os.path.isfile(os.path.expanduser(path_value)):
            raise UsageError(f"{name} names {path_value!r}, which is not a readable file")
    ca = env.get("NATS_CA") or None
    return BusTarget(
        scheme=scheme,
        hosts=tuple(hosts),
        stream=stream,
        stream_given=bool(path.strip("/")),
        user=user,
        password=password,
        token=token,
        creds_file=os.path.expanduser(creds) if creds else None,
        nkey_file=os.path.expanduser(nkey) if nkey else None,
        ca_file=os.path.expanduser(ca) if ca else None,
        _user_in_url=user_in_url,
        _token_in_url=token_in_url,
    )
