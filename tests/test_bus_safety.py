"""The bus's credentials and refusals: one line and the documented exit status, secrets never shown,
Kalshi's key and signatures never published."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.bus_servers import NatsServer, free_port
from tests.conftest import assert_clean_error, cli_env, run_cli, signed_args
from tests.inprocess import run_inprocess
from tests.test_bus_live import recorder, stream_messages, trade_ids
from tests.test_cli_tail import stop, subscribed, wait_for

AUTH = "authorization { user: alice, password: s3cretpw }"
TOKEN = 'authorization { token: "t0k3nvalue" }'


@pytest.fixture
def servers(tmp_path):
    started: list[NatsServer] = []

    def make(config: str = "") -> NatsServer:
        server = NatsServer(tmp_path, config=config, name=f"n{len(started) + 1}").start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def hostport(server: NatsServer) -> str:
    return f"127.0.0.1:{server.port}"


def test_a_wrong_password_is_one_line_exit_3_and_never_shown(keys, sim_factory, tmp_path, servers):
    server = servers(AUTH)
    sim = sim_factory(rate=0, markets=2)
    bad = run_cli(
        ["record", "trade", "--sink", f"nats://alice:wrongpw@{hostport(server)}/KALSHI", "--spool", str(tmp_path / "s")]
        + signed_args(keys, sim.url)
    )
    line = assert_clean_error(bad, 3, "refused the credentials", "alice:***@")
    assert b"wrongpw" not in bad.stderr + bad.stdout, line
    read = run_cli(["tail", "trade", "--from", f"nats://alice:wrongpw@{hostport(server)}/KALSHI"])
    assert_clean_error(read, 3, "refused the credentials")
    assert b"wrongpw" not in read.stderr


def test_the_right_password_from_the_environment_or_the_url_works_and_is_not_printed(
    keys, sim_factory, tmp_path, servers
):
    server = servers(AUTH)
    sim = sim_factory(rate=0, markets=2)
    env = cli_env(NATS_USER="alice", NATS_PASSWORD="s3cretpw")
    from tests.conftest import spawn_cli

    rec = spawn_cli(
        ["record", "trade", "orderbook_delta", "-m", sim.tickers[0], "--sink", f"nats://{hostport(server)}/KALSHI"]
        + ["--spool", str(tmp_path / "s"), *signed_args(keys, sim.url)],
        env=env,
    )
    try:
        wait_for(lambda: subscribed(sim) >= 2, what="subs")
        sim.step(30)
        url = f"nats://alice:s3cretpw@{hostport(server)}"
        wait_for(lambda: len(stream_messages(url, "KALSHI")) >= 10, what="frames on the bus")
    finally:
        code, err = stop(rec)
    assert code == 0 and "s3cretpw" not in err, err
    trades = trade_ids([p for _, _, p in stream_messages(url, "KALSHI")])
    got = run_cli(["tail", "trade", "--from", f"{url}/KALSHI", "--json", "--count", str(len(trades))])
    assert got.returncode == 0, got.stderr
    assert trade_ids(got.stdout.splitlines()) == trades
    assert b"s3cretpw" not in got.stderr


def test_a_token_server(keys, tmp_path, servers):
    server = servers(TOKEN)
    good = run_cli(["tail", "trade", "--from", f"nats://t0k3nvalue@{hostport(server)}/NOPE"])
    assert_clean_error(good, 2, "no stream NOPE", "nats://***@")  # signed in; the stream is not there
    assert b"t0k3nvalue" not in good.stderr
    bad = run_cli(["tail", "trade", "--from", f"nats://{hostport(server)}/NOPE"], env=cli_env(NATS_TOKEN="nottoken"))
    assert_clean_error(bad, 3, "refused the credentials")
    assert b"nottoken" not in bad.stderr


def make_stream(url: str, name: str, **config) -> None:
    import nats
    from nats.js import api

    async def main() -> None:
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(api.StreamConfig(name=name, **config))
        await nc.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    "config, needle",
    [
        ({"subjects": ["kalshi.>"], "duplicate_window": 1.0}, "duplicate window (1s) is shorter"),
        ({"subjects": ["other.>"], "duplicate_window": 120.0}, "do not include kalshi.custom.*.*"),
    ],
    ids=["short-window", "other-subjects"],
)
def test_a_stream_that_would_not_deduplicate_is_refused(keys, sim_factory, tmp_path, servers, config, needle):
    server = servers()
    make_stream(server.url, "BAD", **config)
    sim = sim_factory(rate=0, markets=2)
    proc = run_cli(
        ["record", "trade", "--sink", f"{server.url}/BAD", "--spool", str(tmp_path / "s"), *signed_args(keys, sim.url)]
    )
    assert_clean_error(proc, 2, "would break de-duplication", needle)


def test_kalshi_keys_and_signatures_are_never_published(keys, sim_factory, tmp_path, servers):
    server = servers()
    sim = sim_factory(rate=0, markets=2)
    rec = recorder(keys, sim, f"{server.url}/KALSHI", tmp_path / "s")
    try:
        wait_for(lambda: subscribed(sim) >= 2, what="subs")
        sim.step(30)
        sim.drop_connections()  # a reconnect: signed again, and meta lines written (not published)
        wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 2, what="reconnect")
        sim.step(30)
        wait_for(lambda: len(stream_messages(server.url, "KALSHI")) >= 30, what="frames on the bus")
    finally:
        code, err = stop(rec)
    assert code == 0, err
    stored = stream_messages(server.url, "KALSHI")
    secret_body = b"".join(keys.private.read_bytes().splitlines()[1:-1])[:40]
    for subject, headers, payload in stored:
        blob = subject.encode() + repr(headers).encode() + payload
        for needle in (keys.key_id.encode(), b"KALSHI-ACCESS", b"SIGNATURE", b"PRIVATE KEY", secret_body, b"meta"):
            assert needle.lower() not in blob.lower(), (needle, blob[:200])
        assert payload.startswith(b'{"type":"orderbook_') or payload.startswith(b'{"type":"trade"'), payload[:80]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["tail", "trade", "--from", "nats://127.0.0.1:4222/S", "--sim"], "drop --sim"),
        (["book", "M1", "--from", "nats://127.0.0.1:4222/S", "--url", "ws://127.0.0.1:1"], "drop --url"),
        (["tail", "trade", "--durable", "d1", "--sim"], "--durable reads a bus stream"),
        (["tail", "trade", "--from", "http://u:hunter2@h/S"], "expects nats://"),
        (["tail", "trade", "--from", "nats://127.0.0.1:4222/S", "--durable", "a.b"], "--durable"),
        (["tail", "trade", "--from", "nats://127.0.0.1:4222/S", "--redundant", "2"], "--redundant is about live"),
        (["book", "M1", "--from", "nats://127.0.0.1:4222/S", "--continuity", "--json"], "--continuity is about"),
        (["record", "trade", "--sim"], "-o DIR, --sink"),
        (["record", "trade", "--sim", "-o", "out", "--spool", "sp"], "go with --sink"),
        (["record", "trade", "--sim", "-o", "out", "--sink-replicas", "3"], "go with --sink"),
        (["record", "trade", "--sim", "--sink", "nats://h/S", "--sink-dedup-window", "0"], "more than 0"),
        (["record", "trade", "--sim", "--sink", "nats://h/S", "--sink-retention", "forever"], "--sink-retention"),
    ],
)
def test_flags_that_do_not_go_together_are_one_line(args, needle):
    proc = run_inprocess(args)
    line = assert_clean_error(proc, 2, needle)
    assert "hunter2" not in line


def test_an_unreachable_server_is_exit_4_for_a_reader(tmp_path):
    proc = run_cli(["tail", "trade", "--from", f"nats://127.0.0.1:{free_port()}/S", "--connect-tries", "2"])
    assert_clean_error(proc, 4, "cannot connect to NATS")


def test_without_nats_py_one_line_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nats", None)
    for args in (
        ["tail", "trade", "--from", "nats://127.0.0.1:1/S"],
        ["record", "trade", "--sim", "--sink", "nats://h"],
    ):
        proc = run_inprocess(args)
        assert_clean_error(proc, 2, "[nats] extra", "pip install 'kalshi-cli[nats]'")


def self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key, as files (the server's; the CA file is the cert itself)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.crt", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_tls_urls_speak_tls_and_check_the_certificate(tmp_path, servers):
    cert, key = self_signed(tmp_path)
    server = servers(f'tls {{ cert_file: "{cert}", key_file: "{key}" }}')
    trusted = run_cli(["tail", "trade", "--from", f"tls://{hostport(server)}/NOPE"], env=cli_env(NATS_CA=str(cert)))
    assert_clean_error(trusted, 2, "no stream NOPE", "tls://")  # connected over TLS, signed in
    untrusted = run_cli(["tail", "trade", "--from", f"tls://{hostport(server)}/NOPE", "--connect-tries", "1"])
    assert_clean_error(untrusted, 4, "cannot connect to NATS", "CERTIFICATE_VERIFY_FAILED")


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ([], "is 'kalshi record orderbook_delta ... --sink' recording it"),
        (["--since", "2020-01-01T00:00:00Z"], "since --since 2020-01-01T00:00:00Z"),
        (["--durable", "me"], "after where durable consumer me resumed"),
    ],
)
def test_book_from_a_stream_without_that_markets_snapshot_says_so(tmp_path, servers, extra, where):
    """Not "check the ticker": on the bus the market may be fine, the stream just has no snapshot of it.
    Frames of other markets (a snapshot, a trade) are in the stream, so the reading has started."""
    import nats

    server = servers()

    async def publish() -> None:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="K", subjects=["kalshi.>"], duplicate_window=120.0)
        snap = b'{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"OTHER","clock":3,'
        await js.publish("kalshi.custom.orderbook_delta.OTHER", snap + b'"yes_dollars_fp":[],"no_dollars_fp":[]}}')
        await nc.close()

    asyncio.run(publish())
    got = run_cli(["book", "WANTED-1", "OTHER", "--from", f"{server.url}/K", "--json", "--wait", "1", *extra])
    line = assert_clean_error(got, 2, "no order book for WANTED-1 after 1s: stream K holds no snapshot of it", where)
    assert "check the ticker" not in line and "OTHER" not in line
    import orjson

    # the other market's book, rebuilt from its snapshot, was printed meanwhile
    assert [orjson.loads(x)["market_ticker"] for x in got.stdout.splitlines()] == ["OTHER"]
