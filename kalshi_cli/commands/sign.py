"""``kalshi sign``: print fresh Kalshi auth headers, or check a key against the server."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from kalshi_cli.commands.common import connection_options
from kalshi_cli.errors import AuthRejected, NoCredentials, UsageError
from kalshi_cli.output import Reporter

if TYPE_CHECKING:
    from kalshi_cli.feeds.context import ConnectionArgs

__all__ = ["sign"]

# protocol.WS_PATH, written out: importing kalshi_cli.protocol (orjson, its regexes) costs
# `kalshi sign` 5-10 ms, more than the signing itself. tests/test_cli_sign.py checks they agree.
_WS_PATH = "/trade-api/ws/v2"


@connection_options
def sign(
    method: Annotated[str, typer.Option("--method", "-X", help="HTTP method to sign.")] = "GET",
    path: Annotated[str, typer.Option("--path", help="Request path to sign (the query string is dropped).")] = _WS_PATH,
    timestamp: Annotated[
        int | None, typer.Option("--timestamp", metavar="MS", help="Unix time in ms (default: now).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object keyed by header name.")] = False,
    curl: Annotated[
        bool,
        typer.Option("--curl", help="curl config lines (header = \"...\"), to pipe into 'curl -K -'."),
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Open a signed connection and say whether the key was accepted, and if not, why."),
    ] = False,
    *,
    conn: ConnectionArgs,
) -> None:
    """Print the three KALSHI-ACCESS-* headers for a request, for curl, websocat or debugging.

    The signature covers timestamp + METHOD + path (without the query), so it is only valid
    for that request and for a short time. No key material is ever printed.

    Examples:

      kalshi sign

      kalshi sign --method GET --path /trade-api/v2/portfolio/balance --json

      kalshi sign --path /trade-api/v2/portfolio/balance --curl | curl -sK - https://external-api.kalshi.com/trade-api/v2/portfolio/balance

      kalshi sign --check --env demo
    """
    from kalshi_cli.auth import auth_headers, shown_value

    if check:
        from kalshi_cli.feeds.signals import run_main

        run_main(lambda: _check(conn, json_out))
        return
    from kalshi_cli.feeds.context import load_credentials

    reporter = Reporter(quiet=conn.quiet)
    creds = load_credentials(conn, reporter)
    if creds is None:
        raise NoCredentials()
    if not path.startswith("/"):
        raise UsageError(f"--path must start with '/', got {shown_value(path, '--path')!r}")
    headers = auth_headers(creds.key_id, creds.key, method=method, path=path, timestamp_ms=timestamp)
    if json_out and curl:
        raise UsageError("--json and --curl are two output formats; use one")
    if json_out:
        import orjson

        sys.stdout.write(orjson.dumps(headers).decode() + "\n")
    elif curl:  # curl's config syntax: a quoted value takes backslash escapes
        sys.stdout.write("".join(f'header = "{name}: {_curl_quoted(value)}"\n' for name, value in headers.items()))
    else:
        sys.stdout.write("".join(f"{name}: {value}\n" for name, value in headers.items()))
    sys.stdout.flush()


def _curl_quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def _check(conn: ConnectionArgs, json_out: bool) -> None:
    import orjson

    from kalshi_cli.auth import auth_headers
    from kalshi_cli.feeds.context import open_context
    from kalshi_cli.probe import probe

    async with open_context(conn, need_key=True) as ctx:
        creds = ctx.credentials
        assert creds is not None
        url = ctx.endpoint.ws_url
        result = await probe(url, auth_headers(creds.key_id, creds.key))
        skew = result.skew
        if json_out:
            out = {
                "url": url,
                "accepted": result.accepted,
                "status": result.status,
                "detail": result.detail,
                "clock_skew_s": None if skew is None else round(skew, 1),
            }
            sys.stdout.write(orjson.dumps(out).decode() + "\n")
            sys.stdout.flush()
        elif result.accepted:
            note = f" (clock within {abs(skew):.0f}s of the server)" if skew is not None else ""
            sys.stdout.write(f"OK: {url} accepted key {creds.key_id}{note}\n")
            sys.stdout.flush()
        if result.status is not None and 300 <= result.status < 400:
            # Not accepted (exit 3), but a redirect says nothing about the key: no causes about it.
            raise AuthRejected(f"{url} did not check key {creds.key_id}: {result.detail}")
        if not result.accepted:
            causes = ["the key id does not match the private key"]
            if ctx.endpoint.env == "prod":
                causes.append("it is a demo key (try --env demo)")
            elif ctx.endpoint.env == "demo":
                causes.append("it is a production key (try --env prod)")
            if skew is not None and abs(skew) >= 5:
                causes.append(f"your clock is {abs(skew):.0f}s {'ahead of' if skew > 0 else 'behind'} the server")
            causes.append("the key was deleted or lacks the scope")
            detail = f": {result.detail}" if result.detail else ""
            raise AuthRejected(
                f"{url} rejected key {creds.key_id} (HTTP {result.status}{detail}). Likely causes: " + "; ".join(causes)
            )
