"""Type stubs for ``smppfast._text``: SMS text codecs, part counting and splitting.

data_coding values (SMPP 3.4 section 5.2.19) accepted for text:

* ``0`` -- the SMSC default alphabet: GSM 03.38 unless :func:`set_default_alphabet`
  says otherwise (or the per-call ``alphabet=``);
* ``1`` -- IA5 (ASCII); ``3`` -- Latin-1 (ISO-8859-1);
* ``8`` -- UCS-2, sent as UTF-16BE so characters outside the BMP survive as surrogate pairs;
* ``0x10``-``0x1F`` and ``0xF0``-``0xF7`` -- GSM 03.38 data coding schemes with a message
  class, read for their alphabet bits (GSM 7-bit, 8-bit or UCS-2);
* ``2`` and ``4`` (8-bit binary) are refused for text; ``split_text`` and ``count_parts``
  accept ``bytes`` for them.

GSM 03.38 text is carried unpacked, one septet per octet, as SMPP sends it; use
:func:`pack_septets` / :func:`unpack_septets` for the packed 7-bit form.
"""

from collections.abc import Iterable, Mapping
from typing import Literal, Optional, Union, final

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

_Alphabet = Literal["gsm0338", "latin1", "ascii"]
_Errors = Literal["strict", "replace"]
_Method = Literal["udh", "sar", "payload"]
_TlvValue = Union[int, bytes]
#: ``languages=``: language names (``"turkish"``), ISO 639-1 codes (``"tr"``) or 23.038 ids
#: (``1``), as an iterable or one comma-separated string.
_Languages = Union[str, Iterable[Union[str, int]], None]

#: National language ids of 3GPP TS 23.038 by lower-case name (1 turkish ... 13 urdu).
NATIONAL_LANGUAGES: Mapping[str, int]

@final
class TextInfo:
    """What a text will cost, from :func:`describe_text`: the same decision as :func:`split_text`.

    ``locking_shift`` and ``single_shift`` are 23.038 language ids (0: the default alphabet and
    its extension table, no IE sent); ``units`` are septets (an escape pair counts 2), UTF-16
    units for UCS-2, or octets.
    """

    @property
    def data_coding(self) -> int: ...
    @property
    def locking_shift(self) -> int: ...
    @property
    def single_shift(self) -> int: ...
    @property
    def parts(self) -> int: ...
    @property
    def units(self) -> int: ...
    def __init__(self, data_coding: int, locking_shift: int, single_shift: int, parts: int, units: int) -> None: ...
    def __eq__(self, value: object, /) -> bool: ...

def language_ids(languages: _Languages) -> tuple[int, ...]:
    """The 23.038 language ids that ``languages=`` names, in the given order, duplicates dropped;
    an unknown name or id raises TextError listing the known ones."""

def describe_text(
    text: str | bytes,
    *,
    data_coding: Optional[int] = None,
    languages: _Languages = (),
    method: _Method = "udh",
    reference: Optional[int] = None,
    errors: _Errors = "strict",
    alphabet: Optional[_Alphabet] = None,
) -> TextInfo:
    """The encoding, national language tables, part count and units :func:`split_text` would
    use with the same arguments, without building the parts (unlike ``split_text`` there is no
    upper limit on ``parts``)."""

@final
class Part:
    """One short message of a split text, ready to put on a ``SubmitSm``.

    ``short_message`` holds the user data header (when ``esm_class`` has the UDHI bit
    0x40) followed by the encoded text; ``tlvs`` maps SMPP TLV tags to values:
    ``0x020C`` sar_msg_ref_num, ``0x020E`` sar_total_segments, ``0x020F``
    sar_segment_seqnum (ints) for SAR, ``0x0424`` message_payload (bytes) for the
    payload method. Parts compare equal by value and are unhashable.
    """

    @property
    def short_message(self) -> bytes: ...
    @property
    def esm_class(self) -> int: ...
    @property
    def data_coding(self) -> int: ...
    @property
    def tlvs(self) -> dict[int, _TlvValue]: ...
    def __init__(
        self,
        short_message: bytes = b"",
        esm_class: int = 0,
        data_coding: int = 0,
        tlvs: Optional[dict[int, _TlvValue]] = None,
    ) -> None: ...
    def __eq__(self, value: object, /) -> bool: ...

def set_default_alphabet(name: _Alphabet) -> None:
    """Set what data_coding 0 means for this process: ``"gsm0338"`` (the default),
    ``"latin1"`` or ``"ascii"``.

    SMSCs differ here; the setting applies wherever data_coding 0 is given explicitly
    (the automatic choice, ``data_coding=None``, always means GSM 03.38). An unknown
    name raises :class:`~smppfast.errors.TextError`.
    """

def get_default_alphabet() -> _Alphabet:
    """Return the current meaning of data_coding 0."""

def encode_text(
    text: str,
    data_coding: Optional[int] = None,
    *,
    errors: _Errors = "strict",
    alphabet: Optional[_Alphabet] = None,
    languages: _Languages = (),
) -> tuple[int, bytes]:
    """Encode ``text`` for ``short_message``; return ``(data_coding, octets)``.

    ``languages`` enables national language tables (3GPP TS 23.038 annex A) as for
    :func:`split_text`; the octets then hold septets of the chosen tables but no UDH: send them
    with :func:`split_text`, which adds information elements 0x24/0x25, or learn the tables
    from :func:`describe_text`.

    With ``data_coding=None`` the text goes as GSM 03.38 (0, unpacked septets, an
    extension character as ESC 0x1B + code) when every character fits, else as
    UCS-2 (8, UTF-16BE). An explicit data_coding is used as given; ``alphabet``
    overrides the meaning of 0 for this call.

    A character the coding cannot carry raises :class:`~smppfast.errors.TextError`
    whose ``char`` and ``position`` name it, unless ``errors="replace"``, which
    writes ``?`` instead. Binary codings (2, 4) and unknown ones raise TextError.
    """

def decode_text(
    data: bytes | bytearray | memoryview,
    data_coding: int,
    *,
    errors: _Errors = "strict",
    alphabet: Optional[_Alphabet] = None,
    locking_shift: int = 0,
    single_shift: int = 0,
) -> str:
    """Decode a ``short_message`` (or ``message_payload``) sent with ``data_coding``.

    ``locking_shift`` / ``single_shift`` are the 23.038 language ids of UDH information elements
    0x25 / 0x24 (0: the default tables), used for GSM 7-bit data; an id with no such table
    raises TextError naming it. A septet with no character in the locking table raises
    TextError (U+FFFD with ``errors="replace"``).

    GSM 03.38 follows 3GPP TS 23.038 6.2.1.1 for escapes: ESC + an undefined code
    gives the default-alphabet character of that code, ESC ESC and a trailing lone
    ESC give a space. An octet >= 0x80 in GSM data, a non-ASCII octet in IA5 data
    or a lone surrogate in UCS-2 raises TextError (``position`` is the octet offset),
    or becomes U+FFFD with ``errors="replace"``. UCS-2 data of odd length always
    raises. Binary (2, 4) and unknown codings raise TextError.
    """

def pack_septets(septets: bytes | bytearray | memoryview, *, cr_pad: bool = False) -> bytes:
    """Pack unpacked septets into 7-bit form (3GPP TS 23.038 6.1.2.1.1, LSB first).

    Spare bits of the last octet are zero, as SMS does (the receiver knows the
    septet count). ``cr_pad=True`` applies 23.038 6.1.2.3.1 for receivers that do
    not: 7 spare bits hold a CR, and a text of 8k septets ending in CR gets one
    more CR. A value >= 0x80 raises TextError.
    """

def unpack_septets(data: bytes | bytearray | memoryview, count: Optional[int] = None) -> bytes:
    """Unpack 7-bit data into ``count`` septets, one per octet.

    Pass the septet count (SMS TP-UDL) whenever you have it: padding bits are then
    never read as a character, so ``unpack_septets(pack_septets(s), len(s)) == s``.
    With ``count=None`` it is ``8 * len(data) // 7``, less one when that is a multiple
    of 8 and the last septet is the CR pad of 23.038 6.1.2.3.1; zero padding of
    ``8k - 1`` septets then reads as a trailing ``@``, which no rule can tell apart.
    Data too short for ``count`` raises TextError.
    """

def count_parts(
    text: str | bytes,
    data_coding: Optional[int] = None,
    *,
    method: _Method = "udh",
    reference: Optional[int] = None,
    errors: _Errors = "strict",
    alphabet: Optional[_Alphabet] = None,
    languages: _Languages = (),
) -> int:
    """Number of short messages ``split_text`` makes of ``text`` with the same arguments.

    One part holds up to 160 septets (GSM 03.38), 70 UTF-16 units (UCS-2) or 140
    octets (ASCII, Latin-1, binary). Longer texts need parts of 153 / 67 / 134
    (8-bit reference UDH) or 152 / 66 / 133 (16-bit reference, ``reference > 255``,
    and ``method="sar"``). An escape pair or surrogate pair is never split, so a
    part can hold one unit less. Empty text is one part; ``method="payload"`` is
    always one. Unlike ``split_text`` there is no upper limit on the result.
    """

def split_text(
    text: str | bytes,
    *,
    data_coding: Optional[int] = None,
    method: _Method = "udh",
    reference: Optional[int] = None,
    errors: _Errors = "strict",
    alphabet: Optional[_Alphabet] = None,
    languages: _Languages = (),
) -> list[Part]:
    """Split ``text`` into short messages, filled greedily to the limits of :func:`count_parts`.

    A text that fits one part gives one :class:`Part` with no header and esm_class 0.
    Otherwise, by ``method``:

    * ``"udh"``: each ``short_message`` starts with a concatenation UDH and
      ``esm_class`` is 0x40 (UDHI): ``05 00 03 ref total seq`` (8-bit reference) or,
      when ``reference > 255``, ``06 08 04 ref_hi ref_lo total seq``;
    * ``"sar"``: no UDH, esm_class 0, and TLVs sar_msg_ref_num (0x020C),
      sar_total_segments (0x020E) and sar_segment_seqnum (0x020F) on every part;
    * ``"payload"``: one Part with an empty ``short_message`` and the whole encoded
      text in TLV message_payload (0x0424), at most 65535 octets.

    ``reference=None`` takes the next value of a thread-safe rolling counter
    (1..255 for UDH, 1..65535 for SAR); a given reference must be in 0..65535.
    More than 255 parts raise TextError. ``bytes`` input is split as 8-bit binary
    data (data_coding 4 unless 2 is given).

    ``languages`` enables the national language tables of 3GPP TS 23.038 (default none: the
    SMSC and handsets must support a table before it is used). With ``data_coding=None`` the
    encoding that needs the fewest parts wins, ties going to the simpler one: GSM default, a
    single shift table, a locking shift table, both, then UCS-2 (``data_coding=0`` chooses among
    the GSM ones only). A message that uses a table carries UDH information element 0x24
    (single shift) and/or 0x25 (locking shift) in every part, a one-part message included, so
    parts hold fewer septets: 155 (one IE) or 152 (both) alone, 149 / 146 beside an 8-bit
    concatenation reference.
    """
