"""Malformed input: every case raises PduError with the right field, offset, header and fate.

Each hand-built case checks ``field``, ``offset`` (inside the PDU), ``command_id``,
``sequence_number``, ``recoverable`` (header readable: answer generic_nack and go on) and
``status`` (what the session nacks with). Then: every golden vector truncated at every
byte, a few hundred thousand random mutations, and hostile length prefixes, which must
raise nothing but PduError and never allocate for octets that did not arrive.
"""

from __future__ import annotations

import random
import struct
import time
import tracemalloc
from typing import Any

import pytest

import smppfast
from smppfast import Decoder, PduError, Status, Tlv

from .conftest import load_jsonl

VECTORS = load_jsonl("pdus.jsonl")
SEQ = 0x01020304


def pdu_bytes(command_id: int, body: bytes = b"", *, seq: int = SEQ, status: int = 0,
              length: int | None = None) -> bytes:
    if length is None:
        length = 16 + len(body)
    return struct.pack(">IIII", length, command_id, status, seq) + body


def u8s(*values: int) -> bytes:
    return bytes(values)


def cstr(text: str) -> bytes:
    return text.encode("latin-1") + b"\0"


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


# submit_sm body pieces, so offsets can be computed rather than counted by hand.
SM_HEAD = cstr("") + u8s(1, 1) + cstr("12345") + u8s(1, 1) + cstr("67890")  # ... destination_addr
SM_MID = u8s(0, 0, 0) + cstr("") + cstr("") + u8s(1, 0, 0, 0)  # esm_class .. sm_default_msg_id
SUBMIT_SM = 0x00000004


def expect(data: bytes, *, field: str, offset: int, command_id: int, recoverable: bool = True,
           status: int, seq: int = SEQ, decoder_max: int | None = None) -> PduError:
    """``data`` fails the same way through decode() and through a fresh Decoder."""
    errors = []
    if decoder_max is None:
        with pytest.raises(PduError) as info:
            smppfast.decode(data)
        errors.append(info.value)
    dec = Decoder() if decoder_max is None else Decoder(max_pdu_size=decoder_max)
    with pytest.raises(PduError) as info:
        dec.feed(data)
    errors.append(info.value)
    for err in errors:
        assert isinstance(err, ValueError) and isinstance(err, smppfast.SmppError)
        got = (err.field, err.offset, err.command_id, err.sequence_number, err.recoverable, err.status)
        assert got == (field, offset, command_id, seq, recoverable, status), str(err)
        assert str(err)  # a message a human can read
    return errors[0]


# ---------------------------------------------------------------------------
# Framing: command_length


@pytest.mark.parametrize("length", [0, 1, 8, 15])
def test_command_length_below_16_is_unrecoverable(length: int) -> None:
    data = pdu_bytes(SUBMIT_SM, length=length)
    expect(data, field="command_length", offset=0, command_id=SUBMIT_SM, recoverable=False,
           status=Status.ESME_RINVCMDLEN, decoder_max=1024)


def test_decode_of_fewer_than_16_octets_is_unrecoverable() -> None:
    for n in range(16):
        with pytest.raises(PduError) as info:
            smppfast.decode(pdu_bytes(0x80000015)[:n])
        assert info.value.field == "command_length" and info.value.recoverable is False


def test_decode_rejects_a_command_length_that_disagrees_with_the_data() -> None:
    good = smppfast.encode(smppfast.EnquireLink(sequence_number=SEQ))
    for length in (15, 17, 0xFFFFFFFF):
        with pytest.raises(PduError) as info:
            smppfast.decode(struct.pack(">I", length) + good[4:])
        assert info.value.field == "command_length"
        assert info.value.command_id == 0x15 and info.value.sequence_number == SEQ
    with pytest.raises(PduError):
        smppfast.decode(good + b"\0")  # one trailing octet beyond command_length


@pytest.mark.parametrize("length", [101, 0x10000, 0xFFFFFFF0, 0xFFFFFFFF])
def test_command_length_above_max_pdu_size_is_unrecoverable(length: int) -> None:
    data = pdu_bytes(SUBMIT_SM, length=length)
    expect(data, field="command_length", offset=0, command_id=SUBMIT_SM, recoverable=False,
           status=Status.ESME_RINVCMDLEN, decoder_max=100)


def test_command_length_at_max_pdu_size_is_accepted() -> None:
    pdu = smppfast.SubmitSm(short_message=b"x" * 50, sequence_number=7)
    data = smppfast.encode(pdu)
    assert Decoder(max_pdu_size=len(data)).feed(data) == [pdu]
    with pytest.raises(PduError):
        Decoder(max_pdu_size=len(data) - 1).feed(data)


# ---------------------------------------------------------------------------
# Header readable, body malformed: recoverable


@pytest.mark.parametrize(
    "command_id", [0x00000000, 0x0000000A, 0x0000000C, 0x00000099, 0x00000104, 0x8000000B, 0x80000102,
                   0x7FFFFFFF, 0xFFFFFFFF, 0x00010004, 0x40000004],
)
def test_unknown_command_id_is_recoverable_with_rinvcmdid(command_id: int) -> None:
    expect(pdu_bytes(command_id, b"\0\0\0"), field="command_id", offset=4, command_id=command_id,
           status=Status.ESME_RINVCMDID)


def test_body_shorter_than_its_fields() -> None:
    # submit_sm whose body stops after service_type
    expect(pdu_bytes(SUBMIT_SM, cstr("")), field="source_addr_ton", offset=17, command_id=SUBMIT_SM,
           status=Status.ESME_RINVCMDLEN)
    # a request with no body at all
    expect(pdu_bytes(SUBMIT_SM), field="service_type", offset=16, command_id=SUBMIT_SM,
           status=Status.ESME_RINVSERTYP)
    # bind_transmitter that stops after system_id: the password string is missing
    expect(pdu_bytes(0x00000002, cstr("sys")), field="password", offset=20, command_id=0x00000002,
           status=Status.ESME_RINVPASWD)
    # submit_sm that stops before short_message's length octet
    body = SM_HEAD + SM_MID
    expect(pdu_bytes(SUBMIT_SM, body), field="sm_length", offset=16 + len(body), command_id=SUBMIT_SM,
           status=Status.ESME_RINVMSGLEN)


def test_integer_overrunning_the_body() -> None:
    # query_sm_resp: message_id, final_date, message_state, then error_code is missing
    body = cstr("id") + cstr("") + u8s(2)
    expect(pdu_bytes(0x80000003, body), field="error_code", offset=16 + len(body), command_id=0x80000003,
           status=Status.ESME_RINVCMDLEN)
    # submit_multi_resp: the 4-octet error_status_code of an unsuccess_sme is cut short
    body = cstr("id") + u8s(1) + u8s(1, 1) + cstr("123") + b"\0\0"
    expect(pdu_bytes(0x80000021, body), field="error_status_code", offset=16 + len(body) - 2,
           command_id=0x80000021, status=Status.ESME_RINVCMDLEN)
    # submit_multi announcing 2 destinations but carrying 1
    body = cstr("") + u8s(1, 1) + cstr("src") + u8s(2) + u8s(1, 1, 1) + cstr("dst")
    expect(pdu_bytes(0x00000021, body), field="dest_flag", offset=16 + len(body), command_id=0x00000021,
           status=Status.ESME_RINVDESTFLAG)


def test_bad_dest_flag() -> None:
    body = cstr("") + u8s(1, 1) + cstr("src") + u8s(1) + u8s(3)
    expect(pdu_bytes(0x00000021, body), field="dest_flag", offset=16 + len(body) - 1, command_id=0x00000021,
           status=Status.ESME_RINVDESTFLAG)


def test_unterminated_c_octet_string() -> None:
    expect(pdu_bytes(0x80000004, b"abc"), field="message_id", offset=16, command_id=0x80000004,
           status=Status.ESME_RINVMSGID)
    # source_addr runs to the end of the body without its NUL
    body = cstr("") + u8s(1, 1) + b"12345"
    expect(pdu_bytes(SUBMIT_SM, body), field="source_addr", offset=19, command_id=SUBMIT_SM,
           status=Status.ESME_RINVSRCADR)
    # a distribution-list name without its NUL
    body = cstr("") + u8s(1, 1) + cstr("src") + u8s(1) + u8s(2) + b"list"
    expect(pdu_bytes(0x00000021, body), field="dl_name", offset=16 + len(body) - 4, command_id=0x00000021,
           status=Status.ESME_RINVDLNAME)


@pytest.mark.parametrize(
    ("command_id", "prefix", "field", "maxlen", "status"),
    [
        (SUBMIT_SM, cstr("") + u8s(1, 1), "source_addr", 21, Status.ESME_RINVSRCADR),
        (SUBMIT_SM, cstr("") + u8s(1, 1) + cstr("1") + u8s(1, 1), "destination_addr", 21, Status.ESME_RINVDSTADR),
        (SUBMIT_SM, b"", "service_type", 6, Status.ESME_RINVSERTYP),
        (0x00000002, b"", "system_id", 16, Status.ESME_RINVSYSID),
        (0x00000002, cstr("sys"), "password", 9, Status.ESME_RINVPASWD),
        (0x00000009, cstr("sys") + cstr("pw"), "system_type", 13, Status.ESME_RINVSYSTYP),
        (0x80000004, b"", "message_id", 65, Status.ESME_RINVMSGID),
        (SUBMIT_SM, SM_HEAD + u8s(0, 0, 0), "schedule_delivery_time", 17, Status.ESME_RINVSCHED),
        (SUBMIT_SM, SM_HEAD + u8s(0, 0, 0) + cstr(""), "validity_period", 17, Status.ESME_RINVEXPIRY),
        (0x00000103, cstr("") + u8s(1, 1), "source_addr", 65, Status.ESME_RINVSRCADR),
    ],
)
def test_over_long_c_octet_string(command_id: int, prefix: bytes, field: str, maxlen: int, status: int) -> None:
    # maxlen counts the NUL: maxlen-1 characters fit, maxlen do not, even when a NUL follows.
    fits = prefix + cstr("7" * (maxlen - 1))
    try:
        smppfast.decode(pdu_bytes(command_id, fits))
    except PduError as err:  # a later field may be missing, but this one must pass
        assert err.field != field
    data = pdu_bytes(command_id, prefix + cstr("7" * maxlen) + bytes(80))
    expect(data, field=field, offset=16 + len(prefix), command_id=command_id, status=status)


def test_sm_length_overrunning_the_body() -> None:
    body = SM_HEAD + SM_MID + u8s(10) + b"abc"
    expect(pdu_bytes(SUBMIT_SM, body), field="sm_length", offset=16 + len(body) - 4, command_id=SUBMIT_SM,
           status=Status.ESME_RINVMSGLEN)


@pytest.mark.parametrize("sm_length", [255])
def test_sm_length_above_254(sm_length: int) -> None:
    body = SM_HEAD + SM_MID + u8s(sm_length) + b"x" * sm_length
    expect(pdu_bytes(SUBMIT_SM, body), field="sm_length", offset=16 + len(SM_HEAD + SM_MID), command_id=SUBMIT_SM,
           status=Status.ESME_RINVMSGLEN)
    ok = SM_HEAD + SM_MID + u8s(254) + b"x" * 254
    assert smppfast.decode(pdu_bytes(SUBMIT_SM, ok)).short_message == b"x" * 254


@pytest.mark.parametrize("garbage", [b"\x01", b"\x01\x02", b"\x00\x00\x00"])
def test_trailing_garbage_that_is_not_a_whole_tlv(garbage: bytes) -> None:
    body = cstr("msg-1")
    expect(pdu_bytes(0x80000004, body + garbage), field="tlvs", offset=16 + len(body), command_id=0x80000004,
           status=Status.ESME_RINVOPTPARSTREAM)


def test_truncated_tlv_header_after_good_tlvs() -> None:
    body = SM_HEAD + SM_MID + u8s(2) + b"hi" + tlv(Tlv.SAR_MSG_REF_NUM, b"\0\1") + b"\x02\x0e\x00"
    expect(pdu_bytes(SUBMIT_SM, body), field="tlvs", offset=16 + len(body) - 3, command_id=SUBMIT_SM,
           status=Status.ESME_RINVOPTPARSTREAM)


@pytest.mark.parametrize("tag", [Tlv.MESSAGE_PAYLOAD, Tlv.SAR_MSG_REF_NUM, 0x1400])
def test_truncated_tlv_value(tag: int) -> None:
    head = SM_HEAD + SM_MID + u8s(0)
    body = head + struct.pack(">HH", tag, 10) + b"abc"
    expect(pdu_bytes(SUBMIT_SM, body), field="tlvs", offset=16 + len(head), command_id=SUBMIT_SM,
           status=Status.ESME_RINVOPTPARSTREAM)
    # a TLV length of 0xFFFF with nothing behind it
    body = head + struct.pack(">HH", tag, 0xFFFF)
    expect(pdu_bytes(SUBMIT_SM, body), field="tlvs", offset=16 + len(head), command_id=SUBMIT_SM,
           status=Status.ESME_RINVOPTPARSTREAM)


def test_error_carries_the_header_of_the_bad_pdu() -> None:
    err = expect(pdu_bytes(0x80000004, b"abc", seq=0xFFFFFFFF, status=0x45), field="message_id", offset=16,
                 command_id=0x80000004, seq=0xFFFFFFFF, status=Status.ESME_RINVMSGID)
    assert err.recoverable


def test_pdu_error_pickles() -> None:
    import pickle

    with pytest.raises(PduError) as info:
        smppfast.decode(pdu_bytes(0x80000004, b"abc"))
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.field, again.offset, again.command_id, again.sequence_number, again.recoverable,
            again.status) == ("message_id", 16, 0x80000004, SEQ, True, Status.ESME_RINVMSGID)


# ---------------------------------------------------------------------------
# Every golden vector truncated at every byte


def _grouped_tlvs(pdu: Any) -> bool:
    return not any(isinstance(v, list) for v in pdu.tlvs.values())


def _check_valid(pdu: Any, data: bytes | memoryview) -> None:
    again = smppfast.encode(pdu)
    assert smppfast.decode(again) == pdu
    if _grouped_tlvs(pdu):
        assert again == bytes(data)


def test_every_vector_truncated_at_every_byte_raises_only_pdu_error() -> None:
    decoded = rejected = 0
    started = time.perf_counter()
    dec = Decoder()
    for vector in VECTORS:
        data = bytes.fromhex(vector["pdu_hex"])
        buf = bytearray(data)
        view = memoryview(buf)
        for k in range(len(data)):
            if k >= 4:
                struct.pack_into(">I", buf, 0, k)  # patch command_length to the truncated size
            chunk = view[:k]
            try:
                pdu = smppfast.decode(chunk)
            except PduError as err:
                rejected += 1
                assert err.recoverable == (k >= 16), (vector["id"], k, str(err))
                if k >= 16:
                    assert err.command_id == vector["command_id"]
                    assert err.sequence_number == vector["sequence_number"]
                    assert 16 <= err.offset <= k, (vector["id"], k, err.offset)
            else:
                # only a cut at a TLV boundary, or an empty-bodied response, is still a PDU
                decoded += 1
                assert k >= 16
                _check_valid(pdu, chunk)
            # the same through a Decoder
            dec.reset()
            try:
                out = dec.feed(chunk)
            except PduError as err:
                assert err.recoverable == (k >= 16)
                if k >= 16:
                    assert dec.feed(b"") == [] and dec.buffered == 0
            else:
                assert len(out) == (1 if k >= 16 else 0)
                assert dec.buffered == (0 if k >= 16 else k)
        view.release()
    assert rejected > decoded > 0
    assert time.perf_counter() - started < 20


def test_every_vector_cut_short_waits_in_the_decoder() -> None:
    # With the true command_length, a truncated PDU is merely incomplete: nothing is returned
    # and nothing raised; the rest of the octets completes it.
    for vector in VECTORS:
        data = bytes.fromhex(vector["pdu_hex"])
        if len(data) > 4096:
            cuts = [*range(0, 300), *range(len(data) - 300, len(data)), *range(300, len(data) - 300, 997)]
        else:
            cuts = list(range(len(data)))
        view = memoryview(data)
        expected = smppfast.decode(data)
        for k in cuts:
            dec = Decoder()
            assert dec.feed(view[:k]) == []
            assert dec.buffered == k
            assert dec.feed(view[k:]) == [expected]
            assert dec.buffered == 0


# ---------------------------------------------------------------------------
# Random mutations

N_MUTATIONS = 200_000
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


def _seeds() -> list[bytes]:
    seeds = [bytes.fromhex(v["pdu_hex"]) for v in VECTORS if len(v["pdu_hex"]) <= 2 * 600]
    extra = [
        smppfast.SubmitMulti(
            source_addr="src",
            dest_address=[smppfast.SmeAddress(1, 1, "4477"), smppfast.DistributionList("team")],
            short_message=b"hello",
            tlvs={Tlv.USER_MESSAGE_REFERENCE: 7, Tlv.RECEIPTED_MESSAGE_ID: "abc", 0x1500: b"v"},
        ),
        smppfast.SubmitMultiResp(
            message_id="m", unsuccess_sme=[smppfast.UnsuccessSme(1, 1, "123", 0x45)] * 2,
        ),
        smppfast.DeliverSm(
            esm_class=4, short_message=b"id:1 sub:001 dlvrd:001 stat:DELIVRD err:000 text:x",
            tlvs={Tlv.RECEIPTED_MESSAGE_ID: "1", Tlv.MESSAGE_STATE: 2, Tlv.NETWORK_ERROR_CODE: b"\x03\x00\x00"},
        ),
    ]
    return seeds + [smppfast.encode(p) for p in extra]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(7)
        n = len(buf)
        if op == 0 and n:  # bit flip
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # byte replacement
            buf[rng.randrange(n)] = rng.choice(INTERESTING) if rng.random() < 0.5 else rng.randrange(256)
        elif op == 2:  # insertion
            i = rng.randrange(n + 1)
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 1, 2, 4))))
        elif op == 3 and n:  # deletion
            i = rng.randrange(n)
            del buf[i:i + rng.choice((1, 1, 2, 4, 16))]
        elif op == 4 and n > 16:  # a body octet set to a plausible length
            buf[rng.randrange(16, n)] = rng.choice((0, 1, 2, 4, 21, 65, 254, 255))
        elif op == 5 and n >= 4:  # command_length edit
            struct.pack_into(">I", buf, 0, rng.choice((0, 15, 16, n - 1, n + 1, 0xFFFFFFFF, rng.randrange(1 << 32))))
        elif op == 6 and n >= 8:  # command_id edit: another known command, or a response bit flip
            cid = rng.choice(list(smppfast.PDU_CLASSES)) if rng.random() < 0.7 else struct.unpack_from(">I", buf, 4)[0] ^ 0x80000000
            struct.pack_into(">I", buf, 4, cid)
    if len(buf) >= 4 and rng.random() < 0.85:
        struct.pack_into(">I", buf, 0, len(buf))  # mostly consistent framing, so bodies get parsed
    return bytes(buf)


def test_random_mutations_raise_only_pdu_error() -> None:
    rng = random.Random(0x5EED_2024)
    seeds = _seeds()
    decode, encode = smppfast.decode, smppfast.encode
    started = time.perf_counter()
    valid = invalid = 0
    mutated: list[bytes] = []
    for _ in range(N_MUTATIONS):
        data = _mutate(rng, rng.choice(seeds))
        try:
            pdu = decode(data)
        except PduError:
            invalid += 1
            continue
        valid += 1
        again = encode(pdu)
        assert decode(again) == pdu, data.hex()
        if _grouped_tlvs(pdu):
            assert again == data, data.hex()
        if len(mutated) < 3000:
            mutated.append(data)
    elapsed = time.perf_counter() - started
    assert valid + invalid == N_MUTATIONS
    assert valid > 1000 and invalid > 50_000  # both paths exercised
    assert elapsed < 10, f"{N_MUTATIONS} mutations took {elapsed:.1f} s"


def test_random_mutations_through_the_decoder() -> None:
    # A stream of mutated PDUs: only PduError comes out; recoverable errors let decoding go on,
    # framing errors need a reset.
    rng = random.Random(4242)
    seeds = _seeds()
    stream = b"".join(_mutate(rng, rng.choice(seeds)) for _ in range(20_000))
    dec = Decoder(max_pdu_size=4096)
    pos = 0
    got = 0
    started = time.perf_counter()
    while pos < len(stream):
        step = rng.randrange(1, 700)
        chunk = stream[pos:pos + step]
        pos += step
        while True:
            try:
                got += len(dec.feed(chunk))
                break
            except PduError as err:
                if not err.recoverable:
                    dec.reset()
                    break
                chunk = b""
        assert dec.buffered <= 4096 + 700
    assert got > 100
    assert time.perf_counter() - started < 10


# ---------------------------------------------------------------------------
# Memory: lying length prefixes


def test_hostile_length_prefix_raises_at_once_without_allocating() -> None:
    dec = Decoder()
    tracemalloc.start()
    try:
        with pytest.raises(PduError) as info:
            dec.feed(b"\xff\xff\xff\xf0")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024
    assert info.value.recoverable is False and info.value.field == "command_length"
    # framing is lost: the same error until reset()
    with pytest.raises(PduError):
        dec.feed(b"")
    dec.reset()
    assert dec.feed(smppfast.encode(smppfast.EnquireLink(sequence_number=1))) == [smppfast.EnquireLink(sequence_number=1)]


def test_hostile_prefix_in_fragments_is_refused_when_the_prefix_completes() -> None:
    dec = Decoder()
    assert dec.feed(b"\xff") == [] and dec.feed(b"\xff\xff") == []
    with pytest.raises(PduError):
        dec.feed(b"\xf0")


def test_big_allowed_length_only_buffers_what_arrived() -> None:
    dec = Decoder(max_pdu_size=0xFFFFFFFF)
    tracemalloc.start()
    try:
        assert dec.feed(pdu_bytes(0x80000004, length=0xFFFFFFF0)) == []
        for _ in range(100):
            assert dec.feed(b"z" * 100) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dec.buffered == 16 + 100 * 100
    assert peak < 1024 * 1024


def test_a_60k_pdu_fed_one_byte_at_a_time_keeps_memory_bounded() -> None:
    pdu = smppfast.DataSm(source_addr="a", destination_addr="b", sequence_number=9,
                          tlvs={Tlv.MESSAGE_PAYLOAD: bytes(range(256)) * 240})
    data = smppfast.encode(pdu)
    assert 60 * 1024 <= len(data) < 64 * 1024
    dec = Decoder()
    out: list[Any] = []
    tracemalloc.start()
    try:
        for i in range(len(data)):
            out += dec.feed(data[i:i + 1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out == [pdu]
    assert dec.buffered == 0
    # the buffer (at most twice the PDU) plus the decoded payload, not a copy per byte
    assert peak < 4 * len(data), peak
