"""Tests for smppfast.reassembly: UDH / SAR multipart reassembly, expiry, caps, malformed headers."""

from __future__ import annotations

import importlib
import logging
import struct
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smppfast.reassembly import (
    CompleteMessage,
    IncompleteMessage,
    Reassembler,
    UdhError,
    parse_udh,
)


@dataclass
class FakePdu:
    """Stand-in for a decoded deliver_sm / data_sm."""

    short_message: bytes = b""
    esm_class: int = 0
    data_coding: int = 0
    source_addr: str = "447700900001"
    destination_addr: str = "12345"
    tlvs: dict[int, Any] = field(default_factory=dict)


def udh8(ref: int, total: int, seq: int) -> bytes:
    return bytes([5, 0x00, 3, ref, total, seq])


def udh16(ref: int, total: int, seq: int) -> bytes:
    return bytes([6, 0x08, 4, ref >> 8, ref & 0xFF, total, seq])


def make_parts(
    method: str,
    ref: int,
    chunks: list[bytes],
    *,
    src: str = "447700900001",
    dst: str = "12345",
    data_coding: int = 0,
    payload_tlv: bool = False,
) -> list[FakePdu]:
    """Build the PDUs of one multipart message, the way an SMSC would deliver them."""
    total = len(chunks)
    out = []
    for seq, chunk in enumerate(chunks, 1):
        tlvs: dict[int, Any] = {}
        esm = 0
        if method == "udh8":
            data, esm = udh8(ref, total, seq) + chunk, 0x40
        elif method == "udh16":
            data, esm = udh16(ref, total, seq) + chunk, 0x40
        else:
            data = chunk
            tlvs = {0x020C: ref, 0x020E: total, 0x020F: seq}
        if payload_tlv:
            tlvs[0x0424] = data
            data = b""
        out.append(FakePdu(data, esm, data_coding, src, dst, tlvs))
    return out


def feed_all(r: Reassembler, pdus: list[FakePdu], now: float = 0.0) -> list[CompleteMessage]:
    done = []
    for p in pdus:
        m = r.feed(p, now)
        if m is not None:
            done.append(m)
    return done


# --- basics ----------------------------------------------------------------------------------


def test_single_part_passes_through() -> None:
    r = Reassembler()
    pdu = FakePdu(b"Hello")
    m = r.feed(pdu, 0.0)
    assert m is not None
    assert m.payload == b"Hello" and m.parts == [pdu] and m.total == 1
    assert m.method is None and m.reference is None and m.udh_error is None
    assert len(r) == 0 and r.next_deadline() is None


@pytest.mark.parametrize("method", ["udh8", "udh16", "sar"])
@pytest.mark.parametrize("payload_tlv", [False, True])
def test_in_order_and_reversed(method: str, payload_tlv: bool) -> None:
    chunks = [b"part one ", b"part two ", b"part three"]
    for order in (1, -1):
        r = Reassembler()
        parts = make_parts(method, 200, chunks, payload_tlv=payload_tlv)
        done = feed_all(r, parts[::order])
        assert len(done) == 1
        m = done[0]
        assert m.payload == b"".join(chunks)
        assert m.parts == parts  # in sequence order whatever the arrival order
        assert (m.method, m.reference, m.total) == (method, 200, 3)
        assert len(r) == 0


def test_16bit_reference_above_255() -> None:
    r = Reassembler()
    done = feed_all(r, make_parts("udh16", 0xBEEF, [b"a", b"b"]))
    assert done[0].reference == 0xBEEF and done[0].payload == b"ab"


def test_udh_with_other_elements_before_and_after() -> None:
    # Port addressing (0x05) before the concatenation element and an unknown IE 0x24 after it.
    ports = bytes([0x05, 4, 0x0B, 0x84, 0x23, 0xF0])
    other = bytes([0x24, 1, 0x01])
    pdus = []
    for seq, chunk in ((2, b" world"), (1, b"hello")):
        body = ports + bytes([0x00, 3, 9, 2, seq]) + other
        pdus.append(FakePdu(bytes([len(body)]) + body + chunk, 0x40))
    r = Reassembler()
    done = feed_all(r, pdus)
    assert len(done) == 1
    m = done[0]
    assert m.payload == b"hello world"
    assert m.udh_elements == ((0x05, b"\x0b\x84\x23\xf0"), (0x24, b"\x01"))


def test_udh_without_concatenation_is_single_and_stripped() -> None:
    r = Reassembler()
    m = r.feed(FakePdu(bytes([6, 0x05, 4, 0, 1, 0, 2]) + b"data", 0x40), 0.0)
    assert m is not None and m.payload == b"data" and m.udh_elements == ((0x05, b"\x00\x01\x00\x02"),)
    assert m.udh_error is None


def test_one_part_concatenation_completes_at_once() -> None:
    r = Reassembler()
    m = r.feed(FakePdu(udh8(3, 1, 1) + b"solo", 0x40), 0.0)
    assert m is not None and m.payload == b"solo" and m.total == 1 and m.reference == 3
    assert len(r) == 0


def test_keys_are_separate() -> None:
    r = Reassembler()
    a = make_parts("udh8", 1, [b"A1", b"A2"])
    b = make_parts("udh8", 1, [b"B1", b"B2"], src="other")
    c = make_parts("udh8", 1, [b"C1", b"C2", b"C3"])  # same ref, different total
    d = make_parts("sar", 1, [b"D1", b"D2"])  # same ref via SAR
    e = make_parts("udh16", 1, [b"E1", b"E2"])  # same ref via 16-bit IE
    f = make_parts("udh8", 1, [b"F1", b"F2"], dst="99999")
    firsts = [x[0] for x in (a, b, c, d, e, f)]
    assert feed_all(r, firsts) == []
    assert len(r) == 6
    rest = [p for x in (a, b, c, d, e, f) for p in x[1:]]
    payloads = sorted(m.payload for m in feed_all(r, rest))
    assert payloads == [b"A1A2", b"B1B2", b"C1C2C3", b"D1D2", b"E1E2", b"F1F2"]


def test_duplicates_ignored_while_pending_and_after_completion() -> None:
    r = Reassembler()
    p1, p2, p3 = make_parts("udh8", 7, [b"x", b"y", b"z"])
    assert r.feed(p1, 0) is None
    assert r.feed(p1, 1) is None
    assert r.feed(p3, 2) is None
    m = r.feed(p2, 3)
    assert m is not None and m.payload == b"xyz"
    # Late duplicates of a completed message do not start a new one.
    for p in (p1, p2, p3, p2):
        assert r.feed(p, 4) is None
    assert len(r) == 0 and r.duplicates == 5
    assert r.expire(1000.0) == []


def test_duplicate_with_different_data_keeps_first(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="smppfast.reassembly")
    r = Reassembler()
    p1, p2 = make_parts("udh8", 7, [b"x", b"y"])
    r.feed(p1, 0)
    r.feed(FakePdu(udh8(7, 2, 1) + b"X!", 0x40), 0)
    m = r.feed(p2, 0)
    assert m is not None and m.payload == b"xy"
    assert "keeping the first" in caplog.text


def test_reference_reuse_after_completion_is_new_message() -> None:
    r = Reassembler()
    assert feed_all(r, make_parts("udh8", 5, [b"first ", b"message"]), 0)[0].payload == b"first message"
    again = feed_all(r, make_parts("udh8", 5, [b"second ", b"message"]), 1)
    assert [m.payload for m in again] == [b"second message"]


def test_completed_record_forgotten_after_max_age() -> None:
    r = Reassembler(max_age=10)
    parts = make_parts("sar", 5, [b"a", b"b"])
    feed_all(r, parts, 0)
    # Beyond max_age a repeat is indistinguishable from a new message: it is reassembled again.
    assert [m.payload for m in feed_all(r, parts, 20)] == [b"ab"]


# --- expiry ----------------------------------------------------------------------------------


def test_incomplete_reported_after_max_age() -> None:
    r = Reassembler(max_age=60)
    parts = make_parts("udh8", 33, [b"a", b"b", b"c", b"d"], data_coding=8)
    r.feed(parts[2], 100.0)
    r.feed(parts[0], 110.0)
    assert r.next_deadline() == 160.0
    assert r.expire(159.9) == []
    out = r.expire(160.0)
    assert len(out) == 1
    inc = out[0]
    assert isinstance(inc, IncompleteMessage)
    assert inc.reason == "expired"
    assert inc.missing == (2, 4)
    assert inc.received == (1, 3)
    assert inc.parts == [parts[0], parts[2]]
    assert inc.segments == {1: b"a", 3: b"c"}
    assert (inc.total, inc.reference, inc.method, inc.data_coding) == (4, 33, "udh8", 8)
    assert inc.first_seen == 100.0
    assert len(r) == 0 and r.next_deadline() is None and r.pending_bytes == 0
    assert r.expire(10_000.0) == []  # reported once


def test_expire_oldest_first_and_partial() -> None:
    r = Reassembler(max_age=10)
    for i in range(5):
        r.feed(make_parts("udh16", i, [b"a", b"b"])[0], float(i))
    out = r.expire(12.0)
    assert [m.reference for m in out] == [0, 1, 2]
    assert r.next_deadline() == 13.0


def test_time_going_backwards_is_clamped() -> None:
    r = Reassembler(max_age=10)
    r.feed(make_parts("udh8", 1, [b"a", b"b"])[0], 100.0)
    r.feed(make_parts("udh8", 2, [b"a", b"b"])[0], 50.0)  # clock stepped back
    assert r.next_deadline() == 110.0
    assert [m.reference for m in r.expire(110.0)] == [1, 2]


def test_late_part_after_expiry_starts_over() -> None:
    r = Reassembler(max_age=10)
    p1, p2 = make_parts("udh8", 1, [b"a", b"b"])
    r.feed(p1, 0)
    assert len(r.expire(10)) == 1
    assert r.feed(p2, 11) is None
    assert r.expire(21)[0].missing == (1,)


# --- caps ------------------------------------------------------------------------------------


def test_pending_cap_under_flood_with_draining() -> None:
    cap = 50
    r = Reassembler(max_pending=cap, max_age=600)
    reported: list[IncompleteMessage] = []
    n = 12_000
    for i in range(n):
        src = f"src{i // 65536}"
        r.feed(FakePdu(udh16(i % 65536, 3, 1) + b"first", 0x40, source_addr=src), float(i) / 1000)
        assert len(r) <= cap
        if r.next_deadline() == float(i) / 1000:  # evictions are due at once
            reported.extend(r.expire(float(i) / 1000))
    reported.extend(r.expire(1e9))
    assert len(reported) == n
    assert sum(1 for m in reported if m.reason == "evicted") == n - cap
    assert sorted(m.reference for m in reported) == sorted(i % 65536 for i in range(n))
    assert all(m.missing == (2, 3) for m in reported)
    assert r.dropped == 0 and len(r) == 0


def test_pending_cap_without_draining_drops_loudly(caplog: pytest.LogCaptureFixture) -> None:
    cap = 10
    r = Reassembler(max_pending=cap)
    with caplog.at_level(logging.WARNING, logger="smppfast.reassembly"):
        for i in range(10_500):
            r.feed(FakePdu(udh16(i, 2, 1) + b"x", 0x40), 0.0)
    assert len(r) == cap
    assert len(r.pop_evicted()) == cap  # the eviction queue is bounded too
    assert r.dropped == 10_500 - 2 * cap
    assert "eviction queue full" in caplog.text


def test_on_evict_callback_receives_everything() -> None:
    got: list[IncompleteMessage] = []
    r = Reassembler(max_pending=5, on_evict=got.append)
    for i in range(1000):
        r.feed(FakePdu(udh8(i % 256, 2, 1) + b"x", 0x40, source_addr=str(i)), 0.0)
    assert len(got) == 995 and all(m.reason == "evicted" for m in got)
    assert r.pop_evicted() == [] and r.dropped == 0 and r.next_deadline() == 600.0


def test_failing_on_evict_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def boom(msg: IncompleteMessage) -> None:
        raise RuntimeError("user bug")

    r = Reassembler(max_pending=1, on_evict=boom)
    p1, p2 = make_parts("udh8", 1, [b"a", b"b"])
    r.feed(p1, 0)
    with caplog.at_level(logging.ERROR, logger="smppfast.reassembly"):
        r.feed(make_parts("udh8", 2, [b"c", b"d"])[0], 0)
    assert "on_evict callback failed" in caplog.text
    assert len(r) == 1


def test_bytes_cap() -> None:
    from smppfast.reassembly import PART_OVERHEAD

    cap = 3 * (300 + PART_OVERHEAD) + 10
    r = Reassembler(max_pending_bytes=cap)
    for i in range(10):
        r.feed(FakePdu(udh8(i, 2, 1) + bytes(300), 0x40), 0.0)
        assert r.pending_bytes <= cap
    evicted = r.pop_evicted()
    assert len(evicted) == 7 and len(r) == 3


def test_the_cap_counts_tiny_parts_by_what_they_really_cost() -> None:
    # 254-part messages of one-octet parts: counted by user data alone, 10,000 of them passed
    # a 64 MiB cap while holding over a gigabyte. Each part now costs its PDU too.
    from smppfast.reassembly import PART_OVERHEAD

    r = Reassembler(max_pending_bytes=1_000_000)
    for ref in range(200):
        for seq in range(1, 254):
            r.feed(FakePdu(udh8(ref % 256, 254, seq) + b"x", 0x40), 0.0)
    assert r.pending_bytes <= 1_000_000
    evicted = r.pop_evicted()
    assert evicted and all(m.reason == "evicted" for m in evicted)
    held_parts = sum(len(m.segments) for m in r.flush())
    assert held_parts * (1 + PART_OVERHEAD) <= 1_000_000
    assert len(r) == 0


def test_flush_hands_back_every_pending_message_as_closed() -> None:
    r = Reassembler()
    r.feed(FakePdu(udh8(1, 3, 1) + b"a", 0x40), 0.0)
    r.feed(FakePdu(udh8(2, 2, 2) + b"b", 0x40), 0.0)
    flushed = r.flush()
    assert [(m.reference, m.reason, m.received) for m in flushed] == [(1, "closed", (1,)), (2, "closed", (2,))]
    assert len(r) == 0 and r.pending_bytes == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Reassembler(max_pending=0)
    with pytest.raises(ValueError):
        Reassembler(max_age=0)
    with pytest.raises(ValueError):
        Reassembler(max_pending_bytes=0)


# --- malformed headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, why, payload",
    [
        (b"", "empty", b""),
        (bytes([9, 0, 3, 1, 2, 1]), "UDHL 9 runs past", bytes([9, 0, 3, 1, 2, 1])),
        (bytes([5, 0, 9, 1, 2, 1]) + b"hi", "length 9", bytes([5, 0, 9, 1, 2, 1]) + b"hi"),
        (bytes([1, 0]) + b"hi", "truncated", bytes([1, 0]) + b"hi"),
        (udh8(1, 2, 0) + b"hi", "sequence number is 0", b"hi"),
        (udh8(1, 2, 3) + b"hi", "exceeds the total 2", b"hi"),
        (udh8(1, 0, 1) + b"hi", "total number of parts is 0", b"hi"),
        (bytes([4, 0, 2, 1, 2]) + b"hi", "expected 3", b"hi"),
        (bytes([5, 8, 3, 1, 2, 1]) + b"hi", "expected 4", b"hi"),
    ],
)
def test_malformed_udh_passes_through(
    data: bytes, why: str, payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    r = Reassembler()
    with caplog.at_level(logging.WARNING, logger="smppfast.reassembly"):
        m = r.feed(FakePdu(data, 0x40), 0.0)
    assert m is not None
    assert m.udh_error is not None and why in m.udh_error
    assert m.payload == payload and m.total == 1
    assert "malformed header" in caplog.text
    assert len(r) == 0


@pytest.mark.parametrize(
    "tlvs, why",
    [
        ({0x020C: 1, 0x020E: 2}, "incomplete"),
        ({0x020C: 1, 0x020E: 2, 0x020F: b""}, "incomplete"),
        ({0x020C: 1, 0x020E: 2, 0x020F: 0}, "sequence number is 0"),
        ({0x020C: 1, 0x020E: 0, 0x020F: 1}, "total number of parts is 0"),
        ({0x020C: 1, 0x020E: 2, 0x020F: 5}, "exceeds"),
    ],
)
def test_malformed_sar_passes_through(tlvs: dict[int, Any], why: str, caplog: pytest.LogCaptureFixture) -> None:
    r = Reassembler()
    with caplog.at_level(logging.WARNING, logger="smppfast.reassembly"):
        m = r.feed(FakePdu(b"body", tlvs=tlvs), 0.0)
    assert m is not None and m.udh_error is not None and why in m.udh_error
    assert m.payload == b"body"


def test_sar_raw_bytes_values_accepted() -> None:
    # The codec keeps a known TLV of an unexpected size as bytes; SAR numbers still work.
    r = Reassembler()
    a = FakePdu(b"a", tlvs={0x020C: b"\x00\x07", 0x020E: b"\x02", 0x020F: b"\x01"})
    b = FakePdu(b"b", tlvs={0x020C: b"\x00\x07", 0x020E: b"\x02", 0x020F: b"\x02"})
    assert r.feed(a, 0) is None
    m = r.feed(b, 0)
    assert m is not None and m.payload == b"ab" and m.method == "sar" and m.reference == 7


def test_parse_udh() -> None:
    assert parse_udh(udh8(1, 2, 1) + b"rest") == ([(0, b"\x01\x02\x01")], b"rest")
    assert parse_udh(b"\x00abc") == ([], b"abc")
    with pytest.raises(UdhError):
        parse_udh(b"")
    with pytest.raises(ValueError):
        parse_udh(b"\x05\x00")


@given(st.binary(max_size=200), st.integers(0, 255), st.sampled_from([0x00, 0x40, 0x43]))
def test_arbitrary_user_data_never_crashes(data: bytes, dc: int, esm: int) -> None:
    r = Reassembler(max_pending=4)
    for now in (0.0, 1.0):
        m = r.feed(FakePdu(data, esm, dc), now)
        if m is not None:
            assert m.parts
    r.expire(1e9)
    assert len(r) == 0


# --- property: shuffled, duplicated, interleaved ---------------------------------------------

message_st = st.tuples(
    st.sampled_from(["udh8", "udh16", "sar"]),
    st.lists(st.binary(min_size=1, max_size=20), min_size=2, max_size=6),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(message_st, min_size=1, max_size=25),
    st.randoms(use_true_random=False),
    st.integers(0, 3),
)
def test_shuffled_duplicated_interleaved(messages: list[tuple[str, list[bytes], bool]], rnd: Any, dups: int) -> None:
    r = Reassembler()
    expected: dict[tuple[str, int], bytes] = {}
    stream: list[FakePdu] = []
    for i, (method, chunks, payload_tlv) in enumerate(messages):
        src = f"4477{i % 3}"  # several messages share a source: keys differ by reference
        stream.extend(make_parts(method, i, chunks, src=src, payload_tlv=payload_tlv))
        expected[(src, i)] = b"".join(chunks)
    stream.extend(rnd.choice(stream) for _ in range(dups * len(messages)))
    rnd.shuffle(stream)
    got: dict[tuple[str, int], bytes] = {}
    for t, pdu in enumerate(stream):
        m = r.feed(pdu, float(t))
        if m is not None:
            assert m.reference is not None
            key = (m.source_addr, m.reference)
            assert key not in got, "a message completed twice"
            got[key] = m.payload
            assert len(m.parts) == m.total
    assert got == expected
    assert len(r) == 0 and r.pending_bytes == 0 and r.expire(1e9) == []


# --- text and the real codec -----------------------------------------------------------------


def test_text_property_uses_text_codec() -> None:
    m = CompleteMessage("a", "b", 3, [], "café".encode("latin-1"))
    try:
        importlib.import_module("smppfast._text")
    except ImportError:
        with pytest.raises(ImportError):
            _ = m.text
        pytest.skip("smppfast._text not built yet")
    assert m.text == "café"
    gsm = CompleteMessage("a", "b", 0, [], bytes([0x48, 0x69, 0x00]))  # unpacked septets: "Hi@"
    assert gsm.text == "Hi@"


def _deliver_sm_bytes(short_message: bytes, esm_class: int, tlvs: list[tuple[int, bytes]], seq: int) -> bytes:
    """A deliver_sm laid out by hand, so only the codec's decode path is involved."""
    body = b"\x00" + b"\x01\x01447700900001\x00" + b"\x01\x0112345\x00"
    body += bytes([esm_class, 0, 0]) + b"\x00\x00" + bytes([0, 0, 0, 0, len(short_message)]) + short_message
    for tag, value in tlvs:
        body += struct.pack(">HH", tag, len(value)) + value
    return struct.pack(">IIII", 16 + len(body), 0x00000005, 0, seq) + body


def test_real_decoded_deliver_sm() -> None:
    decode = getattr(importlib.import_module("smppfast"), "decode", None)
    if decode is None:
        pytest.skip("smppfast.decode not built yet")
    r = Reassembler()
    udh_parts = [_deliver_sm_bytes(udh8(9, 2, s) + c, 0x40, [], s) for s, c in ((2, b" there"), (1, b"hi"))]
    sar_parts = [
        _deliver_sm_bytes(c, 0, [(0x020C, b"\x01\x02"), (0x020E, b"\x02"), (0x020F, bytes([s]))], 10 + s)
        for s, c in ((1, b"sar "), (2, b"works"))
    ]
    done = [m for m in (r.feed(decode(d), 0.0) for d in udh_parts + sar_parts) if m is not None]
    assert [(m.method, m.payload) for m in done] == [("udh8", b"hi there"), ("sar", b"sar works")]
    assert done[1].reference == 0x0102
    assert done[0].parts[0].sequence_number == 1
