"""The per-message work of a session, in C: the window of requests in flight and the
buffer of bytes waiting to be sent.

The rules (which PDU a state allows, timers, what an unmatched PDU means) live in
``session.py``; this module does only what is paid once per message: take a sequence
number, encode into the outgoing buffer, register the request, and match a received
buffer's responses to their requests.

A request is registered with an opaque ``token`` that its sender chose (a driver's
future, or None). The window never looks inside a token: it hands it back in the
request's ``ResponseReceived`` (or to the session, on a timeout or a close).
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free
from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint32_t

from ._codec cimport MAX_KINDS, Pdu, Writer, command_kind, encode_into, pdu_command_id, write_raw

from .errors import LocalProtocolError, WindowFull

cdef extern from "Python.h":
    PyObject *PyDict_GetItemWithError(object d, object k) except? NULL

__all__ = ["RequestWindow", "ResponseReceived"]

cdef object _WindowFull = WindowFull
cdef object _LocalProtocolError = LocalProtocolError
cdef uint32_t _MAX_SEQUENCE = 0x7FFFFFFF
# Typed, so the C compiler sees a constant: a bare literal this large is a Python int to Cython.
cdef uint32_t _RESPONSE_BIT = 0x80000000
# An idle buffer bigger than this is given back to the allocator.
cdef Py_ssize_t _KEEP_CAPACITY = 1 << 20


@cython.final
cdef class RequestWindow:
    """Requests in flight and the bytes waiting to be sent, for one session.

    ``entries[seq] = (request, token, sent_at)`` holds the user's requests in the order
    they were sent (every one has the same ``timeout``, so that is also deadline order);
    ``control[seq] = (request, deadline)`` holds the session's own requests (bind,
    enquire_link, unbind), whose sequence numbers are skipped too. ``sequence`` is an
    optional callable giving numbers in 1..0x7FFFFFFF; by default a C counter runs from 1
    and wraps to 1. ``refuse(pdu)`` raises the session's error for a request its state
    does not allow (see ``set_allowed``); ``message_ids`` are the commands that count as
    messages for the inactivity timer.
    """

    cdef readonly dict entries
    cdef readonly dict control
    cdef public Py_ssize_t limit
    cdef public object timeout
    cdef public double last_traffic
    cdef public double last_message
    cdef Writer _out
    cdef object _refuse
    cdef object _sequence
    cdef uint32_t _next
    cdef bint _wrapped  # the counter went past 0x7FFFFFFF: numbers may collide with ones in flight
    cdef uint8_t _allowed[MAX_KINDS]
    cdef uint8_t _is_message[MAX_KINDS]

    def __cinit__(self, Py_ssize_t limit, object timeout=None, object sequence=None, *,
                  object refuse=None, object message_ids=(), double now=0.0):
        if limit < 1:
            raise ValueError("window must be at least 1")
        self._out.buf = NULL
        self._out.len = 0
        self._out.cap = 0
        self._out.on_heap = True
        self.entries = {}
        self.control = {}
        self.limit = limit
        self.timeout = timeout
        self._sequence = sequence
        self._next = 1
        self._refuse = refuse
        self.last_traffic = now
        self.last_message = now
        for cid in message_ids:
            self._is_message[command_kind(cid)] = 1

    def __dealloc__(self):
        PyMem_Free(self._out.buf)

    def set_allowed(self, command_ids):
        """The requests ``send_request`` accepts (the session's state table, for the current state)."""
        cdef int k
        for k in range(MAX_KINDS):
            self._allowed[k] = 0
        for cid in command_ids:
            self._allowed[command_kind(cid)] = 1

    def __len__(self):
        return len(self.entries)

    # -- sequence numbers -----------------------------------------------------------

    cdef object _take_key(self):
        cdef uint32_t seq
        cdef Py_ssize_t tries = len(self.entries) + len(self.control) + 2
        while tries > 0:
            tries -= 1
            if self._sequence is None:
                seq = self._next
                if seq >= _MAX_SEQUENCE:
                    self._next = 1
                    self._wrapped = True
                else:
                    self._next = seq + 1
                if not self._wrapped:
                    return seq  # every number so far was new: none can be in flight
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

    # -- sending --------------------------------------------------------------------

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
        cdef uint32_t old = pdu._seq
        pdu._seq = <uint32_t>key
        try:
            encode_into(&self._out, pdu)
        except BaseException:
            pdu._seq = old  # it never went out: leave the user's PDU as it was
            raise
        self.entries[key] = (pdu, token, now)
        self.last_traffic = now
        if self._is_message[pdu._kind]:
            self.last_message = now
        return key

    def send_request(self, Pdu pdu not None, double now, object token=None):
        """Check, number, encode, register and queue a request; return its sequence number.

        Raises ``LocalProtocolError`` (through ``refuse``) when the state does not allow
        it and ``WindowFull`` when the window is full; nothing is queued then.
        """
        self._check(pdu)
        return self._send(pdu, token, now)

    def send_batch(self, list pdus, Py_ssize_t start, list tokens, double now):
        """Send ``pdus[start + j]`` with ``tokens[j]``, for each token in order, as
        ``send_request`` would; stop early when the window is full. Returns how many went
        out. A PDU that cannot be sent raises, after the ones before it went out."""
        cdef Py_ssize_t j, n = len(tokens)
        cdef Pdu pdu
        if start < 0 or start + n > len(pdus):
            raise IndexError("send_batch: more tokens than PDUs after start")
        for j in range(n):
            if len(self.entries) >= self.limit:
                return j
            pdu = <Pdu?>pdus[start + j]
            self._check(pdu)
            self._send(pdu, tokens[j], now)
        return n

    def send_control(self, Pdu pdu not None, double now, object deadline):
        """Number, encode and queue one of the session's own requests, tracked in ``control``
        with its ``deadline`` (or None); not subject to the state table or the window."""
        key = self._take_key()
        pdu._seq = <uint32_t>key
        encode_into(&self._out, pdu)
        self.control[key] = (pdu, deadline)
        self.last_traffic = now
        return key

    def queue(self, Pdu pdu not None):
        """Encode a PDU that needs no registering (a response, a generic_nack) into the buffer."""
        encode_into(&self._out, pdu)

    def queue_bytes(self, data):
        """Queue octets that are already encoded (a peer's fast path, a fault's half PDU)."""
        cdef const unsigned char[::1] view = data  # contiguous: memcpy reads it as one run
        cdef Py_ssize_t n = view.shape[0]
        if n:
            write_raw(&self._out, &view[0], n)

    @property
    def output_size(self):
        """Octets queued and not yet taken by ``take_output``."""
        return self._out.len

    def take_output(self):
        """Every octet queued so far, as one bytes object (b"" when none)."""
        cdef Py_ssize_t n = self._out.len
        if n == 0:
            return b""
        data = PyBytes_FromStringAndSize(<char *>self._out.buf, n)
        self._out.len = 0
        if self._out.cap > _KEEP_CAPACITY:
            PyMem_Free(self._out.buf)
            self._out.buf = NULL
            self._out.cap = 0
        return data

    # -- receiving ------------------------------------------------------------------

    def match(self, list pdus, list events, double now=0.0):
        """Append a ``ResponseReceived`` for each leading response that matches a request.

        Returns the index of the first PDU left for the session's own dispatch (a request,
        or a response with no request in flight, or of the wrong command): order is kept,
        so everything from there on is the session's.
        """
        cdef Py_ssize_t i, n = len(pdus)
        cdef Pdu pdu
        cdef PyObject *found
        cdef uint32_t cid
        cdef dict entries = self.entries
        for i in range(n):
            pdu = <Pdu?>pdus[i]
            cid = pdu_command_id(pdu)
            if not (cid & _RESPONSE_BIT):
                return i
            key = pdu._seq
            found = PyDict_GetItemWithError(entries, key)
            if found == NULL:
                return i
            entry = <tuple>found
            if cid != (pdu_command_id(<Pdu>(entry[0])) | _RESPONSE_BIT):
                return i  # a generic_nack or a response of the wrong command: the session's rules
            events.append(_response_event(entry[0], pdu, entry[1], entry[2]))
            del entries[key]
        return n


@cython.final
@cython.no_gc
@cython.freelist(1024)
@cython.auto_pickle(False)
cdef class ResponseReceived:
    """A response matched a request in flight (an event of ``smppfast.session.Session``).

    ``token`` is what ``send`` was given; ``sent_at`` is the ``now`` the request was sent at
    (for its latency). Built here, once per response on the throughput path: a small C
    object from a free list, outside the cyclic GC (it holds no reference back to itself;
    do not store an event on its own token). Its fields are declared in ``_window.pxd``.
    """

    def __init__(self, request, response, token, double sent_at=0.0):
        self.request = request
        self.response = response
        self.token = token
        self.sent_at = sent_at

    def __repr__(self):
        return (
            f"ResponseReceived(request={self.request!r}, response={self.response!r}, "
            f"token={self.token!r}, sent_at={self.sent_at!r})"
        )

    def __eq__(self, other):
        if type(other) is not ResponseReceived:
            return NotImplemented
        cdef ResponseReceived o = <ResponseReceived>other
        return (self.request == o.request and self.response == o.response
                and self.token == o.token and self.sent_at == o.sent_at)

    __hash__ = None


cdef inline ResponseReceived _response_event(object request, object response, object token, object sent_at):
    cdef ResponseReceived ev = ResponseReceived.__new__(ResponseReceived)
    ev.request = request
    ev.response = response
    ev.token = token
    ev.sent_at = <double>sent_at
    return ev
