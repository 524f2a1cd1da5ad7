"""smppfast.Decoder: any split of the stream gives the same PDUs; errors leave a defined state."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smppfast
from smppfast import Decoder, PduError, Tlv

from .conftest import load_jsonl
from .test_codec_properties import any_pdu

VECTORS = load_jsonl("pdus.jsonl")
DEFAULT = smppfast.DEFAULT_MAX_PDU_SIZE
VECTOR_BYTES = [bytes.fromhex(v["pdu_hex"]) for v in VECTORS]
FITTING = [b for b in VECTOR_BYTES if len(b) <= DEFAULT]
STREAM = b"".join(FITTING)
EXPECTED = [smppfast.decode(b) for b in FITTING]
# ~10 PDUs of different commands, small enough to split at every point.
SHORT = list({b[4:8]: b for b in FITTING if len(b) <= 120 and len(b) > 16}.values())[:10]
SHORT_STREAM = b"".join(SHORT)
SHORT_EXPECTED = [smppfast.decode(b) for b in SHORT]


def feed_all(dec: Decoder, chunks: Any) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        out += dec.feed(chunk)
    return out


def test_stream_has_every_vector() -> None:
    assert len(FITTING) == len(VECTORS)  # the default admits every golden vector, the 64 KiB ones too
    assert max(map(len, FITTING)) > 65535
    assert 8 <= len(SHORT) <= 10


def test_whole_stream_at_once() -> None:
    dec = Decoder()
    assert dec.feed(STREAM) == EXPECTED
    assert dec.buffered == 0
    assert dec.feed(b"") == []


def test_byte_by_byte() -> None:
    dec = Decoder()
    view = memoryview(STREAM)
    out: list[Any] = []
    for i in range(len(STREAM)):
        got = dec.feed(view[i:i + 1])
        out += got
        if got:  # a PDU completes exactly on its last octet
            assert dec.buffered == 0
    assert out == EXPECTED


def test_every_split_point_of_a_short_stream() -> None:
    for i in range(len(SHORT_STREAM) + 1):
        dec = Decoder()
        first = dec.feed(SHORT_STREAM[:i])
        assert dec.buffered == i - sum(len(b) for b in SHORT[:len(first)])
        assert first + dec.feed(SHORT_STREAM[i:]) == SHORT_EXPECTED, i


def test_every_pair_of_split_points_of_a_few_pdus() -> None:
    stream = b"".join(SHORT[:3])
    assert len(stream) < 300
    expected = SHORT_EXPECTED[:3]
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1):
            dec = Decoder()
            assert feed_all(dec, (stream[:i], stream[i:j], stream[j:])) == expected


@pytest.mark.parametrize("seed", range(8))
def test_random_splits_of_the_whole_stream(seed: int) -> None:
    rng = random.Random(seed)
    chunks, pos = [], 0
    while pos < len(STREAM):
        step = rng.choice((1, 2, 3, 7, 16, 17, 100, 1000, 5000, 70000))
        chunks.append(STREAM[pos:pos + step])
        pos += step
    assert feed_all(Decoder(), chunks) == EXPECTED


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pdus=st.lists(any_pdu, min_size=1, max_size=12), data=st.data())
def test_hypothesis_pdus_any_split(pdus: list[Any], data: st.DataObject) -> None:
    stream = b"".join(smppfast.encode(p) for p in pdus)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    dec = Decoder()
    assert feed_all(dec, chunks) == pdus
    assert dec.buffered == 0
    assert Decoder().feed(stream) == pdus
    assert feed_all(Decoder(), (stream[i:i + 1] for i in range(len(stream)))) == pdus


@settings(max_examples=50, deadline=None)
@given(pdus=st.lists(any_pdu, min_size=1, max_size=6))
def test_hypothesis_pdus_between_golden_vectors(pdus: list[Any]) -> None:
    encoded = [smppfast.encode(p) for p in pdus]
    stream = SHORT_STREAM + b"".join(encoded) + SHORT_STREAM
    mid = len(SHORT_STREAM) + len(encoded[0]) // 2
    dec = Decoder()
    assert dec.feed(stream[:mid]) + dec.feed(stream[mid:]) == SHORT_EXPECTED + pdus + SHORT_EXPECTED


# ---------------------------------------------------------------------------
# Input types and buffering


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, lambda b: memoryview(bytearray(b))])
def test_bytes_like_inputs(kind: Any) -> None:
    dec = Decoder()
    assert dec.feed(kind(SHORT_STREAM)) == SHORT_EXPECTED
    mid = len(SHORT[0]) + 5
    assert dec.feed(kind(SHORT_STREAM[:mid])) + dec.feed(kind(SHORT_STREAM[mid:])) == SHORT_EXPECTED


def test_str_is_refused() -> None:
    with pytest.raises(TypeError):
        Decoder().feed("00000010")


def test_buffered_data_is_copied() -> None:
    # The caller may reuse its receive buffer after feed() returns.
    buf = bytearray(SHORT[0])
    dec = Decoder()
    assert dec.feed(memoryview(buf)[:10]) == []
    buf[:] = b"\xff" * len(buf)
    assert dec.feed(SHORT[0][10:]) == [SHORT_EXPECTED[0]]


def test_buffered_counts_octets_not_yet_a_pdu() -> None:
    dec = Decoder()
    assert dec.buffered == 0
    dec.feed(SHORT_STREAM[:3])
    assert dec.buffered == 3
    dec.feed(SHORT_STREAM[3:len(SHORT[0]) + 4])
    assert dec.buffered == 4
    dec.reset()
    assert dec.buffered == 0
    assert dec.feed(SHORT_STREAM) == SHORT_EXPECTED


def test_many_pdus_in_one_chunk_and_empty_feeds() -> None:
    resp = smppfast.encode(smppfast.SubmitSmResp(message_id="1", sequence_number=1))
    dec = Decoder()
    assert dec.feed(b"") == []
    assert dec.feed(resp * 10_000) == [smppfast.decode(resp)] * 10_000
    assert dec.feed(b"") == [] and dec.buffered == 0


# ---------------------------------------------------------------------------
# Errors

GOOD = [smppfast.encode(smppfast.EnquireLink(sequence_number=n)) for n in range(1, 5)]
GOOD_PDUS = [smppfast.decode(b) for b in GOOD]
BAD = struct.pack(">IIII", 19, 0x80000004, 0, 77) + b"abc"  # message_id without NUL: recoverable
HOSTILE = struct.pack(">IIII", 0xFFFFFFF0, 0x00000004, 0, 78)  # framing lost


def test_recoverable_error_skips_the_bad_pdu_and_goes_on() -> None:
    dec = Decoder()
    with pytest.raises(PduError) as info:
        dec.feed(GOOD[0] + GOOD[1] + BAD + GOOD[2] + GOOD[3])
    err = info.value
    assert err.recoverable and err.sequence_number == 77 and err.command_id == 0x80000004
    assert err.field == "message_id"
    # the PDUs decoded before it come with the next feed, followed by those after it
    assert dec.feed(b"") == GOOD_PDUS
    assert dec.feed(b"") == [] and dec.buffered == 0


def test_recoverable_error_with_a_partial_pdu_behind_it() -> None:
    dec = Decoder()
    with pytest.raises(PduError):
        dec.feed(GOOD[0] + BAD + GOOD[1][:5])
    assert dec.buffered == 5
    assert dec.feed(GOOD[1][5:]) == GOOD_PDUS[:2]


def test_recoverable_error_in_buffered_data() -> None:
    dec = Decoder()
    assert dec.feed(GOOD[0][:7]) == []
    with pytest.raises(PduError):
        dec.feed(GOOD[0][7:] + BAD[:-1] + BAD[-1:] + GOOD[1])
    assert dec.feed(GOOD[2]) == GOOD_PDUS[:3]


@pytest.mark.parametrize("seed", range(5))
def test_recoverable_errors_under_random_splits(seed: int) -> None:
    rng = random.Random(seed)
    stream = b"".join(rng.choice((GOOD[0], GOOD[1], BAD, SHORT[3])) for _ in range(200))
    expected = [smppfast.decode(b) for b in _split_pdus(stream) if b != BAD]
    n_bad = len(_split_pdus(stream)) - len(expected)
    dec, out, errors, pos = Decoder(), [], 0, 0
    while pos < len(stream):
        step = rng.randrange(1, 60)
        chunk, pos = stream[pos:pos + step], pos + step
        try:
            out += dec.feed(chunk)
        except PduError as err:
            assert err.recoverable and err.sequence_number == 77
            errors += 1
    out += dec.feed(b"")
    assert out == expected and errors == n_bad and dec.buffered == 0


def _split_pdus(stream: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(stream):
        n = int.from_bytes(stream[pos:pos + 4], "big")
        out.append(stream[pos:pos + n])
        pos += n
    return out


def test_unrecoverable_error_repeats_until_reset() -> None:
    dec = Decoder()
    with pytest.raises(PduError) as info:
        dec.feed(GOOD[0] + GOOD[1] + HOSTILE + GOOD[2])
    first = info.value
    assert not first.recoverable and first.field == "command_length"
    assert first.command_id == 4 and first.sequence_number == 78
    assert dec.feed(b"") == GOOD_PDUS[:2]  # what came before the break is not lost
    for more in (b"", GOOD[3]):
        with pytest.raises(PduError) as again:
            dec.feed(more)
        assert not again.value.recoverable and again.value.field == "command_length"
    assert dec.buffered == 0
    dec.reset()
    assert dec.feed(GOOD[3]) == [GOOD_PDUS[3]]


def test_unrecoverable_error_in_buffered_data() -> None:
    dec = Decoder(max_pdu_size=64)
    assert dec.feed(GOOD[0] + struct.pack(">I", 65)[:2]) == [GOOD_PDUS[0]]
    with pytest.raises(PduError) as info:
        dec.feed(struct.pack(">I", 65)[2:])
    assert not info.value.recoverable
    with pytest.raises(PduError):
        dec.feed(GOOD[1])
    dec.reset()
    assert dec.feed(GOOD[1]) == [GOOD_PDUS[1]]


def test_reset_drops_pending_pdus_and_partial_data() -> None:
    dec = Decoder()
    with pytest.raises(PduError):
        dec.feed(GOOD[0] + BAD)
    dec.feed(GOOD[1][:9])
    dec.reset()
    assert dec.buffered == 0
    assert dec.feed(GOOD[2]) == [GOOD_PDUS[2]]


# ---------------------------------------------------------------------------
# max_pdu_size


def test_max_pdu_size_validation() -> None:
    assert Decoder().max_pdu_size == DEFAULT
    for ok in (16, 17, 1024, 0xFFFFFFFF):
        assert Decoder(max_pdu_size=ok).max_pdu_size == ok
        assert Decoder(ok).max_pdu_size == ok
    for bad in (-1, 0, 15, 1 << 32):
        with pytest.raises(ValueError):
            Decoder(max_pdu_size=bad)
    with pytest.raises((ValueError, OverflowError)):
        Decoder(max_pdu_size=1 << 64)
    with pytest.raises(TypeError):
        Decoder(max_pdu_size="1024")
    with pytest.raises(AttributeError):
        Decoder().max_pdu_size = 100  # type: ignore[misc]


def test_max_pdu_size_is_inclusive() -> None:
    data = GOOD[0]
    assert Decoder(max_pdu_size=16).feed(data) == [GOOD_PDUS[0]]
    big = smppfast.encode(smppfast.SubmitSmResp(message_id="x"))
    with pytest.raises(PduError) as info:
        Decoder(max_pdu_size=16).feed(big)
    assert not info.value.recoverable


def test_default_admits_a_full_64k_message_payload() -> None:
    pdu = smppfast.DataSm(
        service_type="x" * 5, source_addr="1" * 64, destination_addr="2" * 64, sequence_number=3,
        tlvs={Tlv.MESSAGE_PAYLOAD: bytes(range(256)) * 255 + bytes(255), Tlv.SAR_MSG_REF_NUM: 1,
              Tlv.RECEIPTED_MESSAGE_ID: "r" * 64},
    )
    assert len(pdu.tlvs[Tlv.MESSAGE_PAYLOAD]) == 65535
    data = smppfast.encode(pdu)
    assert len(data) <= DEFAULT
    assert Decoder().feed(data) == [pdu]
    dec = Decoder()
    assert dec.feed(data[:40000]) == [] and dec.feed(data[40000:]) == [pdu]
