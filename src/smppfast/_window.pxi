# Included by _codec.pyx: the per-request and per-response work of a session, in C.
#
# The rules (which PDU a state allows, timers, what an unmatched PDU means) live in
# session.py; this only does what is paid once per message: take a sequence number,
# encode, register the request, and match a buffer's responses to their requests.

from cpython.tuple cimport PyTuple_SET_ITEM

cdef extern from "Python.h":
    object PyType_GenericAlloc(PyTypeObject *tp, Py_ssize_t nitems)

from .errors import LocalProtocolError, WindowFull

cdef object _WindowFull = WindowFull
cdef object _LocalProtocolError = LocalProtocolError
cdef uint32_t _MAX_SEQUENCE = 0x7FFFFFFF


cdef int _kind_of(object command_id) except -1:
    cdef uint32_t cid = command_id
    cdef uint32_t low = cid & 0x7FFFFFFF
    cdef int kind = 0
    if low < 0x104:
        kind = _kind_resp[low] if cid & 0x80000000 else _kind_req[low]
    if kind == 0:
        raise ValueError(f"unknown command_id 0x{cid:08X}")
    return kind


@cython.final
cdef class RequestWindow:
    """Requests in flight, keyed by sequence number: ``entries[seq] = (request, token, deadline)``.

    ``control`` holds the session's own requests (bind, enquire_link, unbind); their
    sequence numbers are skipped too. ``sequence`` is an optional callable giving numbers
    in 1..0x7FFFFFFF; by default a C counter runs from 1 and wraps to 1. ``out`` is the
    session's list of encoded PDUs waiting to be sent. ``refuse(pdu)`` raises the session's
    error for a request its state does not allow (see ``set_allowed``).
    """

    cdef readonly dict entries
    cdef readonly dict control
    cdef public Py_ssize_t limit
    cdef public object timeout
    cdef public double last_traffic
    cdef public double last_message
    cdef list _out
    cdef object _refuse
    cdef object _sequence
    cdef uint32_t _next
    cdef bint _fast
    cdef list _latencies
    cdef Py_ssize_t _max_samples
    cdef Py_ssize_t _sample_pos
    cdef Py_ssize_t _resolved
    cdef uint8_t _allowed[MAX_KINDS]
    cdef uint8_t _is_message[MAX_KINDS]

    def __cinit__(self, Py_ssize_t limit, object timeout=None, object sequence=None, *,
                  list out=None, object refuse=None, object message_ids=(), double now=0.0):
        if limit < 1:
            raise ValueError("window must be at least 1")
        self.entries = {}
        self.control = {}
        self.limit = limit
        self.timeout = timeout
        self._sequence = sequence
        self._next = 1
        self._out = out if out is not None else []
        self._refuse = refuse
        self.last_traffic = now
        self.last_message = now
        for cid in message_ids:
            self._is_message[_kind_of(cid)] = 1

    def set_allowed(self, command_ids):
        """The requests ``send_request`` accepts (the session's state table, for the current state)."""
        cdef int k
        for k in range(MAX_KINDS):
            self._allowed[k] = 0
        for cid in command_ids:
            self._allowed[_kind_of(cid)] = 1

    def __len__(self):
        return len(self.entries)

    cdef object _take_key(self):
        cdef uint32_t seq
        cdef Py_ssize_t tries = len(self.entries) + len(self.control) + 2
        while tries > 0:
            tries -= 1
            if self._sequence is None:
                seq = self._next
                self._next = 1 if seq >= _MAX_SEQUENCE else seq + 1
                key = seq
            else:
                key = self._sequence()
                if not isinstance(key, int) or not 1 <= key <= _MAX_SEQUENCE:
                    raise _LocalProtocolError(f"sequence generator gave {key!r}, outside 1..0x7FFFFFFF")
            if key not in self.entries and key not in self.control:
                return key
        raise _LocalProtocolError("the sequence generator keeps giving numbers that are in flight")

    def next_sequence(self):
        """A sequence number not used by any request in flight."""
        return self._take_key()

    cdef int _check(self, Pdu pdu) except -1:
        # The session's state table decides what may be sent (refuse raises its error);
        # then the window must have room.
        if not self._allowed[pdu._kind]:
            self._refuse(pdu)
            raise _LocalProtocolError(f"{type(pdu).__name__} is not allowed now")
        if len(self.entries) >= self.limit:
            raise _WindowFull(f"{len(self.entries)} requests in flight (window {self.limit})")
        return 0

    cdef object _send(self, Pdu pdu, object token, double now):
        # Number, encode, queue and register a checked request; returns its sequence number.
        key = self._take_key()
        pdu._seq = <uint32_t>key
        self._out.append(_encode_pdu(pdu))
        self.entries[key] = (pdu, token, None if self.timeout is None else now + <double>self.timeout)
        self.last_traffic = now
        if self._is_message[pdu._kind]:
            self.last_message = now
        return key

    cdef object _new_future(self, Pdu pdu, double now):
        fut = _FutureClass.__new__(_FutureClass)
        fut.request = pdu
        fut.sent_at = now
        return fut

    def send_request(self, Pdu pdu not None, double now, object token=None):
        """``Session.send``: check, number, encode, register and queue a request; return its seq."""
        self._check(pdu)
        return self._send(pdu, token, now)

    def send_future(self, Pdu pdu not None, double now):
        """``send_request`` with a new registered future as the token; returns the future."""
        self._check(pdu)
        fut = self._new_future(pdu, now)
        self._send(pdu, fut, now)
        return fut

    def send_batch(self, list pdus, Py_ssize_t start, Py_ssize_t stop, double now, list futures):
        """Send ``pdus[start:stop]`` as ``send_future`` would, appending each future to ``futures``;
        stop early when the window is full. Returns how many went out. A PDU that cannot be
        sent raises, after the ones before it went out (their futures are in ``futures``)."""
        cdef Py_ssize_t i
        cdef Pdu pdu
        for i in range(start, stop):
            if len(self.entries) >= self.limit:
                return i - start
            pdu = <Pdu?>pdus[i]
            self._check(pdu)
            fut = self._new_future(pdu, now)
            self._send(pdu, fut, now)
            futures.append(fut)
        return stop - start

    def enable_fast_resolve(self, list latencies, Py_ssize_t max_samples):
        """Resolve successful responses of registered future tokens in place (see ``match``).

        Their submit-to-response latencies go into ``latencies`` (a rolling window of
        ``max_samples``); ``take_resolved()`` says how many were resolved since last asked.
        """
        self._latencies = latencies
        self._max_samples = max_samples
        self._fast = _FutureClass is not None

    def take_resolved(self):
        """How many responses ``match`` resolved in place since the last call."""
        n = self._resolved
        self._resolved = 0
        return n

    def match(self, list pdus, list events, double now=0.0):
        """Append a ResponseReceived for each leading response that matches a request.

        Returns the index of the first PDU left for the session's own dispatch (a request,
        or a response with no request in flight): order is kept, so everything from there
        on is the session's. With ``enable_fast_resolve``, a successful response whose token
        is an unwatched registered future resolves it here and makes no event.
        """
        cdef Py_ssize_t i, n = len(pdus)
        cdef Pdu pdu
        cdef PyObject *found
        cdef uint32_t cid
        cdef dict entries = self.entries
        cdef bint fast = self._fast
        for i in range(n):
            pdu = <Pdu>pdus[i]
            cid = _layouts[pdu._kind].command_id
            if not (cid & 0x80000000):
                return i
            key = pdu._seq
            found = PyDict_GetItemWithError(entries, key)
            if found == NULL:
                return i
            entry = <tuple>found
            request = <Pdu>(entry[0])
            if cid != 0x80000000 and cid != (_layouts[(<Pdu>request)._kind].command_id | 0x80000000):
                return i  # a mismatched response: the session logs it
            if fast and pdu._status == 0 and type(entry[1]) is _FutureClass and self._resolve(entry[1], pdu, now):
                del entries[key]
                continue
            events.append(_response_event(entry[0], pdu, entry[1]))
            del entries[key]
        return n

    cdef bint _resolve(self, object fut, object response, double now) except -1:
        # The registered future's protocol (smppfast._future.SubmitFuture): it is resolved by
        # publishing _result then _state; a waiter (_cond, _parked) or callbacks need the Python path.
        # The GIL is held from the checks to the stores, so no waiter can slip in between.
        if fut._state != "RUNNING" or fut._cond is not None or fut._done_callbacks or fut._parked is not None:
            return False
        fut._result = response
        fut._state = "FINISHED"
        self.record_latency(now - <double>fut.sent_at)
        self._resolved += 1
        return True

    cpdef record_latency(self, double seconds):
        """Add a submit-to-response latency to the rolling window of samples."""
        if self._latencies is None:
            return
        if len(self._latencies) < self._max_samples:
            self._latencies.append(seconds)
        elif self._max_samples > 0:
            self._latencies[self._sample_pos] = seconds
            self._sample_pos = (self._sample_pos + 1) % self._max_samples


cdef object _ResponseReceived = tuple
cdef object _FutureClass = None


def _register_future_class(cls):
    """_future.py registers SubmitFuture, whose protocol RequestWindow._resolve knows."""
    global _FutureClass
    _FutureClass = cls


cdef inline object _response_event(object request, object response, object token):
    # tuple_subtype_new's work without its Python-level call: allocate and fill in place.
    cdef object t = PyType_GenericAlloc(<PyTypeObject *>_ResponseReceived, 3)
    Py_INCREF(request)
    PyTuple_SET_ITEM(t, 0, request)
    Py_INCREF(response)
    PyTuple_SET_ITEM(t, 1, response)
    Py_INCREF(token)
    PyTuple_SET_ITEM(t, 2, token)
    return t


def _set_response_event_class(cls):
    """events.py registers its ResponseReceived here (the codec must not import upward)."""
    global _ResponseReceived
    _ResponseReceived = cls
