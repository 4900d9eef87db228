"""Where to connect and with which key: flags, then environment, then a config profile.

Pure resolution over an ``environ`` mapping and a config path, so tests can drive every
precedence rule. The private key is read from a file or an environment variable and is
never stored anywhere but in memory.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from kalshi_cli.auth import load_private_key, looks_like_key_material, shown_value
from kalshi_cli.errors import ConfigError, KeyFileError, UsageError

__all__ = [
    "ENVIRONMENTS",
    "Credentials",
    "Endpoint",
    "check_key_id",
    "config_path",
    "is_trusted_host",
    "load_profiles",
    "read_key_file",
    "resolve_credentials",
    "resolve_endpoint",
    "rest_from_ws",
]

#: Current hosts (KALSHI_WS.md §1, REST.md §1).
ENVIRONMENTS: dict[str, tuple[str, str]] = {
    "prod": ("wss://external-api-ws.kalshi.com/trade-api/ws/v2", "https://external-api.kalshi.com/trade-api/v2"),
    "demo": (
        "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
        "https://external-api.demo.kalshi.co/trade-api/v2",
    ),
}

# Our names first; the others are what other Kalshi tools and starter code read.
KEY_ID_VARS = ("KALSHI_API_KEY_ID", "KALSHI_KEY_ID", "KALSHI_ACCESS_KEY", "KALSHI_API_KEY")
KEY_PATH_VARS = ("KALSHI_PRIVATE_KEY_PATH", "KALSHI_PRIVATE_KEY_FILE", "KALSHI_KEY_FILE", "KALSHI_PRIV_KEY_PATH")
KEY_TEXT_VARS = ("KALSHI_PRIVATE_KEY", "KALSHI_PRIV_KEY")
PASSWORD_VARS = ("KALSHI_PRIVATE_KEY_PASSWORD", "KALSHI_PRIVATE_KEY_PASSPHRASE")


def config_path(environ: Mapping[str, str]) -> Path:
    """``$KALSHI_CONFIG``, else ``$XDG_CONFIG_HOME/kalshi/config.toml``, else ``~/.config/...``."""
    if environ.get("KALSHI_CONFIG"):
        return Path(environ["KALSHI_CONFIG"]).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", str(Path.home()))) / ".config")
    return Path(base) / "kalshi" / "config.toml"


def load_profiles(path: Path) -> dict[str, dict[str, Any]]:
    """Profiles are top-level tables: ``[default]``, ``[demo]``, ... Missing file = none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    import tomllib  # only with a config file: keeps `kalshi sign --key-id ... --private-key ...` quick

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return {name: table for name, table in data.items() if isinstance(table, dict)}


def _first(environ: Mapping[str, str], names: tuple[str, ...], notes: list[str]) -> tuple[str, str] | None:
    """The first set variable among ``names``; note it when a later one disagrees."""
    found = [(n, environ[n]) for n in names if environ.get(n)]
    if not found:
        return None
    chosen = found[0]
    for name, value in found[1:]:
        if value != chosen[1]:
            notes.append(f"{chosen[0]} and {name} disagree; using {chosen[0]}")
    return chosen


# --- endpoint -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """The WebSocket URL to use and the REST base of the same environment."""

    ws_url: str
    rest_url: str
    env: str  # "prod", "demo", "custom" or "sim"
    notes: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return urlsplit(self.ws_url).hostname or ""


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def resolve_endpoint(
    *,
    env_flag: str | None,
    url_flag: str | None,
    environ: Mapping[str, str],
    profile: Mapping[str, Any] | None = None,
) -> Endpoint:
    """``--url`` beats ``--env``; then ``KALSHI_WS_URL``, ``KALSHI_ENV``/``KALSHI_DEMO``, profile, prod."""
    notes: list[str] = []
    profile = profile or {}
    url = url_flag or environ.get("KALSHI_WS_URL") or profile.get("url")
    if url:
        return Endpoint(_check_ws_url(url), rest_from_ws(url), "custom", tuple(notes))
    env = env_flag
    if env is None:
        chosen = _first(environ, ("KALSHI_ENV", "KALSHI_ENVIRONMENT"), notes)
        if chosen:
            env = chosen[1]
        demo = environ.get("KALSHI_DEMO")
        if demo is not None and demo.strip():
            implied = "demo" if _truthy(demo) else "prod"
            if env is None:
                env = implied
            elif env.lower() != implied:
                notes.append(f"KALSHI_ENV={env} and KALSHI_DEMO={demo} disagree; using KALSHI_ENV")
    env = (env or profile.get("env") or "prod").lower()
    if env == "production":
        env = "prod"
    if env not in ENVIRONMENTS:
        raise UsageError(f"unknown environment {env!r}: use prod or demo (or --url for any other server)")
    ws, rest = ENVIRONMENTS[env]
    return Endpoint(ws, rest, env, tuple(notes))


def _check_ws_url(url: str) -> str:
    """``url`` checked, with Kalshi's path when it has none (before any query, never after it)."""
    parts = _split(url, "--url")
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise UsageError(f"not a WebSocket URL: {shown_value(url, '--url')} (expected ws://HOST:PORT/... or wss://...)")
    if parts.fragment:
        raise UsageError(f"--url {shown_value(url, '--url')}: a WebSocket URL cannot have a #fragment (RFC 6455)")
    if parts.path in ("", "/"):
        parts = parts._replace(path="/trade-api/ws/v2")
    return urlunsplit(parts)


def _split(url: str, label: str) -> SplitResult:
    """``urlsplit`` that reads the port too, so a bad one is a usage error here and not a crash later."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number in 0-65535)
    except ValueError as exc:
        raise UsageError(f"{label} {shown_value(url, label)} is not a valid URL ({exc})") from None
    return parts


def rest_from_ws(url: str) -> str:
    """REST base beside a WS URL: Kalshi's own hosts map to their REST twins, others share host:port.

    The WS URL's user info, path and query are not carried over: the REST base is always
    ``SCHEME://HOST[:PORT]/trade-api/v2`` (``RestClient`` appends paths and queries to it).
    """
    parts = _split(url, "--url")
    host = parts.hostname or ""
    for ws, rest in ENVIRONMENTS.values():
        if urlsplit(ws).hostname == host:
            return rest
    legacy = {"api.elections.kalshi.com", "demo-api.kalshi.co"}
    scheme = "https" if parts.scheme == "wss" else "http"
    if host in legacy:
        return f"https://{host}/trade-api/v2"
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((scheme, netloc, "/trade-api/v2", "", ""))


def is_trusted_host(host: str) -> bool:
    """Kalshi's own hosts and loopback may receive signed headers without an opt-in."""
    host = host.lower().rstrip(".")
    if host in ("kalshi.com", "kalshi.co", "localhost") or host.endswith((".kalshi.com", ".kalshi.co")):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- credentials ----------------------------------------------------------------------------------


@dataclass
class Credentials:
    """An API key id and its loaded private key, with where each came from."""

    key_id: str
    key: Any = field(repr=False)
    source: str
    notes: list[str] = field(default_factory=list)


def resolve_credentials(
    *,
    key_id_flag: str | None,
    key_path_flag: str | None,
    profile_name: str | None,
    environ: Mapping[str, str],
    ask_password: Callable[[str], str | None] | None = None,
    warn: Callable[[str], None] = lambda _msg: None,
) -> Credentials | None:
    """Find the key id and private key, highest source first; ``None`` when none is configured.

    Raises:
        KeyFileError: a key is configured but cannot be loaded.
        ConfigError: a named profile does not exist, or only half a credential is given.
    """
    notes: list[str] = []
    profile = select_profile(profile_name, environ)

    key_id, id_source = key_id_flag, "--key-id"
    if not key_id:
        chosen = _first(environ, KEY_ID_VARS, notes)
        if chosen:
            id_source, key_id = chosen
        elif profile and profile[1].get("key_id"):
            key_id, id_source = str(profile[1]["key_id"]), f"profile {profile[0]!r}"
    if key_id:
        key_id = check_key_id(key_id, id_source)

    pem: bytes | None = None
    key_source = ""
    if key_path_flag:
        pem, key_source = read_key_file(key_path_flag, "--private-key", warn)
    else:
        path_var = _first(environ, KEY_PATH_VARS, notes)
        text_var = _first(environ, KEY_TEXT_VARS, notes)
        if path_var:
            if text_var:
                notes.append(f"both {path_var[0]} and {text_var[0]} are set; using {path_var[0]}")
            pem, key_source = read_key_file(path_var[1], path_var[0], warn)
        elif text_var:
            name, value = text_var
            if "-----BEGIN" in value:
                # .env files often hold the PEM on one line with literal \n escapes.
                pem, key_source = value.replace("\\n", "\n").encode(), f"${name}"
            else:  # some tools put a path in KALSHI_PRIV_KEY
                pem, key_source = read_key_file(value, name, warn, text_allowed=True)
        elif profile and profile[1].get("private_key_path"):
            label = f"private_key_path of profile {profile[0]!r}"
            pem, key_source = read_key_file(str(profile[1]["private_key_path"]), label, warn)

    if not key_id and pem is None:
        return None
    if not key_id:
        raise ConfigError(
            f"a private key was given ({key_source}) but no API key id: use --key-id or KALSHI_API_KEY_ID"
        )
    if pem is None:
        raise ConfigError(
            f"an API key id was given ({id_source}) but no private key: "
            "use --private-key PATH or KALSHI_PRIVATE_KEY_PATH"
        )
    password = _password(pem, key_source, environ, notes, ask_password)
    key = load_private_key(pem, source=key_source, password=password)
    return Credentials(key_id.strip(), key, f"key id from {id_source}, private key from {key_source}", notes)


def select_profile(profile_name: str | None, environ: Mapping[str, str]) -> tuple[str, dict[str, Any]] | None:
    """The profile named by ``--profile``/``KALSHI_PROFILE``, else ``default`` if it exists."""
    name = profile_name or environ.get("KALSHI_PROFILE")
    path = config_path(environ)
    profiles = load_profiles(path)
    if name:
        if name not in profiles:
            known = ", ".join(shown_value(p, "profile name") for p in sorted(profiles)) or "none"
            raise ConfigError(
                f"no profile {shown_value(name, '--profile')!r} in {path} (profiles: {known}); "
                "create one with 'kalshi config init'"
            )
        return name, profiles[name]
    if "default" in profiles:
        return "default", profiles["default"]
    return None


def check_key_id(value: str, label: str) -> str:
    """``value`` stripped, unless it cannot be a key id (key material, a newline, too long)."""
    key_id = value.strip()
    if shown_value(key_id, label) != key_id:
        raise KeyFileError(
            f"{label} does not hold an API key id {shown_value(key_id, label)}: "
            "use the key id (a UUID) Kalshi shows beside the key"
        )
    return key_id


def read_key_file(
    value: str, label: str, warn: Callable[[str], None], *, text_allowed: bool = False
) -> tuple[bytes, str]:
    """The bytes of the key file named by ``value`` (from ``label``) and the path to name it by.

    A value that is key material, not a path, is refused without being quoted, and so is
    any value that cannot be quoted safely (``auth.shown_value``).
    """
    path = Path(value).expanduser()
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the value
        raise _unreadable(value, str(path), label, exc, text_allowed) from None
    shown = shown_value(str(path), label)  # a real file may still have a newline in its name
    if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn(f"private key file {shown} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {shown}")
    return data, shown


def _unreadable(value: str, path: str, label: str, exc: Exception, text_allowed: bool) -> KeyFileError:
    if looks_like_key_material(value):
        if text_allowed:
            return KeyFileError(
                f"the {label} value looks like key material but is not PEM text: give the whole PEM "
                "(with its -----BEGIN and -----END lines) or the path of the key file"
            )
        return KeyFileError(
            f"the {label} value looks like key material, not a path: give the path of the PEM "
            "file (or put the PEM text in KALSHI_PRIVATE_KEY)"
        )
    shown = shown_value(path, label)
    if isinstance(exc, FileNotFoundError):
        return KeyFileError(f"private key file not found: {shown}")
    if isinstance(exc, IsADirectoryError):
        return KeyFileError(f"private key path is a directory, not a file: {shown}")
    if isinstance(exc, PermissionError):
        return KeyFileError(f"cannot read private key file {shown}: permission denied")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a valid path"
    return KeyFileError(f"cannot read private key file {shown}: {reason}")


def _password(
    pem: bytes,
    source: str,
    environ: Mapping[str, str],
    notes: list[str],
    ask_password: Callable[[str], str | None] | None,
) -> bytes | None:
    if b"ENCRYPTED" not in pem:
        return None
    chosen = _first(environ, PASSWORD_VARS, notes)
    if chosen:
        return chosen[1].encode()
    if ask_password is not None:
        answer = ask_password(f"Passphrase for {source}: ")
        if answer:
            return answer.encode()
    return None


def default_environ() -> Mapping[str, str]:
    return os.environ
