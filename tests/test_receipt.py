"""Tests for smppfast.receipt: delivery receipt parsing across vendor variants, TLVs, id matching."""

from __future__ import annotations

import importlib
import logging
import struct
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppfast.constants import MessageState
from smppfast.errors import SmppError
from smppfast.receipt import (
    DeliveryReceipt,
    NetworkError,
    ReceiptError,
    is_receipt,
    message_id_keys,
    matching_message_ids,
    message_ids_match,
    normalize_message_id,
    parse_receipt,
    receipt_from_pdu,
)


@dataclass
class FakePdu:
    """Stand-in for a decoded deliver_sm / data_sm: just the attributes the parser reads."""

    short_message: bytes = b""
    esm_class: int = 0x04
    data_coding: int = 0
    tlvs: dict[int, Any] = field(default_factory=dict)


D = datetime

# (id, receipt text, expected attributes). Written in the styles SMSCs send in the wild.
VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "appendix-b-canonical",
        "id:1234567890 sub:001 dlvrd:001 submit date:2401151030 done date:2401151031 stat:DELIVRD err:000 text:Hello world",
        dict(
            message_id="1234567890",
            submitted_count=1,
            delivered_count=1,
            submit_date=D(2024, 1, 15, 10, 30),
            done_date=D(2024, 1, 15, 10, 31),
            stat="DELIVRD",
            state=MessageState.DELIVERED,
            err="000",
            text="Hello world",
        ),
    ),
    (
        "kannel-like-capital-text",
        "id:0A1B2C3D sub:001 dlvrd:001 submit date:2312312359 done date:2401010001 stat:DELIVRD err:000 Text:Happy new year",
        dict(message_id="0A1B2C3D", done_date=D(2024, 1, 1, 0, 1), text="Happy new year", state=MessageState.DELIVERED),
    ),
    (
        "lowercase-everything",
        "id:abc123 sub:001 dlvrd:000 submit date:2403021200 done date:2403021300 stat:undeliv err:001 text:x",
        dict(message_id="abc123", stat="UNDELIV", state=MessageState.UNDELIVERABLE, err="001", delivered_count=0),
    ),
    (
        "uppercase-keys",
        "ID:77 SUB:1 DLVRD:1 SUBMIT DATE:2402291010 DONE DATE:2402291011 STAT:DELIVRD ERR:0 TEXT:Leap day",
        dict(message_id="77", submit_date=D(2024, 2, 29, 10, 10), err="0", text="Leap day", submitted_count=1),
    ),
    (
        "underscored-dates",
        "id:5550001 sub:001 dlvrd:001 submit_date:2405051505 done_date:2405051506 stat:DELIVRD err:000 text:",
        dict(submit_date=D(2024, 5, 5, 15, 5), done_date=D(2024, 5, 5, 15, 6), text=""),
    ),
    (
        "no-sub-dlvrd",
        "id:98765 submit date:2406011200 done date:2406011201 stat:EXPIRED err:000",
        dict(submitted_count=None, delivered_count=None, state=MessageState.EXPIRED, text=None),
    ),
    (
        "seconds-in-dates",
        "id:42 sub:001 dlvrd:001 submit date:240715093012 done date:240715093045 stat:DELIVRD err:000 text:hi",
        dict(submit_date=D(2024, 7, 15, 9, 30, 12), done_date=D(2024, 7, 15, 9, 30, 45)),
    ),
    (
        "century-dates",
        "id:42 sub:001 dlvrd:001 submit date:20240715093012 done date:20240715093045 stat:DELIVRD err:000 text:hi",
        dict(submit_date=D(2024, 7, 15, 9, 30, 12), done_date=D(2024, 7, 15, 9, 30, 45)),
    ),
    (
        "hex-id-lowercase",
        "id:7e3a9c1b sub:001 dlvrd:001 submit date:2408081808 done date:2408081809 stat:DELIVRD err:000 text:hex",
        dict(message_id="7e3a9c1b"),
    ),
    (
        "uuid-id",
        "id:4f8a3b2c-1d2e-4c5b-9a8f-0e1d2c3b4a59 sub:001 dlvrd:001 submit date:2409090909 "
        "done date:2409090910 stat:DELIVRD err:000 text:uuid",
        dict(message_id="4f8a3b2c-1d2e-4c5b-9a8f-0e1d2c3b4a59"),
    ),
    (
        "text-with-colons-and-keys",
        "id:11 sub:001 dlvrd:001 submit date:2410101010 done date:2410101011 stat:DELIVRD err:000 "
        "text:Meet at 10:30 stat:fake id:99",
        dict(message_id="11", text="Meet at 10:30 stat:fake id:99", stat="DELIVRD", extra={}),
    ),
    (
        "leading-trailing-spaces-and-nul",
        "   id:12 sub:001 dlvrd:001 submit date:2411111111 done date:2411111112 stat:DELIVRD err:000 text:pad   \x00",
        dict(message_id="12", text="pad"),
    ),
    (
        "rejected",
        "id:13 sub:001 dlvrd:000 submit date:2412121212 done date:2412121212 stat:REJECTD err:088 text:spam?",
        dict(state=MessageState.REJECTED, err="088"),
    ),
    (
        "deleted",
        "id:14 sub:001 dlvrd:000 submit date:2501010000 done date:2501020000 stat:DELETED err:000 text:",
        dict(state=MessageState.DELETED, done_date=D(2025, 1, 2, 0, 0)),
    ),
    (
        "accepted",
        "id:15 sub:001 dlvrd:000 submit date:2501010000 done date:2501010001 stat:ACCEPTD err:000 text:",
        dict(state=MessageState.ACCEPTED, stat="ACCEPTD"),
    ),
    (
        "unknown-state",
        "id:16 sub:001 dlvrd:000 submit date:2501010000 done date:2501010001 stat:UNKNOWN err:000 text:",
        dict(state=MessageState.UNKNOWN),
    ),
    (
        "enroute-intermediate",
        "id:17 sub:001 dlvrd:000 submit date:2501010000 done date:2501010001 stat:ENROUTE err:000 text:",
        dict(state=MessageState.ENROUTE),
    ),
    (
        "long-spelling-stat",
        "id:18 sub:1 dlvrd:1 submit date:2502020202 done date:2502020203 stat:DELIVERED err:0",
        dict(stat="DELIVERED", state=MessageState.DELIVERED),
    ),
    (
        "vendor-extra-keys",
        "id:19 sub:001 dlvrd:001 submit date:2503030303 done date:2503030304 stat:DELIVRD err:000 "
        "mcc:234 mnc:15 price:0.0150 text:extras",
        dict(extra={"mcc": "234", "mnc": "15", "price": "0.0150"}, text="extras"),
    ),
    (
        "spaces-after-colons",
        "id: 20 sub: 001 dlvrd: 001 submit date: 2504040404 done date: 2504040405 stat: DELIVRD err: 000 text: spaced",
        dict(message_id="20", submitted_count=1, submit_date=D(2025, 4, 4, 4, 4), stat="DELIVRD", text="spaced"),
    ),
    (
        "separators-in-dates",
        "id:21 sub:001 dlvrd:001 submit date:2025-05-05 10:20:30 done date:2025/05/05 10:21:00 stat:DELIVRD err:000",
        dict(submit_date=D(2025, 5, 5, 10, 20, 30), done_date=D(2025, 5, 5, 10, 21)),
    ),
    (
        "bad-date-kept-as-none",
        "id:22 sub:001 dlvrd:001 submit date:0000000000 done date:2513401299 stat:DELIVRD err:000 text:",
        dict(submit_date=None, done_date=None, state=MessageState.DELIVERED),
    ),
    (
        "err-non-numeric",
        "id:23 sub:001 dlvrd:000 submit date:2506060606 done date:2506060607 stat:UNDELIV err:A1F text:",
        dict(err="A1F", state=MessageState.UNDELIVERABLE),
    ),
    (
        "stat-only-minimal",
        "id:24 stat:DELIVRD",
        dict(message_id="24", state=MessageState.DELIVERED, submit_date=None, err=None, text=None),
    ),
    (
        "numeric-stat",
        "id:25 sub:001 dlvrd:001 submit date:2507070707 done date:2507070708 stat:2 err:000",
        dict(stat="2", state=MessageState.DELIVERED),
    ),
    (
        "vendor-stat-not-mapped",
        "id:26 sub:001 dlvrd:000 submit date:2508080808 done date:2508080809 stat:FAILED err:034",
        dict(stat="FAILED", state=None),
    ),
    (
        "compact-keys-no-space-date",
        "id:27 sub:001 dlvrd:001 submitdate:2509090909 donedate:2509090910 stat:DELIVRD err:000 text:c",
        dict(submit_date=D(2025, 9, 9, 9, 9), done_date=D(2025, 9, 9, 9, 10)),
    ),
    (
        "decimal-id-leading-zeros",
        "id:0000012345 sub:001 dlvrd:001 submit date:2510101010 done date:2510101011 stat:DELIVRD err:000 text:z",
        dict(message_id="0000012345"),
    ),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _, t, e in VARIANTS], ids=[i for i, _, _ in VARIANTS])
def test_variants(text: str, expected: dict[str, Any]) -> None:
    r = parse_receipt(text)
    for name, value in expected.items():
        assert getattr(r, name) == value, name
    assert r.raw == text.strip(" \x00")


def test_at_least_twenty_variants() -> None:
    assert len(VARIANTS) >= 20


def test_bytes_input_latin1() -> None:
    r = parse_receipt(b"id:1 stat:DELIVRD err:000 text:caf\xe9")
    assert r.text == "café"


def test_conveniences() -> None:
    assert parse_receipt("id:1 stat:DELIVRD").delivered
    assert parse_receipt("id:1 stat:DELIVRD").is_final
    assert not parse_receipt("id:1 stat:UNDELIV").delivered
    assert parse_receipt("id:1 stat:UNDELIV").is_final
    assert not parse_receipt("id:1 stat:ENROUTE").is_final
    assert not parse_receipt("id:1 stat:UNKNOWN").is_final
    assert not parse_receipt("id:1").is_final


def test_receipt_is_frozen_and_hashable() -> None:
    r = parse_receipt("id:1 stat:DELIVRD foo:bar")
    with pytest.raises(AttributeError):
        r.message_id = "2"  # type: ignore[misc]
    assert r in {r}
    assert r == parse_receipt("id:1 stat:DELIVRD foo:bar")


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "empty"),
        ("   \x00", "empty"),
        ("Hello, how are you?", "no 'id:'"),
        ("sub:001 dlvrd:001 stat:DELIVRD err:000", "no 'id:'"),
        ("id: sub:001 stat:DELIVRD", "empty 'id:'"),
        ("text:id:123 stat:DELIVRD", "no 'id:'"),  # everything after text: is text
    ],
)
def test_not_a_receipt(text: str, why: str) -> None:
    with pytest.raises(ReceiptError, match=why) as info:
        parse_receipt(text)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SmppError)


@given(st.text())
def test_parse_never_crashes_unexpectedly(text: str) -> None:
    try:
        r = parse_receipt(text)
    except ReceiptError:
        return
    assert r.message_id


@given(st.binary(max_size=300))
def test_receipt_from_pdu_never_crashes(data: bytes) -> None:
    try:
        receipt_from_pdu(FakePdu(short_message=data, esm_class=0x44))
    except ReceiptError:
        pass


# --- PDUs and TLVs ---------------------------------------------------------------------------

CANONICAL = b"id:1234567890 sub:001 dlvrd:001 submit date:2401151030 done date:2401151031 stat:DELIVRD err:000 text:Hello"


def test_from_pdu_text_only() -> None:
    r = receipt_from_pdu(FakePdu(short_message=CANONICAL))
    assert r is not None
    assert r.message_id == "1234567890"
    assert r.state is MessageState.DELIVERED
    assert r.network_error is None


def test_from_pdu_not_a_receipt() -> None:
    assert receipt_from_pdu(FakePdu(short_message=CANONICAL, esm_class=0)) is None
    # An SME delivery acknowledgement (0x08) is not an SMSC receipt.
    assert receipt_from_pdu(FakePdu(short_message=CANONICAL, esm_class=0x08)) is None


def test_from_pdu_without_flag_opt_in() -> None:
    r = receipt_from_pdu(FakePdu(short_message=CANONICAL, esm_class=0), require_flag=False)
    assert r is not None and r.message_id == "1234567890"
    assert receipt_from_pdu(FakePdu(short_message=b"hello there", esm_class=0), require_flag=False) is None


def test_intermediate_notification_is_receipt() -> None:
    assert is_receipt(0x20)
    assert is_receipt(0x04)
    assert not is_receipt(0x00)
    assert not is_receipt(0x08)
    r = receipt_from_pdu(FakePdu(short_message=b"id:9 stat:ENROUTE", esm_class=0x20))
    assert r is not None and r.state is MessageState.ENROUTE


def test_tlvs_preferred_over_text() -> None:
    pdu = FakePdu(
        short_message=CANONICAL.replace(b"DELIVRD", b"UNDELIV"),
        tlvs={0x001E: "499602D2", 0x0427: 2, 0x0423: b"\x03\x00\x22"},
    )
    r = receipt_from_pdu(pdu)
    assert r is not None
    assert r.message_id == "499602D2"  # from the TLV
    assert r.state is MessageState.DELIVERED  # TLV wins over stat:UNDELIV
    assert r.stat == "UNDELIV"  # the text's own code stays visible
    assert r.network_error == NetworkError(3, 0x22)
    assert r.submit_date == D(2024, 1, 15, 10, 30)  # the rest still comes from the text
    assert message_ids_match(r.message_id, "1234567890")


def test_tlvs_only_empty_short_message() -> None:
    pdu = FakePdu(tlvs={0x001E: "m-1", 0x0427: 5, 0x0423: b"\x01\x00\x0b"})
    r = receipt_from_pdu(pdu)
    assert r is not None
    assert r.message_id == "m-1"
    assert r.state is MessageState.UNDELIVERABLE
    assert r.stat == "UNDELIV"  # derived from the TLV
    assert r.network_error == NetworkError(1, 11)
    assert r.raw == ""
    assert r.is_final and not r.delivered


def test_tlv_variants_tolerated() -> None:
    # bytes id with NUL, message_state as raw byte, repeated tag as list, bad network_error length.
    pdu = FakePdu(tlvs={0x001E: [b"abc\x00", b"def\x00"], 0x0427: b"\x03", 0x0423: b"\x01\x02"})
    r = receipt_from_pdu(pdu)
    assert r is not None
    assert r.message_id == "abc"
    assert r.state is MessageState.EXPIRED
    assert r.network_error is None
    # out-of-range message_state falls back to the text
    r2 = receipt_from_pdu(FakePdu(short_message=b"id:1 stat:DELIVRD", tlvs={0x0427: 99}))
    assert r2 is not None and r2.state is MessageState.DELIVERED


def test_message_payload_fallback() -> None:
    pdu = FakePdu(short_message=b"", tlvs={0x0424: CANONICAL})
    r = receipt_from_pdu(pdu)
    assert r is not None and r.message_id == "1234567890" and r.text == "Hello"


def test_flagged_but_unparseable_raises() -> None:
    with pytest.raises(ReceiptError, match="receipted_message_id"):
        receipt_from_pdu(FakePdu(short_message=b"just some text"))
    with pytest.raises(ReceiptError, match="empty short_message"):
        receipt_from_pdu(FakePdu())


def test_gsm_underscore_and_ucs2() -> None:
    gsm = b"id:5 submit\x11date:2401010101 stat:DELIVRD"
    r = receipt_from_pdu(FakePdu(short_message=gsm, data_coding=0))
    assert r is not None and r.submit_date == D(2024, 1, 1, 1, 1)
    ucs2 = "id:6 stat:DELIVRD text:привет".encode("utf-16-be")
    r2 = receipt_from_pdu(FakePdu(short_message=ucs2, data_coding=8))
    assert r2 is not None and r2.message_id == "6" and r2.text == "привет"


def test_udh_on_receipt_skipped() -> None:
    pdu = FakePdu(short_message=b"\x05\x00\x03\x01\x01\x01" + CANONICAL, esm_class=0x44)
    r = receipt_from_pdu(pdu)
    assert r is not None and r.message_id == "1234567890"


def test_id_mismatch_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="smppfast.receipt")
    r = receipt_from_pdu(FakePdu(short_message=b"id:111 stat:DELIVRD", tlvs={0x001E: "222"}))
    assert r is not None and r.message_id == "222"
    assert "mismatch" in caplog.text


# --- message id matching ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("0A1B2C", "662316", True),  # hex in submit_sm_resp, decimal in the receipt
        ("662316", "0a1b2c", True),
        ("abc", "ABC", True),
        ("000123", "123", True),
        ("0x1F", "31", True),
        ("  42 ", "42", True),
        ("1234567890", "499602D2", True),
        ("4f8a3b2c-1d2e", "4F8A3B2C-1D2E", True),
        ("4f8a3b2c-1d2e", "4f8a3b2c-1d2f", False),
        ("0A1B2C", "662317", False),
        ("xyz", "123", False),
        ("", "", False),
        ("", "0", False),
        ("0", "000", True),
        ("10", "16", True),  # documented ambiguity: "10" hex is 16
    ],
)
def test_message_ids_match(a: str, b: str, expected: bool) -> None:
    assert message_ids_match(a, b) is expected
    assert message_ids_match(b, a) is expected


def test_message_ids_match_without_cross_base() -> None:
    assert not message_ids_match("10", "16", cross_base=False)
    assert not message_ids_match("0A1B2C", "662316", cross_base=False)
    assert message_ids_match("000a1b2c", "0A1B2C", cross_base=False)


def test_message_id_keys_index_lookup() -> None:
    index: dict[str, str] = {}
    for submitted in ("0A1B2C", "msg-77"):
        for key in message_id_keys(submitted):
            index[key] = submitted
    found = {index[k] for k in message_id_keys("662316") if k in index}
    assert found == {"0A1B2C"}
    assert message_id_keys("   ") == frozenset()


def test_huge_id_not_converted() -> None:
    big = "9" * 5000
    assert message_ids_match(big, big)
    assert not message_ids_match(big, "9" * 4999)


@given(st.integers(min_value=0, max_value=2**64))
def test_hex_decimal_property(n: int) -> None:
    assert message_ids_match(format(n, "X"), str(n))
    assert message_ids_match(format(n, "x").zfill(12), str(n))


# --- real codec, when it exists --------------------------------------------------------------


def _codec() -> Any:
    try:
        package = importlib.import_module("smppfast")
        return package.DeliverSm, package.encode, package.decode
    except (ImportError, AttributeError):
        pytest.skip("smppfast.DeliverSm / encode / decode not built yet")


def test_real_deliver_sm_round_trip() -> None:
    DeliverSm, encode, decode = _codec()
    pdu = DeliverSm(
        source_addr="447700900001",
        destination_addr="12345",
        esm_class=0x04,
        short_message=CANONICAL,
        tlvs={0x001E: "499602D2", 0x0427: 2, 0x0423: b"\x03\x00\x00"},
    )
    decoded = decode(encode(pdu))
    r = receipt_from_pdu(decoded)
    assert isinstance(r, DeliveryReceipt)
    assert r.message_id == "499602D2"
    assert r.state is MessageState.DELIVERED
    assert r.network_error == NetworkError(3, 0)
    assert r.done_date == D(2024, 1, 15, 10, 31)


def _deliver_sm_bytes(short_message: bytes, esm_class: int, tlvs: list[tuple[int, bytes]]) -> bytes:
    """A deliver_sm on the wire, laid out by hand so the decode path is tested on its own."""
    body = b"\x00" + b"\x01\x01447700900001\x00" + b"\x01\x0112345\x00"
    body += bytes([esm_class, 0, 0]) + b"\x00\x00" + bytes([0, 0, 0, 0, len(short_message)]) + short_message
    for tag, value in tlvs:
        body += struct.pack(">HH", tag, len(value)) + value
    return struct.pack(">IIII", 16 + len(body), 0x00000005, 0, 7) + body


def test_real_deliver_sm_decoded() -> None:
    _, _, decode = _codec()
    data = _deliver_sm_bytes(
        CANONICAL, 0x04, [(0x001E, b"499602D2\x00"), (0x0427, b"\x02"), (0x0423, b"\x03\x00\x45")]
    )
    pdu = decode(data)
    r = receipt_from_pdu(pdu)
    assert r is not None
    assert r.message_id == "499602D2"
    assert r.state is MessageState.DELIVERED
    assert r.network_error == NetworkError(3, 0x45)
    assert r.text == "Hello"
    assert receipt_from_pdu(decode(_deliver_sm_bytes(b"STOP", 0x00, []))) is None


def test_real_data_sm_vector() -> None:
    _, _, decode = _codec()
    # data_sm receipt from the golden vectors (node-smpp): TLVs only, no text.
    hexpdu = (
        "000000460000010300000000362468f500010134343737303039303030303100010134343737303039303030303200"
        "040000001e00046d2d3100042700010204230003010000"
    )
    r = receipt_from_pdu(decode(bytes.fromhex(hexpdu)))
    assert r is not None
    assert r.message_id == "m-1"
    assert r.state is MessageState.DELIVERED and r.stat == "DELIVRD"
    assert r.network_error == NetworkError(1, 0)


# Ids as SMSCs spell them: hex or decimal, either case, leading zeros, a 0x prefix, padding, and now
# and then something that is neither (dashes, letters past f), or too long to convert.
_id_alphabet = st.sampled_from("0123456789abcdefABCDEF")
_message_ids = st.one_of(
    st.text(_id_alphabet, max_size=8),
    st.builds(lambda zeros, digits: "0" * zeros + digits, st.integers(0, 3), st.text("0123456789", min_size=1, max_size=12)),
    st.builds(lambda n: format(n, "X"), st.integers(0, 2**48)),
    st.builds(str, st.integers(0, 2**48)),
    st.builds(lambda s: "0x" + s, st.text(_id_alphabet, max_size=6)),
    st.builds(lambda s: " " + s + " ", st.text(_id_alphabet, max_size=6)),
    st.text("0123456789abcdefgxyz-", max_size=8),
    st.text("0123456789", min_size=60, max_size=80),
)


@given(_message_ids, _message_ids)
def test_matching_message_ids_is_message_ids_match(a: str, b: str) -> None:
    for cross_base in (True, False):
        expected = message_ids_match(a, b, cross_base=cross_base)
        norm_b = normalize_message_id(b)
        assert (bool(norm_b) and norm_b in matching_message_ids(a, cross_base=cross_base)) is expected


@given(_message_ids)
def test_matching_message_ids_starts_with_the_id_itself(a: str) -> None:
    forms = matching_message_ids(a)
    assert forms == () if not normalize_message_id(a) else forms[0] == normalize_message_id(a)
    assert len(set(forms)) == len(forms)
    assert all(normalize_message_id(f) == f for f in forms)


def test_matching_message_ids_prefers_hex_of_a_decimal_receipt() -> None:
    # "662316" is 0x0a1b2c: an SMSC that answered "0A1B2C" and reports "662316" is the usual mix-up,
    # so that reading comes before "662316" read as hex (0x662316 = 6693654).
    assert normalize_message_id(" 0x000A1B2C ") == "a1b2c"
    assert matching_message_ids("662316") == ("662316", "a1b2c", "6693654")
    assert matching_message_ids("0A1B2C") == ("a1b2c", "662316")
    assert matching_message_ids("msg-77") == ("msg-77",)
    assert matching_message_ids("662316", cross_base=False) == ("662316",)
    assert matching_message_ids("  ") == ()


_spellings = st.sampled_from(
    [lambda n: format(n, "x"), lambda n: format(n, "X"), str, lambda n: "00" + str(n), lambda n: "0x" + format(n, "x")]
)


@given(st.one_of(st.integers(0, 2**64), st.integers(10**60, 2**264)), _spellings, _spellings)
def test_matching_message_ids_for_one_number_spelled_two_ways(n: int, spell_a: Any, spell_b: Any) -> None:
    # One value written in both bases, both sides of the 64-character cap: the ids that match.
    a, b = spell_a(n), spell_b(n)
    for cross_base in (True, False):
        expected = message_ids_match(a, b, cross_base=cross_base)
        assert (normalize_message_id(b) in matching_message_ids(a, cross_base=cross_base)) is expected
