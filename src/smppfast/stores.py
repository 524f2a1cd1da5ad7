"""Where a client keeps ``message_id -> (ref, submit time, parts)`` from the ``submit_sm_resp``
until the message's delivery receipt comes, so that the receipt can carry the sender's own
reference: hours or days later, on any bind, possibly after the sender's process restarted.

Three stores behind one small interface, :class:`Store`:

* :class:`MemoryStore` (the default): in the process, bounded by count and by ttl.
* :class:`SqliteStore`: a SQLite file (stdlib ``sqlite3``, WAL mode, batched writes); survives a
  restart of the process.
* :class:`RedisStore`: a Redis server (redis-py, ``pip install 'smppfast[redis]'``), shared by many
  processes and machines, so a receipt that arrives on another process's bind is still matched.

Every id of a message (one per part) maps to the message's ref. Ids are compared as
:func:`smppfast.receipt.message_ids_match` compares them: case, leading zeros and a ``0x``
prefix do not matter, and with ``cross_base=True`` (the default) an id the SMSC answered in hex
matches the same number reported in decimal in the receipt, or the other way round. The exact
spelling is always preferred; ``cross_base=False`` turns the cross-base reading off for an SMSC
known to use one base, which removes the rare false match between short all-digit ids (``"10"``
read as hex is 16). Entries go away after ``ttl`` seconds (default 7 days) by themselves.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Optional

from ._redis_store import RedisStore
from ._sqlite_store import SqliteStore
from ._storebase import Store, StoredRef, _stored_ref, check_clock, check_put, positive_seconds, whole_number
from .errors import StoreError
from .receipt import matching_message_ids, normalize_message_id

__all__ = ["MemoryStore", "RedisStore", "SqliteStore", "Store", "StoredRef"]

_WEEK = 7 * 86400.0
# Expired entries are removed from the front of the queue at most this often (get() never returns
# one in between): a clock comparison per put instead of a look at the oldest entry.
_PRUNE_EVERY = 1.0


class MemoryStore:
    """The default store: a dict in this process, bounded by ``max_entries`` ids (the oldest are
    evicted first) and by ``ttl`` seconds. Thread-safe; every operation is O(1).

    ``max_entries`` counts ids, one per part of a message. At the default million ids and about
    250 bytes an id, the store peaks near 250 MB; lower it for a process that sends less. Entries
    do not survive the process: use :class:`SqliteStore` or :class:`RedisStore` for that.
    ``clock`` (default ``time.monotonic``) is what ttl is measured by.
    """

    blocking = False

    def __init__(self, max_entries: int = 1_000_000, ttl: float = _WEEK, *, cross_base: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max_entries = whole_number("max_entries", max_entries)
        self._ttl = positive_seconds("ttl", ttl)
        self._cross_base = bool(cross_base)
        self._clock = check_clock(clock)
        self._lock = threading.Lock()
        # normalised id -> (entry, expiry), oldest first. One ttl for all and a clock that does not go
        # back keep the expiries in order too, so both bounds evict from the front.
        self._entries: OrderedDict[str, tuple[StoredRef, float]] = OrderedDict()
        self._next_prune = 0.0
        self._closed = False

    def put(self, message_ids: Sequence[str], ref: str, submitted_at: float, parts: int) -> None:
        if isinstance(message_ids, str) or ref.__class__ is not str:
            check_put(message_ids, ref)
        now = self._clock()
        entry = (_stored_ref((ref, submitted_at, parts)), now + self._ttl)
        normalize = normalize_message_id
        with self._lock:
            if self._closed:
                raise StoreError(f"{self!r} is closed")
            entries = self._entries
            for message_id in message_ids:
                key = normalize(message_id)
                if key:
                    if key in entries:  # an id the SMSC used again: it is the newest now
                        entries.move_to_end(key)
                    entries[key] = entry
            if len(entries) > self._max_entries:
                for _ in range(len(entries) - self._max_entries):
                    entries.popitem(last=False)
            if now >= self._next_prune:
                self._prune(now)

    def get(self, message_id: str) -> Optional[StoredRef]:
        found = self._find(message_id)
        return None if found is None else found[1]

    def discard(self, message_id: str) -> None:
        found = self._find(message_id)
        if found is not None:
            with self._lock:
                self._entries.pop(found[0], None)

    def flush(self) -> None:
        """Nothing to write; raises :class:`StoreError` once closed, as the other stores do."""
        if self._closed:
            raise StoreError(f"{self!r} is closed")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._entries.clear()

    def __len__(self) -> int:
        """The ids held, expired ones not yet pruned included."""
        return len(self._entries)

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._entries)} ids"
        return f"MemoryStore({state}, max_entries={self._max_entries}, ttl={self._ttl:g})"

    def _find(self, message_id: str) -> Optional[tuple[str, StoredRef]]:
        now = self._clock()
        with self._lock:
            if self._closed:
                raise StoreError(f"{self!r} is closed")
            entries = self._entries
            # The exact spelling first, without the cross-base conversions: the usual case. An
            # expired entry is passed over here and removed by _prune.
            key = normalize_message_id(message_id)
            found = entries.get(key)
            if found is not None and found[1] > now:
                return key, found[0]
            for key in matching_message_ids(message_id, cross_base=self._cross_base)[1:]:
                found = entries.get(key)
                if found is not None and found[1] > now:
                    return key, found[0]
            return None

    def _prune(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, (_, expires) = next(iter(entries.items()))
            if expires > now:
                break
            del entries[key]
        self._next_prune = now + min(_PRUNE_EVERY, self._ttl)
