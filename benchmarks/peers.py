"""Adapters that drive smppfast and its peers (smpplib 2.2.4, smpp34 1.5.0) through the same operations.

Each adapter is written the way a careful user of that library would write the code: its public API,
methods and constructors bound to locals, no private shortcuts. Every operation is offered as a *loop
factory*: ``make_xxx(...)`` does the set-up once and returns ``run(n)``, which performs the operation
``n`` times inside one Python frame and returns the result of the last one. The benchmarks time
``run(n)``; the set-up checks in ``conftest.py`` call ``run(1)`` and compare its result with the
expected values, so the code that is timed is exactly the code that was checked.

``load(name)`` returns the adapter, or ``None`` when the library cannot be imported (the benchmark is
then skipped).

Results are returned raw (smpplib gives C-Octet strings as ``bytes``, smpp34 gives TLVs as a list of
``Tlv``); each adapter's ``norm_*`` functions turn them into plain values for the correctness checks,
outside the timed code.
"""

from __future__ import annotations

import struct
from itertools import repeat
from typing import Any, Callable, Optional

TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_MESSAGE_STATE = 0x0427

# What a user's own framing loop accepts (a generous max, like smppfast's default).
MAX_PDU = 70 * 1024

_unpack_len = struct.Struct(">I").unpack_from

# The 17 body fields of submit_sm / deliver_sm, in wire order (sm_length is derived).
SUBMIT_FIELDS = (
    "service_type",
    "source_addr_ton",
    "source_addr_npi",
    "source_addr",
    "dest_addr_ton",
    "dest_addr_npi",
    "destination_addr",
    "esm_class",
    "protocol_id",
    "priority_flag",
    "schedule_delivery_time",
    "validity_period",
    "registered_delivery",
    "replace_if_present_flag",
    "data_coding",
    "sm_default_msg_id",
    "short_message",
)


def _user_framing_loop(decode: Callable[[bytes], Any]) -> Callable[[list], list]:
    """The length-prefix slicing loop a user writes around a one-PDU ``decode(bytes)``.

    Handles any split of the stream over ``chunks`` (the leftover tail is carried to the next chunk),
    validates the length prefix, and slices ``bytes`` (smpp34.decode refuses memoryview/bytearray).
    """

    unpack_len = _unpack_len
    max_pdu = MAX_PDU

    def frame(chunks: list) -> list:
        out: list = []
        append = out.append
        rest = b""
        for chunk in chunks:
            buf = rest + chunk if rest else chunk
            pos = 0
            end = len(buf)
            while end - pos >= 4:
                length = unpack_len(buf, pos)[0]
                if length < 16 or length > max_pdu:
                    raise ValueError(f"bad command_length {length} at offset {pos}")
                if end - pos < length:
                    break
                append(decode(buf[pos : pos + length]))
                pos += length
            rest = buf[pos:]
        if rest:
            raise ValueError(f"{len(rest)} trailing bytes")
        return out

    return frame


class Adapter:
    name: str = ""
    version: str = ""
    # Iterations per timed call for single-PDU operations (the slow pure-Python peer uses fewer).
    loop_n: int = 1000

    # -- loop factories ---------------------------------------------------------------------------
    def make_encode_submit(self, f: dict) -> Callable[[int], bytes]:
        raise NotImplementedError

    def make_decode_submit(self, data: bytes) -> Callable[[int], tuple]:
        raise NotImplementedError

    def make_decode_receipt(self, data: bytes) -> Callable[[int], tuple]:
        raise NotImplementedError

    def make_frame_stream(self) -> Callable[[list], list]:
        """``run(chunks) -> list of decoded PDUs`` over a stream given as a list of chunks."""
        raise NotImplementedError

    def make_frame_read_resp(self) -> Callable[[list], list]:
        """``run(chunks) -> [(sequence_number, command_status, message_id), ...]`` for a resp stream."""
        raise NotImplementedError

    # -- normalisers (not timed) --------------------------------------------------------------------
    def norm_submit(self, values: tuple) -> dict:
        """values = 17 body fields + sequence_number + tlvs -> dict of plain values."""
        d = dict(zip(SUBMIT_FIELDS, values[:17]))
        d["sequence_number"] = values[17]
        d["tlvs"] = dict(values[18])
        return d

    def norm_receipt(self, values: tuple) -> tuple:
        return values

    def norm_pdu(self, pdu: Any) -> tuple:
        """(command_id, sequence_number, command_status, message_id or None) of a decoded PDU."""
        raise NotImplementedError


# ------------------------------------------------------------------------------------------------
# smppfast
# ------------------------------------------------------------------------------------------------
class SmppfastAdapter(Adapter):
    name = "smppfast"

    def __init__(self, mod: Any) -> None:
        self.mod = mod
        self.version = getattr(mod, "__version__", "?")

    def make_encode_submit(self, f: dict) -> Callable[[int], bytes]:
        SubmitSm = self.mod.SubmitSm
        encode = self.mod.encode
        src, dst, text, seq = f["source_addr"], f["destination_addr"], f["short_message"], f["sequence_number"]

        def run(n: int) -> bytes:
            out = b""
            for _ in repeat(None, n):
                out = encode(
                    SubmitSm(
                        source_addr_ton=5,
                        source_addr_npi=0,
                        source_addr=src,
                        dest_addr_ton=1,
                        dest_addr_npi=1,
                        destination_addr=dst,
                        registered_delivery=1,
                        short_message=text,
                        sequence_number=seq,
                    )
                )
            return out

        return run

    def make_decode_submit(self, data: bytes) -> Callable[[int], tuple]:
        decode = self.mod.decode

        def run(n: int) -> tuple:
            r: tuple = ()
            for _ in repeat(None, n):
                p = decode(data)
                r = (
                    p.service_type,
                    p.source_addr_ton,
                    p.source_addr_npi,
                    p.source_addr,
                    p.dest_addr_ton,
                    p.dest_addr_npi,
                    p.destination_addr,
                    p.esm_class,
                    p.protocol_id,
                    p.priority_flag,
                    p.schedule_delivery_time,
                    p.validity_period,
                    p.registered_delivery,
                    p.replace_if_present_flag,
                    p.data_coding,
                    p.sm_default_msg_id,
                    p.short_message,
                    p.sequence_number,
                    p.tlvs,
                )
            return r

        return run

    def make_decode_receipt(self, data: bytes) -> Callable[[int], tuple]:
        decode = self.mod.decode
        rid_tag, state_tag = TAG_RECEIPTED_MESSAGE_ID, TAG_MESSAGE_STATE

        def run(n: int) -> tuple:
            r: tuple = ()
            for _ in repeat(None, n):
                p = decode(data)
                tlvs = p.tlvs
                r = (tlvs.get(rid_tag), tlvs.get(state_tag), p.short_message)
            return r

        return run

    def make_frame_stream(self) -> Callable[[list], list]:
        Decoder = self.mod.Decoder

        def run(chunks: list) -> list:
            feed = Decoder().feed
            if len(chunks) == 1:
                return feed(chunks[0])
            out: list = []
            extend = out.extend
            for chunk in chunks:
                extend(feed(chunk))
            return out

        return run

    def make_frame_read_resp(self) -> Callable[[list], list]:
        frame = self.make_frame_stream()

        def run(chunks: list) -> list:
            return [(p.sequence_number, p.command_status, p.message_id) for p in frame(chunks)]

        return run

    def norm_pdu(self, pdu: Any) -> tuple:
        return (
            int(pdu.command_id),
            pdu.sequence_number,
            int(pdu.command_status),
            getattr(pdu, "message_id", None),
        )


# ------------------------------------------------------------------------------------------------
# smpp34 (Rust core via pyo3)
# ------------------------------------------------------------------------------------------------
class Smpp34Adapter(Adapter):
    name = "smpp34"

    def __init__(self, mod: Any) -> None:
        self.mod = mod
        self.version = getattr(mod, "__version__", "?")

    def make_encode_submit(self, f: dict) -> Callable[[int], bytes]:
        SubmitSm = self.mod.SubmitSm
        src, dst, text, seq = f["source_addr"], f["destination_addr"], f["short_message"], f["sequence_number"]

        def run(n: int) -> bytes:
            out = b""
            for _ in repeat(None, n):
                out = SubmitSm(
                    src,
                    dst,
                    text,
                    source_addr_ton=5,
                    source_addr_npi=0,
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    registered_delivery=1,
                    sequence_number=seq,
                ).encode()
            return out

        return run

    def make_decode_submit(self, data: bytes) -> Callable[[int], tuple]:
        decode = self.mod.decode

        def run(n: int) -> tuple:
            r: tuple = ()
            for _ in repeat(None, n):
                p = decode(data)
                r = (
                    p.service_type,
                    p.source_addr_ton,
                    p.source_addr_npi,
                    p.source_addr,
                    p.dest_addr_ton,
                    p.dest_addr_npi,
                    p.destination_addr,
                    p.esm_class,
                    p.protocol_id,
                    p.priority_flag,
                    p.schedule_delivery_time,
                    p.validity_period,
                    p.registered_delivery,
                    p.replace_if_present_flag,
                    p.data_coding,
                    p.sm_default_msg_id,
                    p.short_message,
                    p.sequence_number,
                    p.tlvs,
                )
            return r

        return run

    def norm_submit(self, values: tuple) -> dict:
        d = super().norm_submit(values[:18] + ({},))
        d["tlvs"] = {t.tag: t.value for t in values[18]}
        return d

    def make_decode_receipt(self, data: bytes) -> Callable[[int], tuple]:
        decode = self.mod.decode
        rid_tag, state_tag = TAG_RECEIPTED_MESSAGE_ID, TAG_MESSAGE_STATE

        def run(n: int) -> tuple:
            r: tuple = ()
            for _ in repeat(None, n):
                p = decode(data)
                rid = state = None
                for t in p.tlvs:
                    tag = t.tag
                    if tag == rid_tag:
                        rid = t.as_string()
                    elif tag == state_tag:
                        state = t.as_int()
                r = (rid, state, p.short_message)
            return r

        return run

    def make_frame_stream(self) -> Callable[[list], list]:
        return _user_framing_loop(self.mod.decode)

    def make_frame_read_resp(self) -> Callable[[list], list]:
        frame = self.make_frame_stream()

        def run(chunks: list) -> list:
            # RawPdu: the body is not parsed; the user slices the C-Octet message_id off it.
            return [(p.sequence_number, p.command_status, p.body[:-1].decode("latin-1")) for p in frame(chunks)]

        return run

    def norm_pdu(self, pdu: Any) -> tuple:
        # submit_sm_resp and enquire_link come back as RawPdu: the body is not parsed.
        cid = pdu.command_id
        if cid == 0x80000004:
            body = pdu.body
            mid = body[:-1].decode("latin-1") if body else None
            return (cid, pdu.sequence_number, pdu.command_status, mid)
        status = getattr(pdu, "command_status", 0)
        return (cid, pdu.sequence_number, status, None)


# ------------------------------------------------------------------------------------------------
# smpplib (pure Python)
# ------------------------------------------------------------------------------------------------
class SmpplibAdapter(Adapter):
    name = "smpplib"
    loop_n = 20

    def __init__(self, smpp: Any, client_mod: Any, version: str) -> None:
        self.smpp = smpp
        self.version = version
        # A Client is what smpplib's own code hands to make_pdu/parse_pdu (sequence numbers); it does
        # not connect until asked to.
        self.client = client_mod.Client("127.0.0.1", 2775, allow_unknown_opt_params=True)

    def make_encode_submit(self, f: dict) -> Callable[[int], bytes]:
        make_pdu = self.smpp.make_pdu
        client = self.client
        src, dst, text, seq = f["source_addr"], f["destination_addr"], f["short_message"], f["sequence_number"]

        def run(n: int) -> bytes:
            out = b""
            for _ in repeat(None, n):
                p = make_pdu(
                    "submit_sm",
                    client=client,
                    source_addr_ton=5,
                    source_addr_npi=0,
                    source_addr=src,
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    destination_addr=dst,
                    registered_delivery=1,
                    short_message=text,
                )
                p.sequence = seq  # smpplib takes the number from the client; we pin it
                out = p.generate()
            return out

        return run

    def make_decode_submit(self, data: bytes) -> Callable[[int], tuple]:
        parse_pdu = self.smpp.parse_pdu
        client = self.client

        def run(n: int) -> tuple:
            r: tuple = ()
            for _ in repeat(None, n):
                p = parse_pdu(data, client=client, allow_unknown_opt_params=True)
                r = (
                    p.service_type,
                    p.source_addr_ton,
                    p.source_addr_npi,
                    p.source_addr,
                    p.dest_addr_ton,
                    p.dest_addr_npi,
                    p.destination_addr,
                    p.esm_class,
                    p.protocol_id,
                    p.priority_flag,
                    p.schedule_delivery_time,
                    p.validity_period,
                    p.registered_delivery,
                    p.replace_if_present_flag,
                    p.data_coding,
                    p.sm_default_msg_id,
                    p.short_message,
                    p.sequence,
                    # smpplib has no TLV collection: each known TLV is an attribute (None if absent)
                    p.user_message_reference,
                )
            return r

        return run

    def norm_submit(self, values: tuple) -> dict:
        vals = [v.decode("latin-1") if isinstance(v, bytes) and i != 16 else v for i, v in enumerate(values)]
        d = super().norm_submit(tuple(vals[:18]) + ({},))
        return d

    def make_decode_receipt(self, data: bytes) -> Callable[[int], tuple]:
        parse_pdu = self.smpp.parse_pdu
        client = self.client

        def run(n: int) -> tuple:
            r: tuple = ()
            for _ in repeat(None, n):
                p = parse_pdu(data, client=client, allow_unknown_opt_params=True)
                r = (p.receipted_message_id, p.message_state, p.short_message)
            return r

        return run

    def norm_receipt(self, values: tuple) -> tuple:
        rid = values[0].decode("latin-1") if isinstance(values[0], bytes) else values[0]
        return (rid, values[1], values[2])

    def make_frame_stream(self) -> Callable[[list], list]:
        parse_pdu = self.smpp.parse_pdu
        client = self.client
        return _user_framing_loop(lambda b: parse_pdu(b, client=client, allow_unknown_opt_params=True))

    def make_frame_read_resp(self) -> Callable[[list], list]:
        frame = self.make_frame_stream()

        def run(chunks: list) -> list:
            return [(p.sequence, p.status, p.message_id) for p in frame(chunks)]

        return run

    def norm_pdu(self, pdu: Any) -> tuple:
        from smpplib import command_codes

        cid = command_codes.get_command_code(pdu.command)
        mid = getattr(pdu, "message_id", None)
        if isinstance(mid, bytes):
            mid = mid.decode("latin-1")
        return (cid, pdu.sequence, pdu.status, mid)


# ------------------------------------------------------------------------------------------------
def load(name: str) -> Optional[Adapter]:
    """The adapter for ``name`` ("smppfast", "smpp34", "smpplib"), or None if it cannot be imported."""
    try:
        if name == "smppfast":
            import smppfast

            for attr in ("SubmitSm", "encode", "decode", "Decoder"):
                if not hasattr(smppfast, attr):
                    return None
            return SmppfastAdapter(smppfast)
        if name == "smpp34":
            import smpp34

            return Smpp34Adapter(smpp34)
        if name == "smpplib":
            from importlib.metadata import version

            import smpplib.client
            import smpplib.smpp

            return SmpplibAdapter(smpplib.smpp, smpplib.client, version("smpplib"))
    except ImportError:
        return None
    raise ValueError(f"unknown library {name!r}")


LIBRARIES = ("smppfast", "smpp34", "smpplib")
