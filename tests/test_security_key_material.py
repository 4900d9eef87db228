"""Key material where a path (or a key id) is expected is refused without ever being printed.

Real RSA (PKCS#1 and PKCS#8) and Ed25519 keys are generated here; every entry point runs
the CLI as a subprocess and no piece of the key's base64 body may reach stdout or stderr.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.auth import MAX_SHOWN, looks_like_key_material, shown_value
from kalshi_cli.status import ExitStatus
from tests.conftest import assert_clean_error, cli_env, pem_private, run_cli

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


def _keys() -> dict[str, bytes]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "rsa-pkcs1": pem_private(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL),
        "rsa-pkcs8": pem_private(rsa_key),
        "ed25519": pem_private(ed25519.Ed25519PrivateKey.generate()),
    }


KEYS = _keys()


def body_of(pem: bytes) -> str:
    return "".join(pem.decode().strip().splitlines()[1:-1])


def assert_no_key_material(proc, pem: bytes) -> None:
    """No 16-character piece of the key's base64 body appears in anything the CLI wrote."""
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    compact = re.sub(r"\s+", "", out)
    body = body_of(pem)
    for start in range(0, len(body) - 16, 8):
        piece = body[start : start + 16]
        assert piece not in out and piece not in compact, f"key material on the output: {piece!r}"
    assert "PRIVATE KEY" not in out


def refused(proc, pem: bytes, *needles: str) -> str:
    assert_no_key_material(proc, pem)
    return assert_clean_error(proc, ExitStatus.AUTH, *needles)


@pytest.fixture(params=sorted(KEYS))
def pem(request) -> bytes:
    return KEYS[request.param]


def test_pem_text_given_to_private_key_flag(pem):
    proc = run_cli(["sign", "--key-id", KEY_ID, "--private-key", pem.decode()])
    refused(proc, pem, "the --private-key value looks like key material, not a path")


def test_pem_text_in_a_path_variable(pem):
    for name in ("KALSHI_PRIVATE_KEY_PATH", "KALSHI_PRIVATE_KEY_FILE"):
        proc = run_cli(["sign"], env=cli_env(KALSHI_API_KEY_ID=KEY_ID, **{name: pem.decode()}))
        refused(proc, pem, f"the {name} value looks like key material, not a path")


@pytest.mark.parametrize("shape", ["one line", "lines", "escaped newlines"])
def test_base64_body_without_pem_lines_in_a_text_variable(pem, shape):
    lines = pem.decode().strip().splitlines()[1:-1]
    value = {"one line": "".join(lines), "lines": "\n".join(lines), "escaped newlines": "\\n".join(lines)}[shape]
    proc = run_cli(["sign"], env=cli_env(KALSHI_API_KEY_ID=KEY_ID, KALSHI_PRIV_KEY=value))
    refused(proc, pem, "the KALSHI_PRIV_KEY value looks like key material but is not PEM text")


def test_base64_body_given_to_private_key_flag(pem):
    proc = run_cli(["sign", "--key-id", KEY_ID, "--private-key", body_of(pem)])
    refused(proc, pem, "the --private-key value looks like key material, not a path")


def test_pem_text_as_a_profile_path(pem, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[default]\nkey_id = "{KEY_ID}"\nprivate_key_path = {json.dumps(pem.decode())}\n')
    proc = run_cli(["sign"], env=cli_env(KALSHI_CONFIG=str(config)))
    refused(proc, pem, "private_key_path of profile 'default'", "looks like key material")


def test_pem_text_given_as_key_id(pem, tmp_path):
    key_file = tmp_path / "k.pem"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    proc = run_cli(["sign", "--key-id", pem.decode(), "--private-key", str(key_file)])
    refused(proc, pem, "--key-id does not hold an API key id")


def test_config_init_with_pem_text_writes_nothing(pem, tmp_path):
    config = tmp_path / "cfg" / "config.toml"
    env = cli_env(KALSHI_CONFIG=str(config))
    proc = run_cli(["config", "init", "--key-id", KEY_ID, "--private-key", pem.decode()], env=env)
    refused(proc, pem, "the --private-key value looks like key material, not a path")
    assert not config.exists()
    # answered at the prompt (stdin piped) instead of on the command line
    one_line = pem.decode().replace("\n", "\\n")
    proc = run_cli(["config", "init", "--key-id", KEY_ID], env=env, input=one_line.encode() + b"\n")
    refused(proc, pem, "looks like key material")
    assert not config.exists()


def test_config_init_with_pem_as_key_id(pem, tmp_path):
    key_file = tmp_path / "k.pem"
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    config = tmp_path / "config.toml"
    proc = run_cli(
        ["config", "init", "--key-id", body_of(pem), "--private-key", str(key_file)],
        env=cli_env(KALSHI_CONFIG=str(config)),
    )
    refused(proc, pem, "--key-id does not hold an API key id")
    assert not config.exists()


def test_odd_paths_are_not_echoed(tmp_path):
    long_path = str(tmp_path.joinpath(*["x" * 60] * 5))
    proc = run_cli(["sign", "--key-id", KEY_ID, "--private-key", long_path])
    line = assert_clean_error(proc, ExitStatus.AUTH, "private key file not found", "characters, not shown")
    assert "x" * 60 not in line
    proc = run_cli(["sign", "--key-id", KEY_ID, "--private-key", "/tmp/no\nsuch\x1b[2J"])
    line = assert_clean_error(proc, ExitStatus.AUTH, "private key file not found", "not shown")
    assert "\x1b" not in proc.stderr.decode()


def test_a_plain_missing_path_is_still_named(tmp_path):
    missing = tmp_path / "nope.pem"
    proc = run_cli(["sign", "--key-id", KEY_ID, "--private-key", str(missing)])
    assert_clean_error(proc, ExitStatus.AUTH, f"private key file not found: {missing}")


def test_a_real_key_file_still_signs(tmp_path):
    key_file = tmp_path / "k.pem"
    key_file.write_bytes(KEYS["ed25519"])
    key_file.chmod(0o600)
    proc = run_cli(["sign", "--key-id", KEY_ID, "--private-key", str(key_file)])
    assert proc.returncode == 0, proc.stderr
    assert_no_key_material(proc, KEYS["ed25519"])


# --- the detector itself -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_piece_of_a_key_is_key_material(name):
    pem = KEYS[name].decode()
    lines = pem.strip().splitlines()[1:-1]
    body = "".join(lines)
    for value in (pem, pem.replace("\n", "\\n"), body, "\n".join(lines), lines[0], body[-64:]):
        assert looks_like_key_material(value), value[:10]
        assert "(" in shown_value(value, "--x") and body[:16] not in shown_value(value, "--x")


@pytest.mark.parametrize(
    "value",
    [
        "~/.kalshi/prod.key",
        "/home/alice/Projects2024/KalshiTrading/keys/prod_key-v2.pem",
        "C:\\Users\\Alice\\Documents\\kalshi\\demo-key-2025.pem",
        KEY_ID,
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2?token=abc",
        str(Path("/tmp") / "pytest-of-root" / "pytest-123" / "test_missing_key_file0" / "key.pem"),
    ],
)
def test_paths_ids_and_urls_are_not_key_material(value):
    assert not looks_like_key_material(value)
    assert shown_value(value, "--x") == value


def test_config_show_and_profiles_describe_a_hand_edited_profile_holding_a_key(pem, tmp_path):
    config = tmp_path / "config.toml"
    text = pem.decode()
    config.write_text(
        f"[default]\nkey_id = {json.dumps(body_of(pem))}\nprivate_key_path = {json.dumps(text)}\n"
        f'env = "demo"\nurl = {json.dumps(text)}\n'
    )
    env = cli_env(KALSHI_CONFIG=str(config))
    for args in (["config", "show"], ["config", "profiles"], ["config", "show", "--profile", "nope"]):
        proc = run_cli(args, env=env)
        assert_no_key_material(proc, pem)
        assert "Traceback" not in proc.stderr.decode()
    shown = run_cli(["config", "show"], env=env)
    assert shown.returncode == 0 and "looks like key material" in shown.stdout.decode()
    assert "env: demo" in shown.stdout.decode()


def test_a_real_key_file_with_a_newline_in_its_name_is_not_quoted_in_warnings(tmp_path):
    key_file = tmp_path / "odd\nname.pem"
    key_file.write_bytes(KEYS["rsa-pkcs8"])
    key_file.chmod(0o644)
    proc = run_cli(["sign", "--key-id", KEY_ID, "--private-key", str(key_file)])
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.decode()
    assert "readable by others" in err and "not shown" in err and "name.pem" not in err
    assert_no_key_material(proc, KEYS["rsa-pkcs8"])


@given(st.text(max_size=400))
def test_shown_value_is_always_one_short_printable_line(value):
    shown = shown_value(value, "--x")
    assert len(shown) <= MAX_SHOWN + 60
    assert not any(ch < " " or ch == "\x7f" for ch in shown)
    assert shown == value or value not in shown or len(value) <= 3


@given(key=st.sampled_from(sorted(KEYS)), start=st.integers(0, 10_000), prefix=st.sampled_from(["", "/tmp/", "~/"]))
def test_any_64_characters_of_a_key_body_are_key_material(key, start, prefix):
    body = body_of(KEYS[key])
    start %= len(body) - 63
    assert looks_like_key_material(prefix + body[start : start + 64])
