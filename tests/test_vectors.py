"""Golden vectors written by independent SMPP implementations (tests/vectors/README.md).

Every vector must decode to its listed fields and TLVs, and encode back to the same bytes,
both from the decoded PDU and from a PDU built from the listed fields.
"""

from __future__ import annotations

from typing import Any

import pytest

import smppfast
from smppfast import DistributionList, SmeAddress, UnsuccessSme

from .conftest import load_jsonl

VECTORS = load_jsonl("pdus.jsonl")
DERIVED = {"sm_length", "number_of_dests", "no_unsuccess"}


def _expected_value(name: str, value: Any) -> Any:
    if isinstance(value, dict) and "hex" in value:
        return bytes.fromhex(value["hex"])
    if name == "dest_address":
        return [
            SmeAddress(d["dest_addr_ton"], d["dest_addr_npi"], d["destination_addr"])
            if d["dest_flag"] == 1
            else DistributionList(d["dl_name"])
            for d in value
        ]
    if name == "unsuccess_sme":
        return [
            UnsuccessSme(u["dest_addr_ton"], u["dest_addr_npi"], u["destination_addr"], u["error_status_code"])
            for u in value
        ]
    return value


def _tlv_wire_value(value: Any, width: int) -> bytes:
    """The value octets a decoded TLV stands for (ints take the width they came with)."""
    if isinstance(value, int):
        return value.to_bytes(width, "big")
    if isinstance(value, str):
        return value.encode("latin-1") + b"\0"
    return bytes(value)


def _decoded_tlvs_in_wire_order(pdu: smppfast.Pdu, vector: dict[str, Any]) -> list[tuple[int, bytes]]:
    # A repeated tag decodes to a list; walk the vector's order to pair widths with values.
    remaining = {tag: (list(v) if isinstance(v, list) else [v]) for tag, v in pdu.tlvs.items()}
    out = []
    for t in vector["tlvs"]:
        value = remaining[t["tag"]].pop(0)
        out.append((t["tag"], _tlv_wire_value(value, len(t["value_hex"]) // 2)))
    assert all(not v for v in remaining.values()), "decoded TLVs the vector does not list"
    return out


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_decodes_to_listed_fields(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["pdu_hex"])
    pdu = smppfast.decode(data)
    assert pdu.command_id == vector["command_id"]
    assert type(pdu).__name__.lower() == vector["command"].replace("_", "")
    assert pdu.command_status == vector["command_status"]
    assert pdu.sequence_number == vector["sequence_number"]
    for name, value in vector["fields"].items():
        assert getattr(pdu, name) == _expected_value(name, value), name
    if not vector["fields"]:
        assert all(not getattr(pdu, name) for name in pdu.fields)
    expected_tlvs = [(t["tag"], bytes.fromhex(t["value_hex"])) for t in vector["tlvs"]]
    assert _decoded_tlvs_in_wire_order(pdu, vector) == expected_tlvs


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_reencodes_to_same_bytes(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["pdu_hex"])
    tags = [t["tag"] for t in vector["tlvs"]]
    grouped = sorted(tags, key=tags.index) == tags  # repeated tags already adjacent
    if grouped:
        assert smppfast.encode(smppfast.decode(data)) == data
    else:
        # SMPP gives TLVs no order; a repeated tag's values are written together.
        again = smppfast.decode(smppfast.encode(smppfast.decode(data)))
        assert again == smppfast.decode(data)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_encodes_from_listed_fields(vector: dict[str, Any]) -> None:
    cls = smppfast.PDU_CLASSES[vector["command_id"]]
    fields = {n: _expected_value(n, v) for n, v in vector["fields"].items() if n not in DERIVED}
    tlvs: dict[int, Any] = {}
    for t in vector["tlvs"]:
        raw = bytes.fromhex(t["value_hex"])  # raw octets encode verbatim whatever the tag's type
        if t["tag"] in tlvs:
            prev = tlvs[t["tag"]]
            tlvs[t["tag"]] = (prev if isinstance(prev, list) else [prev]) + [raw]
        else:
            tlvs[t["tag"]] = raw
    pdu = cls(
        sequence_number=vector["sequence_number"],
        command_status=vector["command_status"],
        tlvs=tlvs,
        **fields,
    )
    data = bytes.fromhex(vector["pdu_hex"])
    if list(tlvs) == [t["tag"] for t in vector["tlvs"]] or len(set(tlvs)) == len(vector["tlvs"]):
        assert smppfast.encode(pdu) == data
    else:
        assert smppfast.decode(smppfast.encode(pdu)) == smppfast.decode(data)


def test_repeated_tag_is_a_list_in_wire_order() -> None:
    vector = next(v for v in VECTORS if "repeated" in v["tags"])
    pdu = smppfast.decode(bytes.fromhex(vector["pdu_hex"]))
    values = [bytes.fromhex(t["value_hex"]) for t in vector["tlvs"] if t["tag"] == smppfast.Tlv.CALLBACK_NUM]
    assert pdu.tlvs[smppfast.Tlv.CALLBACK_NUM] == values
