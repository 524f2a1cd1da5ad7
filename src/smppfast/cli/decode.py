"""``smppfast decode``: print PDUs field by field, with names for commands, statuses, TLVs and
data codings, the UDH and the decoded text."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

from .. import _codec
from .._codec import Pdu, decode
from .._text import NATIONAL_LANGUAGES, decode_text
from ..constants import Command, DataCoding, MessageState, Npi, Tlv, Ton
from ..errors import PduError, TextError
from ..reassembly import UDH_IE_NAMES, UdhError, parse_udh, shift_tables
from ..receipt import receipt_from_pdu
from ._common import EXIT_OK, CliError, Subparsers, _format_receipt, _out, _status_name

_LANGUAGE_NAMES = {lang: name for name, lang in NATIONAL_LANGUAGES.items()}
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_HEX_TEXT = _HEX_DIGITS | frozenset(b" \t\r\n:xX")
_ESM_MODE = {1: "datagram mode", 2: "forward mode", 3: "store and forward mode"}
_ESM_TYPE = {0x04: "delivery receipt", 0x08: "SME ack", 0x10: "SME manual ack", 0x18: "conversation abort",
             0x20: "intermediate notification"}


def _parse_hex(text: str) -> bytes:
    """Hex digits with optional whitespace, ``:`` separators and ``0x`` prefixes."""
    digits = []
    for token in text.replace(":", " ").split():
        if token[:2] in ("0x", "0X"):
            token = token[2:]
        digits.append(token)
    joined = "".join(digits)
    if not joined:
        raise CliError("bad hex: no hex digits in the input")
    for i, ch in enumerate(joined):
        if ch not in "0123456789abcdefABCDEF":
            raise CliError(f"bad hex: {ch!r} is not a hex digit (digit {i + 1})")
    if len(joined) % 2:
        raise CliError(f"bad hex: odd number of hex digits ({len(joined)})")
    return bytes.fromhex(joined)


def _looks_like_hex(data: bytes) -> bool:
    # A raw PDU starts with command_length's high octet, 0x00 for any PDU under 16 MiB,
    # which is never a hex digit: so hex text and raw bytes cannot be confused.
    return bool(data) and data[:1] in b"0123456789abcdefABCDEF \t\r\n" and all(b in _HEX_TEXT for b in data)


def _read_decode_input(args: argparse.Namespace) -> bytes:
    if args.file is not None:
        if args.hex:
            raise CliError("give either HEX or --file, not both")
        try:
            with open(args.file, "rb") as fh:
                data = fh.read()
        except OSError as err:
            raise CliError(f"cannot read {args.file}: {err.strerror or err}") from None
    elif args.hex == ["-"]:
        data = sys.stdin.buffer.read()
    elif args.hex:
        return _parse_hex(" ".join(args.hex))
    else:
        raise CliError("nothing to decode: give HEX, - (stdin) or --file PATH")
    if _looks_like_hex(data):
        return _parse_hex(data.decode("ascii"))
    if not data:
        raise CliError("nothing to decode: the input is empty")
    return data


def cmd_decode(args: argparse.Namespace) -> int:
    data = _read_decode_input(args)
    view = memoryview(data)
    offset = 0
    index = 0
    several = len(data) >= 4 and int.from_bytes(data[:4], "big") < len(data)
    while offset < len(data):
        remaining = len(data) - offset
        length = int.from_bytes(view[offset : offset + 4], "big") if remaining >= 4 else 0
        # A sane length frames one PDU; anything else goes whole to decode(), which names the problem.
        end = offset + length if 16 <= length <= remaining else len(data)
        index += 1
        try:
            pdu = decode(view[offset:end])
        except PduError as err:
            where = f"PDU #{index} at offset {offset}" if several or index > 1 else "PDU"
            detail = []
            if err.field:
                detail.append(f"field {err.field}")
            if err.offset is not None:
                detail.append(f"offset {err.offset}")
            if err.command_id is not None:
                detail.append(_command_name(err.command_id))
            raise CliError(f"malformed {where}: {err}" + (f" ({', '.join(detail)})" if detail else "")) from None
        if index > 1:
            _out()
        for line in _format_pdu(pdu, end - offset, offset if several else None, index, args.show_password):
            _out(line)
        offset = end
    return EXIT_OK


def _command_name(command_id: int) -> str:
    try:
        return Command(command_id).name.lower()
    except ValueError:
        return f"command 0x{command_id:08X}"


def _enum_label(enum: Any, value: int) -> str:
    try:
        return f"{value} ({enum(value).name})"
    except ValueError:
        return str(value)


def _esm_label(value: int) -> str:
    names = []
    if value & 0x03:
        names.append(_ESM_MODE[value & 0x03])
    if value & 0x3C:
        names.append(_ESM_TYPE.get(value & 0x3C, f"type 0x{value & 0x3C:02X}"))
    if value & 0x40:
        names.append("UDHI")
    if value & 0x80:
        names.append("reply path")
    return f"0x{value:02X}" + (f" ({', '.join(names)})" if names else "")


def _data_coding_label(value: int) -> str:
    try:
        return f"0x{value:02X} ({DataCoding(value).name})"
    except ValueError:
        if value & 0xF0 == 0xF0:
            return f"0x{value:02X} (message class {value & 3}, {'8-bit data' if value & 4 else 'GSM 03.38'})"
        return f"0x{value:02X}"


def _registered_delivery_label(value: int) -> str:
    names = []
    receipt = value & 0x03
    if receipt == 1:
        names.append("SMSC receipt")
    elif receipt == 2:
        names.append("SMSC receipt on failure")
    elif receipt == 3:
        names.append("SMSC receipt bits 11")
    if value & 0x0C:
        names.append("SME ack requested")
    if value & 0x10:
        names.append("intermediate notification")
    return str(value) + (f" ({', '.join(names)})" if names else "")


def _is_text(data_coding: int) -> bool:
    """Whether the library decodes this data_coding as text (binary and unknown ones raise)."""
    try:
        decode_text(b"", data_coding)
    except TextError:
        return False
    return True


def _ie_description(iei: int, value: bytes) -> str:
    if iei == 0x00 and len(value) == 3:
        return f"concatenated: ref {value[0]}, part {value[2]} of {value[1]}"
    if iei == 0x08 and len(value) == 4:
        return f"concatenated: 16-bit ref {int.from_bytes(value[:2], 'big')}, part {value[3]} of {value[2]}"
    if iei == 0x05 and len(value) == 4:
        return f"ports: dest {int.from_bytes(value[:2], 'big')}, src {int.from_bytes(value[2:], 'big')}"
    if iei == 0x04 and len(value) == 2:
        return f"ports: dest {value[0]}, src {value[1]}"
    if iei in (0x24, 0x25) and len(value) == 1:
        kind = "single shift" if iei == 0x24 else "locking shift"
        language = _LANGUAGE_NAMES.get(value[0], "unknown language")
        return f"national language {kind}: {value[0]} ({language})"
    name = UDH_IE_NAMES.get(iei)
    return f"IE 0x{iei:02X}" + (f" {name}" if name else "") + f": {value.hex() or '(empty)'}"


def _content_lines(data: bytes, data_coding: int, udhi: bool, indent: str) -> list[str]:
    """The UDH (if any) and the text or binary content of short_message / message_payload.

    The UDH is split by the library's own parser (the one reassembly uses) and the text
    decoded by ``decode_text``, so this shows what an application would receive.
    """
    lines = []
    elements: list[tuple[int, bytes]] = []
    if udhi and data:
        try:
            elements, rest = parse_udh(data)
        except UdhError as err:
            size = data[0] + 1
            lines.append(f"{indent}udh   {data[:size].hex()}  (malformed: {err})")
            data = data[size:]
        else:
            described = "; ".join(_ie_description(iei, value) for iei, value in elements)
            lines.append(f"{indent}udh   {data[: len(data) - len(rest)].hex()}" + (f"  ({described})" if described else ""))
            data = rest
    if not _is_text(data_coding):
        lines.append(f"{indent}binary {data.hex()}")
        return lines
    try:
        lock, single = shift_tables(tuple(elements))
    except UdhError as err:
        lines.append(f"{indent}note  {err}; decoded with the default tables")
        lock = single = 0
    try:
        text = decode_text(data, data_coding, locking_shift=lock, single_shift=single)
    except TextError as err:
        # Show what can be read and say why the rest could not.
        lines.append(f"{indent}note  not valid {_data_coding_label(data_coding)} text: {err}")
        try:
            text = decode_text(data, data_coding, errors="replace", locking_shift=lock, single_shift=single)
        except TextError:  # e.g. UCS-2 of odd length: nothing sound to show
            return lines
    lines.append(f"{indent}text  {text!r}")
    return lines


def _tlv_name(tag: int) -> str:
    try:
        return Tlv(tag).name.lower()
    except ValueError:
        return "vendor-specific" if 0x1400 <= tag <= 0x3FFF else "unknown"


def _tlv_value(tag: int, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str, bytes)):
        return repr(value)
    if isinstance(value, int):
        if tag == Tlv.MESSAGE_STATE:
            return _enum_label(MessageState, value)
        return f"{value} (0x{value:X})"
    if isinstance(value, str):
        return repr(value)
    return f"{value.hex() or '(empty)'}  [{len(value)} octets]"


def _field_value(name: str, value: Any, show_password: bool) -> str:
    if name == "password" and not show_password:
        return "'***'" if value else "''"
    if name.endswith("_ton") and isinstance(value, int):
        return _enum_label(Ton, value)
    if name.endswith("_npi") and isinstance(value, int):
        return _enum_label(Npi, value)
    if name == "esm_class":
        return _esm_label(value)
    if name == "data_coding":
        return _data_coding_label(value)
    if name == "registered_delivery":
        return _registered_delivery_label(value)
    if name == "message_state":
        return _enum_label(MessageState, value)
    if name == "interface_version":
        return f"0x{value:02X} ({value >> 4}.{value & 0x0F})"
    if isinstance(value, (bytes, bytearray)):
        return f"{bytes(value).hex() or '(empty)'}  [{len(value)} octets]"
    return repr(value)


def _format_pdu(pdu: Pdu, length: int, offset: Optional[int], index: int, show_password: bool) -> list[str]:
    cid = int(type(pdu).command_id)
    head = f"{_command_name(cid)} (command_id 0x{cid:08X}, {length} octets)"
    if offset is not None:
        head = f"#{index} at offset {offset}: " + head
    status = int(pdu.command_status)
    lines = [
        head,
        f"  {'command_status':<24}0x{status:08X} {_status_name(status)}",
        f"  {'sequence_number':<24}{pdu.sequence_number}",
    ]
    fields = pdu.as_dict()
    esm_class = int(fields.get("esm_class", 0) or 0)
    data_coding = int(fields.get("data_coding", 0) or 0)
    for name, value in fields.items():
        if name == "dest_address":
            lines.append(f"  {name:<24}{len(value)} destination(s)")
            for i, dest in enumerate(value):
                if isinstance(dest, _codec.DistributionList):
                    lines.append(f"    [{i}] distribution list {dest.dl_name!r}")
                else:
                    lines.append(
                        f"    [{i}] {dest.destination_addr!r} ton {_enum_label(Ton, dest.dest_addr_ton)}, "
                        f"npi {_enum_label(Npi, dest.dest_addr_npi)}"
                    )
            continue
        if name == "unsuccess_sme":
            lines.append(f"  {name:<24}{len(value)} address(es)")
            for i, sme in enumerate(value):
                lines.append(
                    f"    [{i}] {sme.destination_addr!r} ton {sme.dest_addr_ton}, npi {sme.dest_addr_npi}: "
                    f"{_status_name(sme.error_status_code)}"
                )
            continue
        lines.append(f"  {name:<24}{_field_value(name, value, show_password)}")
        if name == "short_message" and value:
            lines.extend(_content_lines(bytes(value), data_coding, bool(esm_class & 0x40), "      "))
    tlvs = pdu.tlvs
    if tlvs:
        lines.append(f"  tlvs ({sum(len(v) if isinstance(v, list) else 1 for v in tlvs.values())})")
        for tag, values in tlvs.items():
            for value in values if isinstance(values, list) else [values]:
                tag = int(tag)
                lines.append(f"    0x{tag:04X} {_tlv_name(tag):<26}{_tlv_value(tag, value)}")
                if tag == Tlv.MESSAGE_PAYLOAD and isinstance(value, bytes) and value:
                    lines.extend(_content_lines(value, data_coding, bool(esm_class & 0x40), "        "))
    if cid in (Command.DELIVER_SM, Command.DATA_SM) and esm_class & 0x3C in (0x04, 0x20):
        try:
            receipt = receipt_from_pdu(pdu)
        except Exception as err:  # a malformed receipt text is worth showing, not fatal
            lines.append(f"  receipt: not parseable ({err})")
        else:
            if receipt is not None:
                lines.append("  " + _format_receipt(receipt))
    return lines


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    # No -v: decoding logs nothing, so ``parents`` (the shared -v option) is not used.
    p = sub.add_parser(
        "decode",
        help="print PDUs field by field",
        description="Decode one or more concatenated PDUs and print every field, with names for "
        "commands, statuses, TLVs and data codings and the decoded text. Input is HEX (spaces, "
        "newlines, ':' and 0x prefixes allowed), '-' for stdin, or --file PATH; stdin and files may "
        "hold raw PDU bytes or hex text (told apart by the first octet).",
    )
    p.add_argument("hex", nargs="*", metavar="HEX", help="hex of the PDU(s), or - to read stdin")
    p.add_argument("--file", metavar="PATH", help="read concatenated PDUs from a file")
    p.add_argument("--show-password", action="store_true", help="print bind passwords instead of '***'")
    p.set_defaults(func=cmd_decode, verbose=0)
