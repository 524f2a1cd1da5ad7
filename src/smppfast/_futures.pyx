"""The threaded client's per-message work on its futures, in C.

The session hands back every response as a ``ResponseReceived`` event carrying the
token the client gave it: a :class:`~smppfast._future.SubmitFuture`. Most of those
futures have nobody waiting on them yet (a producer keeps a list and looks later), so
resolving one needs no lock, no notification and no callback: ``settle`` does that in
place for a whole received buffer, and leaves every other event for the client's Python
code. Latencies go into the stats' :class:`LatencyRing`, which also counts them into the
fixed buckets of a histogram, so the hot path pays a few comparisons and no Python call.

This module knows the client's future; the session and the codec know neither.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc

from cpython.object cimport PyObject, PyTypeObject, newfunc

from ._codec cimport Pdu
from ._window cimport ResponseReceived

from asyncio import Future as _AsyncioFutureType
from concurrent.futures._base import FINISHED, RUNNING

__all__ = ["FutureState", "LATENCY_BUCKETS", "LatencyRing", "settle", "settle_asyncio", "new_futures"]

cdef tuple _NO_ARGS = ()
cdef object _AsyncioFuture = _AsyncioFutureType  # the C-accelerated asyncio.Future
cdef object _RUNNING = RUNNING
cdef object _FINISHED = FINISHED

#: The histogram's bucket upper bounds (seconds, inclusive), Prometheus' 1-2.5-5 steps: from
#: half a millisecond (an SMSC on the same host) to 10 s (the order of a response timeout).
#: A latency above the last bound goes into one more bucket (Prometheus' +Inf).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
cdef enum:
    _NBOUNDS = 14  # len(LATENCY_BUCKETS), checked below
cdef double _BOUNDS[_NBOUNDS]
if len(LATENCY_BUCKETS) != _NBOUNDS:
    raise ImportError("LATENCY_BUCKETS and _NBOUNDS disagree")
for _i, _b in enumerate(LATENCY_BUCKETS):
    _BOUNDS[_i] = _b
del _i, _b


@cython.auto_pickle(False)
cdef class FutureState:
    """The state of a ``SubmitFuture`` in C fields, so ``settle`` reads and writes it
    without a Python attribute lookup. ``SubmitFuture`` (``_future.py``) derives from this
    and from ``concurrent.futures.Future``, whose methods see these fields as the ordinary
    attributes they use (``_state``, ``_result``, ``_exception``, ``_done_callbacks``).

    ``_cond`` (a Condition), ``_waiters_list`` and ``_parked`` (a held lock a single
    blocked waiter sleeps on) stay None until someone waits; ``request`` is the PDU sent.
    """

    cdef public object request
    cdef public object _state
    cdef public object _result
    cdef public object _exception
    cdef public object _cond
    cdef public object _waiters_list
    cdef public object _parked
    cdef public object _done_callbacks
    cdef public int retries  # times the SMSC throttled it and it was sent again

    def __cinit__(self, *args, **kwargs):
        # RUNNING from birth: a submit is on its way to the wire and cannot be cancelled.
        self._state = _RUNNING
        self._done_callbacks = ()

    def __init__(self, request=None):
        # Here rather than in SubmitFuture: a C __init__ costs no Python frame per submit, and
        # concurrent.futures.Future.__init__ (which builds a Condition at once) is never run.
        self.request = request


@cython.final
cdef class LatencyRing:
    """The most recent ``capacity`` latencies (seconds), overwritten oldest first, and a
    histogram of every latency ever added (bucket counts by :data:`LATENCY_BUCKETS`, and
    their sum), which the ring's overwriting never forgets."""

    cdef double *_buf
    cdef readonly Py_ssize_t capacity
    cdef Py_ssize_t _count
    cdef Py_ssize_t _pos
    cdef unsigned long long _buckets[_NBOUNDS + 1]
    cdef double _sum

    def __cinit__(self, Py_ssize_t capacity=65536):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._buf = <double *>PyMem_Malloc(capacity * sizeof(double))
        if self._buf == NULL:
            raise MemoryError()
        self.capacity = capacity
        self._reset_histogram()

    def __dealloc__(self):
        PyMem_Free(self._buf)

    cdef inline void _reset_histogram(self) noexcept:
        cdef Py_ssize_t i
        for i in range(_NBOUNDS + 1):
            self._buckets[i] = 0
        self._sum = 0.0

    cdef inline void _keep(self, double seconds) noexcept:
        self._buf[self._pos] = seconds
        self._pos += 1
        if self._pos == self.capacity:
            self._pos = 0
        if self._count < self.capacity:
            self._count += 1

    cdef inline void _add(self, double seconds) noexcept:
        # The first bound >= seconds (bounds are inclusive, as Prometheus' "le"); NaN
        # compares false everywhere and lands above the last bound.
        cdef Py_ssize_t lo = 0, hi = _NBOUNDS, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if seconds <= _BOUNDS[mid]:
                hi = mid
            else:
                lo = mid + 1
        self._buckets[lo] += 1
        self._sum += seconds
        self._keep(seconds)

    def add(self, double seconds):
        """Record one latency."""
        self._add(seconds)

    def __len__(self):
        return self._count

    def samples(self):
        """The latencies held, oldest first, as a new list."""
        cdef Py_ssize_t i, start = 0 if self._count < self.capacity else self._pos
        return [self._buf[(start + i) % self.capacity] for i in range(self._count)]

    def histogram(self):
        """``(counts, sum)``: how many latencies fell in each bucket (not cumulative; one more
        than ``LATENCY_BUCKETS``, the last above every bound) and their sum, read together."""
        cdef Py_ssize_t i
        return [self._buckets[i] for i in range(_NBOUNDS + 1)], self._sum

    def merge(self, LatencyRing other not None):
        """Add ``other``'s histogram to this one, and its held latencies (oldest first) to
        this ring. One C call under the GIL: ``other`` is read as of one instant."""
        cdef Py_ssize_t i, start = 0 if other._count < other.capacity else other._pos
        for i in range(_NBOUNDS + 1):
            self._buckets[i] += other._buckets[i]
        self._sum += other._sum
        for i in range(other._count):
            self._keep(other._buf[(start + i) % other.capacity])

    def clear(self):
        """Forget the held latencies and the histogram."""
        self._count = 0
        self._pos = 0
        self._reset_histogram()


def new_futures(type cls, list pdus, Py_ssize_t start, Py_ssize_t stop):
    """One new ``cls`` (a ``FutureState`` subclass) per PDU in ``pdus[start:stop]``, as
    ``cls(pdu)`` would make it, without a Python ``__init__`` frame each."""
    cdef Py_ssize_t i
    cdef list out = []
    cdef FutureState fut
    cdef newfunc new
    if not issubclass(cls, FutureState):
        raise TypeError(f"{cls.__name__} is not a FutureState")
    new = (<PyTypeObject *>cls).tp_new
    for i in range(start, stop):
        fut = <FutureState>new(cls, <PyObject *>_NO_ARGS, NULL)  # the type's own tp_new, as cls() starts
        fut.request = pdus[i]
        out.append(fut)
    return out


def settle(list events, double now, LatencyRing ring not None, dict refs=None, list refs_out=None):
    """Resolve, in place, each successful ``ResponseReceived`` whose token is a ``SubmitFuture``
    with no Condition and no callback (nobody waits, or one thread parked in ``result()``,
    which is woken here), recording its latency in ``ring``.

    Those events are removed from ``events`` (the rest keep their order); returns how
    many were resolved. The caller holds the GIL throughout, so no waiter can register
    between the checks and the stores (the future's protocol: see ``_future.py``). The
    state strings are concurrent.futures' own constants, the only ones anything stores.

    A resolved event whose token is a key of ``refs`` (the requests sent with the sender's
    reference) is also appended to ``refs_out``, for the driver to keep its message id.
    """
    if refs and refs_out is None:
        raise ValueError("settle: refs needs refs_out")
    return _settle(events, now, ring, False, refs, refs_out)


def settle_asyncio(list events, double now, LatencyRing ring not None, dict refs=None, list refs_out=None):
    """``settle`` for the asyncio driver: each successful ``ResponseReceived`` whose token is
    a pending ``asyncio.Future`` gets its result (a cancelled one just frees its slot), and
    its latency goes into ``ring``. Runs on the event loop's thread, as set_result must.
    ``refs`` and ``refs_out`` as for ``settle``."""
    if refs and refs_out is None:
        raise ValueError("settle_asyncio: refs needs refs_out")
    return _settle(events, now, ring, True, refs, refs_out)


cdef Py_ssize_t _settle(list events, double now, LatencyRing ring, bint for_asyncio, dict refs,
                       list refs_out) except -1:
    cdef Py_ssize_t resolved = 0
    cdef list kept = None
    cdef ResponseReceived ev
    for i in range(len(events)):
        item = events[i]
        if type(item) is ResponseReceived:
            ev = <ResponseReceived>item
            if (<Pdu?>ev.response)._status == 0 and (
                _resolve_asyncio(ev) if for_asyncio else _resolve_thread_future(ev)
            ):
                ring._add(now - ev.sent_at)
                if refs and ev.token in refs:
                    refs_out.append(ev)
                if kept is None:
                    kept = events[:i]
                resolved += 1
                continue
        if kept is not None:
            kept.append(item)
    if kept is not None:
        events[:] = kept
    return resolved


cdef bint _resolve_thread_future(ResponseReceived ev) except -1:
    cdef FutureState fut
    if not (
        isinstance(ev.token, FutureState)
        and (<FutureState>ev.token)._state is _RUNNING
        and (<FutureState>ev.token)._cond is None
        and not (<FutureState>ev.token)._done_callbacks
    ):
        return False
    fut = <FutureState>ev.token
    fut._result = ev.response
    fut._state = _FINISHED
    if fut._parked is not None:
        # One thread blocks in result(): wake it, after the state is published.
        parked = fut._parked
        fut._parked = None
        try:
            parked.release()
        except RuntimeError:  # it timed out and let go: nothing to wake
            pass
    return True


cdef bint _resolve_asyncio(ResponseReceived ev) except -1:
    token = ev.token
    if type(token) is not _AsyncioFuture:
        return False
    if not token.done():
        token.set_result(ev.response)
    return True
