"""SMPP 3.4 PDU classes, encode, decode and the streaming Decoder.

Everything here is driven by the layout table in ``_layout.py``: at import it is
compiled into C arrays (one ``Layout`` per PDU class), and a single encoder and a
single decoder walk those arrays over raw buffers. PDU objects keep 1-octet integers
as C bytes and strings in a small array of object slots, so a decoded ``submit_sm``
costs one allocation plus its strings, and is not tracked by the cyclic GC.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from cpython.bytes cimport (
    PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromObject, PyBytes_FromStringAndSize, PyBytes_GET_SIZE,
)
from cpython.dict cimport PyDict_CheckExact
from cpython.list cimport PyList_Append, PyList_Check, PyList_GET_SIZE
from cpython.tuple cimport PyTuple_CheckExact
from cpython.long cimport PyLong_FromLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_Check, PyUnicode_DecodeLatin1
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memchr, memcpy, memmove

import sys
from collections import namedtuple
from collections.abc import Mapping

from . import _layout
from .constants import Command, Status, Tlv
from .errors import FieldTypeError, PduError

cdef extern from "wire.h":
    uint32_t sf_get_u32(const unsigned char *p) nogil
    uint16_t sf_get_u16(const unsigned char *p) nogil
    void sf_put_u32(unsigned char *p, uint32_t v) nogil
    void sf_put_u16(unsigned char *p, uint16_t v) nogil
    Py_ssize_t sf_cstr_len(const unsigned char *p, size_t limit) nogil

cdef extern from "Python.h":
    bint PyLong_Check(object o)
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    bint PyObject_IS_GC(object o)
    void PyObject_GC_UnTrack(void *o)
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)
    Py_ssize_t PyTuple_GET_SIZE(PyObject *t)
    PyObject *PyTuple_GET_ITEM(PyObject *t, Py_ssize_t i)
    int PyUnicode_KIND(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_1BYTE_KIND
    object PyDescr_NewMember(PyTypeObject *tp, PyMemberDef *m)
    PyObject *PyDict_GetItemWithError(object d, object k) except? NULL
    int PyObject_GenericSetAttr(object o, object name, object value) except -1

cdef extern from *:
    """
    static void sf_set_vectorcall(PyObject *type, void *fn) {
        ((PyTypeObject *)type)->tp_vectorcall = (vectorcallfunc)fn;
    }
    """
    void sf_set_vectorcall(object type, void *fn)

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        const char *name
        int type
        Py_ssize_t offset
        int flags
        const char *doc
    int T_OBJECT_EX

__all__ = [
    "Pdu", "encode", "decode", "Decoder", "SmeAddress", "DistributionList", "UnsuccessSme",
    "DEFAULT_MAX_PDU_SIZE",
]

# ---------------------------------------------------------------------------
# The compiled layout table

# MAX_U8, MAX_OBJ, MAX_KINDS and HEADER are in _codec.pxd.
DEF MAX_FIELDS = 20

cdef enum:
    K_U8 = 1
    K_CSTR = 2
    K_SM = 3
    K_DESTS = 4
    K_UNSUCC = 5

cdef enum:
    T_INT1 = 1
    T_INT2 = 2
    T_INT4 = 3
    T_CSTR = 4
    T_OCTETS = 5

cdef enum:
    BODY_DEFAULT = 0   # constructed without body fields: written unless an error response
    BODY_GIVEN = 1     # body fields given, or decoded with a body: always written
    BODY_ABSENT = 2    # decoded from a response that had no body

cdef struct FieldDef:
    uint8_t kind
    uint8_t slot       # index into Pdu._u8 or Pdu._obj
    uint16_t maxlen    # C-Octet strings: the terminator included

cdef struct Layout:
    uint32_t command_id
    int nfields
    bint is_response
    bint has_response  # a request answered by a response PDU (the layout table's column)
    FieldDef fields[MAX_FIELDS]

cdef Layout _layouts[MAX_KINDS]
cdef int _nkinds = 0
cdef list _classes = [None]          # kind -> class
cdef list _field_names = [()]        # kind -> tuple of field names
cdef list _name_maps = [None]

# command_id -> kind: requests and responses share the low bits.
cdef uint8_t _kind_req[0x104]
cdef uint8_t _kind_resp[0x104]

# TLV tag -> index into the small arrays of known tags (0: unknown tag).
cdef uint8_t _tlv_index[65536]
cdef uint8_t _tlv_type[64]
cdef PyObject *_tlv_key[64]
cdef list _tlv_keys_alive = []

SmeAddress = namedtuple("SmeAddress", "dest_addr_ton dest_addr_npi destination_addr")
SmeAddress.__doc__ = "A submit_multi SME destination (dest_flag 1)."
DistributionList = namedtuple("DistributionList", "dl_name")
DistributionList.__doc__ = "A submit_multi distribution-list destination (dest_flag 2)."
UnsuccessSme = namedtuple(
    "UnsuccessSme", "dest_addr_ton dest_addr_npi destination_addr error_status_code"
)
UnsuccessSme.__doc__ = "A destination that submit_multi could not deliver to."
for _nt in (SmeAddress, DistributionList, UnsuccessSme):
    _nt.__module__ = "smppfast"

#: Admits a data_sm carrying a full 64 KiB message_payload, with room for its other fields.
DEFAULT_MAX_PDU_SIZE = 65536 + 4096

cdef object _EMPTY_STR = ""
cdef object _EMPTY_BYTES = b""
cdef object _Status = Status
cdef object _PduError = PduError
cdef object _FieldTypeError = FieldTypeError
cdef object _Mapping = Mapping
cdef object _SmeAddress = SmeAddress
cdef object _DistributionList = DistributionList
cdef object _UnsuccessSme = UnsuccessSme
cdef tuple _EMPTY_TUPLE = ()
cdef list _status_members = [None] * 0x100
for _member in Status:
    _status_members[_member.value] = _member


cdef object _type_error(str name, str expected, object value, str hint=""):
    """The FieldTypeError for a value of the wrong type: names the field and the type given."""
    return _FieldTypeError(f"{name} must be {expected}, not {type(value).__name__}{hint}", field=name)


cdef object _pdu_error(str message, object field, object offset, uint32_t command_id,
                       uint32_t sequence_number, bint recoverable, int status):
    return _PduError(
        message, field=field, offset=offset, command_id=command_id,
        sequence_number=sequence_number, recoverable=recoverable, status=status,
    )


# ---------------------------------------------------------------------------
# PDU objects

@cython.no_gc
@cython.freelist(256)
cdef class Pdu:
    """Base of every SMPP PDU class. Not instantiated directly.

    Subclasses are generated from the layout table; each has ``command_id``, ``fields``
    (the body field names in wire order), ``has_response`` (a request answered by a
    response PDU) and one attribute per SMPP 3.4 field. Field types are checked where a
    value is given (construction and assignment: FieldTypeError, naming the field);
    lengths, Latin-1 and NULs on encode (PduError).
    """

    # Its C fields (_seq, _status, _kind, _body, _u8, _obj, _tlvs) are declared in _codec.pxd.

    def __dealloc__(self):
        cdef int i
        for i in range(MAX_OBJ):
            Py_XDECREF(self._obj[i])
            self._obj[i] = NULL

    def __init__(self, **kwargs):
        # Calls of the generated classes take the vectorcall path below; this one serves
        # subclasses that users derive from them.
        cdef int kind = _class_kind(type(self))
        self._kind = kind
        _untrack(self)
        _set_defaults(self, kind)
        for key, value in kwargs.items():
            _set_by_index(self, kind, _keyword_index(type(self), kind, <PyObject *>key), value)

    property sequence_number:
        """The PDU's sequence number (0 to 2**32-1; sessions use 1 to 0x7FFFFFFF)."""
        def __get__(self):
            return self._seq
        def __set__(self, value):
            self._seq = _as_u32(value, "sequence_number")

    property command_status:
        """The command_status (a :class:`Status` value for known statuses; any 32-bit value)."""
        def __get__(self):
            # Known statuses come back as Status members from a table built once at import.
            if self._status < 0x100:
                member = _status_members[self._status]
                if member is not None:
                    return member
            return self._status
        def __set__(self, value):
            self._status = _as_u32(value, "command_status")

    property tlvs:
        """Optional parameters: a dict of tag -> value (a list for a repeated tag)."""
        def __get__(self):
            if self._tlvs is None:
                self._tlvs = {}
            return self._tlvs
        def __set__(self, value):
            self._tlvs = _as_tlvs(value)

    property command:
        """The command_id as a :class:`Command` member."""
        def __get__(self):
            return Command(self.command_id)

    @property
    def is_response(self):
        return bool(_layouts[self._kind].is_response)

    def as_dict(self):
        """The body fields (derived lengths included) in wire order, as a dict."""
        _check_kind(self)
        cdef dict out = {}
        cdef Layout *lay = &_layouts[self._kind]
        cdef tuple names = <tuple>_field_names[self._kind]
        cdef int i
        for i in range(lay.nfields):
            kind = lay.fields[i].kind
            if kind == K_SM:
                out["sm_length"] = len(_slot_get(self, lay.fields[i].slot))
            elif kind == K_DESTS:
                out["number_of_dests"] = len(_slot_get(self, lay.fields[i].slot))
            elif kind == K_UNSUCC:
                out["no_unsuccess"] = len(_slot_get(self, lay.fields[i].slot))
            out[names[i]] = _field_value(self, i)
        return out

    def response(self, **fields):
        """Make this request's response PDU, with the same sequence_number.

        Raises TypeError when the PDU has none (``has_response`` is false).
        """
        _check_kind(self)
        cdef Layout *lay = &_layouts[self._kind]
        if not lay.has_response:
            raise TypeError(f"{type(self).__name__} has no response PDU")
        cls = _classes[_kind_resp[lay.command_id & 0x3FF]]
        resp = cls(**fields)
        (<Pdu>resp)._seq = self._seq
        return resp

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return _pdu_equal(self, <Pdu>other)

    def __ne__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return not _pdu_equal(self, <Pdu>other)

    __hash__ = None

    def __repr__(self):
        return _pdu_repr(self)

    def __setattr__(self, name, value):
        # Body fields are checked as on construction; everything else (the header
        # properties, derived lengths, unknown names) takes the generic path.
        cdef int kind = self._kind
        cdef int idx
        cdef uint8_t body = self._body
        if kind:
            idx = _attr_index(kind, name)
            if idx >= 0:
                # Through _set_by_index, so that _set_field keeps a single caller (and is
                # inlined into construction); assignment leaves the body flag as it was.
                _set_by_index(self, kind, idx, value)
                self._body = body
                return
        PyObject_GenericSetAttr(self, name, value)

    def __reduce__(self):
        _check_kind(self)
        cdef dict state = {"sequence_number": self._seq, "command_status": self._status}
        cdef tuple names = <tuple>_field_names[self._kind]
        cdef int i
        for i in range(len(names)):
            state[names[i]] = _field_value(self, i)
        if self._tlvs:
            state["tlvs"] = dict(self._tlvs)
        return (_rebuild, (type(self), state, self._body))

    def __copy__(self):
        cls, args = self.__reduce__()
        return cls(*args)


def _rebuild(cls, dict state, int body):
    cdef Pdu pdu = cls(**state)
    pdu._body = body
    return pdu


cdef dict _kind_by_class = {}

# Per class, its keyword names (interned; kept alive by _name_maps) and their indices, for the
# pointer scan in _pdu_vectorcall.
DEF MAX_NAMES = 32
cdef PyObject *_name_ptr[MAX_KINDS][MAX_NAMES]
cdef int _name_idx[MAX_KINDS][MAX_NAMES]
cdef int _name_count[MAX_KINDS]


cdef inline int _class_kind(object cls) except -1:
    cdef PyObject *found = PyDict_GetItemWithError(_kind_by_class, cls)
    if found != NULL:
        return <int><object>found
    # A user's subclass of a generated class: found through its MRO once per call.
    kind = getattr(cls, "_kind", 0)
    if not kind:
        raise TypeError("Pdu is abstract: use a concrete class such as SubmitSm")
    return kind


cdef inline void _untrack(object obj):
    # The generated classes are heap types, which CPython always makes GC-tracked. A PDU
    # only holds str, bytes, ints and (rarely) containers of those, so it cannot be part of
    # a cycle that matters: keeping it away from the cyclic GC makes bulk decoding cost the
    # same with the collector on or off.
    if PyObject_IS_GC(obj):
        PyObject_GC_UnTrack(<void *>obj)


cdef inline Pdu _new_pdu(object cls, int kind):
    cdef Pdu pdu = <Pdu>(<PyTypeObject *>cls).tp_new(cls, <PyObject *>_EMPTY_TUPLE, NULL)
    pdu._kind = kind
    _untrack(pdu)
    return pdu


cdef object _pdu_vectorcall(object cls, PyObject **args, size_t nargsf, PyObject *kwnames):
    """``SubmitSm(source_addr=..., ...)``: keyword arguments straight from the call frame.

    Installed as each generated class's tp_vectorcall, so a construction builds no kwargs
    dict and walks the interned argument names against the class's name map once.
    """
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t i, n
    if nargs:
        raise TypeError(f"{cls.__name__}() takes keyword arguments only")
    cdef int kind = _class_kind(cls)
    cdef Pdu pdu = _new_pdu(cls, kind)
    _set_defaults(pdu, kind)
    if kwnames != NULL:
        n = PyTuple_GET_SIZE(kwnames)
        for i in range(n):
            _set_by_index(pdu, kind, _keyword_index(cls, kind, PyTuple_GET_ITEM(kwnames, i)), <object>args[i])
    return pdu


cdef inline int _keyword_index(object cls, int kind, PyObject *name) except? -999:
    """The field index (or header index) a keyword argument names; TypeError when none."""
    cdef int j
    # Argument names in a call are interned, and so are ours: compare pointers first.
    for j in range(_name_count[kind]):
        if _name_ptr[kind][j] == name:
            return _name_idx[kind][j]
    cdef PyObject *idx = PyDict_GetItemWithError(<dict>_name_maps[kind], <object>name)
    if idx == NULL:
        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {<object>name!r}")
    return <int><object>idx


cdef inline int _attr_index(int kind, object name) except? -999:
    """The field index an attribute name names, or -1 (header, derived, or not a field)."""
    cdef int j
    cdef PyObject *idx
    for j in range(_name_count[kind]):
        if _name_ptr[kind][j] == <PyObject *>name:
            return _name_idx[kind][j]
    if not PyUnicode_Check(name):
        return -1
    idx = PyDict_GetItemWithError(<dict>_name_maps[kind], name)
    if idx == NULL:
        return -1
    return <int><object>idx


cdef inline int _check_kind(Pdu pdu) except -1:
    if pdu._kind == 0:
        raise TypeError(f"{type(pdu).__name__} was not initialised")
    return 0


cdef inline object _slot_get(Pdu pdu, int slot):
    cdef PyObject *o = pdu._obj[slot]
    if o == NULL:
        return None
    return <object>o


cdef inline void _slot_set(Pdu pdu, int slot, object value):
    Py_INCREF(value)
    cdef PyObject *old = pdu._obj[slot]
    pdu._obj[slot] = <PyObject *>value
    Py_XDECREF(old)


cdef inline long long _as_int(object value, str name) except? -2:
    """The value of an int, or -1 when it does not fit a C long long (so: out of range)."""
    cdef int overflow = 0
    cdef long long v
    if not PyLong_Check(value):
        raise _type_error(name, "an int", value)
    v = PyLong_AsLongLongAndOverflow(value, &overflow)
    return -1 if overflow else v


cdef inline uint32_t _as_u32(object value, str name) except? 0xFFFFFFFF:
    cdef long long v = _as_int(value, name)
    if v < 0 or v > 0xFFFFFFFF:
        raise _pdu_error(f"{name} {value} is out of range 0..4294967295", name, None, 0, 0, True, 0)
    return <uint32_t>v


cdef int _set_defaults(Pdu pdu, int kind) except -1:
    cdef Layout *lay = &_layouts[kind]
    cdef int i
    cdef FieldDef *f
    for i in range(lay.nfields):
        f = &lay.fields[i]
        if f.kind == K_CSTR:
            _slot_set(pdu, f.slot, _EMPTY_STR)
        elif f.kind == K_SM:
            _slot_set(pdu, f.slot, _EMPTY_BYTES)
        elif f.kind == K_DESTS or f.kind == K_UNSUCC:
            _slot_set(pdu, f.slot, [])
    return 0


# Name-map indices below 0 are the header attributes.
DEF IDX_SEQ = -1
DEF IDX_STATUS = -2
DEF IDX_TLVS = -3
DEF IDX_DERIVED = -4


cdef int _set_by_index(Pdu pdu, int kind, int idx, object value) except -1:
    if idx >= 0:
        _set_field(pdu, kind, idx, value)
        pdu._body = BODY_GIVEN
    elif idx == IDX_SEQ:
        pdu._seq = _as_u32(value, "sequence_number")
    elif idx == IDX_STATUS:
        pdu._status = _as_u32(value, "command_status")
    elif idx == IDX_TLVS:
        Pdu.tlvs.__set__(pdu, value)
    else:
        raise TypeError("sm_length, number_of_dests and no_unsuccess are derived from their lists; do not set them")
    return 0


cdef inline int _set_field(Pdu pdu, int kind, int i, object value) except -1:
    # Types are checked here, where the value is given, with C-level checks (a flag test on
    # the value's type); lengths, Latin-1 and NULs on encode. The common cases stay small
    # enough to inline into the construction loop; everything else is _set_field_slow.
    cdef FieldDef *f = &_layouts[kind].fields[i]
    cdef int overflow = 0
    cdef long long v
    if f.kind == K_U8:
        if PyLong_Check(value):
            v = PyLong_AsLongLongAndOverflow(value, &overflow)
            if not overflow and 0 <= v <= 255:
                pdu._u8[f.slot] = <uint8_t>v
                return 0
    elif (f.kind == K_CSTR and PyUnicode_Check(value)) or (f.kind == K_SM and PyBytes_Check(value)):
        _slot_set(pdu, f.slot, value)
        return 0
    return _set_field_slow(pdu, kind, i, value)


cdef int _set_field_slow(Pdu pdu, int kind, int i, object value) except -1:
    """_set_field for the rest: range errors, bytes-like copies, lists, and wrong types."""
    cdef FieldDef *f = &_layouts[kind].fields[i]
    cdef str name = (<tuple>_field_names[kind])[i]
    if f.kind == K_U8:
        pdu._u8[f.slot] = _as_u8(value, name)
    elif f.kind == K_CSTR:
        raise _type_error(name, "a str", value)
    elif f.kind == K_SM:
        if PyUnicode_Check(value):
            raise _type_error(name, "bytes", value, ": encode the text first, e.g. with smppfast.encode_text()")
        if not PyObject_CheckBuffer(value):
            raise _type_error(name, "bytes-like (bytes, bytearray, memoryview)", value)
        # Octet strings are bytes: a bytearray or memoryview is copied once, here.
        _slot_set(pdu, f.slot, PyBytes_FromObject(value))
    else:
        # An exact tuple only: a lone SmeAddress (a named tuple) given for the list is a mistake.
        if not (PyList_Check(value) or PyTuple_CheckExact(value)):
            raise _type_error(name, "a list", value)
        _slot_set(pdu, f.slot, list(value))
    return 0


cdef object _as_tlvs(object value):
    """The dict a ``tlvs`` value is kept as (None: none); FieldTypeError for anything else."""
    if value is None or PyDict_CheckExact(value):
        return value
    if isinstance(value, _Mapping):
        return dict(value)
    raise _type_error("tlvs", "a dict", value)


cdef inline uint8_t _as_u8(object value, str name) except? 255:
    cdef long long v = _as_int(value, name)
    if v < 0 or v > 255:
        raise _pdu_error(f"{name} {value} is out of range 0..255", name, None, 0, 0, True, 0)
    return <uint8_t>v


cdef object _field_value(Pdu pdu, int i):
    cdef FieldDef *f = &_layouts[pdu._kind].fields[i]
    if f.kind == K_U8:
        return pdu._u8[f.slot]
    return _slot_get(pdu, f.slot)


cdef class _SlotField:
    """Base of the field descriptors the table generates: a slot index and the field's name."""

    cdef int slot
    cdef str name

    def __cinit__(self, int slot, str name):
        self.slot = slot
        self.name = name


cdef class _U8Field(_SlotField):
    """Descriptor for a 1-octet Integer field stored as a C byte in the PDU."""

    def __get__(self, obj, objtype):
        if obj is None:
            return self
        return (<Pdu?>obj)._u8[self.slot]

    def __set__(self, obj, value):
        (<Pdu?>obj)._u8[self.slot] = _as_u8(value, self.name)

    def __delete__(self, obj):
        raise AttributeError(f"cannot delete field {self.name}")


cdef class _LengthField(_SlotField):
    """Read-only descriptor for a derived length (sm_length, number_of_dests, no_unsuccess)."""

    def __get__(self, obj, objtype):
        if obj is None:
            return self
        value = _slot_get(<Pdu?>obj, self.slot)
        return 0 if value is None else len(value)

    def __set__(self, obj, value):
        raise AttributeError(f"{self.name} is derived from its data and cannot be set")


cdef bint _field_is_default(Pdu pdu, FieldDef *f) noexcept:
    # Never raises, whatever the slot holds (object.__setattr__ bypasses the checks): repr
    # and encode must not fail here.
    if f.kind == K_U8:
        return pdu._u8[f.slot] == 0
    cdef PyObject *o = pdu._obj[f.slot]
    if o == NULL:
        return True
    if PyUnicode_Check(<object>o):
        return PyUnicode_GET_LENGTH(<object>o) == 0
    if PyBytes_Check(<object>o):
        return PyBytes_GET_SIZE(<object>o) == 0
    if PyList_Check(<object>o):
        return PyList_GET_SIZE(<object>o) == 0
    return False


cdef bint _writes_body(Pdu pdu):
    cdef Layout *lay = &_layouts[pdu._kind]
    cdef int i
    if lay.nfields == 0:
        return False
    if not lay.is_response or pdu._body == BODY_GIVEN:
        return True
    if pdu._tlvs:
        # TLVs follow the mandatory fields; without them a decoder could not tell where TLVs start.
        return True
    if pdu._body == BODY_DEFAULT and pdu._status == 0:
        return True
    for i in range(lay.nfields):
        if not _field_is_default(pdu, &lay.fields[i]):
            return True
    return False


cdef bint _pdu_equal(Pdu a, Pdu b) except -1:
    cdef Layout *lay = &_layouts[a._kind]
    cdef int i
    cdef FieldDef *f
    if a._seq != b._seq or a._status != b._status or a._kind != b._kind:
        return False
    for i in range(lay.nfields):
        f = &lay.fields[i]
        if f.kind == K_U8:
            if a._u8[f.slot] != b._u8[f.slot]:
                return False
        elif _slot_get(a, f.slot) != _slot_get(b, f.slot):
            return False
    if (a._tlvs or {}) != (b._tlvs or {}):
        return False
    return _writes_body(a) == _writes_body(b)


cdef str _tlv_key_repr(object tag):
    if not isinstance(tag, int):
        return repr(tag)  # refused on encode; shown as it is
    try:
        return f"Tlv.{Tlv(tag).name}"
    except ValueError:
        return f"0x{tag:04X}" if tag >= 0 else repr(tag)


cdef str _pdu_repr(Pdu pdu):
    if pdu._kind == 0:
        return f"<uninitialised {type(pdu).__name__}>"
    cdef Layout *lay = &_layouts[pdu._kind]
    cdef tuple names = <tuple>_field_names[pdu._kind]
    cdef list parts = [f"sequence_number={pdu._seq}"]
    cdef int i
    if pdu._status:
        status = pdu.command_status
        parts.append(f"command_status={status.name if isinstance(status, Status) else hex(status)}")
    for i in range(lay.nfields):
        if _field_is_default(pdu, &lay.fields[i]):
            continue
        value = _field_value(pdu, i)
        if names[i] == "password":
            parts.append("password='***'")
        else:
            parts.append(f"{names[i]}={value!r}")
    if pdu._tlvs:
        items = ", ".join(f"{_tlv_key_repr(k)}: {v!r}" for k, v in pdu._tlvs.items())
        parts.append(f"tlvs={{{items}}}")
    return f"{type(pdu).__name__}({', '.join(parts)})"


# ---------------------------------------------------------------------------
# Encoding

DEF STACK_BUF = 1024  # the size of Writer.stack (_codec.pxd)


cdef inline int _reserve(Writer *w, Py_ssize_t extra) except -1:
    cdef Py_ssize_t need = w.len + extra
    cdef Py_ssize_t cap
    cdef unsigned char *nb
    if need <= w.cap:
        return 0
    cap = w.cap * 2
    if cap < need:
        cap = need
    if w.on_heap:
        nb = <unsigned char *>PyMem_Realloc(w.buf, cap)
    else:
        nb = <unsigned char *>PyMem_Malloc(cap)
        if nb != NULL:
            memcpy(nb, w.buf, w.len)
    if nb == NULL:
        raise MemoryError()
    w.buf = nb
    w.cap = cap
    w.on_heap = True
    return 0


cdef inline int _put_u8(Writer *w, uint8_t v) except -1:
    if w.len >= w.cap:
        _reserve(w, 1)
    w.buf[w.len] = v
    w.len += 1
    return 0


cdef inline int _put_raw(Writer *w, const void *data, Py_ssize_t n) except -1:
    _reserve(w, n)
    memcpy(w.buf + w.len, data, n)
    w.len += n
    return 0


cdef int write_raw(Writer *w, const unsigned char *data, Py_ssize_t n) except -1:
    return _put_raw(w, data, n)


cdef object _encode_error(Pdu pdu, str field, str message):
    return _pdu_error(message, field, None, _layouts[pdu._kind].command_id, pdu._seq, True, 0)


cdef int _put_cstr(Writer *w, Pdu pdu, object value, int maxlen, str name) except -1:
    """Write a C-Octet string: Latin-1 octets, then NUL, within maxlen (NUL included)."""
    cdef Py_ssize_t n
    cdef const unsigned char *data
    if not isinstance(value, str):
        if value is None:
            raise _encode_error(pdu, name, f"{name} is not set")
        raise _type_error(name, "a str", value)
    n = PyUnicode_GET_LENGTH(value)
    if PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND:
        for i, ch in enumerate(<str>value):
            if ord(ch) > 255:
                # Never quote a password's characters, even in an error.
                shown = "" if name == "password" else f" {ch!r}"
                raise _encode_error(pdu, name, f"{name} has a non-Latin-1 character{shown} at position {i}")
    if n > maxlen - 1:
        raise _encode_error(pdu, name, f"{name} is {n} characters long; SMPP 3.4 allows at most {maxlen - 1}")
    data = <const unsigned char *>PyUnicode_DATA(value)
    if n and memchr(data, 0, n) != NULL:
        raise _encode_error(pdu, name, f"{name} contains a NUL character, which would end the C-Octet string early")
    _reserve(w, n + 1)
    memcpy(w.buf + w.len, data, n)
    w.buf[w.len + n] = 0
    w.len += n + 1
    return 0


cdef int _put_octets(Writer *w, Pdu pdu, object value, Py_ssize_t maxlen, str name,
                     int length_width) except -1:
    """Write a length (length_width octets: 1 or 2) then the octets of a bytes-like value."""
    cdef Py_buffer view
    cdef Py_ssize_t n
    if type(value) is bytes:
        n = len(<bytes>value)
        if n > maxlen:
            raise _encode_error(pdu, name, f"{name} is {n} octets long; at most {maxlen} allowed")
        _reserve(w, n + length_width)
        if length_width == 1:
            w.buf[w.len] = <uint8_t>n
        else:
            sf_put_u16(w.buf + w.len, <uint16_t>n)
        memcpy(w.buf + w.len + length_width, PyBytes_AS_STRING(value), n)
        w.len += n + length_width
        return 0
    if isinstance(value, (str, int)) or value is None:
        raise _type_error(name, "bytes", value)
    PyObject_GetBuffer(value, &view, PyBUF_SIMPLE)
    try:
        return _put_octets(w, pdu, PyBytes_FromStringAndSize(<char *>view.buf, view.len),
                           maxlen, name, length_width)
    finally:
        PyBuffer_Release(&view)


cdef int _put_sme_address(Writer *w, Pdu pdu, object ton, object npi, object addr) except -1:
    _put_u8(w, _as_u8(ton, "dest_addr_ton"))
    _put_u8(w, _as_u8(npi, "dest_addr_npi"))
    return _put_cstr(w, pdu, addr, _layout.DEST_ADDR_MAX, "destination_addr")


cdef int _put_count(Writer *w, Pdu pdu, object items, str name, str count_name, int limit) except -1:
    # The 1-octet count that precedes a submit_multi list (number_of_dests, no_unsuccess).
    if not isinstance(items, (list, tuple)):
        raise _type_error(name, "a list", items)
    cdef Py_ssize_t n = len(items)
    if n > limit:
        raise _encode_error(pdu, count_name, f"{name} holds at most {limit} entries, got {n}")
    return _put_u8(w, <uint8_t>n)


cdef int _put_dests(Writer *w, Pdu pdu, object dests) except -1:
    _put_count(w, pdu, dests, "dest_address", "number_of_dests", 254)
    for d in dests:
        if isinstance(d, _SmeAddress):
            _put_u8(w, 1)
            _put_sme_address(w, pdu, d[0], d[1], d[2])
        elif isinstance(d, _DistributionList):
            _put_u8(w, 2)
            _put_cstr(w, pdu, d[0], _layout.DL_NAME_MAX, "dl_name")
        else:
            raise TypeError(f"dest_address items must be SmeAddress or DistributionList, not {type(d).__name__}")
    return 0


cdef int _put_unsuccess(Writer *w, Pdu pdu, object items) except -1:
    _put_count(w, pdu, items, "unsuccess_sme", "no_unsuccess", 255)
    for u in items:
        if not isinstance(u, _UnsuccessSme):
            raise TypeError(f"unsuccess_sme items must be UnsuccessSme, not {type(u).__name__}")
        _put_sme_address(w, pdu, u[0], u[1], u[2])
        _reserve(w, 4)
        sf_put_u32(w.buf + w.len, _as_u32(u[3], "error_status_code"))
        w.len += 4
    return 0


cdef int _put_tlv(Writer *w, Pdu pdu, uint16_t tag, object value) except -1:
    cdef int t = _tlv_type[_tlv_index[tag]]
    cdef unsigned long long v, limit
    cdef Py_ssize_t start
    cdef int width
    cdef str name = f"TLV 0x{tag:04X}"
    if isinstance(value, int):
        if t == T_INT1:
            width = 1
        elif t == T_INT2:
            width = 2
        elif t == T_INT4:
            width = 4
        else:
            raise TypeError(f"{name} is not an Integer TLV: give its value as bytes")
        limit = (1 << (8 * width)) if width < 4 else 0x100000000
        if not 0 <= value < limit:
            raise _encode_error(pdu, "tlvs", f"{name} value {value} does not fit in {width} octet(s)")
        v = value
        _reserve(w, 4 + width)
        sf_put_u16(w.buf + w.len, tag)
        sf_put_u16(w.buf + w.len + 2, <uint16_t>width)
        if width == 1:
            w.buf[w.len + 4] = <uint8_t>v
        elif width == 2:
            sf_put_u16(w.buf + w.len + 4, <uint16_t>v)
        else:
            sf_put_u32(w.buf + w.len + 4, <uint32_t>v)
        w.len += 4 + width
        return 0
    if isinstance(value, str):
        if t != T_CSTR:
            raise TypeError(f"{name} is not a C-Octet String TLV: give its value as bytes")
        _reserve(w, 4)
        sf_put_u16(w.buf + w.len, tag)
        w.len += 4
        start = w.len
        _put_cstr(w, pdu, value, 65535, name)
        sf_put_u16(w.buf + start - 2, <uint16_t>(w.len - start))
        return 0
    _reserve(w, 2)
    sf_put_u16(w.buf + w.len, tag)
    w.len += 2
    _put_octets(w, pdu, value, 65535, name, 2)
    return 0


cdef int _put_tlvs(Writer *w, Pdu pdu, dict tlvs) except -1:
    for key, value in tlvs.items():
        if not isinstance(key, int) or not 0 <= key <= 0xFFFF:
            raise _encode_error(pdu, "tlvs", f"TLV tag {key!r} is not an integer in 0..0xFFFF")
        if type(value) is list:
            for item in <list>value:
                _put_tlv(w, pdu, <uint16_t>key, item)
        else:
            _put_tlv(w, pdu, <uint16_t>key, value)
    return 0


cdef int encode_into(Writer *w, Pdu pdu) except -1:
    cdef Layout *lay
    cdef FieldDef *f
    cdef tuple names
    cdef int i
    cdef Py_ssize_t start = w.len
    _check_kind(pdu)
    lay = &_layouts[pdu._kind]
    _reserve(w, HEADER)
    w.len += HEADER
    try:
        if _writes_body(pdu):
            names = <tuple>_field_names[pdu._kind]
            for i in range(lay.nfields):
                f = &lay.fields[i]
                if f.kind == K_U8:
                    _put_u8(w, pdu._u8[f.slot])
                elif f.kind == K_CSTR:
                    _put_cstr(w, pdu, _slot_get(pdu, f.slot), f.maxlen, names[i])
                elif f.kind == K_SM:
                    _put_octets(w, pdu, _slot_get(pdu, f.slot), f.maxlen, names[i], 1)
                elif f.kind == K_DESTS:
                    _put_dests(w, pdu, _slot_get(pdu, f.slot))
                else:
                    _put_unsuccess(w, pdu, _slot_get(pdu, f.slot))
        if pdu._tlvs:
            _put_tlvs(w, pdu, pdu._tlvs)
        if w.len - start > 0xFFFFFFFF:
            raise _encode_error(pdu, "command_length", "PDU larger than 4 GiB")
    except BaseException:
        w.len = start  # a PDU is written whole or not at all
        raise
    sf_put_u32(w.buf + start, <uint32_t>(w.len - start))
    sf_put_u32(w.buf + start + 4, lay.command_id)
    sf_put_u32(w.buf + start + 8, pdu._status)
    sf_put_u32(w.buf + start + 12, pdu._seq)
    return 0


cdef uint32_t pdu_command_id(Pdu pdu) noexcept:
    return _layouts[pdu._kind].command_id


cdef int command_kind(uint32_t cid) except -1:
    cdef uint32_t low = cid & 0x7FFFFFFF
    cdef int kind = 0
    if low < 0x104:
        kind = _kind_resp[low] if cid & 0x80000000 else _kind_req[low]
    if kind == 0:
        raise ValueError(f"unknown command_id 0x{cid:08X}")
    return kind


cdef bytes _encode_pdu(Pdu pdu):
    cdef Writer w
    w.buf = w.stack
    w.cap = STACK_BUF
    w.len = 0
    w.on_heap = False
    try:
        encode_into(&w, pdu)
        return PyBytes_FromStringAndSize(<char *>w.buf, w.len)
    finally:
        if w.on_heap:
            PyMem_Free(w.buf)


def encode(Pdu pdu not None):
    """Encode a PDU to its wire bytes (header included).

    Raises PduError naming the field when a value does not fit SMPP 3.4
    (a string too long, an integer out of range, a non-Latin-1 character).
    """
    return _encode_pdu(pdu)


# ---------------------------------------------------------------------------
# Decoding

cdef struct Reader:
    const unsigned char *p     # start of the PDU
    Py_ssize_t off
    Py_ssize_t end
    uint32_t command_id
    uint32_t seq


cdef object _decode_error(Reader *r, str field, str message, Py_ssize_t offset):
    cdef int status = _layout.FIELD_STATUS.get(field, 0x02)
    return _pdu_error(message, field, offset, r.command_id, r.seq, True, status)


cdef object _read_cstr(Reader *r, int maxlen, str name):
    cdef Py_ssize_t avail = r.end - r.off
    cdef Py_ssize_t limit = maxlen if maxlen < avail else avail
    cdef Py_ssize_t n
    if avail <= 0:
        raise _decode_error(r, name, f"body ends before {name}", r.off)
    n = sf_cstr_len(r.p + r.off, limit)
    if n < 0:
        if limit < maxlen:
            raise _decode_error(r, name, f"{name} is not NUL-terminated before the end of the PDU", r.off)
        raise _decode_error(r, name, f"{name} is longer than SMPP 3.4 allows ({maxlen - 1} characters)", r.off)
    value = PyUnicode_DecodeLatin1(<const char *>(r.p + r.off), n, NULL) if n else _EMPTY_STR
    r.off += n + 1
    return value


cdef inline uint8_t _read_u8(Reader *r, str name) except? 255:
    if r.off >= r.end:
        raise _decode_error(r, name, f"body ends before {name}", r.off)
    r.off += 1
    return r.p[r.off - 1]


cdef object _read_dests(Reader *r):
    cdef int n = _read_u8(r, "number_of_dests")
    cdef int flag
    cdef list out = []
    for _ in range(n):
        flag = _read_u8(r, "dest_flag")
        if flag == 1:
            ton = _read_u8(r, "dest_addr_ton")
            npi = _read_u8(r, "dest_addr_npi")
            out.append(_SmeAddress(ton, npi, _read_cstr(r, _layout.DEST_ADDR_MAX, "destination_addr")))
        elif flag == 2:
            out.append(_DistributionList(_read_cstr(r, _layout.DL_NAME_MAX, "dl_name")))
        else:
            raise _decode_error(r, "dest_flag", f"dest_flag {flag} is neither 1 (SME address) nor 2 (distribution list)", r.off - 1)
    return out


cdef object _read_unsuccess(Reader *r):
    cdef int n = _read_u8(r, "no_unsuccess")
    cdef list out = []
    for _ in range(n):
        ton = _read_u8(r, "dest_addr_ton")
        npi = _read_u8(r, "dest_addr_npi")
        addr = _read_cstr(r, _layout.DEST_ADDR_MAX, "destination_addr")
        if r.end - r.off < 4:
            raise _decode_error(r, "error_status_code", "body ends inside error_status_code", r.off)
        code = sf_get_u32(r.p + r.off)
        r.off += 4
        out.append(_UnsuccessSme(ton, npi, addr, code))
    return out


cdef object _read_tlv_value(const unsigned char *v, int n, int t):
    if t == T_INT1 and n == 1:
        return v[0]
    if t == T_INT2 and n == 2:
        return sf_get_u16(v)
    if t == T_INT4 and n == 4:
        return sf_get_u32(v)
    if t == T_CSTR and n >= 1 and v[n - 1] == 0 and memchr(v, 0, n - 1) == NULL:
        return PyUnicode_DecodeLatin1(<const char *>v, n - 1, NULL)
    return PyBytes_FromStringAndSize(<const char *>v, n)


cdef dict _read_tlvs(Reader *r):
    cdef dict tlvs = {}
    cdef uint16_t tag, n
    cdef int idx
    cdef PyObject *prev
    while r.off < r.end:
        if r.end - r.off < 4:
            raise _decode_error(r, "tlvs", f"truncated TLV header: {r.end - r.off} octet(s) left", r.off)
        tag = sf_get_u16(r.p + r.off)
        n = sf_get_u16(r.p + r.off + 2)
        if r.end - r.off - 4 < n:
            raise _decode_error(
                r, "tlvs", f"TLV 0x{tag:04X} says {n} octets but only {r.end - r.off - 4} remain", r.off)
        idx = _tlv_index[tag]
        value = _read_tlv_value(r.p + r.off + 4, n, _tlv_type[idx])
        key = <object>_tlv_key[idx] if idx else PyLong_FromLong(tag)
        prev = PyDict_GetItemWithError(tlvs, key)
        if prev == NULL:
            tlvs[key] = value
        elif type(<object>prev) is list:
            (<list>prev).append(value)
        else:
            tlvs[key] = [<object>prev, value]
        r.off += 4 + n
    return tlvs


cdef Pdu _decode_one(const unsigned char *p, Py_ssize_t n):
    """Decode one whole PDU of exactly n octets (n >= 16 and n == command_length)."""
    cdef Reader r
    cdef uint32_t cid = sf_get_u32(p + 4)
    cdef uint32_t low = cid & 0x7FFFFFFF
    cdef int kind = 0
    cdef Layout *lay
    cdef FieldDef *f
    cdef Pdu pdu
    cdef tuple names
    cdef int i, sm_len
    r.p = p
    r.off = HEADER
    r.end = n
    r.command_id = cid
    r.seq = sf_get_u32(p + 12)
    if low < 0x104:
        kind = _kind_resp[low] if cid & 0x80000000 else _kind_req[low]
    if kind == 0:
        raise _pdu_error(f"unknown command_id 0x{cid:08X}", "command_id", 4, cid, r.seq, True, 0x03)
    lay = &_layouts[kind]
    cls = _classes[kind]
    pdu = _new_pdu(cls, kind)
    pdu._status = sf_get_u32(p + 8)
    pdu._seq = r.seq
    if n == HEADER and lay.is_response and lay.nfields:
        # An error response may come without a body (SMPP 3.4 section 3.3.1 leaves it out).
        pdu._body = BODY_ABSENT
        _set_defaults(pdu, kind)
        return pdu
    pdu._body = BODY_GIVEN
    for i in range(lay.nfields):
        f = &lay.fields[i]
        if f.kind == K_U8:
            if r.off >= r.end:
                names = <tuple>_field_names[kind]
                raise _decode_error(&r, names[i], f"body ends before {names[i]}", r.off)
            pdu._u8[f.slot] = p[r.off]
            r.off += 1
        elif f.kind == K_CSTR:
            if r.off < r.end and p[r.off] == 0:
                _slot_set(pdu, f.slot, _EMPTY_STR)
                r.off += 1
            else:
                _slot_set(pdu, f.slot, _read_cstr(&r, f.maxlen, (<tuple>_field_names[kind])[i]))
        elif f.kind == K_SM:
            sm_len = _read_u8(&r, "sm_length")
            if sm_len > f.maxlen:
                raise _decode_error(&r, "sm_length", f"sm_length {sm_len} exceeds the SMPP 3.4 maximum of {f.maxlen}", r.off - 1)
            if r.end - r.off < sm_len:
                raise _decode_error(&r, "sm_length", f"sm_length {sm_len} overruns the body ({r.end - r.off} octets left)", r.off - 1)
            _slot_set(pdu, f.slot, PyBytes_FromStringAndSize(<const char *>(p + r.off), sm_len) if sm_len else _EMPTY_BYTES)
            r.off += sm_len
        elif f.kind == K_DESTS:
            _slot_set(pdu, f.slot, _read_dests(&r))
        else:
            _slot_set(pdu, f.slot, _read_unsuccess(&r))
    if r.off < r.end:
        pdu._tlvs = _read_tlvs(&r)
    return pdu


cdef object _framing_error(const unsigned char *p, Py_ssize_t avail, uint32_t length, str message):
    cdef uint32_t cid = sf_get_u32(p + 4) if avail >= 8 else 0
    cdef uint32_t seq = sf_get_u32(p + 12) if avail >= 16 else 0
    return _pdu_error(message, "command_length", 0, cid, seq, False, 0x02)


def decode(data):
    """Decode exactly one whole PDU from a bytes-like object.

    Raises PduError (a ValueError) for anything malformed: too short, a
    command_length that disagrees with the data, an unknown command_id, a field
    that overruns the body, an unterminated or over-long C-Octet string, a
    truncated TLV.
    """
    cdef Py_buffer view
    cdef const unsigned char *p
    cdef uint32_t length
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        p = <const unsigned char *>view.buf
        if view.len < HEADER:
            raise _framing_error(p, view.len, 0, f"a PDU needs at least 16 octets, got {view.len}")
        length = sf_get_u32(p)
        if length != view.len:
            raise _framing_error(
                p, view.len, length, f"command_length says {length} octets but {view.len} were given")
        return _decode_one(p, view.len)
    finally:
        PyBuffer_Release(&view)


@cython.final
cdef class Decoder:
    """Split a byte stream into PDUs: ``feed(data)`` returns every PDU completed so far.

    Any split of the stream works. A PDU whose header is readable but whose body is
    malformed raises a recoverable PduError: that PDU is skipped, the PDUs decoded
    before it in the same call are returned by the next ``feed()`` (``feed(b"")``
    works), and decoding goes on after it. A command_length below 16 or above
    ``max_pdu_size`` breaks framing: the error is unrecoverable and every later
    ``feed()`` raises it again until ``reset()``. A length prefix is checked before
    any memory is reserved for its PDU, and only octets that arrived are buffered.
    """

    cdef unsigned char *_buf
    cdef Py_ssize_t _start
    cdef Py_ssize_t _end
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _consumed
    cdef readonly Py_ssize_t max_pdu_size
    cdef list _pending
    cdef object _fatal

    def __cinit__(self, Py_ssize_t max_pdu_size=DEFAULT_MAX_PDU_SIZE):
        if max_pdu_size < HEADER or max_pdu_size > 0xFFFFFFFF:
            raise ValueError("max_pdu_size must be between 16 and 2**32-1")
        self.max_pdu_size = max_pdu_size
        self._buf = NULL

    def __dealloc__(self):
        PyMem_Free(self._buf)

    @property
    def buffered(self):
        """Octets received but not yet part of a whole PDU."""
        return self._end - self._start

    def reset(self):
        """Drop buffered octets, pending PDUs and any framing error."""
        self._start = self._end = 0
        self._pending = None
        self._fatal = None

    cdef int _append(self, const unsigned char *data, Py_ssize_t n) except -1:
        cdef Py_ssize_t used = self._end - self._start
        cdef Py_ssize_t cap
        cdef unsigned char *nb
        if self._start and (self._end + n > self._cap):
            memmove(self._buf, self._buf + self._start, used)
            self._start = 0
            self._end = used
        if self._end + n > self._cap:
            cap = self._cap * 2 if self._cap else 4096
            while cap < self._end + n:
                cap *= 2
            nb = <unsigned char *>PyMem_Realloc(self._buf, cap)
            if nb == NULL:
                raise MemoryError()
            self._buf = nb
            self._cap = cap
        memcpy(self._buf + self._end, data, n)
        self._end += n
        return 0

    cdef Py_ssize_t _parse(self, const unsigned char *p, Py_ssize_t n, list out) except -1:
        cdef Py_ssize_t off = 0
        cdef uint32_t length
        self._consumed = 0
        while n - off >= 4:
            length = sf_get_u32(p + off)
            if length < HEADER or length > <size_t>self.max_pdu_size:
                self._consumed = off
                err = _framing_error(
                    p + off, n - off, length,
                    f"command_length {length} is outside 16..{self.max_pdu_size}: framing lost")
                self._fatal = err
                raise err
            if n - off < length:
                break
            try:
                PyList_Append(out, _decode_one(p + off, length))
            except PduError:
                self._consumed = off + length
                raise
            off += length
        return off

    def feed(self, data):
        """Add received octets; return the list of PDUs completed (possibly empty)."""
        cdef Py_buffer view
        cdef list out
        cdef Py_ssize_t used
        if self._pending:
            out = self._pending
            self._pending = None
        else:
            out = []
        if self._fatal is not None:
            if out:
                return out
            raise self._fatal
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if self._start == self._end:
                self._start = self._end = 0
                try:
                    used = self._parse(<const unsigned char *>view.buf, view.len, out)
                except PduError:
                    used = self._consumed
                    self._after_error(<const unsigned char *>view.buf + used, view.len - used, out)
                    raise
                if used < view.len:
                    self._append(<const unsigned char *>view.buf + used, view.len - used)
            else:
                self._append(<const unsigned char *>view.buf, view.len)
                try:
                    used = self._parse(self._buf + self._start, self._end - self._start, out)
                except PduError:
                    self._start += self._consumed
                    self._after_error(NULL, 0, out)
                    raise
                self._start += used
        finally:
            PyBuffer_Release(&view)
        return out

    cdef int _after_error(self, const unsigned char *rest, Py_ssize_t n, list out) except -1:
        # Keep what followed the bad PDU, and hand the good PDUs out on the next call.
        if self._fatal is not None:
            self._start = self._end = 0
        elif n:
            self._append(rest, n)
        self._pending = out
        return 0


# ---------------------------------------------------------------------------
# Building the classes from the table

cdef PyMemberDef _members[MAX_KINDS * MAX_OBJ]
cdef int _nmembers = 0
cdef list _member_names_alive = []


cdef Py_ssize_t _obj_offset(int slot):
    cdef Pdu probe = Pdu.__new__(Pdu)
    return <char *>&probe._obj[slot] - <char *><PyObject *>probe


cdef object _make_member(object cls, str name, int slot):
    global _nmembers
    cdef bytes cname = name.encode()
    _member_names_alive.append(cname)
    cdef PyMemberDef *m = &_members[_nmembers]
    _nmembers += 1
    m.name = cname
    m.type = T_OBJECT_EX
    m.offset = _obj_offset(slot)
    m.flags = 0
    m.doc = NULL
    return PyDescr_NewMember(<PyTypeObject *>cls, m)


_KIND_CODES = {_layout.U8: K_U8, _layout.CSTR: K_CSTR, _layout.SM: K_SM,
               _layout.DESTS: K_DESTS, _layout.UNSUCC: K_UNSUCC}
_TLV_CODES = {_layout.INT1: T_INT1, _layout.INT2: T_INT2, _layout.INT4: T_INT4,
              _layout.TLV_CSTR: T_CSTR, _layout.OCTETS: T_OCTETS}


cdef object _build_class(str name, uint32_t command_id, tuple fields, bint has_response):
    global _nkinds
    _nkinds += 1
    cdef int kind = _nkinds
    cdef Layout *lay = &_layouts[kind]
    cdef int n_u8 = 0, n_obj = 0, i
    cdef dict names = {"sequence_number": IDX_SEQ, "command_status": IDX_STATUS, "tlvs": IDX_TLVS}
    lay.command_id = command_id
    lay.nfields = len(fields)
    lay.is_response = (command_id & 0x80000000) != 0
    lay.has_response = has_response
    ns = {
        "__slots__": (),
        "__module__": "smppfast",
        "__qualname__": name,
        "command_id": command_id,
        "has_response": has_response,
        "fields": tuple(f[0] for f in fields),
        "_kind": kind,
        "__doc__": f"SMPP 3.4 {Command(command_id).name.lower()} PDU (command_id 0x{command_id:08X}).\n\n"
                   f"Body fields, in wire order: {', '.join(f[0] for f in fields) or '(none)'}.",
    }
    members = []
    for i, (fname, fkind, fmax) in enumerate(fields):
        lay.fields[i].kind = _KIND_CODES[fkind]
        lay.fields[i].maxlen = fmax
        names[fname] = i
        if fkind == _layout.U8:
            lay.fields[i].slot = n_u8
            ns[fname] = _U8Field(n_u8, fname)
            n_u8 += 1
        else:
            lay.fields[i].slot = n_obj
            members.append((fname, n_obj))
            if fkind in _layout.LENGTH_FIELDS:
                length_name = _layout.LENGTH_FIELDS[fkind]
                ns[length_name] = _LengthField(n_obj, length_name)
                names[length_name] = IDX_DERIVED
            n_obj += 1
    assert n_u8 <= MAX_U8 and n_obj <= MAX_OBJ and len(fields) <= MAX_FIELDS
    cls = type(name, (Pdu,), ns)
    for fname, slot in members:
        setattr(cls, fname, _make_member(cls, fname, slot))
    sf_set_vectorcall(cls, <void *>_pdu_vectorcall)
    low = command_id & 0x3FF
    if command_id & 0x80000000:
        _kind_resp[low] = kind
    else:
        _kind_req[low] = kind
    _classes.append(cls)
    _kind_by_class[cls] = kind
    _field_names.append(tuple(f[0] for f in fields))
    names = {sys.intern(k): v for k, v in names.items()}
    assert len(names) <= MAX_NAMES
    for i, (k, v) in enumerate(names.items()):
        _name_ptr[kind][i] = <PyObject *>k
        _name_idx[kind][i] = v
    _name_count[kind] = len(names)
    _name_maps.append(names)
    return cls


cdef void _build_tlv_table() except *:
    cdef int i = 0
    for tag, ttype in _layout.TLV_TYPES.items():
        i += 1
        key = int(tag)
        _tlv_keys_alive.append(key)
        _tlv_index[tag] = i
        _tlv_type[i] = _TLV_CODES[ttype]
        _tlv_key[i] = <PyObject *>key
    assert i < 64


_build_tlv_table()
PDU_CLASSES = {}
for _name, _cid, _fields, _has_response in _layout.PDUS:
    PDU_CLASSES[_cid] = globals()[_name] = _build_class(_name, _cid, _fields, _has_response)
    __all__.append(_name)


