"""Text codecs for SMPP short messages: data_coding choice, part counting, splitting.

The per-character work is done in C (``csrc/gsm0338.c``) straight on the
storage of the ``str`` (1, 2 or 4 bytes per code point), so no Python call is
made per character. See ``_text.pyi`` for the documented API.

data_coding values understood (SMPP 3.4 section 5.2.19):
  0  SMSC default alphabet: GSM 03.38 unless changed with set_default_alphabet()
  1  IA5 (ASCII)          3  Latin-1          8  UCS-2 (UTF-16BE, surrogate pairs kept)
  2, 4  8-bit binary: refused for text (bytes can be split with split_text)
and, because SMSCs pass GSM 03.48 data coding schemes through, 0x10-0x1F
(general group with a message class; bits 3-2 select GSM 7-bit, 8-bit or UCS-2)
and 0xF0-0xF7 (message class group; bit 2 selects GSM 7-bit or 8-bit).

National language tables (3GPP TS 23.038 6.2.1.2.4, annex A) are enabled per call with
``languages=``; the tables are C data in ``csrc/gsm0338_national_tables.h``, and the choice of
the cheapest encoding, made once in ``_plan``, serves encode_text, count_parts, split_text and
describe_text alike.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport (
    PyUnicode_DATA,
    PyUnicode_FromKindAndData,
    PyUnicode_DecodeASCII,
    PyUnicode_DecodeLatin1,
    PyUnicode_DecodeUTF16,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
    PyUnicode_New,
)
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

import os

from smppfast.errors import TextError

__all__ = [
    "Part",
    "TextInfo",
    "NATIONAL_LANGUAGES",
    "describe_text",
    "language_ids",
    "encode_text",
    "decode_text",
    "count_parts",
    "split_text",
    "pack_septets",
    "unpack_septets",
    "set_default_alphabet",
    "get_default_alphabet",
]


cdef extern from "gsm0338.h" nogil:
    ctypedef Py_ssize_t ptrdiff_t
    ctypedef enum sms_enc:
        SMS_ENC_GSM
        SMS_ENC_UCS2
        SMS_ENC_LATIN1
        SMS_ENC_ASCII
    int SMS_E_UNENCODABLE
    int SMS_E_NOSPACE
    int SMS_E_BADSEPTET
    int SMS_E_TOOMANY
    int SMS_E_SHORT

    ptrdiff_t sms_measure(const void *text, int kind, size_t length, sms_enc enc, int replace, size_t *bad)
    ptrdiff_t sms_encode(const void *text, int kind, size_t length, sms_enc enc, int replace,
                         uint8_t *out, size_t cap, size_t *bad)
    ptrdiff_t sms_split(const void *text, int kind, size_t length, sms_enc enc, int replace,
                        size_t single_limit, size_t part_limit, size_t *ends, size_t max_parts, size_t *bad)
    ptrdiff_t gsm_decoded_length(const uint8_t *septets, size_t n, int replace, uint32_t *maxchar, size_t *bad)
    ptrdiff_t gsm_decode(const uint8_t *septets, size_t n, int replace, void *out, int kind, size_t cap,
                         uint32_t *maxchar, size_t *bad)
    size_t gsm_packed_length(const uint8_t *septets, size_t n, int cr_pad)
    ptrdiff_t gsm_pack(const uint8_t *septets, size_t n, int cr_pad, uint8_t *out, size_t cap, size_t *bad)
    ptrdiff_t gsm_unpack(const uint8_t *packed, size_t length, size_t count, uint8_t *out, size_t cap)
    size_t gsm_unpacked_count(const uint8_t *packed, size_t length)


cdef extern from "gsm0338_national.h" nogil:
    void nat_init()
    int nat_has_locking(int lang)
    int nat_in_any(uint32_t cp, unsigned locks, unsigned shifts)
    ptrdiff_t nat_survey(const void *text, int kind, size_t length, unsigned locks, unsigned shifts,
                         size_t *miss, unsigned *alive)
    ptrdiff_t nat_split(const void *text, int kind, size_t length, int lock, int shift, int replace,
                        size_t single_limit, size_t part_limit, size_t *ends, size_t max_parts, size_t *bad)
    ptrdiff_t nat_encode(const void *text, int kind, size_t length, int lock, int shift, int replace,
                         uint8_t *out, size_t cap, size_t *bad)
    ptrdiff_t nat_decode(const uint8_t *septets, size_t n, int lock, int shift, int replace, uint16_t *out,
                         size_t cap, size_t *bad)


nat_init()


# Charsets as seen from Python: the four C encoders plus "automatic" and the
# two that are refused for text.
cdef enum:
    ENC_AUTO = -1
    ENC_BINARY = -2

cdef enum:
    # Texts whose worst-case encoding fits here are encoded in one pass on the
    # C stack and copied once into the result; longer ones are measured first
    # so the bytes object can be created at its exact size.
    STACK_BYTES = 4096
    STACK_UNITS = 2048  # the same buffer size as 16-bit units
    # Longest message: the UDH and SAR references both allow 255 parts at most
    # (3GPP TS 23.040 9.2.3.24.1; SMPP 3.4 5.3.2.23).
    MAX_PARTS = 255
    MAX_PAYLOAD = 65535
    TAG_SAR_MSG_REF_NUM = 0x020C
    TAG_SAR_TOTAL_SEGMENTS = 0x020E
    TAG_SAR_SEGMENT_SEQNUM = 0x020F
    TAG_MESSAGE_PAYLOAD = 0x0424
    ESM_UDHI = 0x40


cdef dict _ALPHABETS = {"gsm0338": SMS_ENC_GSM, "latin1": SMS_ENC_LATIN1, "ascii": SMS_ENC_ASCII}
cdef str _default_alphabet = "gsm0338"
cdef int _default_enc = SMS_ENC_GSM

cdef tuple _CHARSET_NAMES = ("GSM 03.38", "UCS-2 (UTF-16BE)", "Latin-1", "ASCII (IA5)")

# Rolling references. They start at a random point so two processes (or one
# restarted) sending to the same handset are unlikely to reuse a reference
# that the handset would merge with an earlier message's parts.
cdef unsigned int _udh_ref = int.from_bytes(os.urandom(1), "big")
cdef unsigned int _sar_ref = int.from_bytes(os.urandom(2), "big")
cdef cython.pymutex _ref_lock


cdef unsigned int _next_udh_ref():
    global _udh_ref
    with _ref_lock:
        _udh_ref = _udh_ref % 255 + 1
        return _udh_ref


cdef unsigned int _next_sar_ref():
    global _sar_ref
    with _ref_lock:
        _sar_ref = _sar_ref % 65535 + 1
        return _sar_ref


def set_default_alphabet(str name not None) -> None:
    """Set what data_coding 0 means: "gsm0338" (default), "latin1" or "ascii"."""
    global _default_alphabet, _default_enc
    try:
        _default_enc = _ALPHABETS[name]
    except KeyError:
        raise TextError(f"unknown alphabet {name!r}; expected one of {', '.join(_ALPHABETS)}") from None
    _default_alphabet = name


def get_default_alphabet() -> str:
    """Return the current meaning of data_coding 0."""
    return _default_alphabet


cdef inline bint _replace_flag(str errors) except -1:
    if errors == "strict":
        return False
    if errors == "replace":
        return True
    raise TextError(f"errors must be 'strict' or 'replace', not {errors!r}")


cdef int _alphabet_enc(object alphabet) except -10:
    if alphabet is None:
        return _default_enc
    try:
        return _ALPHABETS[alphabet]
    except (KeyError, TypeError):
        raise TextError(f"unknown alphabet {alphabet!r}; expected one of {', '.join(_ALPHABETS)}") from None


cdef int _coding_enc(object data_coding, object alphabet) except -10:
    """Charset of a data_coding value (ENC_AUTO for None)."""
    cdef long dc
    if data_coding is None:
        return ENC_AUTO
    dc = data_coding
    if dc == 0:
        return _alphabet_enc(alphabet)
    if dc == 1:
        return SMS_ENC_ASCII
    if dc == 3:
        return SMS_ENC_LATIN1
    if dc == 8:
        return SMS_ENC_UCS2
    if dc == 2 or dc == 4:
        return ENC_BINARY
    if 0x10 <= dc <= 0x1F:
        # GSM 03.38 DCS general group, uncompressed, message class present.
        dc = (dc >> 2) & 3
        if dc == 0:
            return SMS_ENC_GSM
        if dc == 1:
            return ENC_BINARY
        if dc == 2:
            return SMS_ENC_UCS2
    elif 0xF0 <= dc <= 0xF7:
        return ENC_BINARY if dc & 0x04 else SMS_ENC_GSM
    raise TextError(f"data_coding 0x{dc:02X} is not a supported text coding")


cdef int _raise_binary(object data_coding) except -1:
    raise TextError(f"data_coding {data_coding} is 8-bit binary data, not text; pass bytes to split_text")


cdef int _raise_encode(str text, ptrdiff_t r, size_t bad, int enc) except -1:
    if r == SMS_E_UNENCODABLE:
        ch = text[bad]
        raise TextError(
            f"character {ch!r} (U+{ord(ch):04X}) at position {bad} cannot be encoded in {_CHARSET_NAMES[enc]}",
            char=ch,
            position=bad,
        )
    raise SystemError(f"smppfast._text: encoder failed with code {r}")  # a bug, not bad input


cdef inline size_t _max_octets(int enc, size_t n):
    # Worst case per character: an extension pair (2 septets), a surrogate
    # pair (4 octets) or one octet.
    if enc == SMS_ENC_GSM:
        return 2 * n
    if enc == SMS_ENC_UCS2:
        return 4 * n
    return n


cdef bytes _encode(str text, int enc, bint replace):
    """Encode with a fixed charset; TextError names the first bad character."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef const void *data = PyUnicode_DATA(text)
    cdef size_t bad = 0
    cdef ptrdiff_t r
    cdef uint8_t buf[STACK_BYTES]
    cdef bytes out
    if kind == 1 and (enc == SMS_ENC_LATIN1 or (enc == SMS_ENC_ASCII and _is_ascii(<const uint8_t *>data, n))):
        # The str storage already is the encoding.
        return PyBytes_FromStringAndSize(<const char *>data, n)
    if _max_octets(enc, n) <= STACK_BYTES:
        r = sms_encode(data, kind, n, <sms_enc>enc, replace, buf, STACK_BYTES, &bad)
        if r < 0:
            _raise_encode(text, r, bad, enc)
        return PyBytes_FromStringAndSize(<const char *>buf, r)
    r = sms_measure(data, kind, n, <sms_enc>enc, replace, &bad)
    if r < 0:
        _raise_encode(text, r, bad, enc)
    if enc == SMS_ENC_UCS2:
        r *= 2
    out = PyBytes_FromStringAndSize(NULL, r)
    r = sms_encode(data, kind, n, <sms_enc>enc, replace, <uint8_t *>PyBytes_AS_STRING(out), r, &bad)
    if r < 0:
        _raise_encode(text, r, bad, enc)
    return out


cdef inline bint _is_ascii(const uint8_t *data, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    cdef uint8_t acc = 0
    for i in range(n):
        acc |= data[i]
    return acc < 0x80


cdef int _auto_enc(str text) except -10:
    """GSM 03.38 when every character fits, else UCS-2."""
    cdef size_t bad = 0
    if sms_measure(PyUnicode_DATA(text), PyUnicode_KIND(text), PyUnicode_GET_LENGTH(text),
                   SMS_ENC_GSM, 0, &bad) >= 0:
        return SMS_ENC_GSM
    return SMS_ENC_UCS2


# --- National language tables (3GPP TS 23.038 6.2.1.2.4, annex A) -------------------------

cdef enum:
    NAT_MAX_ID = 13
    IE_SINGLE_SHIFT = 0x24   # TS 23.040 9.2.3.24.15
    IE_LOCKING_SHIFT = 0x25  # TS 23.040 9.2.3.24.16
    IE_SHIFT_OCTETS = 3      # IEI, length 1, language id
    CONCAT8_OCTETS = 5       # IEI 0x00, length 3, reference, total, sequence
    CONCAT16_OCTETS = 6      # IEI 0x08, length 4, 16-bit reference, total, sequence
    # Ranks of the encodings among equal part counts: the simpler table first.
    RANK_DEFAULT = 0
    RANK_SINGLE = 1
    RANK_LOCKING = 2
    RANK_BOTH = 3
    RANK_UCS2 = 4

_LANGUAGE_NAMES = ("turkish", "spanish", "portuguese", "bengali", "gujarati", "hindi", "kannada",
                   "malayalam", "oriya", "punjabi", "tamil", "telugu", "urdu")
_LANGUAGE_CODES = ("tr", "es", "pt", "bn", "gu", "hi", "kn", "ml", "or", "pa", "ta", "te", "ur")

#: National language ids of 3GPP TS 23.038 by lower-case name.
NATIONAL_LANGUAGES = {name: i + 1 for i, name in enumerate(_LANGUAGE_NAMES)}

cdef dict _LANGUAGE_LOOKUP = dict(NATIONAL_LANGUAGES)
_LANGUAGE_LOOKUP.update({code: i + 1 for i, code in enumerate(_LANGUAGE_CODES)})
_LANGUAGE_LOOKUP.update({str(i + 1): i + 1 for i in range(NAT_MAX_ID)})

# Parsed `languages=` values by the object given (tuples and strings are hashable): parsing
# costs more than counting a short text, and callers pass the same value again and again.
cdef dict _languages_cache = {}


cdef class _EnabledTables:
    """Enabled tables: bit masks of language ids (bit 0, the default tables, always set) and the
    caller's order, which breaks ties between languages of the same kind."""
    cdef unsigned locks
    cdef unsigned shifts
    cdef tuple order
    cdef int position[NAT_MAX_ID + 1]  # index of each id in order (its rank among equals)


cdef _EnabledTables _NO_TABLES = _EnabledTables.__new__(_EnabledTables)
_NO_TABLES.locks = 1
_NO_TABLES.shifts = 1
_NO_TABLES.order = ()
cdef tuple _last = ((), _NO_TABLES)  # the last immutable languages= value and its parse


cdef str _language_label(int lang):
    return _LANGUAGE_NAMES[lang - 1] if 1 <= lang <= NAT_MAX_ID else str(lang)


cdef int _language_id(object item) except -1:
    cdef object lang
    if isinstance(item, bool):
        lang = None
    elif isinstance(item, int):
        lang = item if 1 <= item <= NAT_MAX_ID else None
    elif isinstance(item, str):
        lang = _LANGUAGE_LOOKUP.get(item.strip().lower())
    else:
        lang = None
    if lang is None:
        raise TextError(
            f"unknown national language {item!r}; 3GPP TS 23.038 defines ids 1-13: "
            + ", ".join(f"{i + 1} {n} ({c})" for i, (n, c) in enumerate(zip(_LANGUAGE_NAMES, _LANGUAGE_CODES)))
        )
    return lang


cdef _EnabledTables _languages(object languages):
    cdef _EnabledTables parsed
    cdef object key = languages
    cdef int lang
    cdef list order
    cdef bint cacheable
    cdef tuple last = _last
    if languages is last[0]:
        return <_EnabledTables>last[1]
    if languages is None or (type(languages) is tuple and not languages):
        return _NO_TABLES
    if not isinstance(languages, (str, tuple)):
        key = tuple(languages)
    # Only strings and tuples of exact str / int items are cached: True == 1 and hashes alike,
    # so a cached (1,) must never answer for (True,), which is refused.
    cacheable = type(key) is str or _plain_items(<tuple>key)
    if cacheable:
        parsed = _languages_cache.get(key)
        if parsed is not None:
            return _remember(languages, parsed) if key is languages else parsed
    items = key.split(",") if isinstance(key, str) else key
    parsed = _EnabledTables.__new__(_EnabledTables)
    parsed.locks = 1
    parsed.shifts = 1
    for lang in range(NAT_MAX_ID + 1):
        parsed.position[lang] = NAT_MAX_ID + 1
    order = []
    for item in items:
        if isinstance(key, str) and not item.strip():
            continue
        lang = _language_id(item)
        if lang in order:
            continue
        parsed.position[lang] = len(order)
        order.append(lang)
        parsed.shifts |= 1u << lang
        if nat_has_locking(lang):
            parsed.locks |= 1u << lang
    parsed.order = tuple(order)
    if cacheable:
        if len(_languages_cache) >= 256:
            _languages_cache.clear()
        _languages_cache[key] = parsed
        if key is languages:
            _remember(languages, parsed)
    return parsed


cdef _EnabledTables _remember(object languages, _EnabledTables parsed):
    """Remember the last immutable `languages=` value by identity: the next call with the same
    object (the usual case) skips even the cache lookup."""
    global _last
    # One tuple, stored in one assignment: a reader on another thread (free-threaded builds)
    # sees the old pair or the new one, never a value with another value's tables.
    _last = (languages, parsed)
    return parsed


cdef inline bint _plain_items(tuple items):
    cdef object item
    for item in items:
        if type(item) is not str and type(item) is not int:
            return False
    return True


def language_ids(languages) -> tuple:
    """The 23.038 language ids ``languages=`` names, in the caller's order. See _text.pyi."""
    return _languages(languages).order


cdef int _check_table(object lang, str kind) except -1:
    """A language id from a UDH shift IE (or a caller), checked against the tables that exist."""
    if isinstance(lang, bool) or not isinstance(lang, int):
        raise TextError(f"{kind} shift language must be an int id, not {type(lang).__name__}")
    if lang == 0:
        return 0
    if not 1 <= lang <= NAT_MAX_ID:
        raise TextError(f"unknown national language id {lang} in the {kind} shift; "
                        f"3GPP TS 23.038 defines ids 1-{NAT_MAX_ID}")
    if kind == "locking" and not nat_has_locking(lang):
        raise TextError(f"national language id {lang} ({_language_label(lang)}) has no locking shift table "
                        "in 3GPP TS 23.038 (annex A.3.2 is void); only its single shift table exists")
    return lang


cdef inline size_t _septets_in(int octets):
    """Septets that fit beside `octets` of UDH in 140 octets (the UDH padded to a septet boundary)."""
    return (140 - octets) * 8 // 7


cdef inline int _shift_ie_octets(int lock, int shift) noexcept:
    return (IE_SHIFT_OCTETS if lock else 0) + (IE_SHIFT_OCTETS if shift else 0)


cdef void _gsm_limits(int lock, int shift, int concat, size_t *single, size_t *part) noexcept:
    """Septets for one part alone and for each part of several, with the shift IEs (a one-part
    message carries them too) and the concatenation IE: 160/153 with no table, 155/149 with
    one IE, 152/146 with both (8-bit reference)."""
    cdef int ies = _shift_ie_octets(lock, shift)
    single[0] = _septets_in(1 + ies) if ies else 160
    part[0] = _septets_in(1 + concat + ies)


cdef inline size_t _parts_for(size_t units, size_t single, size_t part) noexcept:
    return 1 if units <= single else (units + part - 1) // part


cdef struct Choice:
    int enc
    int lock
    int shift
    Py_ssize_t units
    Py_ssize_t parts   # exact
    int rank
    Py_ssize_t order


cdef inline bint _better(Choice *a, Choice *b) noexcept:
    """Whether a beats b: fewer parts, then the simpler table, then fewer units, then the
    caller's order of languages."""
    if a.parts != b.parts:
        return a.parts < b.parts
    if a.rank != b.rank:
        return a.rank < b.rank
    if a.units != b.units:
        return a.units < b.units
    return a.order < b.order


cdef Py_ssize_t _exact_parts(str text, Choice *c, int concat, bint replace, bint escapes) except -1:
    """Parts the chosen encoding makes of text. An escape or surrogate pair that would straddle
    a boundary costs its part one unit at most, so when ceil(units / part) and
    ceil(units / (part - 1)) agree that is the count; only otherwise does the split loop run."""
    cdef size_t single = 0, part = 0, bad = 0, lower
    cdef ptrdiff_t r
    if c.enc == SMS_ENC_UCS2:
        single = 70
        part = (140 - 1 - concat) // 2
    else:
        _gsm_limits(c.lock, c.shift, concat, &single, &part)
    lower = _parts_for(c.units, single, part)
    if <size_t>c.units <= single or not escapes or lower == (<size_t>c.units + part - 2) // (part - 1):
        return lower
    if c.enc == SMS_ENC_UCS2:
        r = sms_split(PyUnicode_DATA(text), PyUnicode_KIND(text), PyUnicode_GET_LENGTH(text), SMS_ENC_UCS2,
                      replace, single, part, NULL, <size_t>-1, &bad)
    else:
        r = nat_split(PyUnicode_DATA(text), PyUnicode_KIND(text), PyUnicode_GET_LENGTH(text), c.lock, c.shift,
                      replace, single, part, NULL, <size_t>-1, &bad)
    if r < 0:
        _raise_encode(text, r, bad, c.enc)
    return r


cdef int _raise_no_tables(str text, _EnabledTables langs) except -1:
    """Name why no pair of the enabled tables encodes text in GSM 03.38."""
    cdef Py_ssize_t i
    cdef unsigned locks, shifts
    names = ", ".join(_language_label(lang) for lang in langs.order)
    for i in range(len(text)):
        ch = text[i]
        if not nat_in_any(ord(ch), langs.locks, langs.shifts):
            raise TextError(
                f"character {ch!r} (U+{ord(ch):04X}) at position {i} cannot be encoded in GSM 03.38, "
                f"not even with the national language tables of {names}",
                char=ch,
                position=i,
            )
    raise TextError(f"no one locking shift and single shift table pair of {names} holds every character "
                    "of the text: it cannot be encoded in GSM 03.38")


cdef int _choose(str text, bint gsm_only, _EnabledTables langs, int concat, bint replace, Choice *best) except -1:
    """The cheapest encoding of text among GSM 03.38 under every enabled pair of tables and,
    unless gsm_only, UCS-2. Fills best (parts exact); raises TextError when gsm_only and no
    table pair holds every character (unless replace, which falls back to the default tables)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef const void *data = PyUnicode_DATA(text)
    cdef size_t miss[NAT_MAX_ID + 1]
    cdef unsigned alive[NAT_MAX_ID + 1]
    cdef Choice cands[NAT_MAX_ID + 2]
    cdef Choice c
    cdef int ncand = 0, i, j, lang, shift
    cdef size_t single = 0, part = 0, bad = 0
    cdef ptrdiff_t r
    cdef bint found = False
    r = sms_measure(data, kind, n, SMS_ENC_GSM, 0, &bad)
    if r >= 0:
        # The default tables hold every character. Only a locking table can do better (the
        # single shift ones cost as much plus their IE), and none can when even one septet per
        # character beside its IE needs as many parts: the common case, decided in one pass.
        best.enc = SMS_ENC_GSM
        best.lock = best.shift = 0
        best.units = r
        best.rank = RANK_DEFAULT
        best.order = 0
        best.parts = _exact_parts(text, best, concat, replace, r != n)
        _gsm_limits(1, 0, concat, &single, &part)
        if langs.locks == 1 or <Py_ssize_t>_parts_for(n, single, part) >= best.parts:
            return 0
        found = True
    nat_survey(data, kind, n, langs.locks, langs.shifts, miss, alive)
    for lang in range(NAT_MAX_ID + 1):
        if not (langs.locks >> lang) & 1 or (found and lang == 0):
            continue
        if miss[lang] == 0 or alive[lang] & 1:
            shift = 0
        elif alive[lang]:
            shift = 0
            for j in range(1, NAT_MAX_ID + 1):
                if (alive[lang] >> j) & 1 and (shift == 0 or langs.position[j] < langs.position[shift]):
                    shift = j
        else:
            continue
        c.enc = SMS_ENC_GSM
        c.lock = lang
        c.shift = shift
        c.units = n + miss[lang]
        c.rank = (RANK_BOTH if shift else RANK_LOCKING) if lang else (RANK_SINGLE if shift else RANK_DEFAULT)
        c.order = langs.position[lang if lang else shift]
        _gsm_limits(lang, shift, concat, &single, &part)
        c.parts = _parts_for(c.units, single, part)  # a lower bound until made exact
        cands[ncand] = c
        ncand += 1
    if ncand == 0 and not found and not gsm_only:
        # No table holds the text: UCS-2, as without languages; its count is left to the caller
        # (-1), who measures or splits it only if it needs to.
        best.enc = SMS_ENC_UCS2
        best.lock = best.shift = 0
        best.rank = RANK_UCS2
        best.order = 0
        best.units = best.parts = -1
        return 0
    if not gsm_only and not found:
        # UTF-16 units: one per code point unless the str holds astral characters (kind 4).
        r = n if kind != 4 else sms_measure(data, kind, n, SMS_ENC_UCS2, 1, &bad)
        c.enc = SMS_ENC_UCS2
        c.lock = c.shift = 0
        c.units = r
        c.rank = RANK_UCS2
        c.order = 0
        c.parts = _parts_for(r, 70, (140 - 1 - concat) // 2)
        cands[ncand] = c
        ncand += 1
    if ncand == 0 and not found:
        if not replace:
            _raise_no_tables(text, langs)
        best.enc = SMS_ENC_GSM
        best.lock = best.shift = 0
        best.rank = RANK_DEFAULT
        best.order = 0
        best.units = sms_measure(data, kind, n, SMS_ENC_GSM, 1, &bad)
        best.parts = _exact_parts(text, best, concat, replace, True)
        return 0
    # Sort by lower bound (insertion sort: at most 15 candidates), then make bounds exact in
    # that order until no remaining candidate's bound can beat the best exact count.
    for i in range(1, ncand):
        c = cands[i]
        j = i - 1
        while j >= 0 and _better(&c, &cands[j]):
            cands[j + 1] = cands[j]
            j -= 1
        cands[j + 1] = c
    for i in range(ncand):
        c = cands[i]
        if found and not _better(&c, best):
            break
        c.parts = _exact_parts(text, &c, concat, replace,
                               c.units != n)  # units > code points: escapes or surrogate pairs
        if not found or _better(&c, best):
            best[0] = c
            found = True
    return 0


def encode_text(str text not None, data_coding=None, *, str errors="strict", alphabet=None, languages=()):
    """Encode text for short_message; return (data_coding, octets). See _text.pyi."""
    cdef bint replace = _replace_flag(errors)
    cdef int enc
    cdef Py_ssize_t n
    cdef size_t bad = 0
    cdef ptrdiff_t r
    cdef uint8_t buf[STACK_BYTES]
    cdef _Plan plan
    if languages:
        plan = _plan(text, data_coding, alphabet, languages, CONCAT8_OCTETS, replace)
        return (plan.data_coding, _encode_plan(plan, replace))
    if data_coding is not None:
        enc = _coding_enc(data_coding, alphabet)
        if enc == ENC_BINARY:
            _raise_binary(data_coding)
        return (data_coding, _encode(text, enc, replace))
    n = PyUnicode_GET_LENGTH(text)
    if 2 * <size_t>n <= STACK_BYTES:
        # Optimistic single pass: try GSM straight into the stack buffer.
        r = sms_encode(PyUnicode_DATA(text), PyUnicode_KIND(text), n, SMS_ENC_GSM, 0, buf, STACK_BYTES, &bad)
        if r >= 0:
            return (0, PyBytes_FromStringAndSize(<const char *>buf, r))
        return (8, _encode(text, SMS_ENC_UCS2, replace))
    enc = _auto_enc(text)
    return (0 if enc == SMS_ENC_GSM else 8, _encode(text, enc, replace))


cdef int _raise_septet(const uint8_t *data, size_t bad) except -1:
    raise TextError(f"octet 0x{data[bad]:02X} at position {bad} is not a GSM 03.38 septet", position=bad)


cdef str _decode_gsm(const uint8_t *data, Py_ssize_t n, bint replace):
    cdef uint32_t maxchar = 0
    cdef size_t bad = 0
    cdef ptrdiff_t count, r, i
    cdef uint16_t buf[STACK_UNITS]
    cdef uint8_t *narrow
    cdef str out
    if n <= STACK_UNITS:
        # One decoding pass into 16-bit units (every GSM character is in the
        # BMP), then a plain copy into a str of the exact width.
        count = gsm_decode(data, n, replace, buf, 2, STACK_UNITS, &maxchar, &bad)
        if count < 0:
            _raise_septet(data, bad)
        out = PyUnicode_New(count, maxchar)
        if PyUnicode_KIND(out) == 2:
            memcpy(PyUnicode_DATA(out), buf, count * 2)
        else:
            narrow = <uint8_t *>PyUnicode_DATA(out)
            for i in range(count):
                narrow[i] = <uint8_t>buf[i]
        return out
    count = gsm_decoded_length(data, n, replace, &maxchar, &bad)
    if count < 0:
        _raise_septet(data, bad)
    out = PyUnicode_New(count, maxchar)
    r = gsm_decode(data, n, replace, PyUnicode_DATA(out), PyUnicode_KIND(out), count, NULL, &bad)
    if r != count:
        raise SystemError(f"smppfast._text: GSM decoder failed with code {r}")
    return out


cdef str _decode_with(object codec, const char *data, Py_ssize_t n, bint replace):
    cdef int byteorder = 1  # big endian, no BOM handling
    cdef const char *err = b"replace" if replace else b"strict"
    try:
        if codec == "ucs2":
            return PyUnicode_DecodeUTF16(<char *>data, n, <char *>err, &byteorder)
        return PyUnicode_DecodeASCII(<char *>data, n, <char *>err)
    except UnicodeDecodeError as exc:
        raise TextError(f"cannot decode {codec} data at octet {exc.start}: {exc.reason}",
                        position=exc.start) from None


def decode_text(data, data_coding, *, str errors="strict", alphabet=None, locking_shift=0,
                single_shift=0) -> str:
    """Decode a short_message sent with data_coding. See _text.pyi."""
    cdef bint replace = _replace_flag(errors)
    cdef int enc, lock, shift
    cdef Py_buffer view
    cdef const char *p
    cdef Py_ssize_t n
    if data_coding is None:
        raise TextError("decode_text needs the data_coding the data was sent with")
    enc = _coding_enc(data_coding, alphabet)
    if enc == ENC_BINARY:
        raise TextError(f"data_coding {data_coding} is 8-bit binary data, not text")
    lock = _check_table(locking_shift, "locking")
    shift = _check_table(single_shift, "single")
    if enc != SMS_ENC_GSM:
        lock = shift = 0  # the shift IEs only apply to GSM 7-bit text (TS 23.040 9.2.3.24.15)
    if type(data) is bytes and not (lock or shift):
        return _decode(enc, PyBytes_AS_STRING(data), len(<bytes>data), replace)
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if lock or shift:
            return _decode_nat(<const uint8_t *>view.buf, view.len, lock, shift, replace)
        return _decode(enc, <const char *>view.buf, view.len, replace)
    finally:
        PyBuffer_Release(&view)


cdef str _decode_nat(const uint8_t *data, Py_ssize_t n, int lock, int shift, bint replace):
    cdef size_t bad = 0
    cdef ptrdiff_t count
    cdef uint16_t stack[STACK_UNITS]
    cdef uint16_t *buf = stack
    if n > STACK_UNITS:
        buf = <uint16_t *>PyMem_Malloc(n * sizeof(uint16_t))
        if buf == NULL:
            raise MemoryError()
    try:
        count = nat_decode(data, n, lock, shift, replace, buf, n if n > STACK_UNITS else STACK_UNITS, &bad)
        if count < 0:
            if count == SMS_E_BADSEPTET:
                if data[bad] >= 0x80:
                    _raise_septet(data, bad)
                raise TextError(
                    f"septet 0x{data[bad]:02X} at position {bad} has no character in the "
                    f"{_language_label(lock) if lock else 'default'} locking shift table",
                    position=bad,
                )
            raise SystemError(f"smppfast._text: national decoder failed with code {count}")
        return PyUnicode_FromKindAndData(2, buf, count)
    finally:
        if buf != stack:
            PyMem_Free(buf)


cdef str _decode(int enc, const char *p, Py_ssize_t n, bint replace):
    if enc == SMS_ENC_GSM:
        return _decode_gsm(<const uint8_t *>p, n, replace)
    if enc == SMS_ENC_LATIN1:
        return PyUnicode_DecodeLatin1(<char *>p, n, NULL)
    if enc == SMS_ENC_ASCII:
        return _decode_with("ascii", p, n, replace)
    if n & 1:
        raise TextError(f"UCS-2 data has an odd length ({n} octets)", position=n - 1)
    return _decode_with("ucs2", p, n, replace)


def pack_septets(septets, *, bint cr_pad=False) -> bytes:
    """Pack unpacked septets into 7-bit form (3GPP TS 23.038 6.1.2.1.1). See _text.pyi."""
    cdef Py_buffer view
    cdef size_t bad = 0
    cdef ptrdiff_t r
    cdef size_t size
    cdef bytes out
    PyObject_GetBuffer(septets, &view, PyBUF_SIMPLE)
    try:
        size = gsm_packed_length(<const uint8_t *>view.buf, view.len, cr_pad)
        out = PyBytes_FromStringAndSize(NULL, size)
        r = gsm_pack(<const uint8_t *>view.buf, view.len, cr_pad, <uint8_t *>PyBytes_AS_STRING(out), size, &bad)
        if r == SMS_E_BADSEPTET:
            raise TextError(
                f"octet 0x{(<const uint8_t *>view.buf)[bad]:02X} at position {bad} is not a septet",
                position=bad,
            )
        if r < 0:
            raise TextError(f"cannot pack {view.len} septets (code {r})")
        return out
    finally:
        PyBuffer_Release(&view)


def unpack_septets(data, count=None) -> bytes:
    """Unpack 7-bit data into count septets, one per octet. See _text.pyi."""
    cdef Py_buffer view
    cdef ptrdiff_t r
    cdef Py_ssize_t c
    cdef bytes out
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if count is None:
            c = gsm_unpacked_count(<const uint8_t *>view.buf, view.len)
        else:
            c = count
            if c < 0:
                raise TextError(f"septet count must not be negative, got {c}")
        out = PyBytes_FromStringAndSize(NULL, c)
        r = gsm_unpack(<const uint8_t *>view.buf, view.len, c, <uint8_t *>PyBytes_AS_STRING(out), c)
        if r == SMS_E_SHORT:
            raise TextError(f"{view.len} packed octets cannot hold {c} septets")
        if r < 0:
            raise TextError(f"cannot unpack {c} septets (code {r})")
        return out
    finally:
        PyBuffer_Release(&view)


@cython.final
cdef class Part:
    """One short message of a split text, ready for a SubmitSm."""

    cdef readonly bytes short_message
    cdef readonly int esm_class
    cdef readonly int data_coding
    cdef readonly dict tlvs

    def __init__(self, bytes short_message not None=b"", int esm_class=0, int data_coding=0, dict tlvs=None):
        self.short_message = short_message
        self.esm_class = esm_class
        self.data_coding = data_coding
        self.tlvs = {} if tlvs is None else tlvs

    def __eq__(self, other):
        cdef Part o
        if not isinstance(other, Part):
            return NotImplemented
        o = <Part>other
        return (self.short_message == o.short_message and self.esm_class == o.esm_class
                and self.data_coding == o.data_coding and self.tlvs == o.tlvs)

    # Equal parts hold a mutable dict: unhashable, like other mutable values.
    __hash__ = None

    def __repr__(self):
        return (f"Part(short_message={self.short_message!r}, esm_class=0x{self.esm_class:02X}, "
                f"data_coding={self.data_coding}, tlvs={self.tlvs!r})")

    def __reduce__(self):
        return (Part, (self.short_message, self.esm_class, self.data_coding, dict(self.tlvs)))


cdef enum Method:
    M_UDH
    M_SAR
    M_PAYLOAD


cdef Method _method(str method) except *:
    if method == "udh":
        return M_UDH
    if method == "sar":
        return M_SAR
    if method == "payload":
        return M_PAYLOAD
    raise TextError(f"method must be 'udh', 'sar' or 'payload', not {method!r}")


cdef void _limits(int enc, bint wide_ref, size_t *single, size_t *part) noexcept:
    """Units per part: one part, or one part beside a concatenation header.

    The UDH with an 8-bit reference is 6 octets (7 septets with its fill bit),
    with a 16-bit reference 7 octets (8 septets); SAR parts get the 16-bit
    limits because the SMSC adds that UDH itself (3GPP TS 23.040 9.2.3.24.1).
    """
    if enc == SMS_ENC_GSM:
        single[0] = 160
        part[0] = 152 if wide_ref else 153
    elif enc == SMS_ENC_UCS2:
        single[0] = 70
        part[0] = 66 if wide_ref else 67
    else:
        single[0] = 140
        part[0] = 133 if wide_ref else 134


cdef long _check_reference(object reference, long top) except -1:
    cdef long ref
    if isinstance(reference, bool) or not isinstance(reference, int):
        raise TextError(f"reference must be an int, not {type(reference).__name__}")
    if not 0 <= reference <= top:
        raise TextError(f"reference {reference} is out of range 0..{top}")
    ref = reference
    return ref


cdef class _Plan:
    """What to split: the text's charset, tables and storage, or raw octets."""
    cdef int enc              # SMS_ENC_* or ENC_BINARY for bytes input
    cdef int lock             # national language tables (GSM only; 0: the default ones)
    cdef int shift
    cdef Py_ssize_t parts     # exact part count when the choice already made it, else -1
    cdef Py_ssize_t units     # units of enc when known, else -1
    cdef object data_coding   # what goes into Part.data_coding
    cdef str text             # None for bytes input
    cdef bytes octets         # bytes input


cdef inline int _concat_octets(Method m, bint wide) noexcept:
    return CONCAT16_OCTETS if (m == M_SAR or wide) else CONCAT8_OCTETS


cdef _Plan _plan(object text, object data_coding, object alphabet, object languages, int concat, bint replace):
    """The one decision of how text goes out: charset, and with languages= the cheapest pair of
    national tables (see _choose). encode_text, count_parts, split_text and describe_text all
    start here."""
    cdef _Plan plan = _Plan.__new__(_Plan)
    cdef _EnabledTables langs
    cdef Choice best
    cdef int enc
    best.enc = best.lock = best.shift = best.rank = 0
    best.units = best.parts = best.order = 0
    plan.parts = -1
    plan.units = -1
    if isinstance(text, str):
        enc = _coding_enc(data_coding, alphabet)
        if enc == ENC_BINARY:
            _raise_binary(data_coding)
        langs = _languages(languages)
        if langs.order and (enc == ENC_AUTO or enc == SMS_ENC_GSM):
            _choose(<str>text, enc == SMS_ENC_GSM, langs, concat, replace, &best)
            if enc == ENC_AUTO:
                data_coding = 0 if best.enc == SMS_ENC_GSM else 8
            enc = best.enc
            plan.lock = best.lock
            plan.shift = best.shift
            plan.parts = best.parts
            plan.units = best.units
        elif enc == ENC_AUTO:
            enc = _auto_enc(<str>text)
            data_coding = 0 if enc == SMS_ENC_GSM else 8
        plan.enc = enc
        plan.text = <str>text
    elif isinstance(text, (bytes, bytearray, memoryview)):
        if data_coding is None:
            data_coding = 4
        elif _coding_enc(data_coding, alphabet) != ENC_BINARY:
            raise TextError(f"bytes need a binary data_coding (2 or 4), not {data_coding}")
        plan.enc = ENC_BINARY
        plan.octets = bytes(text)
    else:
        raise TypeError(f"text must be str or bytes, not {type(text).__name__}")
    plan.data_coding = data_coding
    return plan


cdef void _plan_limits(_Plan plan, int concat, size_t *single, size_t *part) noexcept:
    if plan.enc == SMS_ENC_GSM:
        _gsm_limits(plan.lock, plan.shift, concat, single, part)
    else:
        _limits(plan.enc, concat == CONCAT16_OCTETS, single, part)


cdef bytes _encode_plan(_Plan plan, bint replace, const uint8_t *prefix=NULL, Py_ssize_t prefix_len=0):
    """The text's octets in the plan's charset and tables, after `prefix` (a UDH) if given."""
    cdef str text = plan.text
    cdef Py_ssize_t n
    cdef size_t bad = 0, cap
    cdef ptrdiff_t r
    cdef uint8_t stack[STACK_BYTES]
    cdef uint8_t *buf = stack
    cdef bytes out
    if plan.enc == ENC_BINARY:
        out = plan.octets
    elif not (plan.lock or plan.shift):
        out = _encode(text, plan.enc, replace)
    else:
        n = PyUnicode_GET_LENGTH(text)
        cap = 2 * <size_t>n + prefix_len  # at most an escape pair per character
        if cap > STACK_BYTES:
            buf = <uint8_t *>PyMem_Malloc(cap)
            if buf == NULL:
                raise MemoryError()
        try:
            if prefix_len:
                memcpy(buf, prefix, prefix_len)
            r = nat_encode(PyUnicode_DATA(text), PyUnicode_KIND(text), n, plan.lock, plan.shift, replace,
                           buf + prefix_len, cap - prefix_len, &bad)
            if r < 0:
                _raise_encode(text, r, bad, plan.enc)
            return PyBytes_FromStringAndSize(<const char *>buf, prefix_len + r)
        finally:
            if buf != stack:
                PyMem_Free(buf)
    if prefix_len:
        return _with_udh(prefix, prefix_len, PyBytes_AS_STRING(out), len(out))
    return out


cdef Py_ssize_t _split_points(_Plan plan, bint replace, int concat, size_t *ends, size_t max_parts) except -1:
    """Fill ends[] with the unit offset where each part ends; return the part count.
    With ends NULL, only count (max_parts bounds nothing then)."""
    cdef size_t single = 0, part = 0, bad = 0, total, i
    cdef ptrdiff_t r
    cdef str text
    _plan_limits(plan, concat, &single, &part)
    if plan.enc == ENC_BINARY:
        total = len(plan.octets)
        if total <= single:
            if ends:
                ends[0] = total
            return 1
        r = (total + part - 1) // part
        if ends:
            if <size_t>r > max_parts:
                raise TextError(f"binary data needs {r} parts, more than {max_parts}")
            for i in range(<size_t>r):
                ends[i] = min((i + 1) * part, total)
        return r
    text = plan.text
    if plan.lock or plan.shift:
        r = nat_split(PyUnicode_DATA(text), PyUnicode_KIND(text), PyUnicode_GET_LENGTH(text), plan.lock, plan.shift,
                      replace, single, part, ends, max_parts, &bad)
    else:
        r = sms_split(PyUnicode_DATA(text), PyUnicode_KIND(text), PyUnicode_GET_LENGTH(text),
                      <sms_enc>plan.enc, replace, single, part, ends, max_parts, &bad)
    if r == SMS_E_TOOMANY:
        raise TextError(f"text needs more than {max_parts} parts")
    if r < 0:
        _raise_encode(text, r, bad, plan.enc)
    return r


def count_parts(text, data_coding=None, *, str method="udh", reference=None, str errors="strict",
                alphabet=None, languages=()) -> int:
    """Number of short messages split_text makes of text. See _text.pyi."""
    cdef bint replace = _replace_flag(errors)
    cdef Method m = _method(method)
    cdef bint wide = m == M_SAR or (reference is not None and _check_reference(reference, 65535) > 255)
    cdef int concat = _concat_octets(m, wide)
    cdef _Plan plan = _plan(text, data_coding, alphabet, languages, concat, replace)
    if m == M_PAYLOAD:
        return 1
    if plan.parts >= 0:
        return plan.parts
    return _split_points(plan, replace, concat, NULL, <size_t>-1)


@cython.final
cdef class TextInfo:
    """What a text costs before it is sent: see _text.pyi."""

    cdef readonly int data_coding
    cdef readonly int locking_shift
    cdef readonly int single_shift
    cdef readonly Py_ssize_t parts
    cdef readonly Py_ssize_t units

    def __init__(self, int data_coding, int locking_shift, int single_shift, Py_ssize_t parts, Py_ssize_t units):
        self.data_coding = data_coding
        self.locking_shift = locking_shift
        self.single_shift = single_shift
        self.parts = parts
        self.units = units

    def __eq__(self, other):
        cdef TextInfo o
        if not isinstance(other, TextInfo):
            return NotImplemented
        o = <TextInfo>other
        return (self.data_coding, self.locking_shift, self.single_shift, self.parts, self.units) == (
            o.data_coding, o.locking_shift, o.single_shift, o.parts, o.units)

    __hash__ = None

    def __repr__(self):
        return (f"TextInfo(data_coding={self.data_coding}, locking_shift={self.locking_shift}, "
                f"single_shift={self.single_shift}, parts={self.parts}, units={self.units})")

    def __reduce__(self):
        return (TextInfo, (self.data_coding, self.locking_shift, self.single_shift, self.parts, self.units))


def describe_text(text, *, data_coding=None, languages=(), str method="udh", reference=None,
                  str errors="strict", alphabet=None) -> TextInfo:
    """The encoding, tables, parts and units split_text would use for text. See _text.pyi."""
    cdef bint replace = _replace_flag(errors)
    cdef Method m = _method(method)
    cdef bint wide = m == M_SAR or (reference is not None and _check_reference(reference, 65535) > 255)
    cdef int concat = _concat_octets(m, wide)
    cdef _Plan plan = _plan(text, data_coding, alphabet, languages, concat, replace)
    cdef Py_ssize_t parts = plan.parts, units = plan.units
    cdef size_t bad = 0
    cdef ptrdiff_t r
    if units < 0:
        if plan.enc == ENC_BINARY:
            units = len(plan.octets)
        else:
            r = sms_measure(PyUnicode_DATA(plan.text), PyUnicode_KIND(plan.text), PyUnicode_GET_LENGTH(plan.text),
                            <sms_enc>plan.enc, replace, &bad)
            if r < 0:
                _raise_encode(plan.text, r, bad, plan.enc)
            units = r
    if m == M_PAYLOAD:
        parts = 1
    elif parts < 0:
        parts = _split_points(plan, replace, concat, NULL, <size_t>-1)
    return TextInfo(plan.data_coding, plan.lock, plan.shift, parts, units)


cdef bytes _with_udh(const uint8_t *udh, Py_ssize_t udh_len, const char *payload, Py_ssize_t n):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, udh_len + n)
    cdef char *o = PyBytes_AS_STRING(out)
    memcpy(o, udh, udh_len)
    memcpy(o + udh_len, payload, n)
    return out


def split_text(text, *, data_coding=None, str method="udh", reference=None, str errors="strict",
               alphabet=None, languages=()) -> list:
    """Split text into Parts ready for SubmitSm (UDH, SAR TLVs or message_payload). See _text.pyi."""
    cdef bint replace = _replace_flag(errors)
    cdef Method m = _method(method)
    cdef long ref = -1
    cdef bint wide
    cdef int concat
    cdef _Plan plan
    cdef bytes encoded
    cdef size_t ends[MAX_PARTS]
    cdef Py_ssize_t nparts, i, start, stop, unit, udh_len, ies_len = 0
    cdef uint8_t udh[16]
    cdef uint8_t ies[2 * IE_SHIFT_OCTETS]
    cdef const char *enc_p
    cdef list parts

    if reference is not None:
        ref = _check_reference(reference, 65535)
    wide = m == M_SAR or ref > 255
    concat = _concat_octets(m, wide)
    plan = _plan(text, data_coding, alphabet, languages, concat, replace)
    dc = plan.data_coding
    # National language shift IEs, TS 23.040 9.2.3.24.15 (0x24) and .16 (0x25): in every part.
    if plan.shift:
        ies[ies_len] = IE_SINGLE_SHIFT; ies[ies_len + 1] = 1; ies[ies_len + 2] = <uint8_t>plan.shift
        ies_len += IE_SHIFT_OCTETS
    if plan.lock:
        ies[ies_len] = IE_LOCKING_SHIFT; ies[ies_len + 1] = 1; ies[ies_len + 2] = <uint8_t>plan.lock
        ies_len += IE_SHIFT_OCTETS

    udh[0] = <uint8_t>ies_len
    memcpy(&udh[1], ies, ies_len)
    if ies_len and (m == M_PAYLOAD or plan.parts == 1):
        # One PDU: the UDH and the text written into one buffer.
        encoded = _encode_plan(plan, replace, udh, 1 + ies_len)
        if m != M_PAYLOAD:
            return [Part(encoded, ESM_UDHI, dc, {})]
    else:
        encoded = _encode_plan(plan, replace)

    if m == M_PAYLOAD:
        if len(encoded) > MAX_PAYLOAD:
            raise TextError(f"message_payload holds at most {MAX_PAYLOAD} octets, text needs {len(encoded)}")
        return [Part(b"", ESM_UDHI if ies_len else 0, dc, {TAG_MESSAGE_PAYLOAD: encoded})]

    nparts = _split_points(plan, replace, concat, ends, MAX_PARTS)
    if nparts == 1:
        if not ies_len:
            return [Part(encoded, 0, dc, {})]
        return [Part(_with_udh(udh, 1 + ies_len, PyBytes_AS_STRING(encoded), len(encoded)), ESM_UDHI, dc, {})]

    if ref < 0:
        ref = _next_sar_ref() if m == M_SAR else _next_udh_ref()
    unit = 2 if plan.enc == SMS_ENC_UCS2 else 1
    enc_p = PyBytes_AS_STRING(encoded)
    parts = []
    start = 0
    if m == M_SAR:
        # The SMSC writes the concatenation UDH; the shift IEs, if any, are ours to send.
        for i in range(nparts):
            stop = ends[i] * unit
            parts.append(Part(
                _with_udh(udh, 1 + ies_len, enc_p + start, stop - start) if ies_len
                else PyBytes_FromStringAndSize(enc_p + start, stop - start),
                ESM_UDHI if ies_len else 0, dc,
                {TAG_SAR_MSG_REF_NUM: ref, TAG_SAR_TOTAL_SEGMENTS: nparts, TAG_SAR_SEGMENT_SEQNUM: i + 1},
            ))
            start = stop
        return parts

    # Concatenated SMS information elements, 3GPP TS 23.040 9.2.3.24.1 (IEI 0x00,
    # 8-bit reference) and 9.2.3.24.8 (IEI 0x08, 16-bit reference), then the shift IEs.
    if wide:
        udh[1] = 0x08; udh[2] = 4; udh[3] = (ref >> 8) & 0xFF; udh[4] = ref & 0xFF
        udh_len = 1 + CONCAT16_OCTETS
    else:
        udh[1] = 0x00; udh[2] = 3; udh[3] = ref
        udh_len = 1 + CONCAT8_OCTETS
    udh[udh_len - 2] = <uint8_t>nparts
    memcpy(&udh[udh_len], ies, ies_len)
    udh[0] = <uint8_t>(udh_len - 1 + ies_len)
    for i in range(nparts):
        stop = ends[i] * unit
        udh[udh_len - 1] = <uint8_t>(i + 1)
        parts.append(Part(_with_udh(udh, udh_len + ies_len, enc_p + start, stop - start), ESM_UDHI, dc, {}))
        start = stop
    return parts
