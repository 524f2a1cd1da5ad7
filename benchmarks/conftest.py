"""Canonical inputs for the codec benchmarks, and the correctness gate every library must pass.

The wire bytes are built here by a tiny independent packer (``struct``), not by any of the libraries
under test, so they are a neutral reference: each library must encode the typical submit_sm to exactly
these bytes and decode every input to exactly the expected values (``peer`` fixture) before any of its
benchmarks is timed. A library that is not installed is skipped.

At the end of a benchmark run a summary prints, per group, each library's operations per second
(median) and smppfast's ratio to each peer.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import Any

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # works under any pytest import mode
    sys.path.insert(0, _HERE)

import peers  # noqa: E402

# ------------------------------------------------------------------------------------------------
# Canonical values
# ------------------------------------------------------------------------------------------------
SUBMIT_SM = 0x00000004
SUBMIT_SM_RESP = 0x80000004
DELIVER_SM = 0x00000005
ENQUIRE_LINK = 0x00000015

TEXT_60 = b"Your code is 482913. It expires in 10 minutes. Do not share!"
assert len(TEXT_60) == 60

SUBMIT_FIELDS: dict[str, Any] = {
    "service_type": "",
    "source_addr_ton": 5,
    "source_addr_npi": 0,
    "source_addr": "Sender",
    "dest_addr_ton": 1,
    "dest_addr_npi": 1,
    "destination_addr": "447700900123",
    "esm_class": 0,
    "protocol_id": 0,
    "priority_flag": 0,
    "schedule_delivery_time": "",
    "validity_period": "",
    "registered_delivery": 1,
    "replace_if_present_flag": 0,
    "data_coding": 0,
    "sm_default_msg_id": 0,
    "short_message": TEXT_60,
    "sequence_number": 12345,
    "tlvs": {},
}

RECEIPT_MESSAGE_ID = "a1b2c3d4e5f6"
RECEIPT_STATE = 2  # DELIVERED
RECEIPT_TEXT = (
    b"id:a1b2c3d4e5f6 sub:001 dlvrd:001 submit date:2411261200 done date:2411261201 "
    b"stat:DELIVRD err:000 text:Your code is 48291"
)
RECEIPT_FIELDS: dict[str, Any] = {
    **SUBMIT_FIELDS,
    "source_addr_ton": 1,
    "source_addr_npi": 1,
    "source_addr": "447700900123",
    "dest_addr_ton": 5,
    "dest_addr_npi": 0,
    "destination_addr": "Sender",
    "esm_class": 0x04,
    "registered_delivery": 0,
    "short_message": RECEIPT_TEXT,
    "sequence_number": 7,
}

RESP_COUNT = 10_000
MIXED_TARGET = 1 << 20
CHUNK = 64 * 1024


# ------------------------------------------------------------------------------------------------
# A neutral packer
# ------------------------------------------------------------------------------------------------
def _cstr(s: str) -> bytes:
    return s.encode("latin-1") + b"\x00"


def _pdu(command_id: int, seq: int, body: bytes = b"", status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def _sm_body(f: dict[str, Any], tlvs: bytes = b"") -> bytes:
    sm = f["short_message"]
    return (
        _cstr(f["service_type"])
        + bytes((f["source_addr_ton"], f["source_addr_npi"]))
        + _cstr(f["source_addr"])
        + bytes((f["dest_addr_ton"], f["dest_addr_npi"]))
        + _cstr(f["destination_addr"])
        + bytes((f["esm_class"], f["protocol_id"], f["priority_flag"]))
        + _cstr(f["schedule_delivery_time"])
        + _cstr(f["validity_period"])
        + bytes((f["registered_delivery"], f["replace_if_present_flag"], f["data_coding"]))
        + bytes((f["sm_default_msg_id"], len(sm)))
        + sm
        + tlvs
    )


def _tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


def message_id(i: int) -> str:
    return f"{(0xA1B2C3D4E5F6 + i) & 0xFFFFFFFFFFFF:012x}"


SUBMIT_BYTES = _pdu(SUBMIT_SM, SUBMIT_FIELDS["sequence_number"], _sm_body(SUBMIT_FIELDS))
RECEIPT_BYTES = _pdu(
    DELIVER_SM,
    RECEIPT_FIELDS["sequence_number"],
    _sm_body(
        RECEIPT_FIELDS,
        _tlv(peers.TAG_RECEIPTED_MESSAGE_ID, _cstr(RECEIPT_MESSAGE_ID))
        + _tlv(peers.TAG_MESSAGE_STATE, bytes((RECEIPT_STATE,))),
    ),
)
# Expected (command_id, sequence_number, command_status, message_id) per PDU of a stream.
RESP_EXPECTED = [(SUBMIT_SM_RESP, i, 0, message_id(i)) for i in range(1, RESP_COUNT + 1)]
RESP_STREAM = b"".join(_pdu(c, s, _cstr(m), st) for c, s, st, m in RESP_EXPECTED)


def _mixed() -> tuple[bytes, list[tuple]]:
    """~1 MiB of what an ESME's socket carries, plus submit_sm (the SMSC side): per 10 PDUs,
    5 submit_sm_resp, 3 deliver_sm receipts, 1 submit_sm, 1 enquire_link."""
    parts: list[bytes] = []
    expected: list[tuple] = []
    size = 0
    seq = 0
    pattern = ("resp", "receipt", "resp", "submit", "resp", "receipt", "resp", "enquire", "resp", "receipt")
    while size < MIXED_TARGET:
        for kind in pattern:
            seq += 1
            if kind == "resp":
                b = _pdu(SUBMIT_SM_RESP, seq, _cstr(message_id(seq)))
                expected.append((SUBMIT_SM_RESP, seq, 0, message_id(seq)))
            elif kind == "receipt":
                b = RECEIPT_BYTES[:12] + struct.pack(">I", seq) + RECEIPT_BYTES[16:]
                expected.append((DELIVER_SM, seq, 0, None))
            elif kind == "submit":
                b = SUBMIT_BYTES[:12] + struct.pack(">I", seq) + SUBMIT_BYTES[16:]
                expected.append((SUBMIT_SM, seq, 0, None))
            else:
                b = _pdu(ENQUIRE_LINK, seq)
                expected.append((ENQUIRE_LINK, seq, 0, None))
            parts.append(b)
            size += len(b)
    return b"".join(parts), expected


MIXED_STREAM, MIXED_EXPECTED = _mixed()
MIXED_CHUNKS = [MIXED_STREAM[i : i + CHUNK] for i in range(0, len(MIXED_STREAM), CHUNK)]


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------
class Inputs:
    submit_fields = SUBMIT_FIELDS
    submit_bytes = SUBMIT_BYTES
    receipt_bytes = RECEIPT_BYTES
    receipt_expected = (RECEIPT_MESSAGE_ID, RECEIPT_STATE, RECEIPT_TEXT)
    resp_chunks = [RESP_STREAM]
    resp_count = RESP_COUNT
    mixed_chunks = MIXED_CHUNKS
    mixed_count = len(MIXED_EXPECTED)
    mixed_bytes = len(MIXED_STREAM)


@pytest.fixture(scope="session")
def inputs() -> type[Inputs]:
    return Inputs


_verified: dict[str, Any] = {}


def verify(adapter: peers.Adapter) -> None:
    """Assert that ``adapter`` encodes and decodes the canonical inputs exactly (run once per library)."""
    lib = adapter.name
    enc = adapter.make_encode_submit(SUBMIT_FIELDS)(1)
    assert enc == SUBMIT_BYTES, f"{lib}: submit_sm encodes to\n{enc.hex()}\nexpected\n{SUBMIT_BYTES.hex()}"

    got = adapter.norm_submit(adapter.make_decode_submit(SUBMIT_BYTES)(1))
    assert got == SUBMIT_FIELDS, f"{lib}: submit_sm decodes to {got}"

    got_r = adapter.norm_receipt(adapter.make_decode_receipt(RECEIPT_BYTES)(1))
    assert got_r == Inputs.receipt_expected, f"{lib}: receipt decodes to {got_r}"

    frame = adapter.make_frame_stream()
    got_s = [adapter.norm_pdu(p) for p in frame([RESP_STREAM])]
    assert got_s == RESP_EXPECTED, f"{lib}: resp stream decodes wrong ({len(got_s)} PDUs)"

    got_rr = adapter.make_frame_read_resp()([RESP_STREAM])
    want_rr = [(s, st, m) for _, s, st, m in RESP_EXPECTED]
    got_rr = [(s, st, m.decode("latin-1") if isinstance(m, bytes) else m) for s, st, m in got_rr]
    assert got_rr == want_rr, f"{lib}: resp stream + read id gives wrong values"

    got_m = [adapter.norm_pdu(p) for p in frame(MIXED_CHUNKS)]
    assert got_m == MIXED_EXPECTED, f"{lib}: mixed stream decodes wrong ({len(got_m)} PDUs)"


@pytest.fixture(scope="session", params=peers.LIBRARIES)
def peer(request: pytest.FixtureRequest) -> peers.Adapter:
    """Each library in turn, verified on the canonical inputs; skipped if not installed."""
    name = request.param
    if name not in _verified:
        adapter = peers.load(name)
        if adapter is not None:
            try:
                verify(adapter)
            except Exception as exc:  # remember the failure: every benchmark of this lib errors
                _verified[name] = exc
                raise
        _verified[name] = adapter
    adapter = _verified[name]
    if isinstance(adapter, Exception):
        raise adapter
    if adapter is None:
        pytest.skip(f"{name} is not installed")
    return adapter


# ------------------------------------------------------------------------------------------------
# Summary: ops/s and ratios, read off one run
# ------------------------------------------------------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not getattr(session, "benchmarks", None):
        return
    w = terminalreporter.write_line
    for key, label in (("ops_per_s", "median round"), ("ops_per_s_best", "best round")):
        table: dict[str, dict[str, float]] = {}
        for bench in session.benchmarks:
            ops = bench.extra_info.get(key)
            lib = bench.extra_info.get("lib")
            if ops and lib:
                table.setdefault(bench.group or "", {})[lib] = ops
        if not table:
            return
        w("")
        w(f"smppfast codec vs peers, per operation (per PDU for streams), {label}:")
        for group, libs in table.items():
            cells = [f"{lib} {_fmt(v)}/s" for lib, v in libs.items()]
            ratios = []
            if "smppfast" in libs:
                for lib, v in libs.items():
                    if lib != "smppfast":
                        ratios.append(f"x{libs['smppfast'] / v:.2f} vs {lib}")
            w(f"  {group:<32} " + " | ".join(cells) + ("   [" + ", ".join(ratios) + "]" if ratios else ""))


def _fmt(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"
