"""National language tables of 3GPP TS 23.038 (section 6.2.1.2.4, annex A): the tables themselves,
the choice of the cheapest encoding, the UDH information elements 0x24/0x25 (TS 23.040
9.2.3.24.15-16), part boundaries, inbound decoding, and a cross-check against gsmcodecs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import gsmcodecs.charmaps
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smppfast
from smppfast import (
    NATIONAL_LANGUAGES,
    Client,
    DeliverSm,
    Reassembler,
    TextError,
    TextInfo,
    count_parts,
    decode_text,
    describe_text,
    encode_text,
    split_text,
)
from smppfast.reassembly import parse_udh, shift_tables
from smppfast.simulator import Simulator

from .helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
ESC = 0x1B
IDS = range(1, 14)
NAMES = {lang: name for name, lang in NATIONAL_LANGUAGES.items()}


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_national_tables", ROOT / "tools" / "gen_national_tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()
# The transcription of the standard, as the generator reads it: 0 marks an empty cell (and 0x1B).
LOCKING, SINGLE = GEN.parse((ROOT / "tools" / "ts23038_tables.txt").read_text(encoding="utf-8"))


def chars(table: Optional[list[int]]) -> dict[int, int]:
    """code -> code point of the cells that hold a character."""
    return {code: cp for code, cp in enumerate(table or []) if cp}


def decode_with_ies(part_bytes: bytes, data_coding: int = 0) -> str:
    elements, rest = parse_udh(part_bytes)
    lock, single = shift_tables(tuple(elements))
    return decode_text(rest, data_coding, locking_shift=lock, single_shift=single)


def join(parts: list[smppfast.Part]) -> str:
    return "".join(decode_with_ies(p.short_message, p.data_coding) if p.esm_class & 0x40
                   else decode_text(p.short_message, p.data_coding) for p in parts)


# -- the tables --------------------------------------------------------------------------


def test_generated_header_is_up_to_date_with_the_transcription() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_national_tables.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def test_transcription_has_every_table_of_annex_a() -> None:
    # 13 single shift tables; 12 locking shift tables, A.3.2 (Spanish) being void in 23.038.
    assert all(chars(SINGLE[lang]) for lang in IDS)
    assert [lang for lang in IDS if LOCKING[lang] is None] == [2]
    # The default tables (id 0) are the ones the plain GSM codec has always used.
    for code, cp in chars(LOCKING[0]).items():
        assert decode_text(bytes([code]), 0) == chr(cp)
    for code, cp in chars(SINGLE[0]).items():
        assert decode_text(bytes([ESC, code]), 0) == chr(cp)


@pytest.mark.parametrize("lang", [0, *IDS])
def test_every_septet_decodes_as_the_transcription_says(lang: int) -> None:
    lock = LOCKING[lang]
    if lock is not None:
        for code in range(128):
            if code == ESC:
                continue
            if lock[code]:
                assert decode_text(bytes([code]), 0, locking_shift=lang) == chr(lock[code]), hex(code)
            else:
                with pytest.raises(TextError, match=f"0x{code:02X}"):
                    decode_text(bytes([code]), 0, locking_shift=lang)
    base = 0  # an undefined single shift code shows the locking table's character (23.038 6.2.1.1)
    for code in range(128):
        if code == ESC:
            assert decode_text(bytes([ESC, ESC]), 0, single_shift=lang) == " "
            continue
        expected = SINGLE[lang][code] or LOCKING[base][code]
        assert decode_text(bytes([ESC, code]), 0, single_shift=lang) == chr(expected), hex(code)


@pytest.mark.parametrize("lang", [0, *IDS])
def test_every_character_of_every_table_round_trips(lang: int) -> None:
    """Each character alone, and all of a table at once, encoded by split_text (which picks the
    tables and writes their IEs) and decoded back through those IEs."""
    for kind, table in (("locking", LOCKING[lang]), ("single", SINGLE[lang])):
        table_chars = [chr(cp) for cp in chars(table).values()]
        for ch in table_chars:
            parts = split_text(ch, languages=[lang] if lang else (), data_coding=0)
            assert join(parts) == ch, (kind, lang, ch)
        whole = "".join(table_chars)
        parts = split_text(whole, languages=[lang] if lang else (), data_coding=0)
        assert join(parts) == whole, (kind, lang)
    # All characters of the language's two tables together are still GSM text, not UCS-2.
    both = "".join(sorted({chr(cp) for t in (LOCKING[lang], SINGLE[lang]) for cp in chars(t).values()}))
    parts = split_text(both, languages=[lang] if lang else ())
    assert {p.data_coding for p in parts} == {0}
    assert join(parts) == both


# -- cross-check against gsmcodecs -------------------------------------------------------

GSMC = gsmcodecs.charmaps.GSMCHARMAPS

# Where gsmcodecs (a transcription of 23.038 Release 18) differs from ours, and what the standard
# prints. The Indic and Urdu locking tables keep the default alphabet's punctuation at 0x20-0x3F
# (space ! ) ( , . digits : ; ?): 0x2C is ',' as at 0x2C of the default alphabet (an apostrophe
# there would leave these languages without a comma; the apostrophe is at 0x09 of their single
# shift tables). Telugu's single shift table has the euro sign at 0x65 like the 12 others.
# Both cells read so in the transcriptions of Release 9 (Android's tables) and Release 16.
KNOWN_DIFFERENCES = {
    **{("locking", lang, 0x2C): (0x002C, 0x0027) for lang in range(4, 14)},
    ("single", 12, 0x65): (0x20AC, None),
}


def test_tables_match_gsmcodecs_except_where_the_standard_decides() -> None:
    differences = {}
    for lang in [0, *IDS]:
        for kind, ours_table, key in (("locking", LOCKING[lang], "locking"), ("single", SINGLE[lang], "singleShift")):
            theirs_map = GSMC.get(lang, {}).get(key, {}).get("decode")
            if ours_table is None:
                assert theirs_map is None, (kind, lang)  # neither has a Spanish locking table
                continue
            assert theirs_map is not None, (kind, lang)
            for code in range(128):
                if code == ESC:
                    # gsmcodecs shows the escape position as a space, which is what ESC ESC and a
                    # lone ESC decode to (23.038 6.2.1.1, note 1).
                    assert theirs_map.get(code) in (None, 0x20)
                    continue
                ours = ours_table[code] or None
                theirs = theirs_map.get(code)
                if ours != theirs:
                    differences[(kind, lang, code)] = (ours, theirs)
    assert differences == KNOWN_DIFFERENCES


def test_the_standard_decides_at_the_differences() -> None:
    for (kind, lang, code), (standard, _gsmcodecs) in KNOWN_DIFFERENCES.items():
        data = bytes([code]) if kind == "locking" else bytes([ESC, code])
        tables = {"locking_shift": lang} if kind == "locking" else {"single_shift": lang}
        assert decode_text(data, 0, **tables) == chr(standard)
    # And the comma is encodable in Hindi locking shift text: one septet, not UCS-2.
    info = describe_text("नमस्ते, दुनिया", languages=["hi"])
    assert (info.data_coding, info.locking_shift, info.units) == (0, 6, 14)


def test_kannada_0x24_reads_as_the_standard_prints_it_and_is_never_written() -> None:
    # 23.038 prints U+0CAA at 0x24 of the Kannada locking table as well as at 0x3D; Android reads
    # 0x24 as U+0CA1. We decode what the standard says and encode U+0CAA at 0x3D only.
    assert decode_text(b"\x24\x3d", 0, locking_shift=7) == "\u0caa\u0caa"
    (part,) = split_text("\u0caa" * 100, languages=["kn"])
    assert part.short_message[4:] == b"\x3d" * 100
    # U+0CA1 is then in no Kannada table: such text goes as UCS-2.
    assert describe_text("\u0ca1", languages=["kn"]).data_coding == 8


# -- choosing the cheapest encoding ------------------------------------------------------

DEFAULT_CHARS = {chr(cp) for t in (LOCKING[0], SINGLE[0]) for cp in chars(t).values()}


def single_shift_sample(lang: int) -> str:
    """A text that only the language's single shift table makes GSM: default characters and one
    of the table's own."""
    own = next(chr(cp) for cp in chars(SINGLE[lang]).values() if chr(cp) not in DEFAULT_CHARS)
    return "Hello " + own


def locking_sample(lang: int) -> str:
    """A text cheaper under the language's locking table: many characters not in the default alphabet."""
    own = [chr(cp) for code, cp in chars(LOCKING[lang]).items() if chr(cp) not in DEFAULT_CHARS and code != 0x24]
    return ("".join(own) * 30)[:150]


@pytest.mark.parametrize("lang", IDS)
def test_text_that_fits_the_single_shift_table_uses_it(lang: int) -> None:
    text = single_shift_sample(lang)
    info = describe_text(text, languages=[NAMES[lang]])
    assert (info.data_coding, info.locking_shift, info.single_shift, info.parts) == (0, 0, lang, 1)
    (part,) = split_text(text, languages=[NAMES[lang]])
    assert part.short_message[:4] == bytes([3, 0x24, 1, lang])
    assert join([part]) == text
    # Without the language it is UCS-2.
    assert describe_text(text).data_coding == 8


@pytest.mark.parametrize("lang", IDS)
def test_text_that_needs_the_locking_table_uses_it(lang: int) -> None:
    if LOCKING[lang] is None:
        # Spanish has no locking table (23.038 A.3.2 is void): never chosen, and a text beyond
        # the single shift table goes as UCS-2.
        text = "ú" * 80
        assert describe_text(text, languages=["es"]) == TextInfo(0, 0, 2, 2, 160)
        assert describe_text(text + "ğ", languages=["es"]).data_coding == 8
        return
    text = locking_sample(lang)
    info = describe_text(text, languages=[lang])
    assert (info.data_coding, info.locking_shift) == (0, lang)
    parts = split_text(text, languages=[lang])
    assert len(parts) == info.parts == count_parts(text, languages=[lang])
    for part in parts:
        elements, _ = parse_udh(part.short_message)
        assert (0x25, bytes([lang])) in elements
    assert join(parts) == text
    assert info.parts < describe_text(text).parts  # what UCS-2 would cost


@pytest.mark.parametrize("lang", IDS)
def test_text_with_a_character_in_no_table_goes_as_ucs2_anyway(lang: int) -> None:
    text = single_shift_sample(lang) + "中"
    info = describe_text(text, languages=[lang])
    assert (info.data_coding, info.locking_shift, info.single_shift) == (8, 0, 0)
    (part,) = split_text(text, languages=[lang])
    assert (part.esm_class, part.data_coding) == (0, 8)
    assert part.short_message == text.encode("utf-16-be")


def test_ties_go_to_the_simpler_table() -> None:
    # One part either way: the single shift table (1 IE) beats the locking one, which beats UCS-2.
    assert describe_text("Merhaba ğ", languages=["tr"]) == TextInfo(0, 0, 1, 1, 10)
    # Plain GSM text stays plain: no IE, not even with every language enabled.
    everything = list(NATIONAL_LANGUAGES)
    assert describe_text("Hello {world}", languages=everything) == TextInfo(0, 0, 0, 1, 15)
    assert split_text("Hello", languages=everything)[0].esm_class == 0
    # Fewest parts first: 160 'ğ' need 2 parts with the single shift (320 septets... 3 parts) but
    # 2 with the locking table (160 septets > 155).
    assert describe_text("ğ" * 160, languages=["tr"]) == TextInfo(0, 1, 0, 2, 160)
    # A locking table can beat even plain GSM: '^' is one septet in Portuguese, two by default.
    assert describe_text("^" * 160) == TextInfo(0, 0, 0, 3, 320)
    assert describe_text("^" * 160, languages=["pt"]) == TextInfo(0, 3, 0, 2, 160)


def test_languages_accept_names_codes_and_ids_and_reject_others() -> None:
    text = "ğ" * 100
    expected = describe_text(text, languages=["turkish"])
    for spelling in (["tr"], [1], ("Turkish",), "tr", "tr, es", ["1"]):
        assert describe_text(text, languages=spelling) == expected
    with pytest.raises(TextError, match="unknown national language 'klingon'.*1 turkish \\(tr\\)"):
        count_parts("x", languages=["klingon"])
    with pytest.raises(TextError, match="unknown national language 14"):
        split_text("x", languages=[14])
    with pytest.raises(TextError, match="unknown national language True"):
        encode_text("x", languages=[True])


def test_encode_text_with_languages_gives_the_septets_without_udh() -> None:
    assert encode_text("Merhaba ğ", languages=["tr"]) == (0, b"Merhaba \x1bg")
    # An explicit GSM data_coding chooses among the GSM tables only, and says so when none fits.
    assert encode_text("ğ" * 200, 0, languages=["tr"]) == (0, b"\x0c" * 200)
    with pytest.raises(TextError, match="'中' \\(U\\+4E2D\\) at position 1 .* tables of turkish"):
        encode_text("ğ中", 0, languages=["tr"])
    with pytest.raises(TextError, match="no one locking shift and single shift table pair of hindi, bengali"):
        encode_text("\u0966\u09e6", 0, languages=["hi", "bn"])  # a Hindi and a Bengali digit
    assert encode_text("ğ中", 0, languages=["tr"], errors="replace") == (0, b"??")
    # UCS-2 asked for: no table.
    assert encode_text("ğ", 8, languages=["tr"]) == (8, "ğ".encode("utf-16-be"))


# -- part boundaries and UDH octets ------------------------------------------------------


def test_part_limits_shrink_by_the_shift_ies() -> None:
    # One shift IE: 155 septets alone. ş is in the Turkish locking table (one septet), so that
    # table wins over the single shift one (two).
    assert describe_text("a" * 154 + "ş", languages=["tr"]) == TextInfo(0, 1, 0, 1, 155)
    # Two parts either way: the single shift table is the simpler.
    assert describe_text("a" * 155 + "ş", languages=["tr"]) == TextInfo(0, 0, 1, 2, 157)
    # Spanish has only a single shift table: an escape pair per character.
    assert describe_text("a" * 153 + "ú", languages=["es"]) == TextInfo(0, 0, 2, 1, 155)
    assert describe_text("a" * 154 + "ú", languages=["es"]) == TextInfo(0, 0, 2, 2, 156)
    # Both IEs: 152 alone, 146 per part.
    both = "ĞÁ"  # Ğ in the Turkish locking table, Á only in the Spanish single shift table
    assert describe_text("a" * 148 + both, languages=["tr", "es"]) == TextInfo(0, 1, 2, 1, 151)
    assert describe_text("a" * 149 + both, languages=["tr", "es"]) == TextInfo(0, 1, 2, 1, 152)
    info = describe_text("a" * 150 + both, languages=["tr", "es"])
    assert (info.locking_shift, info.single_shift, info.parts) == (1, 2, 2)
    parts = split_text("a" * 150 + both, languages=["tr", "es"])
    assert [len(p.short_message) - 12 for p in parts] == [146, 7]


def test_an_escape_pair_never_straddles_two_parts() -> None:
    # Spanish: parts of 149 septets beside an 8-bit reference and the single shift IE.
    for lead in (146, 147, 148):
        text = "a" * lead + "ú" + "b" * 20
        parts = split_text(text, languages=["es"], reference=7)
        bodies = [p.short_message[9:] for p in parts]
        assert all(len(b) <= 149 for b in bodies)
        assert all(not b.endswith(b"\x1b") for b in bodies)
        assert join(parts) == text
        assert count_parts(text, languages=["es"], reference=7) == len(parts)
    # 148 + 2 does not fit 149: the pair moves whole to the second part.
    parts = split_text("a" * 148 + "ú" + "b" * 20, languages=["es"], reference=7)
    assert [len(p.short_message) - 9 for p in parts] == [148, 22]
    assert parts[1].short_message[9:11] == b"\x1bu"  # ú: 0x75 of the Spanish single shift table


def test_udh_octets_follow_the_ie_layout() -> None:
    # One part, single shift: UDHL 3, IEI 0x24, length 1, language.
    (p,) = split_text("Merhaba ğ", languages=["tr"])
    assert (p.esm_class, p.data_coding) == (0x40, 0)
    assert p.short_message[:4] == bytes([0x03, 0x24, 0x01, 0x01])
    # One part, both: 0x24 then 0x25.
    (p,) = split_text("ĞÁ", languages=["tr", "es"])
    assert p.short_message[:7] == bytes([0x06, 0x24, 0x01, 0x02, 0x25, 0x01, 0x01])
    # Several parts, 8-bit reference: the concatenation IE first, then the shift IEs.
    parts = split_text("a" * 150 + "ĞÁ", languages=["tr", "es"], reference=0x42)
    for seq, p in enumerate(parts, 1):
        assert p.short_message[:12] == bytes([0x0B, 0x00, 0x03, 0x42, 2, seq, 0x24, 0x01, 0x02, 0x25, 0x01, 0x01])
    # 16-bit reference: IEI 0x08; a locking table only.
    parts = split_text("ğ" * 296, languages=["tr"], reference=0x1234)
    assert [p.short_message[:10] for p in parts] == [
        bytes([0x09, 0x08, 0x04, 0x12, 0x34, 2, seq, 0x25, 0x01, 0x01]) for seq in (1, 2)
    ]
    assert [len(p.short_message) - 10 for p in parts] == [148, 148]  # 16-bit reference + 0x25: 148 septets
    # SAR: the SMSC adds the concatenation; the parts carry the shift IE and the TLVs.
    parts = split_text("ğ" * 300, languages=["tr"], method="sar", reference=9)
    assert all(p.short_message[:4] == bytes([3, 0x25, 1, 1]) and p.esm_class == 0x40 for p in parts)
    assert [p.tlvs[0x020F] for p in parts] == [1, 2, 3]  # 148 septets each beside the SMSC's 16-bit reference
    # Payload: one PDU, the UDH at the start of message_payload.
    (p,) = split_text("ğ" * 300, languages=["tr"], method="payload")
    assert p.esm_class == 0x40 and p.short_message == b""
    assert p.tlvs[0x0424] == bytes([3, 0x25, 1, 1]) + b"\x0c" * 300
    assert describe_text("ğ" * 300, languages=["tr"], method="payload").parts == 1


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from("aşğıİüçÇ{}€ÁúñÑé中 \n"), max_size=700),
       st.sampled_from([["tr"], ["es"], ["pt"], ["tr", "es", "pt"], []]),
       st.sampled_from(["udh", "sar"]), st.sampled_from([None, 7, 300]))
def test_count_describe_and_split_agree(text: str, languages: list[str], method: str, reference: Optional[int]) -> None:
    kw: dict[str, Any] = dict(languages=languages, method=method, reference=reference)
    info = describe_text(text, **kw)
    assert count_parts(text, **kw) == info.parts
    if info.parts <= 255:
        parts = split_text(text, **kw)
        assert len(parts) == info.parts
        assert join(parts) == text
        assert all(p.data_coding == info.data_coding for p in parts)


# -- inbound ---------------------------------------------------------------------------


def test_unknown_language_ids_raise_naming_them() -> None:
    with pytest.raises(TextError, match="unknown national language id 14"):
        decode_text(b"a", 0, locking_shift=14)
    with pytest.raises(TextError, match="id 2 \\(spanish\\) has no locking shift table"):
        decode_text(b"a", 0, locking_shift=2)
    with pytest.raises(TextError, match="unknown national language id 200"):
        decode_text(b"a", 0, single_shift=200)
    # An inbound message naming an unknown table: the message arrives, its text says why it cannot be read.
    udh = bytes([3, 0x25, 1, 14])
    pdu = DeliverSm(source_addr="555", esm_class=0x40, data_coding=0, short_message=udh + b"abc")
    message = Reassembler().feed(pdu, 0.0)
    assert message is not None and message.shift_tables == (14, 0)
    with pytest.raises(TextError, match="unknown national language id 14"):
        message.text


def test_shift_ies_apply_to_gsm_text_only() -> None:
    assert decode_text("ğ".encode("utf-16-be"), 8, locking_shift=1) == "ğ"


def test_reassembly_decodes_a_multipart_turkish_message() -> None:
    text = "Türkçe çok güzel bir dil; İstanbul'da ğ ve ş harfleri çoktur. " * 5
    parts = split_text(text, languages=["tr"], reference=77)
    assert len(parts) >= 2
    r = Reassembler()
    got = [r.feed(DeliverSm(source_addr="555", destination_addr="100", esm_class=p.esm_class,
                            data_coding=p.data_coding, short_message=p.short_message), 0.0) for p in parts]
    message = got[-1]
    assert message is not None and all(g is None for g in got[:-1])
    assert message.text == text
    assert message.shift_tables == (describe_text(text, languages=["tr"]).locking_shift,
                                    describe_text(text, languages=["tr"]).single_shift)


def test_inbound_multipart_turkish_through_the_simulator_and_on_message() -> None:
    text = "Ağaçların gölgesinde şarkı söyleyen çocuklar, ılık rüzgarda İzmir'e doğru yürüdü. " * 4
    info = describe_text(text, languages=["tr"])
    assert info.data_coding == 0 and (info.locking_shift, info.single_shift) != (0, 0)
    got: list[Any] = []
    with Simulator() as sim:
        with Client("127.0.0.1", sim.port, system_id="test", password="secret", response_timeout=5.0,
                    enquire_link_interval=None, bind_timeout=3.0, close_timeout=5.0, unbind_timeout=1.0,
                    on_message=got.append) as client:
            assert client.bound
            n = sim.send_mo("555", "100", text, languages=["tr"])
            assert n >= 2
            assert wait_until(lambda: len(got) == 1)
    (message,) = got
    assert message.total == n and message.method == "udh8"
    assert message.shift_tables == (info.locking_shift, info.single_shift)
    assert message.text == text


def test_send_message_uses_the_client_default_and_the_call_overrides_it() -> None:
    text = "ğ" * 200
    with Simulator() as sim:
        with Client("127.0.0.1", sim.port, system_id="test", password="secret", response_timeout=5.0,
                    enquire_link_interval=None, bind_timeout=3.0, close_timeout=5.0, unbind_timeout=1.0,
                    languages="tr") as client:
            assert client.languages == (1,)
            client.send_message("4479", text).result(5)
            client.send_message("4479", text, languages=()).result(5)
        submits = [p for p in sim.received if type(p).__name__ == "SubmitSm"]
    with_table, without = submits[:2], submits[2:]
    assert [p.data_coding for p in with_table] == [0, 0]
    assert all(p.short_message[:9].endswith(bytes([0x25, 1, 1])) for p in with_table)
    assert {p.data_coding for p in without} == {8} and len(without) == 3


def test_client_rejects_an_unknown_language_when_constructed() -> None:
    with pytest.raises(ValueError, match="languages: unknown national language 'xx'"):
        Client("127.0.0.1", 1, system_id="a", password="b", languages=["xx"])
    with pytest.raises(ValueError, match="languages: unknown national language 'xx'"):
        smppfast.AsyncClient("127.0.0.1", 1, system_id="a", password="b", languages="tr,xx")


def test_a_pool_passes_languages_to_its_members() -> None:
    with Simulator() as sim:
        with smppfast.Pool([("127.0.0.1", sim.port)], binds=2, system_id="test", password="secret",
                           response_timeout=5.0, enquire_link_interval=None, bind_timeout=3.0, close_timeout=5.0,
                           unbind_timeout=1.0, languages=("tr",)) as pool:
            pool.send_message("4479", "ğ" * 100).result(5)          # the members' default
            pool.send_message("4479", "ğ" * 100, languages=()).result(5)  # overridden per call
        submits = [p for p in sim.received if type(p).__name__ == "SubmitSm"]
    assert [(p.data_coding, p.short_message[:4]) for p in submits[:1]] == [(0, bytes([3, 0x25, 1, 1]))]
    assert [p.data_coding for p in submits[1:]] == [8, 8]
