# cython: autotestdict=False
"""The compiled part of the stores: ``MemoryStore``, and the message-id normalisation every
store's ``put`` runs once per id.

A put runs once per submit, so it must cost a fraction of a submit (issue 11: a bind with the
in-memory store keeps at least 85% of its rate). In Python a put cost about half a submit.

Thread safety without a lock: a method first does everything that can run Python code (the clock,
the slow normalisation, argument checks, the cross-base spellings of smppfast.receipt), and then
changes the dict and the deque with C calls only. Those create no object the cyclic GC tracks, and
the entries they drop (tuples of a str, floats and an int; str keys) run no code when freed, so no
other thread can run in between: the GIL makes each change atomic. The module is not declared
free-threading compatible, so a free-threaded interpreter keeps its GIL on for it.
"""

cimport cython
from cpython.unicode cimport PyUnicode_CheckExact

import time
from collections import deque

from ._storebase import StoredRef, check_clock, check_put, positive_seconds, whole_number
from .errors import StoreError
from .receipt import matching_message_ids, normalize_message_id

cdef object _tuple_new = tuple.__new__
cdef object _StoredRef = StoredRef
cdef double _WEEK = 7 * 86400.0
# Expired entries leave the front of the queue at most this often (get() never returns one
# meanwhile): a clock comparison per put instead of a look at the oldest entry.
cdef double _PRUNE_EVERY = 1.0


cpdef str normalize(object message_id):
    """``smppfast.receipt.normalize_message_id``, done here for a plain ASCII id without spaces or a
    ``0x`` prefix (what SMSCs send: lower- or upper-case hex or digits, often zero-padded), and
    returned without a copy when it is already canonical. Anything else goes to that function, the
    one home of the rule."""
    cdef Py_ssize_t n, i, zeros = 0
    cdef Py_UCS4 c
    cdef bint upper = False
    if not PyUnicode_CheckExact(message_id):
        if not isinstance(message_id, str):
            raise TypeError(f"a message id is a str, not {type(message_id).__name__}")
        return str(normalize_message_id(message_id))
    n = len(message_id)
    if n == 0:
        return ""
    for c in message_id:
        if c >= 127 or c <= 32:  # not ASCII, or a space or control: the rule decides
            return normalize_message_id(message_id)
        if u'A' <= c <= u'Z':
            upper = True
    while zeros < n and message_id[zeros] == u'0':
        zeros += 1
    if zeros:
        if zeros == 1 and n > 1 and (message_id[1] == u'x' or message_id[1] == u'X'):
            return normalize_message_id(message_id)  # a 0x prefix
        message_id = message_id[zeros:] if zeros < n else "0"
    return message_id.lower() if upper else message_id


cdef inline object _stored_ref(tuple entry):
    return _tuple_new(_StoredRef, entry[:3])


@cython.final
@cython.auto_pickle(False)
cdef class MemoryStore:
    """The default store: a dict in this process, bounded by ``max_entries`` ids (the oldest are
    evicted first) and by ``ttl`` seconds. Thread-safe; every operation is O(1) (amortised).

    ``max_entries`` counts ids, one per part of a message. Entries do not survive the process: use
    ``SqliteStore`` or ``RedisStore`` for that. ``clock`` (default ``time.monotonic``) is what ttl is
    measured by. ``cross_base`` as in ``smppfast.stores``.
    """

    #: True when get, flush and close may do I/O: never here.
    blocking = False

    cdef Py_ssize_t _max_entries
    cdef double _ttl
    cdef double _next_prune
    cdef bint _cross_base
    cdef bint _closed
    cdef object _clock
    # normalised id -> (ref, submitted_at, parts, expiry): one flat tuple of atoms per message,
    # shared by its parts (the GC stops tracking it at its first collection).
    cdef dict _entries
    # The same, oldest first, flat: key, entry, key, entry, ... One ttl for all and a clock that does
    # not go back keep the expiries in order too, so both bounds evict from the front. An item whose
    # key now holds another entry (discarded, or put again) is stale: skipped there, or dropped by
    # _compact.
    cdef object _order
    cdef object __weakref__  # the clients sharing a store find its RefKeeper through a weak mapping

    def __init__(self, max_entries=1_000_000, ttl=_WEEK, *, cross_base=True, clock=time.monotonic):
        self._max_entries = whole_number("max_entries", max_entries)
        self._ttl = positive_seconds("ttl", ttl)
        self._cross_base = bool(cross_base)
        self._clock = check_clock(clock)
        self._entries = {}
        self._order = deque()
        self._next_prune = 0.0
        self._closed = False

    def put(self, message_ids, ref, submitted_at, parts):
        """Remember every id of one message (one per part) under ``ref``."""
        cdef double now
        cdef list keys
        if type(ref) is not str or isinstance(message_ids, str):
            check_put(message_ids, ref)
            ref = str(ref)  # a str subclass: keep a plain str, which runs no code when freed
        now = self._clock()
        entry = (ref, submitted_at, parts, now + self._ttl)
        keys = [normalize(message_id) for message_id in message_ids]
        # From here on: C calls only (see the module's docstring).
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        entries = self._entries
        order = self._order
        for key in keys:
            if key:
                entries[key] = entry
                order.append(key)
                order.append(entry)
        if len(entries) > self._max_entries or now >= self._next_prune:
            self._evict(now)
        if len(order) > 4 * self._max_entries + 1024:  # twice as many items as entries allowed
            self._compact()

    def get(self, message_id, *, exact=False):
        """The entry for a receipt's id, or None (never put, discarded, or past its ttl); with
        ``exact``, only under the id's own spelling (no cross-base reading)."""
        cdef double now = self._clock()
        key = normalize(message_id)
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        # The exact spelling first, without the cross-base conversions: the usual case. An expired
        # entry is passed over here and removed by _evict.
        found = self._entries.get(key)
        if found is not None and <double>found[3] > now:
            return _stored_ref(found)
        if exact:
            return None
        for key in matching_message_ids(message_id, cross_base=self._cross_base)[1:]:
            found = self._entries.get(key)
            if found is not None and <double>found[3] > now:
                return _stored_ref(found)
        return None

    def discard(self, message_id):
        """Forget the entry that get(message_id) finds (after a final receipt)."""
        cdef double now
        key = normalize(message_id)
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        if key in self._entries:
            del self._entries[key]
            return
        now = self._clock()
        for key in matching_message_ids(message_id, cross_base=self._cross_base)[1:]:
            found = self._entries.get(key)
            if found is not None and <double>found[3] > now:
                self._entries.pop(key, None)
                return

    def flush(self):
        """Nothing to write; raises StoreError once closed, as the other stores do."""
        if self._closed:
            raise StoreError(f"{self!r} is closed")

    def close(self):
        """Forget everything; later calls raise StoreError. Calling it again does nothing."""
        self._closed = True
        self._entries.clear()
        self._order.clear()

    def __len__(self):
        """The ids held, expired ones not yet pruned included."""
        return len(self._entries)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self._closed else f"{len(self._entries)} ids"
        return f"MemoryStore({state}, max_entries={self._max_entries}, ttl={self._ttl:g})"

    cdef void _evict(self, double now) except *:
        """From the front: stale items, the expired, and the oldest beyond max_entries."""
        cdef dict entries = self._entries
        order = self._order
        while order:
            key = order[0]
            entry = order[1]
            live = entries.get(key) is entry
            if live and <double>entry[3] > now and len(entries) <= self._max_entries:
                break
            order.popleft()
            order.popleft()
            if live:
                del entries[key]
        self._next_prune = now + min(_PRUNE_EVERY, self._ttl)

    cdef void _compact(self) except *:
        """Drop the stale items that discards and puts again left behind the front. Afterwards the
        queue holds no more items than entries, so this runs at most once per max_entries puts.
        Items move from the old queue to a new one made first: no allocation the GC counts on the way."""
        cdef dict entries = self._entries
        old = self._order
        live = deque()
        while old:
            key = old.popleft()
            entry = old.popleft()
            if entries.get(key) is entry:
                live.append(key)
                live.append(entry)
        self._order = live
