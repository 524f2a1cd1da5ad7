"""SMSC delivery receipts: parse them from deliver_sm / data_sm into typed objects.

An SMSC reports the fate of a message submitted with ``registered_delivery`` by sending a
``deliver_sm`` (or ``data_sm``) whose ``esm_class`` has the delivery-receipt bit (0x04) set.
SMPP 3.4 describes the content only informally (Appendix B)::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...

and lets the SMSC add the ``receipted_message_id``, ``message_state`` and ``network_error_code``
TLVs. Real SMSCs vary a lot, so the text parser is deliberately lenient:

* keys in any case, with ``submit date`` also spelled ``submit_date``/``submitdate`` (same for done);
* any field may be missing except ``id`` (without an id the text is not a receipt);
* unknown ``key:value`` pairs are kept in :attr:`DeliveryReceipt.extra` rather than rejected;
* ``text:`` is always the last field, so everything after it is the text, spaces and colons included;
* dates with 10 (``YYMMDDhhmm``), 12 (``YYMMDDhhmmss``) or 14 digits (``YYYYMMDDhhmmss``), separators
  such as ``-`` ``:`` ``/`` and spaces ignored; a date that does not parse becomes ``None``.

When the TLVs are present :func:`receipt_from_pdu` prefers them over the text, because they are
typed and the SMPP 3.4 specification names them as the authoritative source.

Message ids: SMSCs disagree on whether the id in ``submit_sm_resp`` and the id in the receipt use the
same base (some answer hex and report decimal). :func:`message_ids_match` and
:func:`message_id_keys` compare ids across those forms; see their docstrings for the ambiguity.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from .constants import EsmClass, MessageState, Tlv
from .errors import SmppError

__all__ = [
    "DeliveryReceipt",
    "NetworkError",
    "ReceiptError",
    "parse_receipt",
    "receipt_from_pdu",
    "is_receipt",
    "message_ids_match",
    "message_id_keys",
    "normalize_message_id",
    "matching_message_ids",
    "STAT_TO_STATE",
    "STATE_TO_STAT",
]

logger = logging.getLogger("smppfast.receipt")


class ReceiptError(SmppError, ValueError):
    """The text (or PDU) is not a delivery receipt that can be parsed; the message says why."""


class NetworkError(NamedTuple):
    """The ``network_error_code`` TLV: which network reported the failure, and its error code.

    ``network_type`` is 1 ANSI-136, 2 IS-95, 3 GSM, 4 reserved (SMPP 3.4 section 5.3.2.31);
    ``error_code`` is the network-specific 2-octet code.
    """

    network_type: int
    error_code: int


#: The 7-letter ``stat:`` codes of SMPP 3.4 Appendix B, plus the long spellings some SMSCs send.
STAT_TO_STATE: Mapping[str, MessageState] = {
    "ENROUTE": MessageState.ENROUTE,
    "DELIVRD": MessageState.DELIVERED,
    "DELIVERED": MessageState.DELIVERED,
    "EXPIRED": MessageState.EXPIRED,
    "DELETED": MessageState.DELETED,
    "UNDELIV": MessageState.UNDELIVERABLE,
    "UNDELIVERABLE": MessageState.UNDELIVERABLE,
    "ACCEPTD": MessageState.ACCEPTED,
    "ACCEPTED": MessageState.ACCEPTED,
    "UNKNOWN": MessageState.UNKNOWN,
    "REJECTD": MessageState.REJECTED,
    "REJECTED": MessageState.REJECTED,
}

#: The canonical Appendix B code for each state, used when only the message_state TLV says it.
STATE_TO_STAT: Mapping[MessageState, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}

# SMPP 3.4 section 5.2.28 calls these final: the SMSC will not send another receipt for the message.
# UNKNOWN ("message is in invalid state") is left out on purpose: it says nothing definite, and some
# SMSCs follow it with a real outcome.
_FINAL_STATES = frozenset(
    {
        MessageState.DELIVERED,
        MessageState.EXPIRED,
        MessageState.DELETED,
        MessageState.UNDELIVERABLE,
        MessageState.ACCEPTED,
        MessageState.REJECTED,
    }
)


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """A parsed delivery receipt.

    Fields absent from the receipt are ``None`` (``stat`` is ``""``). Dates are naive datetimes in the
    SMSC's local time, as receipts carry no time zone; two-digit years are taken as 20YY.
    ``submitted_count`` and ``delivered_count`` are the ``sub:`` and ``dlvrd:`` counts. ``extra`` holds
    unknown ``key:value`` pairs (keys lower-cased). ``raw`` is the receipt text as received, without
    surrounding padding (empty when everything came from TLVs). ``ref`` is the sender's reference,
    filled in by a client that matched the receipt to its submit (see ``store=``).
    """

    message_id: str
    submitted_count: int | None = None
    delivered_count: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    stat: str = ""
    state: MessageState | None = None
    err: str | None = None
    network_error: NetworkError | None = None
    text: str | None = None
    raw: str = ""
    # dicts are unhashable: leave them out of the hash so a receipt can still go in a set.
    extra: dict[str, str] = field(default_factory=dict, hash=False)
    #: The sender's own reference, given as ``ref=`` to ``submit`` or ``send_message``, when the
    #: client's (or pool's) store still held this message id; ``None`` otherwise.
    ref: str | None = None

    @property
    def is_final(self) -> bool:
        """True when the state is final (delivered, expired, deleted, undeliverable, accepted, rejected)."""
        return self.state in _FINAL_STATES

    @property
    def delivered(self) -> bool:
        """True when the message reached the handset (state DELIVERED)."""
        return self.state is MessageState.DELIVERED


# A key is a word preceded by whitespace (or the start) and followed by a colon. "submit date" and
# "done date" contain a space, so they are tried first at each position. Requiring whitespace before
# a key keeps values such as "12:30" or "a:b" from being split.
_KEY_RE = re.compile(
    r"(?<!\S)((?:submit|done)[ _-]*date|[A-Za-z][A-Za-z0-9_-]*)[ \t]*:",
    re.IGNORECASE,
)
# SMSCs pad receipts with spaces, line ends or NULs (C strings copied whole).
_PADDING = " \t\r\n\x00"
_DATE_SEPARATORS = str.maketrans("", "", "-/:. T")


def _normalize_key(key: str) -> str:
    """Lower-case a key and fold the spellings of the two date keys into one."""
    k = key.lower()
    if k.startswith(("submit", "done")) and k.endswith("date"):
        return "submit date" if k.startswith("submit") else "done date"
    return k


def _split_fields(s: str) -> list[tuple[str, str]]:
    """Split receipt text into ``(normalized key, value)`` pairs in order, ``text`` taking the rest."""
    matches: list[re.Match[str]] = []
    for m in _KEY_RE.finditer(s):
        matches.append(m)
        if _normalize_key(m.group(1)) == "text":
            break  # text: is last by convention; its content may look like more keys
    pairs: list[tuple[str, str]] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(s)
        pairs.append((_normalize_key(m.group(1)), s[m.end() : end].strip()))
    return pairs


def _parse_date(value: str) -> datetime | None:
    """Parse YYMMDDhhmm, YYMMDDhhmmss or YYYYMMDDhhmmss; ``None`` when it is none of them."""
    digits = value.translate(_DATE_SEPARATORS)
    if not digits.isascii() or not digits.isdigit():
        return None
    try:
        if len(digits) in (10, 12):
            # Receipts are about recent messages: 20YY, not Python's 1969-2068 %y window.
            year = 2000 + int(digits[0:2])
            rest = digits[2:]
        elif len(digits) == 14:
            year = int(digits[0:4])
            rest = digits[4:]
        else:
            return None
        second = int(rest[8:10]) if len(rest) == 10 else 0
        return datetime(year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), second)
    except ValueError:  # month 13, all zeros, ...: keep the receipt, lose the date
        return None


def _parse_count(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() else None


def _state_from_stat(stat: str) -> MessageState | None:
    up = stat.upper()
    state = STAT_TO_STATE.get(up)
    if state is None and up.isascii() and up.isdigit():
        # A few SMSCs put the numeric message_state in stat:.
        try:
            state = MessageState(int(up))
        except ValueError:
            state = None
    return state


def _parse_fields(s: str) -> dict[str, Any]:
    """Parse receipt text into DeliveryReceipt keyword arguments (without ``raw``); no validation."""
    out: dict[str, Any] = {}
    extra: dict[str, str] = {}
    seen: set[str] = set()
    for key, value in _split_fields(s):
        if key in seen:
            # A repeated key is a vendor bug; the first occurrence is the one that follows the layout.
            logger.debug("receipt key %r repeated; keeping the first value", key)
            continue
        seen.add(key)
        if key == "id":
            out["message_id"] = value
        elif key == "sub":
            out["submitted_count"] = _parse_count(value)
        elif key == "dlvrd":
            out["delivered_count"] = _parse_count(value)
        elif key == "submit date":
            out["submit_date"] = _parse_date(value)
        elif key == "done date":
            out["done_date"] = _parse_date(value)
        elif key == "stat":
            out["stat"] = value.upper()
            out["state"] = _state_from_stat(value)
        elif key == "err":
            out["err"] = value
        elif key == "text":
            out["text"] = value
        else:
            extra[key] = value
    out["extra"] = extra
    return out


def _to_str(data: str | bytes | bytearray | memoryview) -> str:
    if isinstance(data, str):
        return data
    # Receipts are ASCII in practice; Latin-1 maps every byte, so decoding can never fail.
    return bytes(data).decode("latin-1")


def parse_receipt(text: str | bytes) -> DeliveryReceipt:
    """Parse delivery receipt text (``id:... stat:... text:...``).

    Bytes are decoded as Latin-1. Raises :class:`ReceiptError` (a ``ValueError``) when the text has
    no ``id:`` field or an empty one, i.e. it is not a delivery receipt at all.
    """
    raw = _to_str(text).strip(_PADDING)
    if not raw:
        raise ReceiptError("not a delivery receipt: the text is empty")
    fields = _parse_fields(raw)
    message_id = fields.get("message_id")
    if message_id is None:
        raise ReceiptError(f"not a delivery receipt: no 'id:' field in {raw[:60]!r}")
    if not message_id:
        raise ReceiptError(f"delivery receipt has an empty 'id:' field: {raw[:60]!r}")
    return DeliveryReceipt(raw=raw, **fields)


def is_receipt(esm_class: int) -> bool:
    """True when ``esm_class`` marks a delivery receipt or an intermediate delivery notification.

    The message type is bits 2-5 of esm_class; 0x04 is the SMSC delivery receipt and 0x20 the
    intermediate notification, which carries the same text format (usually ``stat:ENROUTE``).
    SME acknowledgements (0x08, 0x10) carry user text, so they are not receipts.
    """
    return bool(esm_class & EsmClass.DELIVERY_RECEIPT) or (esm_class & 0x3C) == EsmClass.INTERMEDIATE_NOTIFICATION


def _tlv(tlvs: Mapping[int, Any], tag: int) -> Any:
    """A TLV value, the first one when the tag was repeated (the codec gives a list then)."""
    value = tlvs.get(tag)
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _tlv_message_id(value: Any) -> str | None:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("latin-1")
    if isinstance(value, str):
        value = value.strip("\x00").strip()
        return value or None
    if value is not None:
        logger.debug("ignoring receipted_message_id of type %s", type(value).__name__)
    return None


def _tlv_state(value: Any) -> MessageState | None:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = int.from_bytes(bytes(value), "big") if len(value) else None
    if isinstance(value, int):
        try:
            return MessageState(value)
        except ValueError:
            logger.debug("message_state TLV %d is not an SMPP 3.4 state; ignored", value)
    return None


def _tlv_network_error(value: Any) -> NetworkError | None:
    if isinstance(value, (bytes, bytearray, memoryview)):
        b = bytes(value)
        if len(b) == 3:
            return NetworkError(b[0], int.from_bytes(b[1:3], "big"))
        logger.debug("network_error_code TLV of %d octets (3 expected); ignored", len(b))
        return None
    if isinstance(value, int) and 0 <= value <= 0xFFFFFF:
        return NetworkError(value >> 16, value & 0xFFFF)
    return None


def _receipt_bytes(pdu: Any, tlvs: Mapping[int, Any]) -> bytes:
    """The receipt text bytes: short_message, else message_payload; a UDH, if flagged, is skipped."""
    data = getattr(pdu, "short_message", b"") or b""
    if not data:
        payload = _tlv(tlvs, Tlv.MESSAGE_PAYLOAD)
        data = payload if isinstance(payload, (bytes, bytearray)) else b""
    data = bytes(data)
    if getattr(pdu, "esm_class", 0) & EsmClass.UDHI and data and data[0] + 1 <= len(data):
        data = data[data[0] + 1 :]
    return data


def _decode_receipt_bytes(data: bytes, data_coding: int) -> str:
    if data_coding == 8 and len(data) % 2 == 0:
        # Rare, but some SMSCs send receipts in UCS-2 when the original was UCS-2.
        return data.decode("utf-16-be", errors="replace")
    text = data.decode("latin-1")
    if data_coding == 0 and "\x11" in text:
        # GSM 03.38 puts '_' at 0x11; it matters for "submit_date" keys from GSM-speaking SMSCs.
        text = text.replace("\x11", "_")
    return text


def receipt_from_pdu(pdu: Any, *, require_flag: bool = True) -> DeliveryReceipt | None:
    """Build a receipt from a deliver_sm / data_sm, or ``None`` when it is not a receipt.

    ``pdu`` is any object with ``esm_class``, ``short_message`` (bytes), ``data_coding`` and ``tlvs``
    (a dict keyed by integer tag). The ``receipted_message_id``, ``message_state`` and
    ``network_error_code`` TLVs win over the text; the text (``short_message``, or the
    ``message_payload`` TLV when short_message is empty) supplies everything else.

    With ``require_flag=True`` (default) a PDU whose esm_class does not mark a receipt returns
    ``None``. With ``require_flag=False`` such a PDU is parsed anyway (for SMSCs that forget the flag)
    and ``None`` is returned when it does not parse. A PDU that is flagged as a receipt but has neither
    a receipted_message_id TLV nor parseable text raises :class:`ReceiptError`.
    """
    esm_class = int(getattr(pdu, "esm_class", 0) or 0)
    flagged = is_receipt(esm_class)
    if not flagged and require_flag:
        return None
    tlvs: Mapping[int, Any] = getattr(pdu, "tlvs", None) or {}
    data_coding = int(getattr(pdu, "data_coding", 0) or 0)
    raw = _decode_receipt_bytes(_receipt_bytes(pdu, tlvs), data_coding).strip(_PADDING)

    tlv_id = _tlv_message_id(_tlv(tlvs, Tlv.RECEIPTED_MESSAGE_ID))
    tlv_state = _tlv_state(_tlv(tlvs, Tlv.MESSAGE_STATE))
    tlv_net = _tlv_network_error(_tlv(tlvs, Tlv.NETWORK_ERROR_CODE))

    fields: dict[str, Any] = _parse_fields(raw) if raw else {"extra": {}}
    text_id = fields.get("message_id") or None
    if tlv_id is None and text_id is None:
        if not flagged:
            return None
        raise ReceiptError(
            "delivery receipt has no receipted_message_id TLV and no 'id:' field in its text"
            + (f": {raw[:60]!r}" if raw else " (empty short_message)")
        )
    if tlv_id is not None:
        if text_id is not None and not message_ids_match(tlv_id, text_id):
            # Worth a look when debugging an SMSC, never a reason to reject the receipt.
            logger.debug("receipt id mismatch: TLV %r, text %r; using the TLV", tlv_id, text_id)
        fields["message_id"] = tlv_id
    if tlv_state is not None:
        if fields.get("state") not in (None, tlv_state):
            logger.debug("receipt state mismatch: TLV %s, text stat %r; using the TLV", tlv_state.name, fields.get("stat"))
        fields["state"] = tlv_state
        if not fields.get("stat"):
            fields["stat"] = STATE_TO_STAT[tlv_state]
    if tlv_net is not None:
        fields["network_error"] = tlv_net
    return DeliveryReceipt(raw=raw, **fields)


# Ids longer than this are never converted to integers: SMPP message ids are at most 64 characters,
# and the cap keeps a hostile id from costing a huge int conversion.
_MAX_NUMERIC_ID = 64
_HEX_DIGITS = frozenset("0123456789abcdef")


def normalize_message_id(message_id: str) -> str:
    """``message_id`` in its canonical spelling: surrounding spaces, case, a ``0x`` prefix and leading
    zeros removed (``" 0x00A1B2"`` -> ``"a1b2"``, ``"000"`` -> ``"0"``); ``""`` for an empty id.

    Ids with the same canonical spelling always match (:func:`message_ids_match`). An index of
    submitted ids keyed by this spelling finds a receipt's id through :func:`matching_message_ids`.
    """
    s = message_id.strip().lower()
    if s.startswith("0x"):
        s = s[2:]
    return (s.lstrip("0") or "0") if s else ""


def matching_message_ids(message_id: str, *, cross_base: bool = True) -> tuple[str, ...]:
    """The canonical spellings (:func:`normalize_message_id`) of every id that matches ``message_id``.

    Exactly: ``message_ids_match(a, b)`` is ``normalize_message_id(b) in matching_message_ids(a)``
    (for a non-empty ``b``), so an index keyed by canonical spelling needs one lookup per item and
    no more than one entry per submitted id. The order is the likelihood of each reading: the id as
    it is; then, for an all-digit id, its decimal value in hex (the SMSC answered submit_sm in hex and
    reports the receipt in decimal, the common mix-up); then its value read as hex, in decimal.
    Empty for an empty id. See :func:`message_ids_match` for the ambiguity of all-digit ids.
    """
    norm = normalize_message_id(message_id)
    if not norm:
        return ()
    if not cross_base or len(norm) > _MAX_NUMERIC_ID or not set(norm) <= _HEX_DIGITS:
        return (norm,)
    forms = [norm]
    # Both conversions must give an id that is itself within the cap, as message_id_keys requires
    # of the other side.
    if norm.isdigit():
        as_hex = format(int(norm), "x")
        if len(as_hex) <= _MAX_NUMERIC_ID and as_hex not in forms:
            forms.append(as_hex)
    as_decimal = str(int(norm, 16))
    if len(as_decimal) <= _MAX_NUMERIC_ID and as_decimal not in forms:
        forms.append(as_decimal)
    return tuple(forms)


def message_id_keys(message_id: str, *, cross_base: bool = True) -> frozenset[str]:
    """Lookup keys for ``message_id``: two ids match when their key sets intersect.

    Meant for indexing submitted messages so a receipt can be found with a dict lookup per key.
    The keys are the id lower-cased with leading zeros removed (``"s:..."``), and, with
    ``cross_base``, its integer value read as hexadecimal and, if it is all digits, as decimal
    (``"n:..."``). See :func:`message_ids_match` for the rule these keys implement.
    :func:`normalize_message_id` with :func:`matching_message_ids` implement the same rule with one
    key per id, which is cheaper for an index that grows with every submit.
    """
    norm = normalize_message_id(message_id)
    if not norm:
        return frozenset()
    keys = {"s:" + norm}
    if cross_base and len(norm) <= _MAX_NUMERIC_ID and set(norm) <= _HEX_DIGITS:
        keys.add("n:" + str(int(norm, 16)))
        if norm.isdigit():
            keys.add("n:" + norm)  # its decimal value, already normalized
    return frozenset(keys)


def message_ids_match(a: str, b: str, *, cross_base: bool = True) -> bool:
    """True when ids ``a`` and ``b`` plausibly denote the same message.

    Rule: equal ignoring case, surrounding spaces, a ``0x`` prefix and leading zeros; or (with
    ``cross_base``, the default) one id read as hexadecimal equals the other read as decimal. The
    second form exists because many SMSCs answer submit_sm with a hex id and report the receipt with
    its decimal value (``"0A1B2C"`` and ``"662316"``), or the other way round.

    Ambiguity: an all-digit id is valid in both bases, so ``"10"`` matches ``"16"`` (0x10 == 16).
    Comparing one receipt against the one id you expect, that is harmless; matching against many
    candidates, a false match is possible between short numeric ids. Pass ``cross_base=False`` when
    the SMSC is known to use one base consistently. An empty id matches nothing.
    """
    ka = message_id_keys(a, cross_base=cross_base)
    return bool(ka) and not ka.isdisjoint(message_id_keys(b, cross_base=cross_base))
