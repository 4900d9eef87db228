"""A small signed client for Kalshi's REST API (REST.md): GETs, cursors, retries, one-line errors.

Standard library only (``urllib`` in a worker thread): the tool makes a handful of GETs per
run, so a connection pool or HTTP/2 would buy nothing. Every request is signed afresh over
``timestamp + GET + /trade-api/v2/...`` (query cut off). 429, 408, 5xx and network errors are
retried with retry.py's backoff (``Retry-After`` honoured when present); 401 and 403 end the
command with what to check; 404 is ``RestNotFound`` so a caller can tell "no such path here"
(a server without Kalshi's REST API) from a failure; any other failure is one sentence.
Redirects are never followed: urllib would re-send the signed headers to wherever a 30x
points, and a signature works as a password until it expires.
"""

from __future__ import annotations

import asyncio
import http.client
import random
import re
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from kalshi_cli import __version__
from kalshi_cli.auth import shown_value
from kalshi_cli.errors import AuthRejected, KalshiCliError, UsageError
from kalshi_cli.hints import API_KEY_HINT, REDIRECT_HINT
from kalshi_cli.output import Reporter
from kalshi_cli.retry import Backoff, describe_network_error, parse_retry_after, retryable_status
from kalshi_cli.status import ExitStatus

__all__ = ["RestAuthError", "RestClient", "RestError", "RestNotFound", "describe_error_body"]

USER_AGENT = f"kalshi-cli/{__version__}"
Params = dict[str, Any] | Iterable[tuple[str, Any]]


class RestError(KalshiCliError):
    """A REST request failed for good (after retries, or with a status not worth retrying)."""

    status = ExitStatus.CONNECTION

    def __init__(self, message: str, *, http_status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code


class RestNotFound(RestError):
    """HTTP 404 (or 426): the path does not exist on this server.

    For a market it means an unknown ticker; for an endpoint every Kalshi server has (fills,
    trades) it means the server has no Kalshi REST API (a relay, a WebSocket-only server), so
    a caller can degrade to a warning. ``code`` is Kalshi's error code when the body had one.
    426 Upgrade Required is what a plain WebSocket server (websockets' default) answers any
    GET with: no REST API there either. ``http_status`` says which of the two it was.
    """


class RestAuthError(AuthRejected):
    """HTTP 401/403 from the REST API."""

    def __init__(self, message: str, *, http_status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def describe_error_body(body: bytes | str) -> tuple[str | None, str]:
    """``(code, text)`` from any of Kalshi's four error-body shapes (REST.md §4), else the raw text."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        obj = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        text = " ".join(raw.split())[:200]
        return None, text
    err = obj.get("error")
    if isinstance(err, dict):  # nested: {"error": {"code", "message", "details", "service"?}}
        code = _s(err.get("code"))
        parts = [p for p in (_s(err.get("message")), _s(err.get("details"))) if p]
        parts = [p for i, p in enumerate(parts) if p not in parts[:i]]
        return code, ": ".join(parts) or (code or "")
    if isinstance(err, str):  # string: {"error": "too many requests"}
        return None, err
    code = _s(obj.get("code"))  # flat {"code", "message"} or bare {"msg"}
    flat = _s(obj.get("message")) or _s(obj.get("msg")) or _s(obj.get("details"))
    if code or flat:
        return code, flat or code or ""
    return None, " ".join(raw.split())[:200]


def _s(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _sentence(status: int, code: str | None, text: str) -> str:
    reason = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "error"
    detail = text if not code or code in text else f"{code}: {text}" if text else code
    detail = "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in detail)  # no terminal escapes
    return f"HTTP {status} {reason}" + (f" ({detail})" if detail else "")


class RestClient:
    """Signed GETs against one REST base URL (e.g. ``https://external-api.kalshi.com/trade-api/v2``).

    Args:
        base_url: the REST base, ending in ``/trade-api/v2``.
        signer: ``signer(method, path)`` -> headers, or ``None`` to send unsigned requests.
        reporter: where retries are reported.
        tries: attempts per request before giving up.
        max_pages: the most pages one ``paginate`` call walks.
        max_body: the largest reply read (bytes); a bigger one is an error, not a memory blow-up.
    """

    def __init__(
        self,
        base_url: str,
        signer: Callable[[str, str], dict[str, str]] | None,
        *,
        reporter: Reporter | None = None,
        tries: int = 5,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        timeout: float = 15.0,
        max_pages: int = 200,
        max_body: int = 32 * 1024 * 1024,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.base_path = urlsplit(self.base_url).path
        self.signer = signer
        self.reporter = reporter or Reporter()
        self.tries = max(1, tries)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.max_pages = max_pages
        self.max_body = max_body
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.requests = 0

    async def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """GET ``path`` (relative to the base) and return the JSON object, retrying what is retryable.

        ``path`` must be already percent-encoded (``quote(ticker, safe="")`` per segment): one
        that could reach another endpoint than it names (``..``, ``?``, ``#``, spaces) is refused.
        """
        _check_path(path)
        query = urlencode([(k, v) for k, v in _pairs(params) if v is not None], doseq=True)
        url = self.base_url + path + (f"?{query}" if query else "")
        what = f"GET {self.base_path}{path}"
        last = ""
        expired_retry = False
        attempt = 0
        backoff = Backoff(self.backoff_base, self.backoff_cap, self._rng)
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                answer = await asyncio.to_thread(self._fetch, url, self.base_path + path)
            except _Network as exc:
                last = str(exc)
            else:
                if len(answer.body) > self.max_body:
                    raise RestError(f"{what}: the reply is larger than {self.max_body} bytes; not read")
                if 200 <= answer.status < 300:
                    return self._json(answer, what)
                code, text = describe_error_body(answer.body)
                last = _sentence(answer.status, code, text)
                if 300 <= answer.status < 400:
                    raise RestError(self._redirect_refusal(what, answer), http_status=answer.status)
                if answer.status in (401, 403):
                    if code and "timestamp" in (text + code).lower() and not expired_retry:
                        expired_retry = True  # re-signed with a fresh timestamp, once (REST.md §2)
                        attempt -= 1
                        continue
                    raise RestAuthError(
                        self._auth_advice(what, answer.status, last), http_status=answer.status, code=code
                    )
                if answer.status in (404, 426):
                    raise RestNotFound(f"{what} failed: {last}", http_status=answer.status, code=code)
                if not retryable_status(answer.status):
                    raise RestError(f"{what} failed: {last}", http_status=answer.status, code=code)
                retry_after = parse_retry_after(answer.headers.get("retry-after"), cap=60.0)
            if attempt >= self.tries:
                raise RestError(f"{what} failed after {attempt} tries; last: {last}")
            delay = backoff.next()  # counted every try, so the growth follows the attempt number
            if retry_after is not None:
                delay = retry_after
            self.reporter.warn(f"{what}: {last}; retrying in {delay:.1f}s (try {attempt + 1} of {self.tries})")
            await self._sleep(delay)

    async def paginate(
        self, path: str, key: str, params: Params | None = None, *, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Every item under ``key`` across all pages, filters repeated on each page."""
        base = [(k, v) for k, v in _pairs(params) if k not in ("cursor", "limit")]
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        cursor = ""
        for _ in range(self.max_pages):
            page = await self.get(path, [*base, ("limit", limit), *([("cursor", cursor)] if cursor else [])])
            rows = page.get(key)
            if rows is None:  # Kalshi sends null for an empty list
                rows = []
            if not isinstance(rows, list):
                raise RestError(f"GET {self.base_path}{path}: unexpected reply ({key!r} is not a list)")
            items.extend(r for r in rows if isinstance(r, dict))
            cursor = page.get("cursor") or ""
            if not isinstance(cursor, str) or not cursor:
                return items
            if cursor in seen:
                self.reporter.warn(f"GET {self.base_path}{path}: the server repeated a page cursor; stopping there")
                return items
            seen.add(cursor)
        raise RestError(
            f"GET {self.base_path}{path}: more than {self.max_pages} pages; narrow the request "
            "(e.g. a later --since or fewer markets)"
        )

    # --- internals ----------------------------------------------------------------------------------

    def _fetch(self, url: str, sign_path: str) -> _Answer:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.signer is not None:
            headers.update(self.signer("GET", sign_path))
        request = urllib.request.Request(url, headers=headers, method="GET")
        self.requests += 1
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return _Answer(response.status, response.read(self.max_body + 1), _lower(response.headers.items()))
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read(self.max_body + 1)
            except (OSError, http.client.HTTPException):
                body = b""
            return _Answer(exc.code, body, _lower(exc.headers.items() if exc.headers else []))
        except urllib.error.URLError as exc:
            reason = exc.reason
            raise _Network(
                describe_network_error(reason) if isinstance(reason, BaseException) else str(reason)
            ) from None
        except (OSError, http.client.HTTPException, TimeoutError) as exc:
            raise _Network(describe_network_error(exc)) from None

    def _json(self, answer: _Answer, what: str) -> dict[str, Any]:
        try:
            obj = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            raise RestError(f"{what}: the reply is not JSON") from None
        if not isinstance(obj, dict):
            raise RestError(f"{what}: the reply is not a JSON object")
        return obj

    def _redirect_refusal(self, what: str, answer: _Answer) -> str:
        where = answer.headers.get("location", "").strip()
        target = f" -> {shown_value(where, 'Location')}" if where else " with no Location"
        return f"{what} answered HTTP {answer.status}{target}; {REDIRECT_HINT}"

    def _auth_advice(self, what: str, status: int, last: str) -> str:
        if self.signer is None:
            return f"{what} was refused ({last}): it needs an API key; {API_KEY_HINT}"
        checks = (
            "the key id matches the private key; the key belongs to this environment (prod or demo); "
            "your clock is in sync (NTP)"
        )
        if status == 403:
            checks += "; the key has the read scope this needs"
        return f"the REST API rejected the API key: {what}: {last}. Check that {checks}"


class _Network(Exception):
    """The request never got an HTTP answer."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand a 30x back as an ``HTTPError`` instead of following it (with our signed headers)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


# Proxies from the environment still apply; only the redirect handler is replaced.
_OPENER = urllib.request.build_opener(_NoRedirects())


_UNSAFE_PATH = re.compile(r"[?#\\\s\x00-\x1f\x7f]|%2[eEfF]|%5[cC]|(^|/)\.{1,2}(/|$)|[^\x21-\x7e]")


def _check_path(path: str) -> None:
    if not path.startswith("/") or "//" in path or _UNSAFE_PATH.search(path):
        raise UsageError(f"refusing the REST path {shown_value(path, 'path')!r}: it could reach another endpoint")


def _pairs(params: Params | None) -> list[tuple[str, Any]]:
    if params is None:
        return []
    if isinstance(params, dict):
        return list(params.items())
    return list(params)


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k.lower(): v for k, v in items}
