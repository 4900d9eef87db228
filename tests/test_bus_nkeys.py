"""NKey and creds-file sign-in to the bus (NATS_NKEY, NATS_CREDS), against real nats-servers.

The keys are made here with the ``nkeys`` package (what nats-py signs the server's challenge
with): a user NKey for a server that lists it, and for the creds file a whole decentralized
setup, operator, account and user JWTs signed by hand (no ``nsc`` needed), the server trusting
the operator and holding the account JWT in memory. The seed is never printed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
from pathlib import Path

import nkeys  # the [nats] extra brings it

from tests.bus_servers import NatsServer
from tests.conftest import assert_clean_error, cli_env, run_cli, signed_args, spawn_cli
from tests.test_bus_live import trade_ids
from tests.test_cli_tail import stop, subscribed, wait_for


def new_key(prefix: int) -> tuple[bytes, str]:
    """A fresh NKey: (seed, public key)."""
    seed = nkeys.encode_seed(os.urandom(32), prefix)
    return seed, nkeys.from_seed(bytearray(seed)).public_key.decode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(issuer_seed: bytes, subject: str, name: str, nats: dict) -> str:
    """A NATS JWT (ed25519-nkey) for ``subject``, signed by ``issuer_seed``."""
    issuer = nkeys.from_seed(bytearray(issuer_seed))
    claims = {"iat": int(time.time()), "iss": issuer.public_key.decode(), "name": name, "sub": subject, "nats": nats}
    claims["jti"] = base64.b32encode(hashlib.sha256(json.dumps(claims, sort_keys=True).encode()).digest()).decode()
    body = f"{b64(json.dumps({'typ': 'JWT', 'alg': 'ed25519-nkey'}).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{body}.{b64(issuer.sign(body.encode()))}"


def stored(url: str, **auth) -> list[bytes]:
    """Every payload of stream KALSHI, read with nats-py signed in with ``auth``."""
    import nats

    async def main() -> list[bytes]:
        nc = await nats.connect(url, max_reconnect_attempts=1, **auth)
        try:
            js = nc.jetstream()
            info = await js.stream_info("KALSHI")
            if not info.state.messages:
                return []
            return [
                (await js.get_msg("KALSHI", seq)).data or b""
                for seq in range(info.state.first_seq, info.state.last_seq + 1)
            ]
        finally:
            await nc.close()

    try:
        return asyncio.run(main())
    except Exception:  # the stream is not made yet
        return []


def record_and_read(keys, sim, server: NatsServer, tmp_path: Path, env: dict[str, str], auth: dict) -> None:
    """record --sink signed in through ``env``; tail --from (same sign-in) prints what was stored."""
    sink = f"nats://127.0.0.1:{server.port}/KALSHI"
    rec = spawn_cli(
        ["record", "trade", "orderbook_delta", "-m", sim.tickers[0], "--sink", sink, "--spool", str(tmp_path / "s")]
        + signed_args(keys, sim.url),
        env=env,
    )
    try:
        wait_for(lambda: subscribed(sim) >= 2, what="subs")
        sim.step(30)
        wait_for(lambda: len(stored(server.url, **auth)) >= 10, what="frames on the bus")
    finally:
        code, err = stop(rec)
    assert code == 0, err
    trades = trade_ids(stored(server.url, **auth))
    assert trades
    got = run_cli(["tail", "trade", "--from", sink, "--json", "--count", str(len(trades))], env=env)
    assert got.returncode == 0, got.stderr
    assert trade_ids(got.stdout.splitlines()) == trades
    for secret in (line for line in Path(auth.get("nkeys_seed") or auth["user_credentials"]).read_bytes().split()):
        if len(secret) > 40:  # the seed (and the JWT): never on stderr
            assert secret not in got.stderr + err.encode()


def test_an_nkey_user_signs_in_with_nats_nkey_and_a_wrong_one_is_refused(keys, sim_factory, tmp_path):
    seed, public = new_key(nkeys.PREFIX_BYTE_USER)
    seed_file = tmp_path / "user.nk"
    seed_file.write_bytes(seed + b"\n")
    server = NatsServer(tmp_path, config=f'authorization {{ users: [ {{ nkey: "{public}" }} ] }}').start()
    try:
        sim = sim_factory(rate=0, markets=2)
        record_and_read(keys, sim, server, tmp_path, cli_env(NATS_NKEY=str(seed_file)), {"nkeys_seed": str(seed_file)})
        other, _ = new_key(nkeys.PREFIX_BYTE_USER)
        other_file = tmp_path / "other.nk"
        other_file.write_bytes(other + b"\n")
        bad = run_cli(["tail", "trade", "--from", f"{server.url}/KALSHI"], env=cli_env(NATS_NKEY=str(other_file)))
        assert_clean_error(bad, 3, "refused the credentials")
        assert other not in bad.stderr and seed not in bad.stderr
        none = run_cli(["tail", "trade", "--from", f"{server.url}/KALSHI"])
        assert_clean_error(none, 3, "refused the credentials")
    finally:
        server.stop()


def creds_setup(tmp_path: Path) -> tuple[str, Path, Path]:
    """Operator, account (JetStream on) and user: the server's config and a good and a bad creds file."""
    op_seed, op_pub = new_key(nkeys.PREFIX_BYTE_OPERATOR)
    acct_seed, acct_pub = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    _, sys_pub = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    unlimited = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "conn": -1, "leaf": -1}
    js_limits = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
    op_jwt = jwt(op_seed, op_pub, "op", {"type": "operator", "version": 2, "system_account": sys_pub})
    sys_jwt = jwt(op_seed, sys_pub, "SYS", {"type": "account", "version": 2, "limits": unlimited})
    acct_jwt = jwt(op_seed, acct_pub, "A", {"type": "account", "version": 2, "limits": {**unlimited, **js_limits}})
    (tmp_path / "op.jwt").write_text(op_jwt)
    config = (
        f'operator: "{tmp_path / "op.jwt"}"\nsystem_account: {sys_pub}\nresolver: MEMORY\n'
        f"resolver_preload: {{ {acct_pub}: {acct_jwt}, {sys_pub}: {sys_jwt} }}\n"
    )

    def creds(name: str, signer: bytes) -> Path:
        user_seed, user_pub = new_key(nkeys.PREFIX_BYTE_USER)
        user_jwt = jwt(signer, user_pub, name, {"type": "user", "version": 2, "subs": -1, "data": -1, "payload": -1})
        path = tmp_path / f"{name}.creds"
        path.write_text(
            f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{user_seed.decode()}\n------END USER NKEY SEED------\n"
        )
        return path

    stranger, _ = new_key(nkeys.PREFIX_BYTE_ACCOUNT)
    return config, creds("u", acct_seed), creds("x", stranger)  # x: signed by an account the server does not know


def test_a_creds_file_signs_in_with_nats_creds_and_a_stranger_is_refused(keys, sim_factory, tmp_path):
    config, good, bad = creds_setup(tmp_path)
    server = NatsServer(tmp_path, config=config).start()
    try:
        sim = sim_factory(rate=0, markets=2)
        record_and_read(keys, sim, server, tmp_path, cli_env(NATS_CREDS=str(good)), {"user_credentials": str(good)})
        refused = run_cli(["tail", "trade", "--from", f"{server.url}/KALSHI"], env=cli_env(NATS_CREDS=str(bad)))
        assert_clean_error(refused, 3, "refused the credentials")
        assert bad.read_text().split("\n")[5].encode() not in refused.stderr  # the seed line
        assert_clean_error(run_cli(["tail", "trade", "--from", f"{server.url}/KALSHI"]), 3, "refused the credentials")
    finally:
        server.stop()


def test_without_nkeys_one_line_names_the_extra(monkeypatch, tmp_path):
    import sys

    from tests.inprocess import run_inprocess

    seed, _ = new_key(nkeys.PREFIX_BYTE_USER)
    (tmp_path / "user.nk").write_bytes(seed)
    monkeypatch.setitem(sys.modules, "nkeys", None)
    for name in ("NATS_NKEY", "NATS_CREDS"):
        monkeypatch.setenv(name, str(tmp_path / "user.nk"))
        proc = run_inprocess(["tail", "trade", "--from", "nats://127.0.0.1:1/S"])
        assert_clean_error(proc, 2, "need the nkeys package of the [nats] extra", "pip install 'kalshi-cli[nats]'")
        assert seed not in proc.stderr
        monkeypatch.delenv(name)
