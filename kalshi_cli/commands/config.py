"""``kalshi config``: write, show and list profiles in the config file (never key material).

A profile is a top-level TOML table (``[default]``, ``[demo]``) with ``key_id``,
``private_key_path`` and optionally ``env``/``url``. ``init`` checks that the key loads and
signs before writing, replaces only its own table (other profiles and comments stay as they
are), and writes the file atomically with mode 0600.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import stat
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from kalshi_cli.auth import shown_value
from kalshi_cli.config import check_key_id, config_path, load_profiles, read_key_file, select_profile
from kalshi_cli.errors import ConfigError, KeyFileError, UsageError

__all__ = ["config_app", "render_profile", "update_profile_text"]

config_app = typer.Typer(
    name="config",
    help="""Set up and inspect API key profiles (~/.config/kalshi/config.toml).

    Examples:

      kalshi config init

      kalshi config show --profile demo

      kalshi config profiles
    """,
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def render_profile(name: str, values: dict[str, str]) -> str:
    """One TOML table; strings are written as TOML basic strings (JSON escapes are valid TOML)."""
    lines = [f"[{name}]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items() if v]
    return "\n".join(lines) + "\n"


def update_profile_text(text: str, name: str, values: dict[str, str]) -> str:
    """``text`` with table ``[name]`` replaced by ``values`` (or appended); everything else unchanged."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if (m := _HEADER.match(line)) and m[1] == name), None)
    table = render_profile(name, values)
    if start is None:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return text + sep + table
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    tail = lines[end:]
    return "".join(lines[:start]) + table + ("\n" if tail else "") + "".join(tail)


def _write_private(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``, mode 0600 (directory 0700 when we create it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.chmod(path, 0o600)


def _ask(label: str, value: str | None, default: str | None = None) -> str:
    if value:
        return value
    missing = UsageError(f"no answer for the {label.lower()}: give it as a flag (see kalshi config init --help)")
    if not sys.stdin.isatty():  # answers piped in: read a line, keep stdout clean
        sys.stderr.write(f"{label}: ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        sys.stderr.write("\n")
        if not line.strip():
            raise missing
        return line.strip()
    try:
        answer = typer.prompt(label, default=default, err=True)
    except (typer.Abort, EOFError):
        sys.stderr.write("\n")
        raise missing from None
    return str(answer).strip()


def _check_key(value: str) -> tuple[Path, str]:
    """Load the key and sign a test message with it; its absolute path and kind. Nothing about it is printed."""
    from kalshi_cli.auth import auth_headers, key_kind, load_private_key

    pem, shown = read_key_file(value, "--private-key", lambda _msg: None)  # init warns about the mode itself
    path = Path(value).expanduser().resolve()
    password = os.environ.get("KALSHI_PRIVATE_KEY_PASSWORD")
    if b"ENCRYPTED" in pem and not password and sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"Passphrase for {shown} (only to check it; not stored): ", stream=sys.stderr)
    key = load_private_key(pem, source=shown, password=password.encode() if password else None)
    headers = auth_headers("check", key, method="GET", path="/trade-api/ws/v2")
    signature = base64.b64decode(headers["KALSHI-ACCESS-SIGNATURE"])
    message = (headers["KALSHI-ACCESS-TIMESTAMP"] + "GET/trade-api/ws/v2").encode()
    _verify(key, signature, message)
    return path, key_kind(key)


def _verify(key: Any, signature: bytes, message: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        if isinstance(key, rsa.RSAPrivateKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            key.public_key().verify(signature, message, pss, hashes.SHA256())
        else:
            key.public_key().verify(signature, message)
    except InvalidSignature:
        raise KeyFileError("the key loaded but its signature did not verify; the key file may be damaged") from None


def _mode_note(path: Path) -> tuple[bool, str]:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False, "missing"
    except OSError as exc:
        return False, f"unreadable ({exc.strerror})"
    except ValueError:  # a NUL byte in a hand-edited path
        return False, "not a valid path"
    if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return False, f"mode {mode:o}: readable by others; run: chmod 600 {shown_value(str(path), 'path')}"
    return True, f"mode {mode:o}, ok"


@config_app.command("init")
def init(
    key_id: Annotated[str | None, typer.Option("--key-id", help="API key id (asked for when missing).")] = None,
    private_key: Annotated[
        str | None, typer.Option("--private-key", metavar="PATH", help="PEM private key file (asked for when missing).")
    ] = None,
    profile: Annotated[str, typer.Option("--profile", metavar="NAME", help="Profile to write.")] = "default",
    env: Annotated[str | None, typer.Option("--env", help="prod or demo (omitted: prod).")] = None,
) -> None:
    """Create or replace a profile: key id, key file, environment.

    Checks that the key loads and signs first. Other profiles in the file are kept; the file
    is written with mode 0600. The key itself is never copied: the profile stores its path.

    Examples:

      kalshi config init

      kalshi config init --key-id a952bcbe-... --private-key ~/.kalshi/demo.key --profile demo --env demo
    """
    if not _NAME.match(profile):
        raise UsageError(f"profile name {profile!r}: use letters, digits, '-' and '_' only")
    if env is not None and env.lower() not in ("prod", "demo", "production"):
        raise UsageError(f"unknown environment {env!r}: use prod or demo")
    key_id = check_key_id(_ask("API key id", key_id), "--key-id")
    if not key_id:
        raise UsageError("the API key id is empty")
    key_path, kind = _check_key(_ask("Private key file", private_key))
    path = config_path(os.environ)
    try:
        text = path.read_text() if path.exists() else ""
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    values = {"key_id": key_id, "private_key_path": str(key_path)}
    if env:
        values["env"] = "prod" if env.lower() == "production" else env.lower()
    new = update_profile_text(text, profile, values)
    try:
        parsed = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        parsed = {}
    if parsed.get(profile) != values:
        raise ConfigError(f"could not update [{profile}] in {path} safely (unusual layout); edit it by hand")
    try:
        _write_private(path, new)
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror}") from None
    ok, note = _mode_note(key_path)
    shown_key = shown_value(str(key_path), "key path")
    print(f"wrote profile [{profile}] to {path} (mode 600): key id {key_id}, {kind.upper()} key {shown_key}")
    if not ok:
        print(f"warning: private key file {note}", file=sys.stderr)
    use = "" if profile == "default" else f" --profile {profile}"
    print(f"try it: kalshi sign --check{use}")


@config_app.command("show")
def show(
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            envvar="KALSHI_PROFILE",
            metavar="NAME",
            help="Profile to show (default: KALSHI_PROFILE, else default).",
        ),
    ] = None,
) -> None:
    """Show a profile: key id, key file path, environment, file permissions. Never the key.

    Examples:

      kalshi config show

      kalshi config show --profile demo
    """
    path = config_path(os.environ)
    profiles = load_profiles(path)
    name = profile or ("default" if "default" in profiles else None)
    file_ok, file_note = _mode_note(path)
    print(f"config file: {path} ({file_note})")
    if name is None:
        print("no profile: create one with 'kalshi config init'")
        return
    selected = select_profile(name, os.environ)  # named: found, or a ConfigError that lists the others
    assert selected is not None
    table = selected[1]
    print(f"profile: {shown_value(name, 'profile name')}")
    print(f"  key id: {_field(table, 'key_id')}")
    key_path = table.get("private_key_path")
    if key_path:
        key_file = Path(str(key_path)).expanduser()
        print(f"  private key file: {_field(table, 'private_key_path')} ({_mode_note(key_file)[1]})")
    else:
        print("  private key file: (missing)")
    print(f"  env: {_field(table, 'env', 'prod')}" + (f"\n  url: {_field(table, 'url')}" if table.get("url") else ""))
    overriding = [
        v for v in ("KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_PRIVATE_KEY") if os.environ.get(v)
    ]
    if overriding:
        print(f"  note: {', '.join(overriding)} set in the environment take precedence over this profile")


@config_app.command("profiles")
def profiles_cmd() -> None:
    """List the profiles in the config file (name, key id, environment).

    Examples:

      kalshi config profiles
    """
    path = config_path(os.environ)
    profiles = load_profiles(path)
    if not profiles:
        print(f"no profiles in {path}: create one with 'kalshi config init'")
        return
    selected = os.environ.get("KALSHI_PROFILE") or ("default" if "default" in profiles else None)
    for name, table in profiles.items():
        mark = "*" if name == selected else " "
        shown = shown_value(name, "profile name")
        print(f"{mark} {shown:<16} key id {_field(table, 'key_id')}  env {_field(table, 'env', 'prod')}")


def _field(table: dict[str, Any], key: str, default: str = "(missing)") -> str:
    """A profile value as it may be printed: a hand-edited file can hold anything, key material too."""
    value = table.get(key)
    return default if value is None else shown_value(str(value), key)
