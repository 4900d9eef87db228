"""Shared fixtures: real keys generated per session, an isolated environment, the CLI as a
subprocess, and the simulator on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

ROOT = Path(__file__).resolve().parent.parent
# Kalshi's example frames, copied from the protocol reference (data, not code): the repo carries what it tests.
EXAMPLES = ROOT / "tests" / "data" / "protocol_examples"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def pem_private(key, fmt=serialization.PrivateFormat.PKCS8, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


def pem_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class KeyFiles:
    key_id: str
    private: Path
    public: Path
    public_pem: bytes


@pytest.fixture
def keys(tmp_path: Path, rsa_key) -> KeyFiles:
    """A PKCS#1 RSA key on disk (mode 0600), as Kalshi hands them out."""
    private = tmp_path / "kalshi.key"
    private.write_bytes(pem_private(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL))
    private.chmod(0o600)
    public = tmp_path / "kalshi.pub"
    public.write_bytes(pem_public(rsa_key))
    return KeyFiles("a952bcbe-ec3b-4b5b-b8f9-11dae589608c", private, public, pem_public(rsa_key))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real config or KALSHI_* variables."""
    for name in list(os.environ):
        if name.startswith("KALSHI"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI")}
    env["PYTHONUNBUFFERED"] = "1"  # the tool must not depend on it either way
    env.update(extra)
    return env


def run_cli(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 60, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``kalshi ARGS`` as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "kalshi_cli", *args],
        env=env if env is not None else cli_env(),
        capture_output=True,
        timeout=timeout,
        input=input,
        cwd=ROOT,
    )


def spawn_cli(args: list[str], *, env: dict[str, str] | None = None, **kw) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kalshi_cli", *args],
        env=env if env is not None else cli_env(),
        stdout=kw.pop("stdout", subprocess.PIPE),
        stderr=kw.pop("stderr", subprocess.PIPE),
        cwd=ROOT,
        **kw,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[bytes], status: int, *needles: str) -> str:
    """One clear line on stderr, the right status, no traceback, nothing on stdout."""
    err = proc.stderr.decode()
    assert proc.returncode == status, (proc.returncode, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("kalshi: error")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def sim_factory(keys: KeyFiles) -> Iterator:
    """Start ThreadedSim instances (checking signatures with ``keys``) and stop them after."""
    from kalshi_cli.sim import ThreadedSim

    started: list = []

    def make(**kwargs):
        kwargs.setdefault("public_key_pem", keys.public_pem)
        sim = ThreadedSim(**kwargs)
        sim.__enter__()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.__exit__(None, None, None)


def signed_args(keys: KeyFiles, url: str) -> list[str]:
    return ["--url", url, "--key-id", keys.key_id, "--private-key", str(keys.private)]
