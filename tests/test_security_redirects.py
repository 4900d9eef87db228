"""Signed REST requests never follow a redirect: the second host must never see KALSHI-ACCESS-*.

Two real stdlib HTTP servers on loopback: the "trusted" one answers 30x pointing at the
"elsewhere" one, which records every request it gets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kalshi_cli.auth import auth_headers
from kalshi_cli.rest import RestClient, RestError
from kalshi_cli.status import ExitStatus


class Recorder:
    """Answers every GET with ``status`` (and ``Location`` when given); keeps each request's headers."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.status = status
        self.location = location
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.seen.append({k.lower(): v for k, v in self.headers.items()})
                body = b'{"fills": [], "cursor": ""}'
                self.send_response(outer.status)
                if outer.location is not None:
                    self.send_header("Location", outer.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def redirector() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


async def _no_sleep(_delay: float) -> None:
    return None


def _signed(base: str, rsa_key) -> RestClient:
    return RestClient(base, lambda m, p: auth_headers("kid", rsa_key, method=m, path=p), tries=3, sleep=_no_sleep)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_an_error_that_names_the_target_and_is_never_followed(
    status, redirector, elsewhere, rsa_key
):
    target = f"{elsewhere.origin}/trade-api/v2/portfolio/fills?stolen=1"
    redirector.status, redirector.location = status, target
    rest = _signed(f"{redirector.origin}/trade-api/v2", rsa_key)
    with pytest.raises(RestError) as info:
        await rest.get("/portfolio/fills", {"limit": 5})
    text = str(info.value)
    assert f"answered HTTP {status} -> {target}" in text, text
    assert "not followed" in text and "trusted hosts" in text and "\n" not in text
    assert info.value.http_status == status and info.value.status == ExitStatus.CONNECTION
    assert len(redirector.seen) == 1, "a redirect is not retried either"
    assert "kalshi-access-signature" in redirector.seen[0]  # the client did sign: the test can fail
    assert elsewhere.seen == []


async def test_paginate_stops_at_a_redirect_too(redirector, elsewhere, rsa_key):
    redirector.status, redirector.location = 302, f"{elsewhere.origin}/x"
    with pytest.raises(RestError, match="HTTP 302 -> "):
        await _signed(f"{redirector.origin}/trade-api/v2", rsa_key).paginate("/portfolio/fills", "fills")
    assert elsewhere.seen == []


async def test_an_unsigned_client_does_not_follow_either(redirector, elsewhere):
    redirector.status, redirector.location = 307, f"{elsewhere.origin}/trade-api/v2/markets"
    with pytest.raises(RestError, match="HTTP 307"):
        await RestClient(f"{redirector.origin}/trade-api/v2", None, sleep=_no_sleep).get("/markets")
    assert elsewhere.seen == []


@pytest.mark.parametrize(
    ("location", "absent"),
    [
        ("", None),
        ("https://evil.example/" + "a" * 500, "a" * 300),
        ("https://evil.example/\x1b[2Jcleared", "\x1b"),
    ],
)
async def test_odd_locations_are_described_not_echoed(redirector, rsa_key, location, absent):
    redirector.status, redirector.location = 302, location
    with pytest.raises(RestError) as info:
        await _signed(f"{redirector.origin}/trade-api/v2", rsa_key).get("/portfolio/balance")
    text = str(info.value)
    assert "HTTP 302" in text and "not followed" in text
    if absent is not None:
        assert absent not in text
    else:
        assert "no Location" in text


async def test_a_normal_answer_still_works(redirector, rsa_key):
    assert await _signed(f"{redirector.origin}/trade-api/v2", rsa_key).get("/portfolio/fills") == {
        "fills": [],
        "cursor": "",
    }
