"""Reassembly of inbound multipart (concatenated) short messages, sans-IO.

Theory of operation
-------------------
A long message reaches an ESME as several ``deliver_sm`` / ``data_sm`` PDUs. Each part names its
message by a reference number and says how many parts there are and which one it is, in one of
three ways:

* a User Data Header (esm_class bit 0x40, UDHI) at the start of the user data, with the
  concatenation information element 0x00 (8-bit reference: ``00 03 ref total seq``) or
  0x08 (16-bit reference: ``08 04 refhi reflo total seq``), possibly among other elements;
* the SAR TLVs ``sar_msg_ref_num`` (0x020C), ``sar_total_segments`` (0x020E) and
  ``sar_segment_seqnum`` (0x020F).

The user data is ``short_message``, or the ``message_payload`` TLV when short_message is empty.
Parts are grouped by ``(source_addr, destination_addr, method, reference, total)``; ``method``
keeps an 8-bit reference 5, a 16-bit reference 5 and a SAR reference 5 apart, and ``total`` keeps a
reused reference with a different part count apart.

:class:`Reassembler` has no clock: every call takes ``now`` (seconds, any monotonic origin) and
:meth:`Reassembler.next_deadline` tells the caller when to call :meth:`Reassembler.expire` next.
Time going backwards is treated as time standing still.

Nothing is dropped silently
---------------------------
* A message whose parts do not all arrive within ``max_age`` seconds of its first part is handed
  back by :meth:`~Reassembler.expire` as an :class:`IncompleteMessage` (``reason="expired"``).
* When more than ``max_pending`` messages (or ``max_pending_bytes`` of memory, estimated per part)
  are pending, the
  oldest is evicted. Evicted messages go to ``on_evict`` if one was given, else they wait in a queue
  that :meth:`~Reassembler.expire` and :meth:`~Reassembler.pop_evicted` drain (``reason="evicted"``);
  :meth:`~Reassembler.next_deadline` reports them as due at once. That queue is bounded too (by
  ``max_pending``): if the caller never drains it, the oldest queued message is discarded with a
  WARNING log and counted in :attr:`Reassembler.dropped`, which is the only way anything is lost.
* A malformed UDH never raises: the PDU is passed through as a one-part :class:`CompleteMessage`
  with :attr:`CompleteMessage.udh_error` saying what was wrong, and a WARNING is logged. If the header
  structure itself is broken (UDHL or an element length beyond the data) the payload is the whole
  user data, header bytes included, since nothing says where the header ends; if only the
  concatenation values are impossible (total 0, sequence 0 or beyond total, wrong element length)
  the well-formed header is removed. Inconsistent SAR TLVs are treated the same way.

Duplicates
----------
A part whose sequence number has already arrived for a pending message is ignored (the first copy
wins). Parts of a message that completed less than ``max_age`` ago are ignored too when their user
data equals the part already delivered: a small record of recently completed messages (at most
``max_pending`` of them, each a few integers) holds a hash per part. A part with the same key but
different data is taken as a new message that reuses the reference, so a sender cycling quickly
through 256 8-bit references is not mistaken for duplicates. Single-part messages carry no
reference and are never deduplicated here.

Memory is bounded by ``max_pending`` messages and by ``max_pending_bytes``, which counts each part's
user data plus ``PART_OVERHEAD`` (the decoded PDU and the entries that hold it), the same again in
the eviction queue, plus the completed record.
"""

from __future__ import annotations

import importlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from .constants import EsmClass, Tlv
from .errors import SmppError

__all__ = [
    "Reassembler",
    "CompleteMessage",
    "IncompleteMessage",
    "UdhError",
    "parse_udh",
    "shift_tables",
    "UDH_IE_NAMES",
]

logger = logging.getLogger("smppfast.reassembly")

#: How a multipart message names its parts: 8-bit or 16-bit UDH reference, or SAR TLVs.
Method = Literal["udh8", "udh16", "sar"]

_IE_CONCAT_8 = 0x00
_IE_CONCAT_16 = 0x08
_IE_SINGLE_SHIFT = 0x24
_IE_LOCKING_SHIFT = 0x25

#: Names of the UDH information elements of 3GPP TS 23.040 9.2.3.24, by IEI (for describing a
#: UDH; :func:`parse_udh` returns every element, named here or not).
UDH_IE_NAMES: Mapping[int, str] = {
    0x00: "concatenated short messages, 8-bit reference",
    0x01: "special SMS message indication",
    0x04: "application port addressing, 8-bit",
    0x05: "application port addressing, 16-bit",
    0x06: "SMSC control parameters",
    0x07: "UDH source indicator",
    0x08: "concatenated short messages, 16-bit reference",
    0x09: "wireless control message protocol",
    0x0A: "text formatting",
    0x0B: "predefined sound",
    0x0C: "user defined sound",
    0x0D: "predefined animation",
    0x0E: "large animation",
    0x0F: "small animation",
    0x10: "large picture",
    0x11: "small picture",
    0x12: "variable picture",
    0x13: "user prompt indicator",
    0x14: "extended object",
    0x15: "reused extended object",
    0x16: "compression control",
    0x17: "object distribution indicator",
    0x18: "standard WVG object",
    0x19: "character size WVG object",
    0x1A: "extended object data request command",
    0x20: "RFC 822 e-mail header",
    0x21: "hyperlink format element",
    0x22: "reply address element",
    0x23: "enhanced voice mail information",
    0x24: "national language single shift",
    0x25: "national language locking shift",
}


class UdhError(SmppError, ValueError):
    """A User Data Header that cannot be parsed (reported, never raised, by :class:`Reassembler`)."""


def parse_udh(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Split user data that starts with a UDH into ``([(iei, value), ...], rest)``.

    Unknown information elements are returned like known ones; the caller skips what it does not
    need. Raises :class:`UdhError` when UDHL or an element's length runs past the data.
    """
    if not data:
        raise UdhError("UDHI is set but the user data is empty")
    udhl = data[0]
    end = 1 + udhl
    if end > len(data):
        raise UdhError(f"UDHL {udhl} runs past the {len(data)}-octet user data")
    elements: list[tuple[int, bytes]] = []
    i = 1
    while i < end:
        if i + 2 > end:
            raise UdhError(f"information element header truncated at octet {i} of the UDH")
        iei, length = data[i], data[i + 1]
        if i + 2 + length > end:
            raise UdhError(f"information element 0x{iei:02X} of length {length} at octet {i} runs past UDHL {udhl}")
        elements.append((iei, data[i + 2 : i + 2 + length]))
        i += 2 + length
    return elements, data[end:]


@dataclass(frozen=True, slots=True)
class CompleteMessage:
    """A whole inbound message: one PDU, or all parts of a multipart message in order.

    ``payload`` is the user data of all parts joined with the UDHs removed (for data_coding 0 it is
    unpacked GSM septets, one per octet, as SMPP carries them). ``method``, ``reference`` and
    ``total`` describe the concatenation (``None``/``None``/1 for a plain message). ``udh_elements``
    are the UDH information elements of the first part other than the concatenation ones (e.g. port
    addressing). ``data_coding`` is that of the first part. ``udh_error`` is set when a malformed UDH or SAR set was passed through as-is.
    """

    source_addr: str
    destination_addr: str
    data_coding: int
    parts: list[Any] = field(hash=False)
    payload: bytes
    method: Method | None = None
    reference: int | None = None
    total: int = 1
    udh_elements: tuple[tuple[int, bytes], ...] = ()
    udh_error: str | None = None

    @property
    def shift_tables(self) -> tuple[int, int]:
        """``(locking_shift, single_shift)``: the national language ids of 3GPP TS 23.038 named
        by UDH elements 0x25 and 0x24 (0 where absent)."""
        return shift_tables(self.udh_elements)

    @property
    def text(self) -> str:
        """The payload decoded per ``data_coding`` and the national language tables of its UDH
        (raises TextError for binary data codings, and for a language id 23.038 does not define)."""
        # Imported here so this module works before, and without, the compiled text codec.
        decode: Callable[..., str] = importlib.import_module("smppfast._text").decode_text
        lock, single = self.shift_tables
        return decode(self.payload, self.data_coding, locking_shift=lock, single_shift=single)


def shift_tables(elements: tuple[tuple[int, bytes], ...]) -> tuple[int, int]:
    """``(locking_shift, single_shift)`` language ids from UDH information elements 0x25 / 0x24
    (3GPP TS 23.040 9.2.3.24.15-16); the last occurrence of each counts, as for every element.
    Raises UdhError for an element whose length is not 1."""
    lock = single = 0
    for iei, value in elements:
        if iei in (_IE_SINGLE_SHIFT, _IE_LOCKING_SHIFT):
            if len(value) != 1:
                raise UdhError(f"national language shift element 0x{iei:02X} has length {len(value)}, expected 1")
            if iei == _IE_LOCKING_SHIFT:
                lock = value[0]
            else:
                single = value[0]
    return lock, single


@dataclass(frozen=True, slots=True)
class IncompleteMessage:
    """A multipart message handed back before all its parts arrived.

    ``reason`` is ``"expired"`` (older than max_age), ``"evicted"`` (pushed out by the pending
    cap) or ``"closed"`` (the client closed while it waited). ``parts`` are the PDUs received, in sequence order; ``segments`` maps each received
    sequence number to its user data (UDH removed); ``missing`` lists the sequence numbers that never
    came. ``first_seen`` is the ``now`` at which the first part arrived.
    """

    source_addr: str
    destination_addr: str
    data_coding: int
    method: Method
    reference: int
    total: int
    parts: list[Any] = field(hash=False)
    segments: dict[int, bytes] = field(hash=False)
    missing: tuple[int, ...]
    first_seen: float
    reason: Literal["expired", "evicted", "closed"]

    @property
    def received(self) -> tuple[int, ...]:
        """The sequence numbers that did arrive, ascending."""
        return tuple(sorted(self.segments))


class _Concat(NamedTuple):
    method: Method
    reference: int
    total: int
    seq: int


class _Classified(NamedTuple):
    concat: _Concat | None  # None: deliver as a message of its own
    user_data: bytes  # UDH removed when it could be parsed
    elements: tuple[tuple[int, bytes], ...]
    error: str | None


_Key = tuple[str, str, Method, int, int]


class _Pending:
    """Parts received so far of one message."""

    __slots__ = ("first_seen", "parts", "nbytes")

    def __init__(self, first_seen: float) -> None:
        self.first_seen = first_seen
        # seq -> (pdu, user data, other UDH elements, data_coding)
        self.parts: dict[int, tuple[Any, bytes, tuple[tuple[int, bytes], ...], int]] = {}
        self.nbytes = 0


class _Done(NamedTuple):
    completed_at: float
    digests: dict[int, int]  # seq -> hash of the part's user data


def _tlv(tlvs: Mapping[int, Any], tag: int) -> Any:
    value = tlvs.get(tag)
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def _tlv_int(value: Any) -> int | None:
    """An integer TLV value; the codec keeps a wrong-sized known TLV as bytes, so accept those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (bytes, bytearray)) and 0 < len(value) <= 4:
        return int.from_bytes(value, "big")
    return None


def _check_numbers(total: int, seq: int) -> str | None:
    if total == 0:
        return "total number of parts is 0"
    if seq == 0:
        return "part sequence number is 0"
    if seq > total:
        return f"part sequence number {seq} exceeds the total {total}"
    return None


def _classify(pdu: Any) -> _Classified:
    """Find the user data of ``pdu`` and whether (and how) it is one part of a longer message."""
    tlvs: Mapping[int, Any] = getattr(pdu, "tlvs", None) or {}
    data = bytes(getattr(pdu, "short_message", b"") or b"")
    if not data:
        payload = _tlv(tlvs, Tlv.MESSAGE_PAYLOAD)
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)

    concat: _Concat | None = None
    elements: tuple[tuple[int, bytes], ...] = ()
    if int(getattr(pdu, "esm_class", 0) or 0) & EsmClass.UDHI:
        try:
            ies, user_data = parse_udh(data)
        except UdhError as exc:
            return _Classified(None, data, (), str(exc))
        others: list[tuple[int, bytes]] = []
        error: str | None = None
        for iei, value in ies:
            # 3GPP TS 23.040: when an element is repeated, the last occurrence is used.
            if iei == _IE_CONCAT_8:
                if len(value) == 3:
                    concat, error = _Concat("udh8", value[0], value[1], value[2]), None
                else:
                    error = f"concatenation element 0x00 has length {len(value)}, expected 3"
            elif iei == _IE_CONCAT_16:
                if len(value) == 4:
                    ref = int.from_bytes(value[0:2], "big")
                    concat, error = _Concat("udh16", ref, value[2], value[3]), None
                else:
                    error = f"concatenation element 0x08 has length {len(value)}, expected 4"
            else:
                others.append((iei, value))
        elements = tuple(others)
        if concat is not None and error is None:
            error = _check_numbers(concat.total, concat.seq)
        if error is not None:
            return _Classified(None, user_data, elements, error)
        data = user_data

    if concat is None:
        sar_tags = (Tlv.SAR_MSG_REF_NUM, Tlv.SAR_TOTAL_SEGMENTS, Tlv.SAR_SEGMENT_SEQNUM)
        raw = [_tlv(tlvs, tag) for tag in sar_tags]
        if any(v is not None for v in raw):
            sar_ref, sar_total, sar_seq = (_tlv_int(v) for v in raw)
            if sar_ref is None or sar_total is None or sar_seq is None:
                return _Classified(None, data, elements, "SAR TLVs incomplete or not integers")
            error = _check_numbers(sar_total, sar_seq)
            if error is not None:
                return _Classified(None, data, elements, "SAR: " + error)
            concat = _Concat("sar", sar_ref, sar_total, sar_seq)
    return _Classified(concat, data, elements, None)


#: Estimated octets a pending part costs beyond its user data: the decoded deliver_sm (about
#: 340 octets with its strings), the tuple and dict slot that hold it, and the UDH elements.
PART_OVERHEAD = 640


class Reassembler:
    """Collects the parts of inbound multipart messages and returns each whole message once.

    ``max_pending``: most messages waiting for parts at once (default 10,000).
    ``max_age``: seconds after its first part at which an incomplete message is given up (600).
    ``max_pending_bytes``: most memory held by pending parts (64 MiB; ``None`` for no limit), each
    part counted as its user data plus ``PART_OVERHEAD`` octets for the PDU kept and its bookkeeping,
    so a flood of tiny parts is bounded as surely as a few large ones.
    ``on_evict``: called with each message evicted by a cap; without it they queue for
    :meth:`expire` / :meth:`pop_evicted`. Exceptions it raises are logged, not propagated.

    Not thread-safe: one session feeds one reassembler.
    """

    def __init__(
        self,
        max_pending: int = 10_000,
        max_age: float = 600.0,
        *,
        max_pending_bytes: int | None = 64 * 1024 * 1024,
        on_evict: Callable[[IncompleteMessage], None] | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        if not max_age > 0:
            raise ValueError(f"max_age must be positive, got {max_age}")
        if max_pending_bytes is not None and max_pending_bytes < 1:
            raise ValueError(f"max_pending_bytes must be positive or None, got {max_pending_bytes}")
        self.max_pending = max_pending
        self.max_age = float(max_age)
        self.max_pending_bytes = max_pending_bytes
        self.on_evict = on_evict
        # Insertion order is first-arrival order, so the oldest message is always first.
        self._pending: OrderedDict[_Key, _Pending] = OrderedDict()
        self._pending_bytes = 0
        self._completed: OrderedDict[_Key, _Done] = OrderedDict()
        self._evicted: deque[IncompleteMessage] = deque()
        self._now = float("-inf")
        #: Parts ignored as duplicates.
        self.duplicates = 0
        #: Evicted messages discarded because nobody drained the eviction queue (logged at WARNING).
        self.dropped = 0

    def __len__(self) -> int:
        """Number of messages waiting for more parts."""
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """User data bytes held in pending parts."""
        return self._pending_bytes

    def _clock(self, now: float) -> float:
        # Never let time run backwards: ordering by first arrival must match ordering by age.
        if now > self._now:
            self._now = float(now)
        return self._now

    def feed(self, pdu: Any, now: float) -> CompleteMessage | None:
        """Take one inbound deliver_sm / data_sm; return the whole message when it is complete.

        A PDU that is not part of a multipart message (or whose UDH / SAR is malformed) comes back
        at once as a one-part message. Returns ``None`` while parts are missing and for duplicates.
        """
        now = self._clock(now)
        c = _classify(pdu)
        source = str(getattr(pdu, "source_addr", "") or "")
        dest = str(getattr(pdu, "destination_addr", "") or "")
        data_coding = int(getattr(pdu, "data_coding", 0) or 0)
        if c.error is not None:
            logger.warning("passing through a message from %r with a malformed header: %s", source, c.error)
        concat = c.concat
        if concat is None or concat.total == 1:
            return CompleteMessage(
                source,
                dest,
                data_coding,
                [pdu],
                c.user_data,
                concat.method if concat else None,
                concat.reference if concat else None,
                1,
                c.elements,
                c.error,
            )

        key: _Key = (source, dest, concat.method, concat.reference, concat.total)
        entry = self._pending.get(key)
        if entry is None:
            if self._is_completed_duplicate(key, concat.seq, c.user_data, now):
                self.duplicates += 1
                return None
            entry = self._pending[key] = _Pending(now)
        elif concat.seq in entry.parts:
            self.duplicates += 1
            if entry.parts[concat.seq][1] != c.user_data:
                logger.debug("part %d of %r differs from the copy already held; keeping the first", concat.seq, key)
            return None

        entry.parts[concat.seq] = (pdu, c.user_data, c.elements, data_coding)
        cost = len(c.user_data) + PART_OVERHEAD
        entry.nbytes += cost
        self._pending_bytes += cost

        result: CompleteMessage | None = None
        if len(entry.parts) == concat.total:
            del self._pending[key]
            self._pending_bytes -= entry.nbytes
            result = self._complete(key, entry, now)
        self._enforce_caps()
        return result

    def _is_completed_duplicate(self, key: _Key, seq: int, user_data: bytes, now: float) -> bool:
        self._prune_completed(now)
        done = self._completed.get(key)
        if done is None:
            return False
        if done.digests.get(seq) == hash(user_data):
            return True
        # Same key, different data: the sender reused the reference for a new message.
        del self._completed[key]
        return False

    def _complete(self, key: _Key, entry: _Pending, now: float) -> CompleteMessage:
        ordered = [entry.parts[seq] for seq in sorted(entry.parts)]
        first = ordered[0]
        self._completed[key] = _Done(now, {seq: hash(p[1]) for seq, p in entry.parts.items()})
        self._completed.move_to_end(key)
        while len(self._completed) > self.max_pending:
            self._completed.popitem(last=False)
        return CompleteMessage(
            source_addr=key[0],
            destination_addr=key[1],
            data_coding=first[3],
            parts=[p[0] for p in ordered],
            payload=b"".join(p[1] for p in ordered),
            method=key[2],
            reference=key[3],
            total=key[4],
            udh_elements=first[2],
        )

    def _prune_completed(self, now: float) -> None:
        limit = now - self.max_age
        while self._completed:
            key, done = next(iter(self._completed.items()))
            if done.completed_at > limit:
                break
            del self._completed[key]

    def _incomplete(self, key: _Key, entry: _Pending, reason: Literal["expired", "evicted", "closed"]) -> IncompleteMessage:
        seqs = sorted(entry.parts)
        return IncompleteMessage(
            source_addr=key[0],
            destination_addr=key[1],
            data_coding=entry.parts[seqs[0]][3],
            method=key[2],
            reference=key[3],
            total=key[4],
            parts=[entry.parts[s][0] for s in seqs],
            segments={s: entry.parts[s][1] for s in seqs},
            missing=tuple(s for s in range(1, key[4] + 1) if s not in entry.parts),
            first_seen=entry.first_seen,
            reason=reason,
        )

    def _enforce_caps(self) -> None:
        while self._pending and (
            len(self._pending) > self.max_pending
            or (self.max_pending_bytes is not None and self._pending_bytes > self.max_pending_bytes)
        ):
            key, entry = self._pending.popitem(last=False)
            self._pending_bytes -= entry.nbytes
            self._evict(self._incomplete(key, entry, "evicted"))

    def _evict(self, msg: IncompleteMessage) -> None:
        if self.on_evict is not None:
            try:
                self.on_evict(msg)
            except Exception:
                # A failing user callback must not corrupt reassembly or lose the part being fed.
                logger.exception("on_evict callback failed for message %r", msg.reference)
            return
        self._evicted.append(msg)
        if len(self._evicted) > self.max_pending:
            lost = self._evicted.popleft()
            self.dropped += 1
            logger.warning(
                "eviction queue full (expire()/pop_evicted() not called): discarding incomplete message "
                "ref %d from %r with %d of %d parts",
                lost.reference,
                lost.source_addr,
                len(lost.segments),
                lost.total,
            )

    def pop_evicted(self) -> list[IncompleteMessage]:
        """Hand back (and forget) the messages evicted by the caps since the last call."""
        out = list(self._evicted)
        self._evicted.clear()
        return out

    def expire(self, now: float) -> list[IncompleteMessage]:
        """Hand back evicted messages and those whose first part is ``max_age`` or more old."""
        now = self._clock(now)
        out = self.pop_evicted()
        limit = now - self.max_age
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if entry.first_seen > limit:
                break
            del self._pending[key]
            self._pending_bytes -= entry.nbytes
            out.append(self._incomplete(key, entry, "expired"))
        self._prune_completed(now)
        return out

    def flush(self) -> list[IncompleteMessage]:
        """Hand back (and forget) every message still waiting for parts, and any evicted ones:
        what a closing client reports, so none leaves unseen."""
        out = self.pop_evicted()
        while self._pending:
            key, entry = self._pending.popitem(last=False)
            self._pending_bytes -= entry.nbytes
            out.append(self._incomplete(key, entry, "closed"))
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to hand back; ``None`` when nothing is pending."""
        if self._evicted:
            return self._now  # due now
        if self._pending:
            return next(iter(self._pending.values())).first_seen + self.max_age
        return None

