"""What the message-reference stores share: the record, the interface and the argument checks.
The public names live in :mod:`smppfast.stores`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Optional, Protocol, runtime_checkable


__all__ = ["Entry", "Store", "StoredRef", "check_clock", "check_put", "logger", "positive_seconds", "stored_ref",
           "whole_number"]

logger = logging.getLogger("smppfast.stores")


class StoredRef(NamedTuple):
    """What a store keeps for one message id until the message's receipt comes."""

    ref: str
    #: Unix time (``time.time()``) of the submit.
    submitted_at: float
    #: How many parts the message this id belongs to has (every part's id maps to the same ref).
    parts: int


# What a store holds per id: (ref, submitted_at, parts, expiry). One flat tuple of atoms per message:
# the cyclic GC stops tracking it at its first collection, where a StoredRef nested in a tuple would
# be traversed again and again (that tripled the cost of a put). get() builds the StoredRef.
Entry = tuple[str, float, int, float]


def stored_ref(entry: Entry) -> StoredRef:
    """The StoredRef of an entry (without NamedTuple's __new__, a Python function)."""
    return tuple.__new__(StoredRef, entry[:3])


@runtime_checkable
class Store(Protocol):
    """Where a client keeps ``message_id -> (ref, submit time, parts)`` until the receipt comes.

    The drivers call only these. ``put`` and ``discard`` are cheap in every store here (the stores
    that write to a database or a server buffer them), so a driver may call them on its hot path;
    ``get``, ``flush`` and ``close`` may do I/O when ``blocking`` is true (an asyncio driver then
    calls them in a thread). Ids are compared as :func:`smppfast.receipt.message_ids_match` does:
    case, leading zeros and a ``0x`` prefix do not matter, and by default an id in hex matches the
    same number in decimal. Every method is safe to call from any thread.
    """

    #: True when ``get``, ``flush`` and ``close`` may do I/O.
    blocking: bool

    def put(self, message_ids: Sequence[str], ref: str, submitted_at: float, parts: int) -> None:
        """Remember every id of one message (one per part) under ``ref``."""

    def get(self, message_id: str, *, exact: bool = False) -> Optional[StoredRef]:
        """The entry for a receipt's id, or ``None`` (never put, discarded, or past its ttl).
        With ``exact``, only under the id's own spelling: no cross-base reading."""

    def discard(self, message_id: str) -> None:
        """Forget the entry that ``get(message_id)`` finds (after a final receipt)."""

    def flush(self) -> None:
        """Write what is buffered."""

    def close(self) -> None:
        """Flush and release; calling it again does nothing."""


# ------------------------------------------------------------------------------------------------
# Argument checks, where the arguments are given
# ------------------------------------------------------------------------------------------------
def positive_seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ValueError(f"{name} must be a positive, finite number of seconds, not {value!r}")
    return float(value)


def whole_number(name: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be a whole number of at least {least}, not {value!r}")
    return value


def check_put(message_ids: Any, ref: Any) -> None:
    """Called by put() only when a cheap test failed: say which argument is wrong."""
    if isinstance(message_ids, (str, bytes)):
        # A str is a Sequence[str] too, and would be stored one character per id.
        raise TypeError(f"message_ids must be a sequence of ids (one per part), not the single id {message_ids!r}")
    if not isinstance(ref, str):
        raise TypeError(f"ref must be a str, not {type(ref).__name__}")


def check_clock(clock: Any) -> Callable[[], float]:
    if not callable(clock):
        raise TypeError(f"clock must be a function returning seconds, not {clock!r}")
    return clock  # type: ignore[no-any-return]
