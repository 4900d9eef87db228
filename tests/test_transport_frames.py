"""FrameReader: whole messages out of any split of the byte stream; the rest left to websockets."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.wsframes import FrameReader

TEXT, CONT, CLOSE, PING = 0x1, 0x0, 0x8, 0x9


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = False) -> bytes:
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    n = len(payload)
    flag = 0x80 if mask else 0
    if n < 126:
        head += bytes([flag | n])
    elif n < 1 << 16:
        head += bytes([flag | 126]) + struct.pack("!H", n)
    else:
        head += bytes([flag | 127]) + struct.pack("!Q", n)
    return head + (b"\0\0\0\0" if mask else b"") + payload


def read(stream: bytes, cuts: list[int], max_size: int = 1 << 20) -> tuple[list[bytes], bytes, FrameReader]:
    reader = FrameReader(max_size)
    messages: list[bytes] = []
    passed = b""
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    for a, b in zip(points, points[1:], strict=False):
        passed += reader.feed(stream[a:b], messages)
    return messages, passed, reader


messages_st = st.lists(st.binary(max_size=70_000), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    messages_st,
    st.lists(st.integers(0, 1 << 20), max_size=12),
    st.lists(st.integers(1, 4), min_size=6, max_size=6),
)
def test_any_split_gives_the_same_whole_messages_and_pings_in_order(
    payloads: list[bytes], cuts: list[int], pieces: list[int]
) -> None:
    stream = b""
    pings = b""
    for i, payload in enumerate(payloads):
        k = pieces[i]
        step = max(1, -(-len(payload) // k))
        parts = [payload[j : j + step] for j in range(0, len(payload), step)] or [b""]
        for j, part in enumerate(parts):
            stream += frame(TEXT if j == 0 else CONT, part, fin=j == len(parts) - 1)
            if j == 0 and len(parts) > 1:  # a ping between fragments: websockets answers it
                ping = frame(PING, b"p%d" % i)
                stream += ping
                pings += ping
    got, passed, reader = read(stream, cuts)
    assert got == payloads and passed == pings and reader.active


def test_unusual_frames_hand_the_rest_of_the_stream_to_websockets() -> None:
    good = frame(TEXT, b'{"a":1}')
    for odd in (
        frame(TEXT, b"x", rsv=4),  # compressed without an extension: websockets says no
        frame(TEXT, b"x", mask=True),  # servers must not mask
        frame(0x3, b"x"),  # reserved opcode
        frame(CONT, b"x"),  # a continuation of nothing
        frame(CLOSE, struct.pack("!H", 1011) + b"bye"),  # websockets runs the closing handshake
        frame(TEXT, b"y" * 200),  # over max_size below
    ):
        got, passed, reader = read(good + odd + good, [], max_size=100)
        assert got == [b'{"a":1}'] and passed == odd + good and not reader.active
        assert reader.feed(good, []) == good  # and everything after it


def test_a_message_over_max_size_in_fragments_is_handed_over() -> None:
    stream = frame(TEXT, b"a" * 60, fin=False) + frame(CONT, b"b" * 60)
    got, passed, reader = read(stream, [], max_size=100)
    assert got == [] and not reader.active and passed == stream  # the whole message: websockets says 1009


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=4))
def test_a_new_message_inside_a_fragmented_one_is_handed_over_with_the_open_fragments(cuts: list[int]) -> None:
    good = frame(TEXT, b"good")
    inside = frame(TEXT, b"a" * 30, fin=False) + frame(PING, b"p") + frame(CONT, b"b" * 20, fin=False)
    stream = good + inside + frame(TEXT, b"new") + frame(TEXT, b"never")
    got, passed, reader = read(stream, cuts)
    assert got == [b"good"] and not reader.active
    # websockets reads the open message's frames, then the new one, and fails the connection (1002);
    # the ping inside the message goes first (pings are answered as they come), nothing else moves
    assert passed == frame(PING, b"p") + stream[len(good) :].replace(frame(PING, b"p"), b"")
