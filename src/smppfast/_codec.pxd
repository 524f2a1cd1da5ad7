# What other compiled modules (the session's window) may use of the codec: the PDU's
# C-level fields and encoding into a caller's buffer. Nothing here knows of sessions.

from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint32_t

cdef enum:
    MAX_U8 = 12        # most 1-octet integer fields in one PDU (submit_sm has 11)
    MAX_OBJ = 6        # most string/list fields in one PDU (submit_sm has 6)
    MAX_KINDS = 32     # PDU classes, plus the unused kind 0
    HEADER = 16


cdef class Pdu:
    cdef uint32_t _seq
    cdef uint32_t _status
    cdef uint8_t _kind
    cdef uint8_t _body
    cdef uint8_t _u8[MAX_U8]
    cdef PyObject *_obj[MAX_OBJ]
    cdef object _tlvs


cdef struct Writer:
    # A growable output buffer. ``stack`` serves one-off encodes; a long-lived buffer
    # starts with buf NULL, cap 0 and on_heap true, and PyMem_Free's buf when done.
    unsigned char *buf
    Py_ssize_t len
    Py_ssize_t cap
    bint on_heap
    unsigned char stack[1024]


# Append ``pdu``'s wire bytes to ``w`` (on error ``w`` is left as it was).
cdef int encode_into(Writer *w, Pdu pdu) except -1
# Append ``n`` octets that are already encoded, growing ``w`` as encode_into does.
cdef int write_raw(Writer *w, const unsigned char *data, Py_ssize_t n) except -1
# The command_id of a PDU's class; the kind (a small index) of a command_id, or raise.
cdef uint32_t pdu_command_id(Pdu pdu) noexcept
cdef int command_kind(uint32_t command_id) except -1
