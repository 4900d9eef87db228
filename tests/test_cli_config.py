"""`kalshi config init/show/profiles` as subprocesses: 0600 files, other profiles kept, no key material."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from tests.conftest import assert_clean_error, cli_env, run_cli


def env_for(tmp_path: Path) -> tuple[dict[str, str], Path]:
    cfg = tmp_path / "cfg" / "config.toml"
    return cli_env(KALSHI_CONFIG=str(cfg), HOME=str(tmp_path / "home")), cfg


def key_lines(keys) -> list[str]:
    return [line for line in keys.private.read_text().splitlines() if line and not line.startswith("-----")]


def test_init_writes_0600_and_keeps_other_profiles(keys, tmp_path):
    env, cfg = env_for(tmp_path)
    cfg.parent.mkdir()
    cfg.write_text('# mine\n[demo]\nkey_id = "d"\nprivate_key_path = "/d.key"\nenv = "demo"\n')
    cfg.chmod(0o644)
    proc = run_cli(["config", "init", "--key-id", keys.key_id, "--private-key", str(keys.private)], env=env)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    data = tomllib.loads(cfg.read_text())
    assert data["default"] == {"key_id": keys.key_id, "private_key_path": str(keys.private.resolve())}
    assert data["demo"]["env"] == "demo"
    assert cfg.read_text().startswith("# mine\n")
    out = proc.stdout.decode()
    assert "wrote profile [default]" in out and "RSA" in out
    assert not any(line in out + proc.stderr.decode() for line in key_lines(keys))


def test_init_asks_when_flags_are_missing_and_replaces_its_profile(keys, tmp_path):
    env, cfg = env_for(tmp_path)
    answers = f"{keys.key_id}\n{keys.private}\n".encode()
    proc = run_cli(["config", "init", "--profile", "work", "--env", "demo"], env=env, input=answers)
    assert proc.returncode == 0, proc.stderr
    assert tomllib.loads(cfg.read_text())["work"]["env"] == "demo"
    proc = run_cli(
        ["config", "init", "--profile", "work", "--key-id", "new-id", "--private-key", str(keys.private)], env=env
    )
    assert proc.returncode == 0, proc.stderr
    data = tomllib.loads(cfg.read_text())
    assert list(data) == ["work"] and data["work"]["key_id"] == "new-id" and "env" not in data["work"]


def test_show_and_profiles_never_print_key_material(keys, tmp_path):
    env, cfg = env_for(tmp_path)
    assert (
        run_cli(["config", "init", "--key-id", keys.key_id, "--private-key", str(keys.private)], env=env).returncode
        == 0
    )
    assert (
        run_cli(
            [
                "config",
                "init",
                "--key-id",
                "other",
                "--private-key",
                str(keys.private),
                "--profile",
                "demo",
                "--env",
                "demo",
            ],
            env=env,
        ).returncode
        == 0
    )
    show = run_cli(["config", "show"], env=env)
    assert show.returncode == 0, show.stderr
    text = show.stdout.decode()
    assert keys.key_id in text and str(keys.private.resolve()) in text and "mode 600, ok" in text
    assert "env: prod" in text
    demo = run_cli(["config", "show", "--profile", "demo"], env=env).stdout.decode()
    assert "other" in demo and "env: demo" in demo
    listing = run_cli(["config", "profiles"], env=env).stdout.decode()
    assert "* default" in listing and "demo" in listing
    for out in (text, demo, listing):
        assert "PRIVATE KEY" not in out
        assert not any(line in out for line in key_lines(keys))


def test_show_warns_about_loose_key_permissions(keys, tmp_path):
    env, cfg = env_for(tmp_path)
    run_cli(["config", "init", "--key-id", keys.key_id, "--private-key", str(keys.private)], env=env)
    os.chmod(keys.private, 0o644)
    out = run_cli(["config", "show"], env=env).stdout.decode()
    assert "readable by others" in out and "chmod 600" in out


def test_init_rejects_a_bad_key_and_writes_nothing(keys, tmp_path):
    env, cfg = env_for(tmp_path)
    proc = run_cli(["config", "init", "--key-id", "x", "--private-key", str(keys.public)], env=env)
    assert_clean_error(proc, 3, "public key")
    assert not cfg.exists()
    proc = run_cli(["config", "init", "--key-id", "x", "--private-key", str(tmp_path / "nope.key")], env=env)
    assert_clean_error(proc, 3, "not found")
    proc = run_cli(["config", "init"], env=env, input=b"")
    assert_clean_error(proc, 2, "no answer")


def test_show_unknown_profile_is_one_line(tmp_path):
    env, _ = env_for(tmp_path)
    proc = run_cli(["config", "show", "--profile", "nope"], env=env)
    assert_clean_error(proc, 2, "no profile 'nope'", "kalshi config init")


def test_a_profile_from_init_works_for_fills(keys, sim_factory, tmp_path):
    env, _ = env_for(tmp_path)
    assert (
        run_cli(["config", "init", "--key-id", keys.key_id, "--private-key", str(keys.private)], env=env).returncode
        == 0
    )
    sim = sim_factory(rate=50)
    proc = run_cli(["fills", "--url", sim.url, "--since", "1h", "--count", "1", "--json", "-q"], env=env)
    assert proc.returncode == 0, proc.stderr
