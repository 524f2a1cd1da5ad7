"""The threaded client's per-message work on its futures, in C.

The session hands back every response as a ``ResponseReceived`` event carrying the
token the client gave it: a :class:`~smppfast._future.SubmitFuture`. Most of those
futures have nobody waiting on them yet (a producer keeps a list and looks later), so
resolving one needs no lock, no notification and no callback: ``settle`` does that in
place for a whole received buffer, and leaves every other event for the client's Python
code. Latencies go into the stats' :class:`LatencyRing`.

This module knows the client's future; the session and the codec know neither.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc

from ._codec cimport Pdu

from ._future import SubmitFuture
from .events import ResponseReceived

__all__ = ["LatencyRing", "settle", "new_futures"]

cdef object _SubmitFuture = SubmitFuture
cdef object _ResponseReceived = ResponseReceived
cdef object _RUNNING = "RUNNING"
cdef object _FINISHED = "FINISHED"


@cython.final
cdef class LatencyRing:
    """The most recent ``capacity`` latencies (seconds), overwritten oldest first."""

    cdef double *_buf
    cdef readonly Py_ssize_t capacity
    cdef Py_ssize_t _count
    cdef Py_ssize_t _pos

    def __cinit__(self, Py_ssize_t capacity=65536):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._buf = <double *>PyMem_Malloc(capacity * sizeof(double))
        if self._buf == NULL:
            raise MemoryError()
        self.capacity = capacity

    def __dealloc__(self):
        PyMem_Free(self._buf)

    cdef inline void _add(self, double seconds) noexcept:
        self._buf[self._pos] = seconds
        self._pos += 1
        if self._pos == self.capacity:
            self._pos = 0
        if self._count < self.capacity:
            self._count += 1

    def add(self, double seconds):
        """Record one latency."""
        self._add(seconds)

    def __len__(self):
        return self._count

    def samples(self):
        """The latencies held, oldest first, as a new list."""
        cdef Py_ssize_t i, start = 0 if self._count < self.capacity else self._pos
        return [self._buf[(start + i) % self.capacity] for i in range(self._count)]

    def clear(self):
        self._count = 0
        self._pos = 0


def new_futures(list pdus, Py_ssize_t start, Py_ssize_t stop):
    """One new ``SubmitFuture`` per PDU in ``pdus[start:stop]`` (``SubmitFuture(pdu)`` without
    the Python ``__init__`` frame)."""
    cdef Py_ssize_t i
    cdef list out = []
    for i in range(start, stop):
        fut = _SubmitFuture.__new__(_SubmitFuture)
        fut.request = pdus[i]
        out.append(fut)
    return out


def settle(list events, double now, LatencyRing ring not None):
    """Resolve, in place, each successful ``ResponseReceived`` whose token is a ``SubmitFuture``
    that nobody watches yet (no waiter, no callback), recording its latency in ``ring``.

    Those events are removed from ``events`` (the rest keep their order); returns how
    many were resolved. The caller holds the GIL throughout, so no waiter can register
    between the checks and the stores (the future's protocol: see ``_future.py``).
    """
    cdef Py_ssize_t resolved = 0
    cdef list kept = None
    cdef tuple ev
    for i in range(len(events)):
        item = events[i]
        if type(item) is _ResponseReceived:
            ev = <tuple>item
            fut = ev[2]
            if (
                type(fut) is _SubmitFuture
                and (<Pdu?>ev[1])._status == 0
                and fut._state == _RUNNING
                and fut._cond is None
                and not fut._done_callbacks
                and fut._parked is None
            ):
                fut._result = ev[1]
                fut._state = _FINISHED
                ring._add(now - <double>ev[3])
                if kept is None:
                    kept = events[:i]
                resolved += 1
                continue
        if kept is not None:
            kept.append(item)
    if kept is not None:
        events[:] = kept
    return resolved
