"""`kalshi sign --check` never follows a redirect with the signed headers (issue 12).

A real loopback HTTP/1.1 server answers the handshake with 302 pointing at a second one that
records every request: the second must never see a KALSHI-ACCESS-* header.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from kalshi_cli.status import ExitStatus
from tests.conftest import KeyFiles, assert_clean_error, run_cli


class Answering:
    """Answers every GET with ``status`` (and ``Location``); records the request headers."""

    def __init__(self, status: int, location: str | None = None) -> None:
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # websockets reads only HTTP/1.1 answers

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.seen.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"ws://127.0.0.1:{self.httpd.server_address[1]}/trade-api/ws/v2"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Answering]:
    server = Answering(404)
    yield server
    server.close()


@pytest.mark.parametrize(("status", "json_out"), [(301, False), (302, False), (307, True), (308, False)])
def test_sign_check_does_not_follow_a_redirect(
    keys: KeyFiles, elsewhere: Answering, status: int, json_out: bool
) -> None:
    redirector = Answering(status, elsewhere.url)
    args = ["sign", "--check", "--url", redirector.url, "--key-id", keys.key_id, "--private-key", str(keys.private)]
    try:
        proc = run_cli(args + (["--json"] if json_out else []))
    finally:
        redirector.close()
    assert redirector.seen and "kalshi-access-signature" in redirector.seen[0]  # it did sign: the test can fail
    assert elsewhere.seen == [], "the signed headers followed the redirect"
    if json_out:
        out = orjson.loads(proc.stdout)
        assert out["accepted"] is False and out["status"] == status
        proc = subprocess.CompletedProcess(proc.args, proc.returncode, b"", proc.stderr)
    line = assert_clean_error(proc, ExitStatus.AUTH, f"HTTP {status}", "not followed", "did not check key")
    assert "rejected key" not in line, "a redirect says nothing about the key"
