"""A loopback Kalshi-like WebSocket server that is cheap enough not to be the bottleneck.

Run as its own process by ``benchmarks/run.py``. It speaks just enough of the protocol: any
handshake is accepted (signed or not, headers are not checked), no extension is negotiated
(so no permessage-deflate), a plain HTTP request (a REST call) gets a 404, ``subscribe`` commands
are answered with ``subscribed`` (one sid per channel: orderbook_delta 1, ticker 2, trade 3,
fill 4) and, for the order book, snapshots of every
market. Once the channels named by the current job are all subscribed, it streams the job's
frames from ``feed.py`` as pre-encoded blocks (one ``sendall`` per ~2,000 frames), then a close
frame.

Control protocol on stdin/stdout, one line each:
  -> ``job frames=N channels=a,b,c rate=R markets=M times=PATH``  (applies to the next connection)
  <- ``ready``
  <- ``done start_ns=.. end_ns=.. frames=.. cpu=.. other_cmds=..`` after each streamed job
``rate=0`` means as fast as the socket takes them; with ``times=PATH`` each frame's send time
(``time.monotonic_ns``) is written there, one per line, for latency measurements.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import sys
import threading
import time

import orjson

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from feed import SIDS, Encoder, build_cycle, snapshot_frames, tickers, ws_header  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PREENCODE_LIMIT = 3_000_000  # frames encoded before the clock starts; beyond that, on the fly


class Job:
    def __init__(self, line: str) -> None:
        kv = dict(part.split("=", 1) for part in line.split()[1:])
        self.frames = int(kv.get("frames", "100000"))
        self.channels = set(kv.get("channels", "orderbook_delta,ticker,trade").split(","))
        self.rate = float(kv.get("rate", "0"))
        self.markets = int(kv.get("markets", "20"))
        self.times = kv.get("times")


class Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.buf = b""

    def send(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)

    def send_text(self, payload: bytes) -> None:
        self.send(ws_header(len(payload)) + payload)

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("peer closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def gone(self) -> bool:
        """Whether the peer closed: what it sent meanwhile is kept, an end of stream seen."""
        try:
            while True:
                chunk = self.sock.recv(65536, socket.MSG_DONTWAIT)
                if not chunk:
                    return True
                self.buf += chunk
        except BlockingIOError:
            return False
        except OSError:
            return True

    def handshake(self) -> None:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("peer closed during handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        key = b""
        upgrade = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
            upgrade |= name.strip().lower() == b"upgrade" and value.strip().lower() == b"websocket"
        if not upgrade:  # a REST call (fills' backfill): there is no REST API here
            self.sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            raise ConnectionError("not a WebSocket request")
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )

    def read_frame(self) -> tuple[int, bytes]:
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self._read(2), "big")
        elif n == 127:
            n = int.from_bytes(self._read(8), "big")
        mask = self._read(4) if b1 & 0x80 else b""
        data = self._read(n)
        if mask:
            key = (mask * (n // 4 + 1))[:n]
            data = (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        return b0 & 0x0F, data


class Server:
    def __init__(self) -> None:
        self.job: Job | None = None
        self.job_ready = threading.Condition()
        self.out_lock = threading.Lock()

    def say(self, text: str) -> None:
        with self.out_lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def take_job(self) -> Job:
        with self.job_ready:
            while self.job is None:
                self.job_ready.wait()
            job, self.job = self.job, None
            return job

    def serve_conn(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(sock)
        job = None
        started = [False]
        try:
            conn.handshake()
            first = conn.read_frame()  # a client that reconnects and is killed never gets this far
            job = self.take_job()
            if conn.gone():  # a client killed while it waited for a job: the job is the next one's
                raise ConnectionError("client gone before its job")
            self.stream(conn, job, first, started)
        except (ConnectionError, OSError):
            if job is not None and not started[0]:
                with self.job_ready:  # a client that died before streaming: the job is not used up
                    if self.job is None:
                        self.job = job
                        self.job_ready.notify_all()
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def stream(self, conn: Conn, job: Job, first: tuple[int, bytes], started: list[bool]) -> None:
        subscribed: set[str] = set()
        pending = [first]
        while not job.channels <= subscribed:
            op, data = pending.pop() if pending else conn.read_frame()
            if op == 8:  # a client closing (e.g. one killed while it reconnected): the job is not used up
                raise ConnectionError("closed before subscribing")
            if op != 1:
                continue
            cmd = orjson.loads(data)
            if cmd.get("cmd") != "subscribe":
                continue
            for channel in cmd.get("params", {}).get("channels", []):
                sid = SIDS.get(channel, 99)
                conn.send_text(
                    orjson.dumps({"type": "subscribed", "id": cmd["id"], "msg": {"channel": channel, "sid": sid}})
                )
                subscribed.add(channel)
        # prepare everything before the clock starts
        templates, advance = build_cycle(job.channels, job.markets)
        snaps = snapshot_frames(job.markets) if "orderbook_delta" in job.channels else []
        snapshots = len(snaps)
        started[0] = True
        encoder = Encoder(templates, advance, seq_start={"seq1": snapshots + 1, "seq3": 1})
        remaining = job.frames - snapshots
        blocks: list[tuple[bytes, int]] = []
        if job.rate <= 0 and job.frames <= PREENCODE_LIMIT:
            left = remaining
            while left > 0:
                data, n = encoder.next_block()
                if n > left:
                    data, n = _trim(encoder, data, left), left
                blocks.append((data, n))
                left -= n
        other = [0]
        reader = threading.Thread(target=self._drain, args=(conn, other), daemon=True)
        reader.start()
        cpu0 = time.process_time()
        start = time.monotonic_ns()
        self.say("start")
        times: list[int] = []
        if job.rate > 0:
            self._paced(conn, job, encoder, snaps, remaining, times)
        else:
            conn.send(b"".join(ws_header(len(s)) + s for s in snaps))
            if blocks:
                for data, _ in blocks:
                    conn.send(data)
            else:
                left = remaining
                while left > 0:
                    data, n = encoder.next_block()
                    if n > left:
                        data, n = _trim(encoder, data, left), left
                    conn.send(data)
                    left -= n
        end = time.monotonic_ns()
        cpu = time.process_time() - cpu0
        try:
            conn.send(b"\x88\x02\x03\xe8")  # close 1000
        except OSError:
            pass
        if job.times:
            with open(job.times, "w") as fh:
                fh.write("\n".join(map(str, times)))
        self.say(
            f"done start_ns={start} end_ns={end} frames={job.frames} cpu={cpu:.4f} other_cmds={other[0]} "
            f"tickers={','.join(tickers(job.markets))}"
        )
        reader.join(5)

    def _paced(
        self, conn: Conn, job: Job, encoder: Encoder, snaps: list[bytes], remaining: int, times: list[int]
    ) -> None:
        frames: list[bytes] = list(snaps)
        pending: list[bytes] = []
        while len(frames) + len(pending) < len(snaps) + remaining:
            data, _ = encoder.next_block()
            pending += encoder.frames(data)
        frames += pending[:remaining]
        # send in ticks of at least 1 ms; each frame's time is taken just before its send
        per_tick = max(1, int(job.rate / 1000))
        interval = per_tick / job.rate
        t0 = time.monotonic()
        for i in range(0, len(frames), per_tick):
            due = t0 + (i // per_tick) * interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            chunk = frames[i : i + per_tick]
            now = time.monotonic_ns()
            times.extend([now] * len(chunk))
            conn.send(b"".join(ws_header(len(f)) + f for f in chunk))

    def _drain(self, conn: Conn, other: list[int]) -> None:
        """Answer pings and count commands we do not act on (e.g. get_snapshot) until the peer goes."""
        try:
            while True:
                op, data = conn.read_frame()
                if op == 8:
                    return
                if op == 9:
                    conn.send(bytes((0x8A, len(data))) + data)
                elif op == 1:
                    other[0] += 1
        except (ConnectionError, OSError):
            return

    def control(self) -> None:
        for line in sys.stdin:
            if line.startswith("job"):
                with self.job_ready:
                    self.job = Job(line)
                    self.job_ready.notify_all()
                self.say("ready")
            elif line.startswith("quit"):
                os._exit(0)
        os._exit(0)


def _trim(encoder: Encoder, data: bytes, n: int) -> bytes:
    frames = encoder.frames(data)[:n]
    return b"".join(ws_header(len(f)) + f for f in frames)


def main() -> None:
    server = Server()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    server.say(f"port {lsock.getsockname()[1]}")
    threading.Thread(target=server.control, daemon=True).start()
    while True:
        sock, _ = lsock.accept()
        threading.Thread(target=server.serve_conn, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()
