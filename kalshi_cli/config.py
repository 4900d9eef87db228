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
from urllib.parse import urlsplit

from kalshi_cli.auth import load_private_key
from kalshi_cli.errors import ConfigError, KeyFileError, UsageError

__all__ = [
    "ENVIRONMENTS",
    "Credentials",
    "Endpoint",
    "config_path",
    "is_trusted_host",
    "load_profiles",
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
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise UsageError(f"not a WebSocket URL: {url!r} (expected ws://HOST:PORT/... or wss://...)")
    if not parts.path or parts.path == "/":
        url = url.rstrip("/") + "/trade-api/ws/v2"
    return url


def rest_from_ws(url: str) -> str:
    """REST base beside a WS URL: Kalshi's own hosts map to their REST twins, others share host:port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    for ws, rest in ENVIRONMENTS.values():
        if urlsplit(ws).hostname == host:
            return rest
    legacy = {"api.elections.kalshi.com", "demo-api.kalshi.co"}
    scheme = "https" if parts.scheme == "wss" else "http"
    if host in legacy:
        return f"https://{host}/trade-api/v2"
    return f"{scheme}://{parts.netloc}/trade-api/v2"


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

    pem: bytes | None = None
    key_source = ""
    if key_path_flag:
        pem, key_source = _read_key_file(Path(key_path_flag).expanduser(), warn), key_path_flag
    else:
        path_var = _first(environ, KEY_PATH_VARS, notes)
        text_var = _first(environ, KEY_TEXT_VARS, notes)
        if path_var:
            if text_var:
                notes.append(f"both {path_var[0]} and {text_var[0]} are set; using {path_var[0]}")
            pem, key_source = _read_key_file(Path(path_var[1]).expanduser(), warn), path_var[1]
        elif text_var:
            value = text_var[1]
            if "-----BEGIN" in value:
                # .env files often hold the PEM on one line with literal \n escapes.
                pem, key_source = value.replace("\\n", "\n").encode(), f"${text_var[0]}"
            else:  # some tools put a path in KALSHI_PRIV_KEY
                pem, key_source = _read_key_file(Path(value).expanduser(), warn), value
        elif profile and profile[1].get("private_key_path"):
            path = Path(str(profile[1]["private_key_path"])).expanduser()
            pem, key_source = _read_key_file(path, warn), str(path)

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
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(
                f"no profile {name!r} in {path} (profiles: {known}); create one with 'kalshi config init'"
            )
        return name, profiles[name]
    if "default" in profiles:
        return "default", profiles["default"]
    return None


def _read_key_file(path: Path, warn: Callable[[str], None]) -> bytes:
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"private key file not found: {path}") from None
    except IsADirectoryError:
        raise KeyFileError(f"private key path is a directory, not a file: {path}") from None
    except PermissionError:
        raise KeyFileError(f"cannot read private key file {path}: permission denied") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read private key file {path}: {exc.strerror}") from None
    if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn(f"private key file {path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
    return data


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
