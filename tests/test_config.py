"""Credential and endpoint resolution: precedence, other tools' names, profiles, host trust."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.config import config_path, is_trusted_host, resolve_credentials, resolve_endpoint
from kalshi_cli.errors import ConfigError, KeyFileError, UsageError
from tests.conftest import pem_private


def creds(environ, **flags):
    warnings: list[str] = []
    result = resolve_credentials(
        key_id_flag=flags.get("key_id"),
        key_path_flag=flags.get("key_path"),
        profile_name=flags.get("profile"),
        environ=environ,
        warn=warnings.append,
    )
    return result, warnings


def write_profile(environ, text):
    path = config_path(environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def base_env(tmp_path):
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def test_nothing_configured_is_none(base_env):
    assert creds(base_env)[0] is None


def test_flags_beat_environment(base_env, keys, tmp_path):
    env = {**base_env, "KALSHI_API_KEY_ID": "env-id", "KALSHI_PRIVATE_KEY_PATH": "/nonexistent"}
    c, _ = creds(env, key_id="flag-id", key_path=str(keys.private))
    assert c.key_id == "flag-id" and "--key-id" in c.source and str(keys.private) in c.source


def test_environment_beats_profile(base_env, keys):
    write_profile(base_env, f'[default]\nkey_id = "profile-id"\nprivate_key_path = "{keys.private}"\n')
    c, _ = creds({**base_env, "KALSHI_API_KEY_ID": "env-id"})
    assert c.key_id == "env-id"
    c, _ = creds(base_env)
    assert c.key_id == "profile-id" and "profile 'default'" in c.source


def test_named_profile_and_missing_profile(base_env, keys):
    write_profile(base_env, f'[demo]\nkey_id = "demo-id"\nprivate_key_path = "{keys.private}"\nenv = "demo"\n')
    assert creds(base_env, profile="demo")[0].key_id == "demo-id"
    assert creds({**base_env, "KALSHI_PROFILE": "demo"})[0].key_id == "demo-id"
    with pytest.raises(ConfigError, match="no profile 'prod'.*demo"):
        creds(base_env, profile="prod")


def test_other_tools_names_and_disagreement_note(base_env, keys):
    env = {**base_env, "KALSHI_KEY_ID": "other-id", "KALSHI_PRIV_KEY": str(keys.private)}
    c, _ = creds(env)
    assert c.key_id == "other-id"
    env = {
        **base_env,
        "KALSHI_API_KEY_ID": "ours",
        "KALSHI_KEY_ID": "theirs",
        "KALSHI_PRIVATE_KEY_PATH": str(keys.private),
    }
    c, _ = creds(env)
    assert c.key_id == "ours"
    assert any("KALSHI_API_KEY_ID and KALSHI_KEY_ID disagree; using KALSHI_API_KEY_ID" in n for n in c.notes)


def test_pem_text_in_environment_with_escaped_newlines(base_env, rsa_key):
    pem = pem_private(rsa_key).decode().replace("\n", "\\n")
    c, _ = creds({**base_env, "KALSHI_API_KEY_ID": "id", "KALSHI_PRIVATE_KEY": pem})
    assert c.key_id == "id" and "$KALSHI_PRIVATE_KEY" in c.source


def test_encrypted_key_password_from_environment(base_env, rsa_key, tmp_path):
    path = tmp_path / "enc.pem"
    path.write_bytes(pem_private(rsa_key, serialization.PrivateFormat.PKCS8, password=b"pw"))
    path.chmod(0o600)
    env = {**base_env, "KALSHI_API_KEY_ID": "id", "KALSHI_PRIVATE_KEY_PATH": str(path)}
    with pytest.raises(KeyFileError, match="encrypted"):
        creds(env)
    assert creds({**env, "KALSHI_PRIVATE_KEY_PASSWORD": "pw"})[0] is not None
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        creds({**env, "KALSHI_PRIVATE_KEY_PASSWORD": "nope"})


def test_half_a_credential_is_an_error(base_env, keys):
    with pytest.raises(ConfigError, match="no private key"):
        creds({**base_env, "KALSHI_API_KEY_ID": "id"})
    with pytest.raises(ConfigError, match="no API key id"):
        creds(base_env, key_path=str(keys.private))


def test_missing_key_file_and_loose_permissions(base_env, keys):
    with pytest.raises(KeyFileError, match="not found"):
        creds(base_env, key_id="id", key_path="/nonexistent/key.pem")
    keys.private.chmod(0o644)
    _, warnings = creds(base_env, key_id="id", key_path=str(keys.private))
    assert any("readable by others" in w and "chmod 600" in w for w in warnings)


def test_endpoints(base_env):
    assert resolve_endpoint(env_flag=None, url_flag=None, environ=base_env).ws_url == (
        "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    )
    demo = resolve_endpoint(env_flag="demo", url_flag=None, environ=base_env)
    assert demo.ws_url == "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
    assert demo.rest_url == "https://external-api.demo.kalshi.co/trade-api/v2"
    assert resolve_endpoint(env_flag=None, url_flag=None, environ={**base_env, "KALSHI_DEMO": "true"}).env == "demo"
    url = resolve_endpoint(env_flag="demo", url_flag="ws://127.0.0.1:9/trade-api/ws/v2", environ=base_env)
    assert url.env == "custom" and url.rest_url == "http://127.0.0.1:9/trade-api/v2"
    both = resolve_endpoint(
        env_flag=None, url_flag=None, environ={**base_env, "KALSHI_ENV": "prod", "KALSHI_DEMO": "1"}
    )
    assert both.env == "prod" and any("disagree" in n for n in both.notes)
    with pytest.raises(UsageError, match="unknown environment"):
        resolve_endpoint(env_flag="staging", url_flag=None, environ=base_env)
    with pytest.raises(UsageError, match="not a WebSocket URL"):
        resolve_endpoint(env_flag=None, url_flag="http://example.com", environ=base_env)


@pytest.mark.parametrize(
    ("host", "trusted"),
    [
        ("external-api-ws.kalshi.com", True),
        ("demo-api.kalshi.co", True),
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("localhost", True),
        ("kalshi.com.evil.example", False),
        ("evilkalshi.com", False),
        ("10.0.0.5", False),
    ],
)
def test_trusted_hosts(host, trusted):
    assert is_trusted_host(host) is trusted


# --- URL shapes ------------------------------------------------------------------------------------


def ws_of(url: str) -> tuple[str, str]:
    endpoint = resolve_endpoint(env_flag=None, url_flag=url, environ={})
    return endpoint.ws_url, endpoint.rest_url


@pytest.mark.parametrize(
    ("url", "ws", "rest"),
    [
        (
            "ws://127.0.0.1:8765/?token=x",
            "ws://127.0.0.1:8765/trade-api/ws/v2?token=x",
            "http://127.0.0.1:8765/trade-api/v2",
        ),
        (
            "ws://127.0.0.1:8765?token=x",
            "ws://127.0.0.1:8765/trade-api/ws/v2?token=x",
            "http://127.0.0.1:8765/trade-api/v2",
        ),
        (
            "wss://relay.example/?a=1&b=2",
            "wss://relay.example/trade-api/ws/v2?a=1&b=2",
            "https://relay.example/trade-api/v2",
        ),
        ("ws://[::1]:9000", "ws://[::1]:9000/trade-api/ws/v2", "http://[::1]:9000/trade-api/v2"),
        (
            "wss://user:pw@relay.example:444?t=1",
            "wss://user:pw@relay.example:444/trade-api/ws/v2?t=1",
            "https://relay.example:444/trade-api/v2",
        ),
        ("ws://h:1/custom/path?x=1", "ws://h:1/custom/path?x=1", "http://h:1/trade-api/v2"),
        (
            "wss://external-api-ws.kalshi.com?x=1",
            "wss://external-api-ws.kalshi.com/trade-api/ws/v2?x=1",
            "https://external-api.kalshi.com/trade-api/v2",
        ),
    ],
)
def test_default_path_goes_before_the_query(url, ws, rest):
    assert ws_of(url) == (ws, rest)


@pytest.mark.parametrize("url", ["ws://h:99999/x", "ws://h:port/x", "ws://h:1/x#frag", "ws://[::1/x"])
def test_bad_urls_are_usage_errors(url):
    with pytest.raises(UsageError):
        ws_of(url)


HOSTS = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "relay.example", "Mixed.Case.Example"])
PATHS = st.one_of(st.sampled_from(["", "/"]), st.from_regex(r"(/[A-Za-z0-9._~-]{1,8}){1,3}/?", fullmatch=True))
QUERIES = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9=&_.~%-]{1,20}", fullmatch=True))


@given(
    scheme=st.sampled_from(["ws", "wss"]),
    userinfo=st.sampled_from(["", "u@", "u:p@"]),
    host=HOSTS,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=PATHS,
    query=QUERIES,
)
def test_url_shapes(scheme, userinfo, host, port, path, query):
    netloc = host + (f":{port}" if port is not None else "")
    url = f"{scheme}://{userinfo}{netloc}{path}" + (f"?{query}" if query is not None else "")
    ws, rest = ws_of(url)
    parts = urlsplit(ws)
    expected_path = path if path not in ("", "/") else "/trade-api/ws/v2"
    assert parts.path == expected_path and parts.query == (query or "")
    assert ws.split("?", 1)[0] == f"{scheme}://{userinfo}{netloc}{expected_path}"
    assert (parts.hostname, parts.port) == (host.strip("[]").lower(), port)
    assert ws_of(ws) == (ws, rest), "resolving twice changes nothing"
    rest_parts = urlsplit(rest)
    assert rest == f"{'https' if scheme == 'wss' else 'http'}://{netloc.lower()}/trade-api/v2"
    assert (rest_parts.query, rest_parts.fragment, rest_parts.username) == ("", "", None)
