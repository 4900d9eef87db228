"""`kalshi sign` as a subprocess: output verifies with the public key; --check against the simulator."""

from __future__ import annotations

import base64

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.conftest import assert_clean_error, run_cli


def verify(public_pem: bytes, signature: str, message: bytes) -> None:
    key = serialization.load_pem_public_key(public_pem)
    key.verify(
        base64.b64decode(signature),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_sign_prints_headers_that_verify(keys):
    proc = run_cli(
        [
            "sign",
            "--key-id",
            keys.key_id,
            "--private-key",
            str(keys.private),
            "--path",
            "/trade-api/v2/portfolio/fills?limit=5",
            "--timestamp",
            "1787925912345",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    headers = dict(line.split(": ", 1) for line in proc.stdout.decode().splitlines())
    assert headers["KALSHI-ACCESS-KEY"] == keys.key_id
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1787925912345"
    verify(keys.public_pem, headers["KALSHI-ACCESS-SIGNATURE"], b"1787925912345GET/trade-api/v2/portfolio/fills")
    assert b"PRIVATE" not in proc.stdout + proc.stderr


def test_sign_json_default_ws_path(keys):
    proc = run_cli(["sign", "--json", "--key-id", keys.key_id, "--private-key", str(keys.private)])
    assert proc.returncode == 0, proc.stderr
    headers = orjson.loads(proc.stdout)
    ts = headers["KALSHI-ACCESS-TIMESTAMP"]
    verify(keys.public_pem, headers["KALSHI-ACCESS-SIGNATURE"], f"{ts}GET/trade-api/ws/v2".encode())


def test_sign_without_key_says_how_to_give_one():
    assert_clean_error(run_cli(["sign"]), 3, "no API key configured", "--private-key", "KALSHI_API_KEY_ID")


def test_sign_check_accepted(keys, sim_factory):
    sim = sim_factory(rate=0)
    proc = run_cli(["sign", "--check", "--url", sim.url, "--key-id", keys.key_id, "--private-key", str(keys.private)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith("OK:")


def test_sign_check_rejected_explains(keys, sim_factory, rsa_key, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sim = sim_factory(
        rate=0,
        public_key_pem=other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    proc = run_cli(["sign", "--check", "--url", sim.url, "--key-id", keys.key_id, "--private-key", str(keys.private)])
    assert_clean_error(proc, 3, "rejected", "HTTP 401", "key id does not match")


def test_refusals_use_the_one_hint_sentences():
    from kalshi_cli.hints import API_KEY_HINT, REDIRECT_HINT
    from kalshi_cli.probe import diagnose_rejection, redirect_refusal
    from kalshi_cli.transport import HandshakeRejected

    unsigned = diagnose_rejection(HandshakeRejected(401, {}, b""), signed=False, url="wss://x/trade-api/ws/v2")
    assert unsigned.endswith(API_KEY_HINT) and "HTTP 401" in unsigned
    moved = redirect_refusal(HandshakeRejected(302, {"Location": "https://evil.example/x"}, b""))
    assert REDIRECT_HINT in moved and "evil.example" in moved and "HTTP 302" in moved


def test_sign_curl_config_is_what_curl_sends(keys):
    """`kalshi sign --curl | curl -sK - URL`, as the help shows it, against a local HTTP server:
    curl sends the three headers and the signature verifies for that path."""
    import http.server
    import shutil
    import subprocess
    import sys
    import threading

    if shutil.which("curl") is None:
        raise AssertionError("curl is needed for this test (the help's example uses it)")
    seen: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.update(self.headers.items())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = "/trade-api/v2/portfolio/balance"
        kalshi = f"{sys.executable} -m kalshi_cli"
        command = (
            f"{kalshi} sign --key-id {keys.key_id} --private-key {keys.private} --path {path} --curl"
            f" | curl -sfK - http://127.0.0.1:{server.server_port}{path}"
        )
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, timeout=60)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"{}"
    assert seen["KALSHI-ACCESS-KEY"] == keys.key_id
    ts = seen["KALSHI-ACCESS-TIMESTAMP"]
    verify(keys.public_pem, seen["KALSHI-ACCESS-SIGNATURE"], f"{ts}GET{path}".encode())


def test_sign_curl_and_json_together_is_a_usage_error(keys):
    proc = run_cli(["sign", "--json", "--curl", "--key-id", keys.key_id, "--private-key", str(keys.private)])
    assert_clean_error(proc, 2, "--json and --curl")
