"""The REST client against a scripted local stdlib HTTP server: signing, paging, errors, retries."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kalshi_cli.auth import auth_headers
from kalshi_cli.errors import NoCredentials, UsageError
from kalshi_cli.hints import API_KEY_HINT
from kalshi_cli.rest import RestAuthError, RestClient, RestError, RestNotFound, describe_error_body
from kalshi_cli.sim.auth import verify
from kalshi_cli.status import ExitStatus
from tests.conftest import EXAMPLES


class Scripted:
    """A local server answering from a queue of (status, body, headers); records each request."""

    def __init__(self) -> None:
        self.replies: deque[tuple[int, object, dict[str, str]]] = deque()
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                outer.requests.append({"path": parts.path, "query": parse_qs(parts.query), "headers": self.headers})
                status, body, headers = outer.replies.popleft() if outer.replies else (200, {}, {})
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/trade-api/v2"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def reply(self, status: int, body: object = None, **headers: str) -> None:
        self.replies.append((status, {} if body is None else body, headers))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Scripted()
    yield s
    s.close()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client(server: Scripted, rsa_key=None, **kw) -> tuple[RestClient, Sleeps]:
    sleeps = Sleeps()
    signer = (lambda m, p: auth_headers("kid", rsa_key, method=m, path=p)) if rsa_key is not None else None
    return RestClient(server.base, signer, sleep=sleeps, **kw), sleeps


async def test_signs_the_full_path_without_the_query(server, rsa_key):
    from cryptography.hazmat.primitives import serialization

    server.reply(200, {"fills": [], "cursor": ""})
    rest, _ = client(server, rsa_key)
    await rest.get("/portfolio/fills", {"ticker": "A,B", "min_ts": 5})
    req = server.requests[0]
    assert req["query"] == {"ticker": ["A,B"], "min_ts": ["5"]}
    public = serialization.load_pem_public_key(
        rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert verify(req["headers"], public, path="/trade-api/v2/portfolio/fills") is None
    assert verify(req["headers"], public, path="/portfolio/fills") == "bad signature"


async def test_pagination_repeats_filters_and_stops_on_empty_cursor(server):
    server.reply(200, {"fills": [{"n": 1}, {"n": 2}], "cursor": "c1"})
    server.reply(200, {"fills": None, "cursor": "c2"})  # null is an empty list
    server.reply(200, {"fills": [{"n": 3}], "cursor": None})
    rest, _ = client(server)
    items = await rest.paginate("/portfolio/fills", "fills", {"ticker": "T", "min_ts": 7}, limit=2)
    assert [i["n"] for i in items] == [1, 2, 3]
    queries = [r["query"] for r in server.requests]
    assert all(q["ticker"] == ["T"] and q["min_ts"] == ["7"] and q["limit"] == ["2"] for q in queries)
    assert [q.get("cursor") for q in queries] == [None, ["c1"], ["c2"]]


async def test_a_repeated_cursor_stops_the_walk(server):
    server.reply(200, {"orders": [{"n": 1}], "cursor": "same"})
    server.reply(200, {"orders": [{"n": 2}], "cursor": "same"})
    rest, _ = client(server)
    assert len(await rest.paginate("/portfolio/orders", "orders")) == 2
    assert len(server.requests) == 2


async def test_page_cap(server):
    for i in range(5):
        server.reply(200, {"fills": [{"n": i}], "cursor": f"c{i}"})
    rest, _ = client(server, max_pages=3)
    with pytest.raises(RestError, match="more than 3 pages"):
        await rest.paginate("/portfolio/fills", "fills")


async def test_5xx_and_429_are_retried_with_backoff_and_retry_after(server):
    server.reply(500, {"error": {"code": "internal", "message": "boom"}})
    server.reply(429, {"error": "too many requests"}, **{"Retry-After": "3"})
    server.reply(503, b"")
    server.reply(200, {"ok": 1})
    rest, sleeps = client(server, backoff_base=0.5)
    assert await rest.get("/exchange/status") == {"ok": 1}
    assert len(sleeps.delays) == 3
    assert 0.25 <= sleeps.delays[0] <= 0.5
    assert sleeps.delays[1] == 3.0  # Retry-After wins
    assert 1.0 <= sleeps.delays[2] <= 2.0


async def test_gives_up_after_n_tries_with_one_clear_error(server):
    for _ in range(3):
        server.reply(502, {"code": "bad_gateway", "message": "upstream down"})
    rest, sleeps = client(server, tries=3)
    with pytest.raises(RestError) as info:
        await rest.get("/portfolio/fills")
    text = str(info.value)
    assert "after 3 tries" in text and "HTTP 502" in text and "upstream down" in text
    assert "\n" not in text
    assert len(sleeps.delays) == 2


async def test_network_errors_are_retried():
    rest = RestClient("http://127.0.0.1:9/trade-api/v2", None, tries=2, sleep=Sleeps())
    with pytest.raises(RestError, match="after 2 tries; last: connection refused"):
        await rest.get("/exchange/status")


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failures_are_fatal_with_what_to_check(server, rsa_key, status):
    server.reply(status, json.loads((EXAMPLES / "rest" / "error_401_signature.json").read_text()))
    rest, sleeps = client(server, rsa_key)
    with pytest.raises(RestAuthError) as info:
        await rest.get("/portfolio/fills")
    assert "INCORRECT_API_KEY_SIGNATURE" in str(info.value) and "key id matches" in str(info.value)
    assert info.value.status == 3 and sleeps.delays == []


async def test_expired_timestamp_is_retried_once_after_resigning(server, rsa_key):
    server.reply(401, {"error": {"code": "authentication_error", "details": "header_timestamp_expired"}})
    server.reply(200, {"ok": 1})
    rest, _ = client(server, rsa_key)
    assert await rest.get("/portfolio/balance") == {"ok": 1}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"error": {"code": "not_found", "details": "market_not_found"}}, "not_found"),  # Kalshi: no such market
        (b"<html><h1>404 Not Found</h1></html>", None),  # a server without Kalshi's REST API
        (b"", None),
    ],
)
async def test_404_is_rest_not_found_and_not_retried(server, body, code):
    server.reply(404, body)
    rest, sleeps = client(server)
    with pytest.raises(RestNotFound) as info:
        await rest.paginate("/portfolio/fills", "fills")
    assert isinstance(info.value, RestError) and info.value.http_status == 404 and info.value.code == code
    assert "HTTP 404 Not Found" in str(info.value) and "\n" not in str(info.value)
    assert sleeps.delays == [] and len(server.requests) == 1


async def test_a_plain_websocket_server_is_no_rest_api_either():
    """websockets answers any plain GET with 426 Upgrade Required: RestNotFound, not a failure."""
    from websockets.asyncio.server import serve

    async def handler(ws) -> None:
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        rest = RestClient(f"http://127.0.0.1:{port}/trade-api/v2", None, sleep=Sleeps())
        with pytest.raises(RestNotFound) as info:
            await rest.paginate("/portfolio/fills", "fills")
    assert info.value.http_status == 426 and rest.requests == 1


async def test_other_errors_are_not_rest_not_found(server):
    server.reply(400, {"code": "invalid_parameters", "message": "limit too large"})
    rest, _ = client(server)
    with pytest.raises(RestError) as info:
        await rest.get("/portfolio/fills")
    assert not isinstance(info.value, RestNotFound) and info.value.http_status == 400


async def test_unsigned_401_says_how_to_configure_a_key(server):
    server.reply(401, {"error": {"code": "authentication_error", "details": "missing headers"}})
    rest, _ = client(server)
    with pytest.raises(RestAuthError) as info:
        await rest.get("/portfolio/fills")
    assert API_KEY_HINT in str(info.value) and info.value.status == ExitStatus.AUTH


def test_no_credentials_is_a_key_problem():
    err = NoCredentials()
    assert err.status == ExitStatus.AUTH == 3 and str(err) == f"no API key configured: {API_KEY_HINT}"
    assert str(NoCredentials("no API key configured; custom")) == "no API key configured; custom"


async def test_an_error_body_cannot_put_terminal_escapes_in_the_message(server):
    server.reply(400, {"message": "bad\x1b[2J\x07thing"})
    rest, _ = client(server)
    with pytest.raises(RestError) as info:
        await rest.get("/markets")
    assert "\x1b" not in str(info.value) and "\x07" not in str(info.value) and "thing" in str(info.value)


async def test_other_4xx_is_not_retried(server):
    server.reply(404, {"error": {"code": "not_found", "details": "market_not_found"}})
    rest, sleeps = client(server)
    with pytest.raises(RestError, match=r"GET /trade-api/v2/markets/X failed: HTTP 404 Not Found \(.*market_not_found"):
        await rest.get("/markets/X")
    assert sleeps.delays == [] and len(server.requests) == 1


@pytest.mark.parametrize(
    "body, code, text",
    [
        (
            b'{"error": {"code": "authentication_error", "details": "INCORRECT_API_KEY_SIGNATURE"}}',
            "authentication_error",
            "INCORRECT_API_KEY_SIGNATURE",
        ),
        (b'{"error": "too many requests"}', None, "too many requests"),
        (b'{"code": "invalid_parameters", "message": "limit too large"}', "invalid_parameters", "limit too large"),
        (b'{"msg": "margin unavailable"}', None, "margin unavailable"),
        (b"<html>Bad Gateway</html>", None, "<html>Bad Gateway</html>"),
        (b"", None, ""),
    ],
)
def test_error_body_shapes(body, code, text):
    assert describe_error_body(body) == (code, text)


def test_example_error_files_parse():
    root = Path(EXAMPLES) / "rest"
    assert describe_error_body((root / "error_429.json").read_bytes()) == (None, "too many requests")
    assert describe_error_body((root / "error_401_signature.json").read_bytes())[0] == "authentication_error"


@pytest.mark.parametrize("status", [200, 500])
async def test_a_reply_bigger_than_the_cap_is_an_error_not_read_whole(server, status):
    server.reply(status, {"fills": [{"n": i} for i in range(2000)]})
    rest, sleeps = client(server, max_body=1000)
    with pytest.raises(RestError, match="larger than 1000 bytes"):
        await rest.get("/portfolio/fills")
    assert len(server.requests) == 1 and sleeps.delays == []


@pytest.mark.parametrize(
    "path",
    [
        "/markets/..",
        "/markets/../portfolio/balance",
        "/markets/./x",
        "/markets/KX?status=open",
        "/markets/KX#frag",
        "/markets/a b",
        "/markets/%2e%2e",
        "/markets/..%2F..%2Fportfolio%2Fbalance",
        "/markets/a%5Cb",
        "/markets//x",
        "markets/x",
        "/markets/KX\u00c9",
    ],
)
async def test_a_path_that_could_reach_another_endpoint_is_refused_before_sending(server, path):
    rest, _ = client(server)
    with pytest.raises(UsageError, match="refusing the REST path"):
        await rest.get(path)
    assert server.requests == []


async def test_percent_encoded_tickers_pass(server):
    rest, _ = client(server)
    await rest.get("/markets/KX%3Fstatus%3Dopen")
    await rest.get("/markets/KXHIGHNY-26NOV25-B52.5")
    assert [r["path"] for r in server.requests] == [
        "/trade-api/v2/markets/KX%3Fstatus%3Dopen",
        "/trade-api/v2/markets/KXHIGHNY-26NOV25-B52.5",
    ]
