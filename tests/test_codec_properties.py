"""Hypothesis: random valid PDUs of every class encode and decode back to an equal object.

The strategies are derived from the layout table (``smppfast._layout``), the codec's single
source of truth, so every field of every PDU class gets values across its whole valid range.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smppfast
from smppfast import DistributionList, SmeAddress, UnsuccessSme
from smppfast import _layout as L

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)


def latin1(max_size: int) -> st.SearchStrategy[str]:
    """C-Octet String content: Latin-1 without NUL, up to ``max_size`` characters."""
    return st.text(st.characters(min_codepoint=1, max_codepoint=0xFF), max_size=max_size)


sme_address = st.builds(SmeAddress, u8, u8, latin1(L.DEST_ADDR_MAX - 1))
distribution_list = st.builds(DistributionList, latin1(L.DL_NAME_MAX - 1))
unsuccess_sme = st.builds(UnsuccessSme, u8, u8, latin1(L.DEST_ADDR_MAX - 1), u32)


def field_strategy(kind: int, fmax: int) -> st.SearchStrategy[Any]:
    if kind == L.U8:
        return u8
    if kind == L.CSTR:
        return latin1(fmax - 1)
    if kind == L.SM:
        return st.binary(max_size=fmax)
    if kind == L.DESTS:
        return st.lists(st.one_of(sme_address, distribution_list), max_size=12)
    if kind == L.UNSUCC:
        return st.lists(unsuccess_sme, max_size=12)
    raise AssertionError(f"unknown field kind {kind}")


TLV_VALUE = {
    L.INT1: u8,
    L.INT2: st.integers(0, 0xFFFF),
    L.INT4: u32,
    L.TLV_CSTR: latin1(80),
    L.OCTETS: st.binary(max_size=300),
}


@st.composite
def tlv_dicts(draw: st.DrawFn) -> dict[int, Any]:
    """Known tags with values of their type, vendor tags with bytes; some tags repeated."""
    out: dict[int, Any] = {}
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            tag, ttype = draw(st.sampled_from(sorted(L.TLV_TYPES.items())))
            value = TLV_VALUE[ttype]
            tag = int(tag) if draw(st.booleans()) else smppfast.Tlv(tag)
        else:
            tag = draw(st.integers(0x1400, 0x3FFF))
            value = st.binary(max_size=40)
        if draw(st.integers(0, 5)) == 0:
            out[tag] = draw(st.lists(value, min_size=2, max_size=3))  # a repeated tag
        else:
            out[tag] = draw(value)
    return out


def pdu_strategy(name: str, cid: int, fields: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    cls = getattr(smppfast, name)
    body = {fname: field_strategy(kind, fmax) for fname, kind, fmax in fields}
    # Responses may leave every body field out (error responses then go without a body).
    kwargs = st.fixed_dictionaries({}, optional=body) if cid & 0x80000000 else st.fixed_dictionaries(body)
    return st.builds(
        lambda kw, seq, status, tlvs: cls(sequence_number=seq, command_status=status, tlvs=tlvs, **kw),
        kwargs,
        u32,
        st.one_of(st.just(0), st.sampled_from([0x01, 0x08, 0x45, 0x58, 0xFF, 0x400, 0x4FF]), u32),
        tlv_dicts(),
    )


STRATEGIES = {name: pdu_strategy(name, cid, fields) for name, cid, fields, _ in L.PDUS}

#: Any valid PDU of any class (used by test_decoder.py for streams).
any_pdu = st.one_of(*STRATEGIES.values())


def test_every_class_has_a_strategy() -> None:
    assert {getattr(smppfast, n) for n in STRATEGIES} == set(smppfast.PDU_CLASSES.values())


def _check_round_trip(pdu: Any) -> None:
    data = smppfast.encode(pdu)
    assert int.from_bytes(data[:4], "big") == len(data)
    assert int.from_bytes(data[4:8], "big") == pdu.command_id
    again = smppfast.decode(data)
    assert type(again) is type(pdu)
    assert again == pdu
    assert again.sequence_number == pdu.sequence_number
    assert again.command_status == pdu.command_status
    for name in pdu.fields:
        assert getattr(again, name) == getattr(pdu, name), name
    assert again.tlvs == pdu.tlvs
    assert smppfast.encode(again) == data


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(name: str, data: st.DataObject) -> None:
    _check_round_trip(data.draw(STRATEGIES[name]))


@settings(max_examples=300, deadline=None)
@given(pdu=any_pdu)
def test_decoded_bytes_reencode_identically(pdu: Any) -> None:
    # encode(decode(b)) == b, starting from bytes
    data = smppfast.encode(pdu)
    assert smppfast.encode(smppfast.decode(data)) == data
    assert smppfast.decode(bytearray(data)) == smppfast.decode(memoryview(data))


@settings(max_examples=200, deadline=None)
@given(pdu=any_pdu)
def test_as_dict_and_copies_agree(pdu: Any) -> None:
    import copy
    import pickle

    fields = pdu.as_dict()
    for name in pdu.fields:
        assert fields[name] == getattr(pdu, name)
    assert pickle.loads(pickle.dumps(pdu)) == pdu
    assert smppfast.encode(copy.copy(pdu)) == smppfast.encode(pdu)
