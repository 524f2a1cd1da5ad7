"""Unit behaviour of every public promise of the codec (DESIGN.md, "Public contract", Codec).

Where a check applies to every PDU or every field, the cases come from the layout table
(``smppfast._layout.PDUS``), so a field added there is tested here without a new line.
"""

from __future__ import annotations

import copy
import pickle
import struct
from typing import Any

import pytest

import smppfast
from smppfast import (
    DistributionList,
    PduError,
    SmeAddress,
    Status,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    UnsuccessSme,
)
from smppfast import _layout as L

CONTRACT_CLASSES = (
    "BindTransmitter BindTransmitterResp BindReceiver BindReceiverResp BindTransceiver BindTransceiverResp "
    "Outbind Unbind UnbindResp GenericNack SubmitSm SubmitSmResp SubmitMulti SubmitMultiResp DeliverSm "
    "DeliverSmResp DataSm DataSmResp QuerySm QuerySmResp CancelSm CancelSmResp ReplaceSm ReplaceSmResp "
    "EnquireLink EnquireLinkResp AlertNotification"
).split()

LAYOUTS = {name: (cid, fields) for name, cid, fields, _ in L.PDUS}
CLASSES = [getattr(smppfast, name) for name in CONTRACT_CLASSES]
DERIVED = {L.SM: "sm_length", L.DESTS: "number_of_dests", L.UNSUCC: "no_unsuccess"}
CSTR_FIELDS = [
    (name, fname, fmax) for name, _, fields, _ in L.PDUS for fname, kind, fmax in fields if kind == L.CSTR
]
U8_FIELDS = [(name, fname) for name, _, fields, _ in L.PDUS for fname, kind, _ in fields if kind == L.U8]
PASSWORD_CLASSES = ["BindTransmitter", "BindReceiver", "BindTransceiver", "Outbind"]
# Written out from SMPP 3.4 section 4, not derived from the layout table, so the table is checked.
REQUESTS_WITH_RESPONSE = (
    "BindTransmitter BindReceiver BindTransceiver Unbind SubmitSm SubmitMulti DeliverSm DataSm QuerySm "
    "CancelSm ReplaceSm EnquireLink"
).split()


def sample_value(kind: int, fmax: int, i: int = 0) -> Any:
    """A non-default value of the given field kind."""
    if kind == L.U8:
        return (0x11 * (i + 1)) & 0xFF or 1
    if kind == L.CSTR:
        return ("v%d" % i + "xyz" * 30)[: fmax - 1]
    if kind == L.SM:
        return bytes(range(1, 40))
    if kind == L.DESTS:
        return [SmeAddress(1, 1, "447700900123"), DistributionList("friends")]
    return [UnsuccessSme(1, 1, "447700900123", 0x45)]


def sample_fields(name: str) -> dict[str, Any]:
    return {f: sample_value(k, m, i) for i, (f, k, m) in enumerate(LAYOUTS[name][1])}


def sample_pdu(name: str, **extra: Any) -> Any:
    return getattr(smppfast, name)(sequence_number=0x1234, **sample_fields(name), **extra)


# ---------------------------------------------------------------------------
# The classes


def test_exactly_the_contract_classes_match_the_layout_table() -> None:
    assert sorted(LAYOUTS) == sorted(CONTRACT_CLASSES)
    assert len(CONTRACT_CLASSES) == 27
    assert set(smppfast.PDU_CLASSES.values()) == set(CLASSES)
    for cls in CLASSES:
        assert issubclass(cls, smppfast.Pdu)
        assert smppfast.PDU_CLASSES[cls.command_id] is cls
        assert cls.command_id == LAYOUTS[cls.__name__][0]
        assert cls.fields == tuple(f for f, _, _ in LAYOUTS[cls.__name__][1])
        assert cls.__module__ == "smppfast"


def test_pdu_base_is_abstract() -> None:
    with pytest.raises(TypeError):
        smppfast.Pdu()


@pytest.mark.parametrize("cls", CLASSES, ids=CONTRACT_CLASSES)
def test_defaults(cls: Any) -> None:
    pdu = cls()
    assert pdu.sequence_number == 0
    assert pdu.command_status == 0 and pdu.command_status is Status.ESME_ROK
    assert pdu.tlvs == {}
    assert pdu.command_id == cls.command_id
    assert pdu.command == smppfast.Command(cls.command_id)
    assert pdu.is_response == bool(cls.command_id & 0x80000000)
    for fname, kind, _ in LAYOUTS[cls.__name__][1]:
        value = getattr(pdu, fname)
        expected = {L.U8: 0, L.CSTR: "", L.SM: b"", L.DESTS: [], L.UNSUCC: []}[kind]
        assert value == expected and type(value) is type(expected), fname
        if kind in DERIVED:
            assert getattr(pdu, DERIVED[kind]) == 0
    # a default PDU is a valid PDU
    assert smppfast.decode(smppfast.encode(pdu)) == pdu


@pytest.mark.parametrize("cls", CLASSES, ids=CONTRACT_CLASSES)
def test_kwargs_construction(cls: Any) -> None:
    values = sample_fields(cls.__name__)
    pdu = cls(sequence_number=77, command_status=0, tlvs={Tlv.USER_MESSAGE_REFERENCE: 3}, **values)
    for fname, value in values.items():
        assert getattr(pdu, fname) == value, fname
    assert pdu.sequence_number == 77
    assert pdu.tlvs == {Tlv.USER_MESSAGE_REFERENCE: 3}
    assert smppfast.decode(smppfast.encode(pdu)) == pdu


@pytest.mark.parametrize("cls", CLASSES, ids=CONTRACT_CLASSES)
def test_unknown_keyword_is_a_type_error(cls: Any) -> None:
    with pytest.raises(TypeError, match="no_such_field"):
        cls(no_such_field=1)
    with pytest.raises(TypeError):
        cls(1)  # keyword arguments only


def test_misspelt_field_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="dest_addr"):
        SubmitSm(dest_addr="123")  # the SMPP name is destination_addr


# ---------------------------------------------------------------------------
# Derived lengths


def test_derived_lengths_are_readable() -> None:
    pdu = SubmitSm(short_message=b"hello")
    assert pdu.sm_length == 5
    pdu.short_message = b"x" * 200
    assert pdu.sm_length == 200
    multi = SubmitMulti(dest_address=[SmeAddress(1, 1, "1"), DistributionList("d"), SmeAddress(0, 0, "2")])
    assert multi.number_of_dests == 3 and multi.sm_length == 0
    resp = SubmitMultiResp(unsuccess_sme=[UnsuccessSme(1, 1, "1", 8)])
    assert resp.no_unsuccess == 1
    assert SubmitSm().as_dict()["sm_length"] == 0
    assert multi.as_dict()["number_of_dests"] == 3
    assert resp.as_dict()["no_unsuccess"] == 1


@pytest.mark.parametrize(
    ("cls", "name"),
    [(SubmitSm, "sm_length"), (smppfast.DeliverSm, "sm_length"), (smppfast.ReplaceSm, "sm_length"),
     (SubmitMulti, "sm_length"), (SubmitMulti, "number_of_dests"), (SubmitMultiResp, "no_unsuccess")],
)
def test_derived_lengths_cannot_be_set(cls: Any, name: str) -> None:
    with pytest.raises(TypeError):
        cls(**{name: 3})
    pdu = cls()
    with pytest.raises(AttributeError):
        setattr(pdu, name, 3)
    assert getattr(pdu, name) == 0


def test_derived_length_follows_the_wire() -> None:
    data = smppfast.encode(SubmitSm(short_message=b"abc"))
    assert data[-4] == 3 and data[-3:] == b"abc"
    assert smppfast.decode(data).sm_length == 3


# ---------------------------------------------------------------------------
# Attribute set/get and range checks


@pytest.mark.parametrize(("cls_name", "field"), U8_FIELDS, ids=[f"{c}.{f}" for c, f in U8_FIELDS])
def test_u8_fields_take_0_to_255(cls_name: str, field: str) -> None:
    cls = getattr(smppfast, cls_name)
    pdu = cls()
    for value in (0, 1, 0x7F, 0xFF):
        setattr(pdu, field, value)
        assert getattr(pdu, field) == value
        assert getattr(smppfast.decode(smppfast.encode(pdu)), field) == value
    for bad in (-1, 256, 1 << 64):
        with pytest.raises(PduError) as info:
            setattr(pdu, field, bad)
        assert info.value.field == field
        with pytest.raises(PduError) as info:
            cls(**{field: bad})
        assert info.value.field == field
    assert getattr(pdu, field) == 0xFF  # a refused value leaves the old one
    for bad in ("1", 1.0, None, b"\x01"):
        with pytest.raises(TypeError, match=field):
            setattr(pdu, field, bad)


@pytest.mark.parametrize("name", ["sequence_number", "command_status"])
def test_header_integers_take_any_u32(name: str) -> None:
    pdu = smppfast.EnquireLink()
    for value in (0, 1, 0x7FFFFFFF, 0xFFFFFFFF):
        setattr(pdu, name, value)
        assert getattr(pdu, name) == value
        again = smppfast.decode(smppfast.encode(pdu))
        assert getattr(again, name) == value
        assert smppfast.EnquireLink(**{name: value}) == pdu
    for bad in (-1, 1 << 32):
        with pytest.raises(PduError) as info:
            setattr(pdu, name, bad)
        assert info.value.field == name
        with pytest.raises(PduError):
            smppfast.EnquireLink(**{name: bad})
    with pytest.raises(TypeError):
        setattr(pdu, name, "1")


def test_header_goes_on_the_wire() -> None:
    data = smppfast.encode(smppfast.EnquireLink(sequence_number=0xDEADBEEF, command_status=0x400))
    assert data == struct.pack(">IIII", 16, 0x15, 0x400, 0xDEADBEEF)


def test_string_fields_set_and_read_back() -> None:
    pdu = SubmitSm()
    pdu.source_addr = "12345"
    pdu.short_message = b"\x00\xff"
    pdu.dest_addr_ton = 1
    assert (pdu.source_addr, pdu.short_message, pdu.dest_addr_ton) == ("12345", b"\x00\xff", 1)
    again = smppfast.decode(smppfast.encode(pdu))
    assert (again.source_addr, again.short_message, again.dest_addr_ton) == ("12345", b"\x00\xff", 1)


# ---------------------------------------------------------------------------
# Encode errors name the field


@pytest.mark.parametrize(("cls_name", "field", "fmax"), CSTR_FIELDS, ids=[f"{c}.{f}" for c, f, _ in CSTR_FIELDS])
def test_c_octet_string_longest_fits_one_more_raises(cls_name: str, field: str, fmax: int) -> None:
    cls = getattr(smppfast, cls_name)
    longest = "9" * (fmax - 1)
    data = smppfast.encode(cls(**{field: longest}))
    assert getattr(smppfast.decode(data), field) == longest
    with pytest.raises(PduError) as info:
        smppfast.encode(cls(**{field: longest + "9"}))
    assert info.value.field == field
    assert info.value.command_id == cls.command_id
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("cls", "field", "length"),
    [(SubmitSm, "source_addr", 21), (smppfast.BindTransmitter, "system_id", 16),
     (smppfast.BindTransceiver, "password", 9), (SubmitSm, "destination_addr", 21),
     (smppfast.DataSm, "source_addr", 65), (SubmitSmResp, "message_id", 65)],
)
def test_named_spec_maxima(cls: Any, field: str, length: int) -> None:
    with pytest.raises(PduError) as info:
        smppfast.encode(cls(**{field: "a" * length}))
    assert info.value.field == field


@pytest.mark.parametrize("char", ["\u0100", "\u20ac", "\U0001F600", "\ud800"])
def test_non_latin1_character_in_c_octet_string(char: str) -> None:
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitSm(source_addr="12" + char))
    assert info.value.field == "source_addr"
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitMulti(dest_address=[SmeAddress(1, 1, char)]))
    assert info.value.field == "destination_addr"


def test_embedded_nul_in_c_octet_string() -> None:
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitSm(destination_addr="12\x0034"))
    assert info.value.field == "destination_addr"
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitMulti(dest_address=[DistributionList("a\0")]))
    assert info.value.field == "dl_name"


def test_short_message_longer_than_254() -> None:
    assert smppfast.encode(SubmitSm(short_message=b"x" * 254))[-255] == 254
    for cls in (SubmitSm, smppfast.DeliverSm, smppfast.ReplaceSm, SubmitMulti):
        with pytest.raises(PduError) as info:
            smppfast.encode(cls(short_message=b"x" * 255))
        assert info.value.field == "short_message"


def test_short_message_takes_bytes_like() -> None:
    expected = smppfast.encode(SubmitSm(short_message=b"hi"))
    assert smppfast.encode(SubmitSm(short_message=bytearray(b"hi"))) == expected
    assert smppfast.encode(SubmitSm(short_message=memoryview(b"hi"))) == expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"source_addr": 5}, "source_addr"), ({"source_addr": b"123"}, "source_addr"),
     ({"short_message": "text"}, "short_message"), ({"short_message": 5}, "short_message"),
     ({"service_type": None}, "service_type")],
)
def test_wrong_types_raise_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    # On construction, where the value is given: not later, on encode.
    with pytest.raises(TypeError, match=field):
        SubmitSm(**kwargs)


# ---------------------------------------------------------------------------
# Types are checked where values are given (construction and assignment); lengths on encode

OCTET_FIELDS = [(name, fname) for name, _, fields, _ in L.PDUS for fname, kind, _ in fields if kind == L.SM]
LIST_FIELDS = [
    (name, fname) for name, _, fields, _ in L.PDUS for fname, kind, _ in fields if kind in (L.DESTS, L.UNSUCC)
]


class NotAStr:
    """Stands for any object that is not the field's type (and whose repr works)."""


def _assert_type_error(info: pytest.ExceptionInfo[Any], field: str, given: str) -> None:
    err = info.value
    assert isinstance(err, smppfast.FieldTypeError) and isinstance(err, TypeError)
    assert isinstance(err, smppfast.SmppError)
    assert err.field == field
    assert field in str(err) and given in str(err), str(err)


@pytest.mark.parametrize(("cls_name", "field", "fmax"), CSTR_FIELDS, ids=[f"{c}.{f}" for c, f, _ in CSTR_FIELDS])
def test_c_octet_string_fields_take_str_only(cls_name: str, field: str, fmax: int) -> None:
    cls = getattr(smppfast, cls_name)
    pdu = cls(**{field: "1"})
    for bad, given in ((123, "int"), (b"123", "bytes"), (None, "NoneType"), (NotAStr(), "NotAStr"),
                       (bytearray(b"1"), "bytearray"), (["1"], "list")):
        with pytest.raises(TypeError) as info:
            cls(**{field: bad})
        _assert_type_error(info, field, given)
        with pytest.raises(TypeError) as info:
            setattr(pdu, field, bad)
        _assert_type_error(info, field, given)
    assert getattr(pdu, field) == "1"  # a refused value leaves the old one
    assert smppfast.decode(smppfast.encode(pdu)) == pdu
    # Lengths stay an encode-time check: an over-long str is accepted here and refused there.
    pdu = cls(**{field: "9" * fmax})
    with pytest.raises(PduError):
        smppfast.encode(pdu)


class StrSubclass(str):
    pass


def test_str_subclasses_are_str() -> None:
    pdu = SubmitSm(destination_addr=StrSubclass("447700900123"))
    assert smppfast.decode(smppfast.encode(pdu)).destination_addr == "447700900123"


@pytest.mark.parametrize(("cls_name", "field"), OCTET_FIELDS, ids=[f"{c}.{f}" for c, f in OCTET_FIELDS])
def test_octet_string_fields_take_bytes_like_only(cls_name: str, field: str) -> None:
    cls = getattr(smppfast, cls_name)
    for good in (b"hi", bytearray(b"hi"), memoryview(b"hi"), memoryview(b"xhix")[1:3]):
        pdu = cls(**{field: good})
        assert getattr(pdu, field) == b"hi" and type(getattr(pdu, field)) is bytes
        other = cls()
        setattr(other, field, good)
        assert getattr(other, field) == b"hi" and type(getattr(other, field)) is bytes
        assert smppfast.encode(pdu) == smppfast.encode(other) == smppfast.encode(cls(**{field: b"hi"}))
    for bad, given in ((5, "int"), (None, "NoneType"), ([1, 2], "list"), (NotAStr(), "NotAStr")):
        with pytest.raises(TypeError) as info:
            cls(**{field: bad})
        _assert_type_error(info, field, given)
        with pytest.raises(TypeError) as info:
            setattr(pdu, field, bad)
        _assert_type_error(info, field, given)
    # Text is the commonest mistake: the error says what to do.
    with pytest.raises(TypeError) as info:
        cls(**{field: "hi"})
    _assert_type_error(info, field, "str")
    assert "encode_text" in str(info.value)
    assert getattr(pdu, field) == b"hi"
    # The length stays an encode-time check.
    with pytest.raises(PduError):
        smppfast.encode(cls(**{field: b"x" * 255}))


def test_a_bytearray_is_copied_when_given() -> None:
    data = bytearray(b"hello")
    pdu = SubmitSm(short_message=data)
    data[:] = b"HELLO, WORLD"
    assert pdu.short_message == b"hello" and pdu.sm_length == 5


@pytest.mark.parametrize(("cls_name", "field"), LIST_FIELDS, ids=[f"{c}.{f}" for c, f in LIST_FIELDS])
def test_list_fields_take_lists_and_tuples(cls_name: str, field: str) -> None:
    cls = getattr(smppfast, cls_name)
    kind = {f: k for f, k, _ in LAYOUTS[cls_name][1]}[field]
    items = sample_value(kind, 254)
    from_tuple = cls(**{field: tuple(items)})
    assert getattr(from_tuple, field) == items and type(getattr(from_tuple, field)) is list
    assert from_tuple == cls(**{field: items})
    given = list(items)
    pdu = cls(**{field: given})
    given.clear()  # the PDU keeps its own list
    assert getattr(pdu, field) == items
    for bad, name in ((set(items), "set"), (iter(items), "list_iterator"), (None, "NoneType"),
                      ("abc", "str"), (items[0], type(items[0]).__name__)):
        with pytest.raises(TypeError) as info:
            cls(**{field: bad})
        _assert_type_error(info, field, name)
        with pytest.raises(TypeError) as info:
            setattr(pdu, field, bad)
        _assert_type_error(info, field, name)
    assert getattr(pdu, field) == items


def test_u8_and_header_type_errors_carry_the_field() -> None:
    with pytest.raises(TypeError) as info:
        SubmitSm(esm_class="3")
    _assert_type_error(info, "esm_class", "str")
    with pytest.raises(TypeError) as info:
        SubmitSm().data_coding = 1.0
    _assert_type_error(info, "data_coding", "float")
    with pytest.raises(TypeError) as info:
        SubmitSm(sequence_number="1")
    _assert_type_error(info, "sequence_number", "str")
    with pytest.raises(TypeError) as info:
        SubmitSm().command_status = None
    _assert_type_error(info, "command_status", "NoneType")


def test_tlvs_take_a_dict() -> None:
    import types

    pdu = SubmitSm(tlvs={Tlv.USER_MESSAGE_REFERENCE: 3})
    for bad, given in (([(Tlv.USER_MESSAGE_REFERENCE, 3)], "list"), (3, "int"), ("tlvs", "str")):
        with pytest.raises(TypeError) as info:
            SubmitSm(tlvs=bad)
        _assert_type_error(info, "tlvs", given)
        with pytest.raises(TypeError) as info:
            pdu.tlvs = bad
        _assert_type_error(info, "tlvs", given)
    assert pdu.tlvs == {Tlv.USER_MESSAGE_REFERENCE: 3}
    # Any other mapping is copied into a dict; None means none.
    mapped = SubmitSm(tlvs=types.MappingProxyType({Tlv.USER_MESSAGE_REFERENCE: 3}))
    assert type(mapped.tlvs) is dict and mapped == pdu
    pdu.tlvs = None
    assert pdu.tlvs == {}


def test_type_errors_are_raised_for_user_subclasses_too() -> None:
    class MySubmit(SubmitSm):
        pass

    with pytest.raises(TypeError) as info:
        MySubmit(destination_addr=123)
    _assert_type_error(info, "destination_addr", "int")
    pdu = MySubmit(destination_addr="1")
    with pytest.raises(TypeError) as info:
        pdu.short_message = "hi"
    _assert_type_error(info, "short_message", "str")


def test_assignment_is_checked_whatever_the_name_object() -> None:
    pdu = SubmitSm()
    for name in ("destination_addr", "".join(["destination", "_addr"]), StrSubclass("destination_addr")):
        with pytest.raises(TypeError) as info:
            setattr(pdu, name, 123)
        _assert_type_error(info, "destination_addr", "int")
    with pytest.raises(TypeError):
        object.__setattr__(pdu, "destination_addr", 123)  # no way around the check
    assert pdu.destination_addr == ""


def test_assigning_a_field_keeps_the_body_rule() -> None:
    # Assignment checks types without changing which error responses carry a body:
    # an error response whose fields are all at their defaults is still 16 octets.
    resp = SubmitSmResp(command_status=0x45)
    resp.message_id = ""
    assert len(smppfast.encode(resp)) == 16
    resp.message_id = "m1"
    assert smppfast.encode(resp).endswith(b"m1\0")


def test_field_type_error_pickles() -> None:
    with pytest.raises(smppfast.FieldTypeError) as info:
        SubmitSm(destination_addr=123)
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is smppfast.FieldTypeError
    assert again.field == "destination_addr" and str(again) == str(info.value)


def test_repr_never_fails() -> None:
    # The case: a wrong type is refused, so repr never meets one.
    with pytest.raises(TypeError):
        SubmitSm(destination_addr=123)  # type: ignore[arg-type]
    pdu = SubmitSm(destination_addr="1", tlvs={"not a tag": 1, -5: 2, 0x1400: b"x", Tlv.SOURCE_PORT: 80})
    text = repr(pdu)
    assert "'not a tag': 1" in text and "-5: 2" in text and "0x1400: b'x'" in text
    assert "Tlv.SOURCE_PORT: 80" in text
    del pdu.destination_addr  # an unset C-Octet string: shown as not set, refused on encode
    assert "destination_addr" not in repr(pdu)
    with pytest.raises(PduError):
        smppfast.encode(pdu)


def test_wrong_submit_multi_items() -> None:
    with pytest.raises(TypeError, match="dest_address"):
        smppfast.encode(SubmitMulti(dest_address=[("1", 1, "123")]))
    with pytest.raises(TypeError, match="unsuccess_sme"):
        smppfast.encode(SubmitMultiResp(unsuccess_sme=[SmeAddress(1, 1, "1")]))
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitMulti(dest_address=[SmeAddress(256, 1, "1")]))
    assert info.value.field == "dest_addr_ton"
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitMultiResp(unsuccess_sme=[UnsuccessSme(1, 1, "1", 1 << 32)]))
    assert info.value.field == "error_status_code"
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitMulti(dest_address=[SmeAddress(1, 1, "1")] * 255))
    assert info.value.field == "number_of_dests"
    assert SubmitMulti(dest_address=[SmeAddress(1, 1, "1")] * 254).number_of_dests == 254
    smppfast.encode(SubmitMulti(dest_address=[SmeAddress(1, 1, "1")] * 254))


def test_latin1_strings_round_trip_every_byte_value() -> None:
    every = "".join(map(chr, range(1, 256)))
    for start in range(0, len(every), 64):
        chunk = every[start:start + 64]
        data = smppfast.encode(SubmitSmResp(message_id=chunk))
        assert data[16:-1] == chunk.encode("latin-1")
        assert smppfast.decode(data).message_id == chunk
    data = smppfast.encode(SubmitSmResp(tlvs={Tlv.RECEIPTED_MESSAGE_ID: every}))
    assert smppfast.decode(data).tlvs[Tlv.RECEIPTED_MESSAGE_ID] == every


def test_decoded_strings_are_latin1() -> None:
    data = struct.pack(">IIII", 16 + 4, 0x80000004, 0, 1) + b"\xe9\xff\x80\0"
    assert smppfast.decode(data).message_id == "\xe9\xff\x80"


# ---------------------------------------------------------------------------
# Responses with and without a body

RESPONSES_WITH_BODY = [n for n, cid, f, _ in L.PDUS if cid & 0x80000000 and f]


@pytest.mark.parametrize("name", RESPONSES_WITH_BODY)
def test_error_response_without_body_fields_is_16_octets(name: str) -> None:
    cls = getattr(smppfast, name)
    data = smppfast.encode(cls(command_status=Status.ESME_RTHROTTLED, sequence_number=5))
    assert data == struct.pack(">IIII", 16, cls.command_id, 0x58, 5)
    # a success response always carries its body
    assert len(smppfast.encode(cls(sequence_number=5))) > 16
    # giving any body field, even an empty one, writes the body
    first, kind, _ = LAYOUTS[name][1][0]
    empty = {L.CSTR: "", L.U8: 0}[kind]
    with_body = smppfast.encode(cls(command_status=0x58, sequence_number=5, **{first: empty}))
    assert len(with_body) > 16
    assert smppfast.decode(with_body).command_status == Status.ESME_RTHROTTLED


def test_message_id_given_empty_writes_the_body() -> None:
    assert smppfast.encode(SubmitSmResp(command_status=0x45, message_id="")) == (
        struct.pack(">IIII", 17, 0x80000004, 0x45, 0) + b"\0")
    assert smppfast.encode(SubmitSmResp(command_status=0x45, message_id="m1")).endswith(b"m1\0")


@pytest.mark.parametrize("name", RESPONSES_WITH_BODY)
def test_decoded_empty_body_response_reencodes_without_body(name: str) -> None:
    cls = getattr(smppfast, name)
    for status in (0, 0x45, 0x400):
        data = struct.pack(">IIII", 16, cls.command_id, status, 99)
        pdu = smppfast.decode(data)
        assert type(pdu) is cls and pdu.command_status == status
        for fname, kind, _ in LAYOUTS[name][1]:
            assert getattr(pdu, fname) == {L.U8: 0, L.CSTR: "", L.UNSUCC: []}[kind]
        assert smppfast.encode(pdu) == data
        assert pickle.loads(pickle.dumps(pdu)) == pdu
        assert smppfast.encode(copy.copy(pdu)) == data


def test_both_forms_round_trip() -> None:
    empty = struct.pack(">IIII", 16, 0x80000004, 0x58, 3)
    body = struct.pack(">IIII", 17, 0x80000004, 0x58, 3) + b"\0"
    ok_body = struct.pack(">IIII", 17, 0x80000004, 0, 3) + b"\0"
    ok_empty = struct.pack(">IIII", 16, 0x80000004, 0, 3)  # some SMSCs send it even on success
    for data in (empty, body, ok_body, ok_empty):
        assert smppfast.encode(smppfast.decode(data)) == data
    assert smppfast.decode(empty).message_id == smppfast.decode(body).message_id == ""


def test_setting_a_field_on_a_decoded_empty_response_writes_the_body() -> None:
    pdu = smppfast.decode(struct.pack(">IIII", 16, 0x80000004, 0x58, 3))
    pdu.message_id = "abc"
    assert smppfast.encode(pdu).endswith(b"abc\0")


@pytest.mark.parametrize("name", RESPONSES_WITH_BODY)
def test_error_response_with_tlvs_round_trips(name: str) -> None:
    # TLVs follow the mandatory body on the wire, so a PDU that carries TLVs must carry its
    # body too (all fields at their defaults), or the TLV octets are read as body fields.
    cls = getattr(smppfast, name)
    for tlvs in ({0x1400: b""}, {Tlv.DEST_ADDR_SUBUNIT: 0}, {Tlv.ADDITIONAL_STATUS_INFO_TEXT: "no route"}):
        pdu = cls(command_status=Status.ESME_RINVMSGLEN, sequence_number=2, tlvs=tlvs)
        data = smppfast.encode(pdu)
        assert smppfast.decode(data) == pdu, data.hex()


def test_non_response_always_writes_body() -> None:
    data = smppfast.encode(SubmitSm(command_status=8))
    assert len(data) > 16 and smppfast.decode(data) == SubmitSm(command_status=8)


# ---------------------------------------------------------------------------
# TLVs

TYPED_SAMPLES = {L.INT1: 0xAB, L.INT2: 0xABCD, L.INT4: 0xABCDEF01, L.TLV_CSTR: "abc\xe9", L.OCTETS: b"\x00\x01\xff"}
WIRE = {L.INT1: b"\xab", L.INT2: b"\xab\xcd", L.INT4: b"\xab\xcd\xef\x01", L.TLV_CSTR: b"abc\xe9\0",
        L.OCTETS: b"\x00\x01\xff"}
TLV_TAGS = sorted(L.TLV_TYPES.items())


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


def with_tlvs(raw: bytes, cls: Any = SubmitSmResp, **fields: Any) -> bytes:
    base = smppfast.encode(cls(sequence_number=1, **fields))
    return struct.pack(">I", len(base) + len(raw)) + base[4:] + raw


def test_every_enum_tag_has_a_type() -> None:
    assert set(L.TLV_TYPES) == set(Tlv)


@pytest.mark.parametrize(("tag", "ttype"), TLV_TAGS, ids=[Tlv(t).name for t, _ in TLV_TAGS])
def test_known_tag_decodes_to_its_type(tag: int, ttype: int) -> None:
    data = with_tlvs(tlv(tag, WIRE[ttype]))
    pdu = smppfast.decode(data)
    value = pdu.tlvs[tag]
    assert value == TYPED_SAMPLES[ttype] and type(value) is type(TYPED_SAMPLES[ttype])
    assert smppfast.encode(pdu) == data
    # and the typed value encodes to the same wire octets
    assert smppfast.encode(SubmitSmResp(sequence_number=1, tlvs={tag: TYPED_SAMPLES[ttype]})) == data


@pytest.mark.parametrize(("tag", "ttype"), TLV_TAGS, ids=[Tlv(t).name for t, _ in TLV_TAGS])
def test_known_tag_with_a_value_that_does_not_fit_stays_bytes(tag: int, ttype: int) -> None:
    misfits = {L.INT1: [b"", b"\0\1"], L.INT2: [b"\1", b"\0\0\1"], L.INT4: [b"\1\2", b"\0\0\0\0\1"],
               L.TLV_CSTR: [b"", b"abc", b"a\0b\0"], L.OCTETS: []}[ttype]
    for raw in misfits:
        data = with_tlvs(tlv(tag, raw))
        pdu = smppfast.decode(data)
        assert pdu.tlvs[tag] == raw and type(pdu.tlvs[tag]) is bytes
        assert smppfast.encode(pdu) == data


def test_two_octet_source_telematics_id_is_kept() -> None:
    data = with_tlvs(tlv(0x0010, b"\x00\x01"), smppfast.DeliverSm, short_message=b"x")
    pdu = smppfast.decode(data)
    assert pdu.tlvs == {Tlv.SOURCE_TELEMATICS_ID: b"\x00\x01"}
    assert smppfast.encode(pdu) == data


@pytest.mark.parametrize("tag", [0x0000, 0x0001, 0x1400, 0x1401, 0x2000, 0x3FFF, 0x4000, 0xFFFF])
def test_unknown_and_vendor_tags_stay_bytes(tag: int) -> None:
    assert tag not in L.TLV_TYPES
    for raw in (b"", b"\x01", b"\x00\x00\x00\x01", b"text\0"):
        data = with_tlvs(tlv(tag, raw))
        pdu = smppfast.decode(data)
        assert pdu.tlvs == {tag: raw} and type(pdu.tlvs[tag]) is bytes
        assert smppfast.encode(pdu) == data
        assert smppfast.encode(SubmitSmResp(sequence_number=1, tlvs={tag: raw})) == data
    with pytest.raises(TypeError):
        smppfast.encode(SubmitSmResp(tlvs={tag: 1}))  # no type known: give bytes
    with pytest.raises(TypeError):
        smppfast.encode(SubmitSmResp(tlvs={tag: "text"}))


def test_raw_bytes_encode_verbatim_for_any_tag() -> None:
    data = smppfast.encode(SubmitSmResp(tlvs={Tlv.SAR_MSG_REF_NUM: b"\x00\x05\x07"}))
    assert data.endswith(tlv(Tlv.SAR_MSG_REF_NUM, b"\x00\x05\x07"))


def test_typed_value_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError):
        smppfast.encode(SubmitSmResp(tlvs={Tlv.MESSAGE_PAYLOAD: 5}))
    with pytest.raises(TypeError):
        smppfast.encode(SubmitSmResp(tlvs={Tlv.SAR_MSG_REF_NUM: "5"}))


@pytest.mark.parametrize(("tag", "bad"), [(Tlv.SAR_TOTAL_SEGMENTS, 256), (Tlv.SAR_MSG_REF_NUM, 0x10000),
                                          (Tlv.QOS_TIME_TO_LIVE, 1 << 32), (Tlv.SAR_MSG_REF_NUM, -1)])
def test_integer_tlv_out_of_range(tag: int, bad: int) -> None:
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitSm(tlvs={tag: bad}))
    assert info.value.field is not None and f"0x{tag:04X}" in str(info.value)


def test_tlv_encode_limits() -> None:
    with pytest.raises(PduError) as info:
        smppfast.encode(SubmitSm(tlvs={Tlv.RECEIPTED_MESSAGE_ID: "\u0100"}))
    assert "0x001E" in str(info.value)
    with pytest.raises(PduError):
        smppfast.encode(SubmitSm(tlvs={Tlv.RECEIPTED_MESSAGE_ID: "a\0b"}))
    with pytest.raises(PduError):
        smppfast.encode(SubmitSm(tlvs={Tlv.MESSAGE_PAYLOAD: bytes(65536)}))
    with pytest.raises(PduError):
        smppfast.encode(SubmitSm(tlvs={0x10000: b""}))
    with pytest.raises(PduError):
        smppfast.encode(SubmitSm(tlvs={-1: b""}))
    payload = smppfast.encode(smppfast.DataSm(tlvs={Tlv.MESSAGE_PAYLOAD: bytes(65535)}))
    assert smppfast.decode(payload).tlvs[Tlv.MESSAGE_PAYLOAD] == bytes(65535)


def test_c_octet_tlv_too_long_for_a_16_bit_length() -> None:
    # 65534 characters + NUL is the largest C-Octet String TLV value; one more does not fit.
    longest = "a" * 65534
    data = smppfast.encode(SubmitSm(tlvs={Tlv.RECEIPTED_MESSAGE_ID: longest}))
    assert smppfast.decode(data).tlvs[Tlv.RECEIPTED_MESSAGE_ID] == longest
    with pytest.raises(PduError):
        smppfast.encode(SubmitSm(tlvs={Tlv.RECEIPTED_MESSAGE_ID: "a" * 65535}))


def test_repeated_tag_is_a_list_in_wire_order() -> None:
    a1, b, a2 = tlv(Tlv.CALLBACK_NUM, b"\x01\x01"), tlv(Tlv.SAR_MSG_REF_NUM, b"\0\7"), tlv(Tlv.CALLBACK_NUM, b"\x02")
    pdu = smppfast.decode(with_tlvs(a1 + a2 + b))
    assert pdu.tlvs == {Tlv.CALLBACK_NUM: [b"\x01\x01", b"\x02"], Tlv.SAR_MSG_REF_NUM: 7}
    assert smppfast.encode(pdu) == with_tlvs(a1 + a2 + b)
    three = smppfast.decode(with_tlvs(a1 + a2 + a1))
    assert three.tlvs[Tlv.CALLBACK_NUM] == [b"\x01\x01", b"\x02", b"\x01\x01"]
    ints = smppfast.decode(with_tlvs(b + tlv(Tlv.SAR_MSG_REF_NUM, b"\0\x09")))
    assert ints.tlvs == {Tlv.SAR_MSG_REF_NUM: [7, 9]}


def test_a_b_a_reencodes_as_a_a_b() -> None:
    a1, b, a2 = tlv(Tlv.CALLBACK_NUM, b"\x01"), tlv(0x1500, b"vendor"), tlv(Tlv.CALLBACK_NUM, b"\x02")
    pdu = smppfast.decode(with_tlvs(a1 + b + a2))
    assert list(pdu.tlvs) == [Tlv.CALLBACK_NUM, 0x1500]
    assert smppfast.encode(pdu) == with_tlvs(a1 + a2 + b)
    assert smppfast.decode(smppfast.encode(pdu)) == pdu


def test_encoding_writes_tlvs_in_dict_order() -> None:
    pdu = SubmitSmResp(sequence_number=1, tlvs={0x1500: b"v", Tlv.SAR_MSG_REF_NUM: 7})
    assert smppfast.encode(pdu) == with_tlvs(tlv(0x1500, b"v") + tlv(Tlv.SAR_MSG_REF_NUM, b"\0\7"))
    pdu = SubmitSmResp(sequence_number=1, tlvs={Tlv.CALLBACK_NUM: [b"\1", b"\2"]})
    assert smppfast.encode(pdu) == with_tlvs(tlv(Tlv.CALLBACK_NUM, b"\1") + tlv(Tlv.CALLBACK_NUM, b"\2"))


def test_tlv_enum_members_are_keys() -> None:
    by_enum = SubmitSm(tlvs={Tlv.SAR_MSG_REF_NUM: 300, Tlv.SAR_TOTAL_SEGMENTS: 2})
    by_int = SubmitSm(tlvs={0x020C: 300, 0x020E: 2})
    assert by_enum == by_int
    assert smppfast.encode(by_enum) == smppfast.encode(by_int)
    decoded = smppfast.decode(smppfast.encode(by_int))
    assert decoded.tlvs[Tlv.SAR_MSG_REF_NUM] == 300 and decoded.tlvs[0x020E] == 2
    assert Tlv.SAR_TOTAL_SEGMENTS in decoded.tlvs
    assert all(isinstance(k, int) for k in decoded.tlvs)


def test_tlvs_can_be_edited_in_place() -> None:
    pdu = SubmitSm()
    pdu.tlvs[Tlv.USER_MESSAGE_REFERENCE] = 5
    assert smppfast.decode(smppfast.encode(pdu)).tlvs == {Tlv.USER_MESSAGE_REFERENCE: 5}
    pdu.tlvs = {Tlv.PAYLOAD_TYPE: 1}
    assert smppfast.decode(smppfast.encode(pdu)).tlvs == {Tlv.PAYLOAD_TYPE: 1}


def test_vendor_command_status() -> None:
    pdu = SubmitSmResp(command_status=0x400)
    assert pdu.command_status == 0x400 and type(pdu.command_status) is int
    again = smppfast.decode(smppfast.encode(pdu))
    assert again.command_status == 0x400 and type(again.command_status) is int
    assert again == pdu


@pytest.mark.parametrize("status", list(Status), ids=[s.name for s in Status])
def test_known_command_status_is_a_status_member(status: Status) -> None:
    pdu = smppfast.decode(smppfast.encode(SubmitSmResp(command_status=int(status))))
    assert pdu.command_status is status


# ---------------------------------------------------------------------------
# submit_multi


def test_submit_multi_round_trip() -> None:
    dests = [SmeAddress(1, 1, "447700900001"), DistributionList("friends"), SmeAddress(0, 0, ""),
             DistributionList("")]
    pdu = SubmitMulti(source_addr="me", dest_address=dests, short_message=b"hi", sequence_number=4)
    data = smppfast.encode(pdu)
    again = smppfast.decode(data)
    assert again == pdu and again.dest_address == dests and again.number_of_dests == 4
    assert [type(d) for d in again.dest_address] == [SmeAddress, DistributionList, SmeAddress, DistributionList]
    assert b"\x04\x01\x01\x01447700900001\0\x02friends\0\x01\x00\x00\0\x02\0" in data
    assert smppfast.encode(again) == data


def test_submit_multi_resp_round_trip() -> None:
    items = [UnsuccessSme(1, 1, "447700900001", 0x45), UnsuccessSme(0, 0, "", 0xFFFFFFFF)]
    pdu = SubmitMultiResp(message_id="m-1", unsuccess_sme=items, sequence_number=4)
    data = smppfast.encode(pdu)
    assert data[16:] == b"m-1\0\x02\x01\x01447700900001\0\x00\x00\x00\x45\x00\x00\0\xff\xff\xff\xff"
    again = smppfast.decode(data)
    assert again == pdu and again.unsuccess_sme == items and again.no_unsuccess == 2
    assert all(type(u) is UnsuccessSme for u in again.unsuccess_sme)


def test_named_tuples() -> None:
    assert SmeAddress(1, 2, "3")._fields == ("dest_addr_ton", "dest_addr_npi", "destination_addr")
    assert DistributionList("x").dl_name == "x"
    assert UnsuccessSme(1, 2, "3", 4).error_status_code == 4


# ---------------------------------------------------------------------------
# Equality, repr, pickle, copy


@pytest.mark.parametrize("name", CONTRACT_CLASSES)
def test_equality_by_value(name: str) -> None:
    a, b = sample_pdu(name), sample_pdu(name)
    assert a == b and not a != b and a is not b
    assert a == smppfast.decode(smppfast.encode(a))
    for i, (fname, kind, fmax) in enumerate(LAYOUTS[name][1]):
        other = sample_pdu(name)
        if kind == L.U8:
            setattr(other, fname, getattr(a, fname) ^ 1)
        elif kind == L.CSTR:
            setattr(other, fname, getattr(a, fname)[:-1] + "!")
        elif kind == L.SM:
            setattr(other, fname, b"different")
        elif kind == L.DESTS:
            setattr(other, fname, [SmeAddress(1, 1, "other")])
        else:
            setattr(other, fname, [])
        assert a != other and not a == other, fname
    for attr, value in (("sequence_number", 1), ("command_status", 1), ("tlvs", {0x1400: b"x"})):
        other = sample_pdu(name)
        setattr(other, attr, value)
        assert a != other, attr


def test_equality_across_classes_and_types() -> None:
    assert SubmitSm() != smppfast.DeliverSm()  # same layout, different command
    assert smppfast.Unbind() != smppfast.UnbindResp()
    assert SubmitSm() != None  # noqa: E711
    assert SubmitSm() != "SubmitSm()"
    assert SubmitSm(tlvs={0x1400: b"a"}) != SubmitSm(tlvs={0x1400: [b"a", b"a"]})
    assert SubmitSm(tlvs={0x0204: 1}) != SubmitSm(tlvs={0x0204: b"\0\1"})  # typed vs raw
    with pytest.raises(TypeError):
        hash(SubmitSm())


@pytest.mark.parametrize("name", CONTRACT_CLASSES)
def test_repr_is_readable(name: str) -> None:
    pdu = sample_pdu(name)
    text = repr(pdu)
    assert text.startswith(name + "(") and text.endswith(")")
    assert "sequence_number=4660" in text
    for fname, kind, _ in LAYOUTS[name][1]:
        if fname != "password":
            assert f"{fname}=" in text, fname
    assert repr(getattr(smppfast, name)()).startswith(name + "(")


def test_repr_shows_status_and_tlvs() -> None:
    text = repr(SubmitSmResp(command_status=Status.ESME_RTHROTTLED, tlvs={Tlv.SAR_MSG_REF_NUM: 3, 0x1401: b"v"}))
    assert "ESME_RTHROTTLED" in text and "SAR_MSG_REF_NUM" in text and "0x1401" in text


@pytest.mark.parametrize("name", PASSWORD_CLASSES)
def test_repr_masks_the_password(name: str) -> None:
    secret = "Zq7#pW1x"
    pdu = getattr(smppfast, name)(system_id="esme", password=secret)
    for text in (repr(pdu), str(pdu), repr([pdu]), f"{pdu}", repr(smppfast.decode(smppfast.encode(pdu)))):
        assert secret not in text and "Zq7" not in text
        assert "esme" in text
    assert pdu.password == secret  # masked in repr only


@pytest.mark.parametrize("name", CONTRACT_CLASSES)
def test_pickle_and_copy_round_trip(name: str) -> None:
    pdu = sample_pdu(name, tlvs={Tlv.USER_MESSAGE_REFERENCE: 9, 0x1500: [b"a", b"b"]})
    for again in (pickle.loads(pickle.dumps(pdu, protocol)) for protocol in range(pickle.HIGHEST_PROTOCOL + 1)):
        assert again == pdu and type(again) is type(pdu)
        assert smppfast.encode(again) == smppfast.encode(pdu)
    for again in (copy.copy(pdu), copy.deepcopy(pdu)):
        assert again == pdu and again is not pdu
        assert smppfast.encode(again) == smppfast.encode(pdu)
    deep = copy.deepcopy(pdu)
    deep.tlvs[0x1500].append(b"c")
    assert pdu.tlvs[0x1500] == [b"a", b"b"]


# ---------------------------------------------------------------------------
# response()


@pytest.mark.parametrize("name", REQUESTS_WITH_RESPONSE)
def test_response_is_the_matching_resp_with_the_same_sequence_number(name: str) -> None:
    req = getattr(smppfast, name)(sequence_number=0x7FFFFFFF)
    resp = req.response()
    assert type(resp).__name__ == name + "Resp"
    assert resp.command_id == req.command_id | 0x80000000
    assert resp.sequence_number == 0x7FFFFFFF and resp.command_status == 0
    assert resp.is_response and not req.is_response


def test_response_takes_fields() -> None:
    resp = SubmitSm(sequence_number=5).response(message_id="abc", command_status=Status.ESME_RTHROTTLED)
    assert resp == SubmitSmResp(sequence_number=5, message_id="abc", command_status=0x58)


@pytest.mark.parametrize("name", ["Outbind", "AlertNotification", "GenericNack", "SubmitSmResp", "EnquireLinkResp"])
def test_no_response_for_responses_and_unanswered_commands(name: str) -> None:
    with pytest.raises(TypeError):
        getattr(smppfast, name)().response()


@pytest.mark.parametrize("name", CONTRACT_CLASSES)
def test_has_response_is_true_exactly_for_requests_that_are_answered(name: str) -> None:
    cls = getattr(smppfast, name)
    expected = name in REQUESTS_WITH_RESPONSE
    assert cls.has_response is expected
    pdu = cls(sequence_number=9)
    assert pdu.has_response is expected
    assert smppfast.decode(smppfast.encode(pdu)).has_response is expected
    if expected:
        assert pdu.response().sequence_number == 9
    else:
        with pytest.raises(TypeError, match="has no response PDU"):
            pdu.response()


def test_has_response_comes_from_the_layout_table() -> None:
    for row in L.PDUS:
        assert smppfast.PDU_CLASSES[row.command_id].has_response is row.has_response
        if row.has_response:  # a request with a response has its *_resp row, and is not one itself
            assert not row.command_id & 0x80000000
            assert row.command_id | 0x80000000 in smppfast.PDU_CLASSES
    # Both requests without a response are exceptions the spec names, not responses.
    assert {r.name for r in L.PDUS if not r.has_response and not r.command_id & 0x80000000} == {
        "Outbind", "AlertNotification"}


def test_has_response_is_inherited_by_user_subclasses() -> None:
    class MySubmit(SubmitSm):
        pass

    class MyOutbind(smppfast.Outbind):
        pass

    assert MySubmit().has_response is True and type(MySubmit().response()) is SubmitSmResp
    assert MyOutbind().has_response is False
    with pytest.raises(TypeError):
        MyOutbind().response()


# ---------------------------------------------------------------------------
# encode/decode entry points


def test_decode_accepts_bytes_like() -> None:
    data = smppfast.encode(SubmitSm(source_addr="1", short_message=b"x", sequence_number=3))
    expected = smppfast.decode(data)
    assert smppfast.decode(bytearray(data)) == expected
    assert smppfast.decode(memoryview(data)) == expected
    assert smppfast.decode(memoryview(b"xx" + data)[2:]) == expected


def test_decode_and_encode_refuse_non_pdus() -> None:
    with pytest.raises(TypeError):
        smppfast.decode("0000001000000015")
    with pytest.raises(TypeError):
        smppfast.encode(b"\0" * 16)
    with pytest.raises(TypeError):
        smppfast.encode(None)


def test_password_characters_never_appear_in_errors() -> None:
    secret = "pä€sw"  # the euro sign is not Latin-1
    with pytest.raises(PduError) as info:
        smppfast.encode(smppfast.BindTransmitter(system_id="u", password=secret))
    assert info.value.field == "password"
    assert "€" not in str(info.value) and secret not in str(info.value)
    with pytest.raises(PduError) as other:
        smppfast.encode(smppfast.SubmitSm(source_addr="a€"))
    assert "€" in str(other.value)  # other fields still say which character
