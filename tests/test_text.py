"""Tests for smppfast._text: GSM 03.38 / UCS-2 / Latin-1 codecs, part counting, splitting."""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smppfast._text import (
    Part,
    count_parts,
    decode_text,
    encode_text,
    get_default_alphabet,
    pack_septets,
    set_default_alphabet,
    split_text,
    unpack_septets,
)
from smppfast.errors import SmppError, TextError

VECTORS = [json.loads(line) for line in (Path(__file__).parent / "vectors" / "text.jsonl").read_text("utf-8").splitlines() if line.strip()]
GSM_VECTORS = [v for v in VECTORS if v["gsm7_encodable"]]
NON_GSM_VECTORS = [v for v in VECTORS if not v["gsm7_encodable"]]

SAR_MSG_REF_NUM = 0x020C
SAR_TOTAL_SEGMENTS = 0x020E
SAR_SEGMENT_SEQNUM = 0x020F
MESSAGE_PAYLOAD = 0x0424
UDHI = 0x40

# 3GPP TS 23.038 6.2.1 default alphabet (0x1B ESC left out) and 6.2.1.1 extension table.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXT = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}
GSM_CHARS = GSM_BASIC + "".join(GSM_EXT)

gsm_text = st.text(alphabet=GSM_CHARS, max_size=700)
# Valid Unicode scalar values only: a lone surrogate has no UTF-16 encoding.
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
mixed_text = st.text(alphabet=st.sampled_from(GSM_CHARS + "áçйж中😀👍🏽\u20ac\U0010ffff"), max_size=600)

LIMITS = {  # units per part: (single, 8-bit reference UDH, 16-bit reference UDH / SAR)
    0: (160, 153, 152),
    8: (70, 67, 66),
    3: (140, 134, 133),
    1: (140, 134, 133),
    4: (140, 134, 133),
}

SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _reset_default_alphabet() -> Iterator[None]:
    """Every test starts and ends with data_coding 0 meaning GSM 03.38."""
    set_default_alphabet("gsm0338")
    yield
    set_default_alphabet("gsm0338")


def payload_of(part: Part) -> bytes:
    """short_message without its user data header."""
    sm = part.short_message
    if part.esm_class & UDHI:
        return sm[sm[0] + 1 :]
    return sm


def units(data: bytes, data_coding: int) -> int:
    return len(data) // 2 if data_coding == 8 else len(data)


# --------------------------------------------------------------------------- golden vectors


@pytest.mark.parametrize("v", GSM_VECTORS, ids=[v["id"] for v in GSM_VECTORS])
def test_vector_gsm7(v: dict[str, Any]) -> None:
    text = v["text"]
    septets = bytes.fromhex(v["gsm7_septets_hex"])
    assert encode_text(text, 0) == (0, septets)
    assert len(septets) == v["gsm7_septet_count"]
    assert decode_text(septets, 0) == text
    packed = pack_septets(septets)
    assert packed.hex() == v["gsm7_packed_hex"]
    assert unpack_septets(packed, v["gsm7_septet_count"]) == septets
    assert decode_text(unpack_septets(packed, len(septets)), 0) == text
    assert count_parts(text, 0) == v["gsm7_parts"]
    parts = split_text(text, data_coding=0)
    assert [len(payload_of(p)) for p in parts] == v["gsm7_part_septets"]
    assert b"".join(payload_of(p) for p in parts) == septets


@pytest.mark.parametrize("v", NON_GSM_VECTORS, ids=[v["id"] for v in NON_GSM_VECTORS])
def test_vector_not_gsm7(v: dict[str, Any]) -> None:
    text = v["text"]
    first = min(text.index(c) for c in v["unencodable_chars"])
    with pytest.raises(TextError) as info:
        encode_text(text, 0)
    assert info.value.position == first
    assert info.value.char == text[first]
    with pytest.raises(TextError):
        count_parts(text, 0)
    # Every character is classified as the producers did.
    bad = set()
    for ch in set(text):
        try:
            encode_text(ch, 0)
        except TextError:
            bad.add(ch)
    assert bad == set(v["unencodable_chars"])


@pytest.mark.parametrize("v", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_ucs2_and_choice(v: dict[str, Any]) -> None:
    text = v["text"]
    ucs2 = bytes.fromhex(v["ucs2_hex"])
    assert encode_text(text, 8) == (8, ucs2)
    assert len(ucs2) // 2 == v["ucs2_units"]
    assert decode_text(ucs2, 8) == text
    assert count_parts(text, 8) == v["ucs2_parts"]
    parts = split_text(text, data_coding=8)
    assert [len(payload_of(p)) // 2 for p in parts] == v["ucs2_part_units"]
    assert b"".join(payload_of(p) for p in parts) == ucs2
    # Automatic choice.
    expected = bytes.fromhex(v["gsm7_septets_hex"]) if v["gsm7_encodable"] else ucs2
    assert encode_text(text) == (v["data_coding"], expected)
    assert count_parts(text) == v["parts"]
    assert len(split_text(text)) == v["parts"]
    assert all(p.data_coding == v["data_coding"] for p in split_text(text))


# --------------------------------------------------------------------------- GSM 03.38 details


def test_gsm_tables_complete() -> None:
    assert len(GSM_BASIC) == 127
    for code, ch in enumerate(GSM_BASIC[:0x1B] + "\x1b" + GSM_BASIC[0x1B:]):
        if code == 0x1B:
            continue
        assert encode_text(ch, 0) == (0, bytes([code]))
        assert decode_text(bytes([code]), 0) == ch
    for ch, code in GSM_EXT.items():
        assert encode_text(ch, 0) == (0, bytes([0x1B, code]))
        assert decode_text(bytes([0x1B, code]), 0) == ch


@pytest.mark.parametrize("ch", ["\x1b", "`", "\t", "\xa0", "ç", "\x7f", "á", "\u20ad"])
def test_gsm_unencodable(ch: str) -> None:
    with pytest.raises(TextError) as info:
        encode_text("ab" + ch + "c", 0)
    assert info.value.char == ch
    assert info.value.position == 2
    assert repr(ch) in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, SmppError)


def test_gsm_decode_escape_rules() -> None:
    # 3GPP TS 23.038 6.2.1.1: an undefined extension code shows the default-alphabet character.
    assert decode_text(b"\x1b\x41", 0) == "A"
    assert decode_text(b"\x1b\x00x", 0) == "@x"
    # ESC ESC is reserved for a further extension table: shown as a space.
    assert decode_text(b"a\x1b\x1bb", 0) == "a b"
    # A lone ESC at the end is shown as a space.
    assert decode_text(b"ab\x1b", 0) == "ab "
    assert decode_text(b"", 0) == ""


def test_gsm_decode_rejects_octets_above_0x7f() -> None:
    with pytest.raises(TextError) as info:
        decode_text(b"ab\x80c", 0)
    assert info.value.position == 2
    assert decode_text(b"ab\x80c", 0, errors="replace") == "ab\ufffdc"
    assert decode_text(b"\x1b\xffz", 0, errors="replace") == " \ufffdz"


def test_gsm_decode_wide_and_long() -> None:
    text = "€ΣΩ" * 2000 + "abc"  # beyond the stack buffer, with non-Latin-1 characters
    dc, data = encode_text(text)
    assert dc == 0 and len(data) == 4 * 2000 + 3
    assert decode_text(data, 0) == text
    assert decode_text(bytearray(data), 0) == text
    assert decode_text(memoryview(data), 0) == text


# --------------------------------------------------------------------------- packing


def test_pack_known_values() -> None:
    # The widely published packing of "hellohello" (10 septets -> 9 octets).
    assert pack_septets(encode_text("hellohello", 0)[1]).hex() == "e8329bfd4697d9ec37"
    assert pack_septets(b"") == b""
    assert unpack_septets(b"", 0) == b""


def test_pack_7_septets_zero_and_cr_pad() -> None:
    septets = encode_text("1234567", 0)[1]
    plain = pack_septets(septets)
    assert len(plain) == 7 and plain[-1] >> 1 == 0  # zero fill
    # Without the count, zero fill reads as '@' (the reason for the count and the CR pad).
    assert unpack_septets(plain) == septets + b"\x00"
    assert unpack_septets(plain, 7) == septets
    padded = pack_septets(septets, cr_pad=True)
    assert padded[:-1] == plain[:-1] and padded[-1] >> 1 == 0x0D
    assert unpack_septets(padded) == septets
    assert unpack_septets(padded, 7) == septets


def test_pack_cr_at_octet_boundary_gets_second_cr() -> None:
    septets = encode_text("abcdefg\r", 0)[1]
    assert len(pack_septets(septets)) == 7
    padded = pack_septets(septets, cr_pad=True)
    assert len(padded) == 8  # one more CR plus a zero bit, 23.038 6.1.2.3.1
    assert unpack_septets(padded, 8) == septets
    assert unpack_septets(padded, 9) == septets + b"\r"


def test_pack_errors() -> None:
    with pytest.raises(TextError) as info:
        pack_septets(b"ab\x80")
    assert info.value.position == 2
    with pytest.raises(TextError):
        unpack_septets(b"\x00" * 6, 8)  # 8 septets need 7 octets
    with pytest.raises(TextError):
        unpack_septets(b"\x00", -1)


@SLOW
@given(gsm_text)
def test_gsm_roundtrip_unpacked_and_packed(text: str) -> None:
    dc, septets = encode_text(text, 0)
    assert dc == 0
    assert decode_text(septets, 0) == text
    packed = pack_septets(septets)
    assert len(packed) == (7 * len(septets) + 7) // 8
    assert unpack_septets(packed, len(septets)) == septets
    assert decode_text(unpack_septets(packed, len(septets)), 0) == text
    padded = pack_septets(septets, cr_pad=True)
    assert unpack_septets(padded, len(septets)) == septets
    # Without the count, the CR pad is recognised; only a wanted CR at an octet
    # boundary comes back doubled (23.038 6.1.2.3.1: "performs the CR twice").
    blind = unpack_septets(padded)
    if septets and len(septets) % 8 == 0 and septets[-1] == 0x0D:
        assert blind == septets + b"\r"
    else:
        assert blind == septets
    assert not blind.endswith(b"\x00") or septets.endswith(b"\x00")


# --------------------------------------------------------------------------- other codings


@SLOW
@given(any_text)
def test_any_text_roundtrips_with_automatic_choice(text: str) -> None:
    dc, data = encode_text(text)
    assert dc in (0, 8)
    assert (dc == 0) == (not any(_not_gsm(c) for c in text))
    assert decode_text(data, dc) == text
    if dc == 8:
        assert data == text.encode("utf-16-be")


def _not_gsm(ch: str) -> bool:
    try:
        encode_text(ch, 0)
    except TextError:
        return True
    return False


def test_ucs2_surrogate_pairs_kept() -> None:
    assert encode_text("a😀", 8) == (8, b"\x00a\xd8\x3d\xde\x00")
    assert decode_text(b"\xd8\x3d\xde\x00", 8) == "😀"
    assert encode_text("\U0010ffff", 8)[1] == b"\xdb\xff\xdf\xff"


def test_ucs2_lone_surrogate() -> None:
    with pytest.raises(TextError) as info:
        encode_text("ab\ud800", 8)
    assert (info.value.char, info.value.position) == ("\ud800", 2)
    assert encode_text("ab\ud800", 8, errors="replace") == (8, b"\x00a\x00b\x00?")
    assert encode_text("\udc00", errors="replace") == (8, b"\x00?")
    with pytest.raises(TextError):
        decode_text(b"\x00a\xd8\x00", 8)
    assert decode_text(b"\x00a\xd8\x00", 8, errors="replace") == "a\ufffd"


def test_ucs2_odd_length_rejected() -> None:
    with pytest.raises(TextError):
        decode_text(b"\x00a\x00", 8)
    with pytest.raises(TextError):
        decode_text(b"\x00a\x00", 8, errors="replace")


def test_long_ucs2_text_beyond_stack_buffer() -> None:
    text = "😀ж" * 3000
    assert encode_text(text) == (8, text.encode("utf-16-be"))
    assert encode_text(text, 8) == (8, text.encode("utf-16-be"))


def test_latin1_and_ascii() -> None:
    assert encode_text("café ÿ", 3) == (3, "café ÿ".encode("latin-1"))
    assert decode_text(b"caf\xe9", 3) == "café"
    assert encode_text("plain", 1) == (1, b"plain")
    assert decode_text(b"plain", 1) == "plain"
    with pytest.raises(TextError) as info:
        encode_text("naïve", 1)
    assert (info.value.char, info.value.position) == ("ï", 2)
    with pytest.raises(TextError) as info:
        encode_text("ab€", 3)
    assert (info.value.char, info.value.position) == ("€", 2)
    with pytest.raises(TextError) as info:
        decode_text(b"ab\xe9", 1)
    assert info.value.position == 2
    assert decode_text(b"ab\xe9", 1, errors="replace") == "ab\ufffd"
    long_text = "é" * 5000 + "€"
    with pytest.raises(TextError) as info:
        encode_text(long_text, 3)
    assert info.value.position == 5000
    assert encode_text("é" * 5000 + "x", 3)[1] == ("é" * 5000 + "x").encode("latin-1")


@pytest.mark.parametrize("dc", [2, 4])
def test_binary_codings_refused_for_text(dc: int) -> None:
    with pytest.raises(TextError):
        encode_text("abc", dc)
    with pytest.raises(TextError):
        decode_text(b"abc", dc)
    with pytest.raises(TextError):
        split_text("abc", data_coding=dc)
    with pytest.raises(TextError):
        count_parts("abc", dc)


@pytest.mark.parametrize("dc", [5, 6, 7, 9, 0x20, 0x1C, 0x80, 0xC0, 0xF8, 255])
def test_unknown_codings_refused(dc: int) -> None:
    with pytest.raises(TextError):
        encode_text("abc", dc)
    with pytest.raises(TextError):
        decode_text(b"abc", dc)


def test_gsm_dcs_message_class_codings() -> None:
    # GSM 03.38 data coding schemes that SMSCs pass through unchanged.
    assert decode_text(b"a\x1be", 0xF0) == "a€"
    assert decode_text(b"a\x1be", 0x10) == "a€"
    assert decode_text("ж".encode("utf-16-be"), 0x18) == "ж"
    assert encode_text("ж", 0x18) == (0x18, b"\x04\x36")
    with pytest.raises(TextError):
        decode_text(b"x", 0xF4)
    with pytest.raises(TextError):
        decode_text(b"x", 0x14)
    set_default_alphabet("latin1")  # explicit GSM schemes ignore the data_coding 0 setting
    assert decode_text(b"\x1be", 0xF1) == "€"


def test_replacement() -> None:
    assert encode_text("aжb€", 0, errors="replace") == (0, b"a?b\x1be")
    assert encode_text("aжb", 1, errors="replace") == (1, b"a?b")
    assert encode_text("aжb", 3, errors="replace") == (3, b"a?b")
    assert count_parts("ж" * 161, 0, errors="replace") == 2
    parts = split_text("ж" * 161, data_coding=0, errors="replace", reference=1)
    assert [payload_of(p) for p in parts] == [b"?" * 153, b"?" * 8]
    with pytest.raises(TextError):
        encode_text("a", errors="ignore")  # type: ignore[arg-type]


def test_type_errors() -> None:
    with pytest.raises(TypeError):
        encode_text(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        split_text(123)  # type: ignore[arg-type]
    with pytest.raises(TextError):
        decode_text(b"abc", None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- default alphabet


def test_default_alphabet_setting() -> None:
    assert get_default_alphabet() == "gsm0338"
    assert encode_text("é€", 0) == (0, b"\x05\x1b\x65")
    set_default_alphabet("latin1")
    assert get_default_alphabet() == "latin1"
    assert encode_text("é", 0) == (0, b"\xe9")
    assert decode_text(b"\xe9\x40", 0) == "é@"
    with pytest.raises(TextError) as info:
        encode_text("é€", 0)
    assert info.value.position == 1
    # 8-bit limits now: 140 octets in one part, 134 beside an 8-bit reference UDH.
    assert count_parts("x" * 140, 0) == 1
    assert count_parts("x" * 141, 0) == 2
    assert [len(payload_of(p)) for p in split_text("x" * 141, data_coding=0, reference=9)] == [134, 7]
    # The automatic choice still means GSM 03.38.
    assert encode_text("é€") == (0, b"\x05\x1b\x65")
    # A per-call override wins over the setting.
    assert encode_text("é€", 0, alphabet="gsm0338") == (0, b"\x05\x1b\x65")
    set_default_alphabet("ascii")
    assert decode_text(b"@", 0) == "@"
    with pytest.raises(TextError):
        encode_text("é", 0)
    with pytest.raises(TextError):
        set_default_alphabet("utf8")  # type: ignore[arg-type]
    assert get_default_alphabet() == "ascii"
    with pytest.raises(TextError):
        encode_text("a", 0, alphabet="ebcdic")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- counting and splitting


@pytest.mark.parametrize(
    ("text", "dc", "expected"),
    [
        ("", None, 1),
        ("", 8, 1),
        ("a" * 160, 0, 1),
        ("a" * 161, 0, 2),
        ("a" * 306, 0, 2),
        ("a" * 307, 0, 3),
        ("€" * 80, 0, 1),
        ("€" * 81, 0, 2),
        ("ж" * 70, None, 1),
        ("ж" * 71, None, 2),
        ("ж" * 134, 8, 2),
        ("😀" * 35, None, 1),
        ("😀" * 36, None, 2),
        ("x" * 140, 3, 1),
        ("x" * 141, 3, 2),
        ("x" * 268, 1, 2),
        ("x" * 269, 1, 3),
    ],
)
def test_count_parts_table(text: str, dc: int | None, expected: int) -> None:
    assert count_parts(text, dc) == expected
    assert len(split_text(text, data_coding=dc)) == expected


def test_count_parts_has_no_upper_limit_but_split_has() -> None:
    text = "a" * (153 * 255)
    assert count_parts(text) == 255
    assert len(split_text(text, reference=3)) == 255
    assert count_parts(text + "a") == 256
    with pytest.raises(TextError):
        split_text(text + "a")
    assert count_parts(text + "a", method="payload") == 1


def test_count_parts_follows_method_and_reference() -> None:
    text = "a" * 306
    assert count_parts(text) == 2
    assert count_parts(text, method="sar") == 3
    assert count_parts(text, reference=256) == 3
    assert count_parts(text, reference=255) == 2
    assert len(split_text(text, method="sar")) == 3


@SLOW
@given(
    mixed_text,
    st.sampled_from([None, 0, 8]),
    st.sampled_from(["udh", "sar"]),
    st.sampled_from([None, 7, 255, 256, 65535]),
)
def test_split_joins_back_within_limits(text: str, dc: int | None, method: str, reference: int | None) -> None:
    try:
        _, whole = encode_text(text, dc)
    except TextError:
        assert dc == 0
        with pytest.raises(TextError):
            split_text(text, data_coding=dc, method=method)
        return
    parts = split_text(text, data_coding=dc, method=method, reference=reference)
    used_dc = parts[0].data_coding
    assert count_parts(text, dc, method=method, reference=reference) == len(parts)
    single, narrow, wide = LIMITS[used_dc]
    limit = wide if method == "sar" or (reference is not None and reference > 255) else narrow
    payloads = [payload_of(p) for p in parts]
    assert b"".join(payloads) == whole
    # Each part decodes on its own: no escape or surrogate pair was cut.
    assert "".join(decode_text(p, used_dc) for p in payloads) == text
    if len(parts) == 1:
        assert units(payloads[0], used_dc) <= single
        assert parts[0].esm_class == 0 and parts[0].tlvs == {}
        return
    for i, chunk in enumerate(payloads):
        assert 0 < units(chunk, used_dc) <= limit
        if used_dc == 0:
            assert not _ends_inside_escape(chunk)
        else:
            assert not 0xD8 <= chunk[-2] <= 0xDB  # no high surrogate left at the end
        # Greedy: the next character would not have fitted.
        if i + 1 < len(payloads):
            nxt = payloads[i + 1]
            cost = (2 if nxt[0] == 0x1B else 1) if used_dc == 0 else (2 if 0xD8 <= nxt[0] <= 0xDB else 1)
            assert units(chunk, used_dc) + cost > limit


def _ends_inside_escape(septets: bytes) -> bool:
    i = 0
    while i < len(septets):
        if septets[i] == 0x1B:
            if i + 1 == len(septets):
                return True
            i += 2
        else:
            i += 1
    return False


def test_escape_pair_not_split_at_boundary() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = split_text(text, reference=1)
    assert [payload_of(p) for p in parts] == [b"a" * 152, b"\x1be" + b"b" * 10]


def test_surrogate_pair_not_split_at_boundary() -> None:
    text = "ж" * 66 + "😀" + "я" * 10
    parts = split_text(text, reference=1)
    assert [len(payload_of(p)) // 2 for p in parts] == [66, 12]
    assert decode_text(payload_of(parts[1]), 8) == "😀" + "я" * 10


# --------------------------------------------------------------------------- UDH, SAR, payload


def test_udh_8bit_reference_exact() -> None:
    parts = split_text("a" * 400, reference=0x42)
    assert len(parts) == 3
    for seq, part in enumerate(parts, 1):
        assert part.short_message[:6] == bytes([0x05, 0x00, 0x03, 0x42, 3, seq])
        assert part.esm_class == 0x40
        assert part.data_coding == 0
        assert part.tlvs == {}
    assert [len(p.short_message) for p in parts] == [6 + 153, 6 + 153, 6 + 94]


def test_udh_16bit_reference_exact() -> None:
    parts = split_text("ж" * 140, reference=0x1234)
    assert len(parts) == 3
    for seq, part in enumerate(parts, 1):
        assert part.short_message[:7] == bytes([0x06, 0x08, 0x04, 0x12, 0x34, 3, seq])
        assert part.esm_class == 0x40 and part.data_coding == 8
    assert [len(payload_of(p)) // 2 for p in parts] == [66, 66, 8]


def test_udh_reference_0_and_255_stay_8bit() -> None:
    assert split_text("a" * 200, reference=0)[0].short_message[:4] == b"\x05\x00\x03\x00"
    assert split_text("a" * 200, reference=255)[0].short_message[:4] == b"\x05\x00\x03\xff"
    assert split_text("a" * 200, reference=256)[0].short_message[:5] == b"\x06\x08\x04\x01\x00"


def test_sar_tlvs() -> None:
    parts = split_text("a" * 320, method="sar", reference=0xBEEF)
    assert len(parts) == 3
    for seq, part in enumerate(parts, 1):
        assert part.esm_class == 0
        assert part.tlvs == {SAR_MSG_REF_NUM: 0xBEEF, SAR_TOTAL_SEGMENTS: 3, SAR_SEGMENT_SEQNUM: seq}
    assert [len(p.short_message) for p in parts] == [152, 152, 16]


def test_single_part_has_no_header_or_tlvs() -> None:
    for method in ("udh", "sar"):
        (part,) = split_text("hello", method=method, reference=5)
        assert part == Part(b"hello", 0, 0, {})


def test_payload_method() -> None:
    text = "ж" * 500
    (part,) = split_text(text, method="payload")
    assert part.short_message == b""
    assert part.esm_class == 0 and part.data_coding == 8
    assert part.tlvs == {MESSAGE_PAYLOAD: text.encode("utf-16-be")}
    (short,) = split_text("hi", method="payload")
    assert short.tlvs == {MESSAGE_PAYLOAD: b"hi"}
    with pytest.raises(TextError):
        split_text("ж" * 40000, method="payload")


def test_rolling_references() -> None:
    first = split_text("a" * 200)[0].short_message[3]
    second = split_text("a" * 200)[0].short_message[3]
    assert 1 <= first <= 255 and 1 <= second <= 255
    assert second == first % 255 + 1
    r1 = split_text("a" * 200, method="sar")[0].tlvs[SAR_MSG_REF_NUM]
    r2 = split_text("a" * 200, method="sar")[0].tlvs[SAR_MSG_REF_NUM]
    assert 1 <= r1 <= 65535 and r2 == r1 % 65535 + 1
    # A single part draws no reference.
    split_text("short")
    assert split_text("a" * 200)[0].short_message[3] == second % 255 + 1


def test_references_unique_across_threads() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [split_text("a" * 200, method="sar")[0].tlvs[SAR_MSG_REF_NUM] for _ in range(500)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4000
    assert len(set(seen)) == 4000


@pytest.mark.parametrize("ref", [-1, 65536, 1.5, "7", True])
def test_reference_validated(ref: object) -> None:
    with pytest.raises(TextError):
        split_text("a" * 200, reference=ref)  # type: ignore[arg-type]


def test_bad_method() -> None:
    with pytest.raises(TextError):
        split_text("abc", method="tlv")  # type: ignore[arg-type]


def test_binary_split() -> None:
    data = bytes(range(256)) * 2
    parts = split_text(data, reference=7)
    assert [len(payload_of(p)) for p in parts] == [134, 134, 134, 110]
    assert all(p.data_coding == 4 for p in parts)
    assert b"".join(payload_of(p) for p in parts) == data
    assert count_parts(data) == 4
    assert [len(p.short_message) for p in split_text(data, data_coding=2, method="sar")] == [133, 133, 133, 113]
    assert split_text(b"x" * 140, data_coding=2) == [Part(b"x" * 140, 0, 2, {})]
    with pytest.raises(TextError):
        split_text(b"abc", data_coding=8)


# --------------------------------------------------------------------------- Part


def test_part_value_semantics() -> None:
    a = Part(b"x", 0x40, 8, {SAR_MSG_REF_NUM: 1})
    assert a == Part(b"x", 0x40, 8, {SAR_MSG_REF_NUM: 1})
    assert a != Part(b"x", 0x40, 8, {})
    assert a != Part(b"y", 0x40, 8, {SAR_MSG_REF_NUM: 1})
    assert a != "x"
    assert "esm_class=0x40" in repr(a) and "b'x'" in repr(a)
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(AttributeError):
        a.esm_class = 0  # type: ignore[misc]
    assert Part() == Part(b"", 0, 0, {})
