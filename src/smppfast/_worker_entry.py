"""One stream entry of ``smppfast worker``, checked: the message to send, or why it cannot be.

An entry has the fields ``to`` (digits, international format without the '+'), ``text`` (any
characters; split as needed), and optionally ``from`` (digits: an international number;
anything else: an alphanumeric sender), ``ref`` (default: the entry id) and
``registered_delivery`` (0-255). Other fields are ignored. An entry that breaks one of these
rules is never sent: it gets an outcome with status ``invalid`` and an error naming the field.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from .constants import Npi, Ton

__all__ = ["Message", "Invalid", "check_entry", "INVALID"]

#: The outcome status of an entry that could not be sent as it was written.
INVALID = "invalid"

# SMPP 3.4 address fields are C-Octet Strings of 21 octets: 20 characters and the NUL.
_ADDRESS_CHARS = 20
_INTERNATIONAL = (int(Ton.INTERNATIONAL), int(Npi.ISDN))
_ALPHANUMERIC = (int(Ton.ALPHANUMERIC), int(Npi.UNKNOWN))


class Message:
    """An entry that passed the checks: what ``Pool.send_message`` is given."""

    __slots__ = ("entry_id", "ref", "to", "text", "fields", "with_ref", "attempts", "handle", "taken_at")

    def __init__(self, entry_id: str, ref: str, to: str, text: str, fields: dict[str, Any], with_ref: bool) -> None:
        self.entry_id = entry_id
        self.ref = ref
        self.to = to
        self.text = text
        self.fields = fields
        # Only a message that asks for a receipt needs its id kept in the store for its ref.
        self.with_ref = with_ref
        self.attempts = 0
        self.handle: Any = None
        self.taken_at = 0.0


class Invalid:
    """An entry that cannot be sent, and why (one line naming the field)."""

    __slots__ = ("entry_id", "ref", "error")

    def __init__(self, entry_id: str, ref: str, error: str) -> None:
        self.entry_id = entry_id
        self.ref = ref
        self.error = error


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _utf8_error(name: str, value: str) -> Optional[str]:
    if value.isascii():  # the usual case, without building the bytes
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name} is not valid UTF-8"
    return None


def _address(name: str, value: str, *, numeric_only: bool) -> Union[tuple[int, int], str]:
    """(TON, NPI) for an address, or the error."""
    if not value:
        return f"{name} is empty"
    if len(value) > _ADDRESS_CHARS:
        return f"{name} {_shown(value)} is {len(value)} characters long; SMPP 3.4 allows at most {_ADDRESS_CHARS}"
    if value.isascii() and value.isdigit():
        return _INTERNATIONAL
    if numeric_only:
        hint = "without the '+'" if value.startswith("+") and value[1:].isdigit() else "digits only"
        return f"{name} {_shown(value)} is not a number ({hint})"
    bad = _utf8_error(name, value)
    if bad:
        return bad
    try:
        value.encode("latin-1")
    except UnicodeEncodeError as err:
        return f"{name} has a character {value[err.start]!r} that SMPP cannot carry in source_addr (Latin-1 only)"
    return _ALPHANUMERIC


def check_entry(entry_id: str, fields: dict[str, str], *, source_addr: str = "",
                registered_delivery: int = 0) -> Union[Message, Invalid]:
    """The message an entry asks for, or :class:`Invalid` with the reason. ``source_addr`` and
    ``registered_delivery`` are the defaults for entries without ``from`` and ``registered_delivery``."""
    ref = fields.get("ref") or entry_id
    if _utf8_error("ref", ref):
        ref = entry_id  # a record must carry a ref it can store; the error says why
        return Invalid(entry_id, ref, "ref is not valid UTF-8")
    to = fields.get("to")
    if to is None:
        return Invalid(entry_id, ref, "the entry has no 'to' field (the destination number)")
    dest = _address("to", to, numeric_only=True)
    if isinstance(dest, str):
        return Invalid(entry_id, ref, dest)
    text = fields.get("text")
    if text is None:
        return Invalid(entry_id, ref, "the entry has no 'text' field")
    if not text:
        return Invalid(entry_id, ref, "text is empty")
    bad = _utf8_error("text", text)
    if bad:
        return Invalid(entry_id, ref, bad)
    source = fields.get("from", source_addr)
    out: dict[str, Any] = {"dest_addr_ton": dest[0], "dest_addr_npi": dest[1]}
    if source:
        src = _address("from", source, numeric_only=False)
        if isinstance(src, str):
            return Invalid(entry_id, ref, src)
        out["source_addr"] = source
        out["source_addr_ton"], out["source_addr_npi"] = src
    rd_text = fields.get("registered_delivery")
    rd = registered_delivery
    if rd_text is not None:
        try:
            rd = int(rd_text)
        except ValueError:
            rd = -1
        if not 0 <= rd <= 255:
            return Invalid(entry_id, ref, f"registered_delivery {_shown(rd_text)} is not a number from 0 to 255")
    if rd:
        out["registered_delivery"] = rd
    return Message(entry_id, ref, to, text, out, with_ref=bool(rd))
