"""Text benchmarks: smppfast._text beside smpplib 2.2.4 and Python's own UTF-16 codec.

Run: ``python -m pytest benchmarks/test_bench_text.py --benchmark-only --benchmark-group-by=group``.
Operations under a microsecond run N times per round (``extra_info["calls_per_round"]``),
so divide a round's time by N for the time per call; every member of a group uses the
same N, so the columns compare directly.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from smppfast._text import count_parts, decode_text, encode_text, split_text

try:
    import smpplib.consts as smpplib_consts
    import smpplib.gsm as smpplib_gsm
except ImportError:  # the peer is optional
    smpplib_gsm = None
    smpplib_consts = None

needs_smpplib = pytest.mark.skipif(smpplib_gsm is None, reason="smpplib not installed (pip install smpplib==2.2.4)")

N = 100  # calls per round for sub-microsecond operations

GSM_160 = ("Your code is 4711. Meet at Café Ñandé at 10:00, no, 10:30! Price: £5/€6 {ok} "
           "Thanks & see you soon; reply STOP to opt out @ any time. Äh?")
GSM_160 = (GSM_160 * 2)[:160]
UCS2_70 = ("Привет! 😀 Встреча в 10:00 👍 до скорого 🏽 " * 3)[:70]
GSM_1000 = (GSM_160 * 7)[:1000]
UCS2_500 = ("Съешь же ещё этих мягких французских булок, да выпей чаю. 😀 " * 10)[:500]


def run_n(fn: Callable[[Any], Any], arg: Any, n: int = N) -> Callable[[], None]:
    """A closure calling fn(arg) n times, so per-round timer overhead is negligible."""

    def loop() -> None:
        for _ in range(n):
            fn(arg)

    return loop


def _bench(benchmark: Any, fn: Callable[[Any], Any], arg: Any, n: int = N) -> None:
    benchmark.extra_info["calls_per_round"] = n
    benchmark(run_n(fn, arg, n))


def test_inputs_are_what_the_names_say() -> None:
    """The benchmark texts have the sizes and codings their names promise."""
    assert len(GSM_160) == 160 and encode_text(GSM_160)[0] == 0
    assert len(UCS2_70) == 70 and encode_text(UCS2_70)[0] == 8 and "😀" in UCS2_70
    assert len(GSM_1000) == 1000 and encode_text(GSM_1000)[0] == 0
    assert len(UCS2_500) == 500 and encode_text(UCS2_500)[0] == 8


# --------------------------------------------------------------------- GSM 03.38 encode, 160 chars


@pytest.mark.benchmark(group="gsm-encode-160")
def test_gsm_encode_smppfast(benchmark: Any) -> None:
    """smppfast: encode_text of a 160-char GSM text (automatic choice)."""
    _bench(benchmark, encode_text, GSM_160)


@needs_smpplib
@pytest.mark.benchmark(group="gsm-encode-160")
def test_gsm_encode_smpplib(benchmark: Any) -> None:
    """smpplib: gsm.gsm_encode of the same 160-char text."""
    _bench(benchmark, smpplib_gsm.gsm_encode, GSM_160)


@pytest.mark.benchmark(group="gsm-encode-160")
def test_gsm_encode_reference_utf16(benchmark: Any) -> None:
    """Reference: str.encode('utf-16-be') of the same 160-char text."""
    _bench(benchmark, lambda s: s.encode("utf-16-be"), GSM_160)


# --------------------------------------------------------------------- GSM 03.38 decode, 160 chars


@pytest.mark.benchmark(group="gsm-decode-160")
def test_gsm_decode_smppfast(benchmark: Any) -> None:
    """smppfast: decode_text of 160 GSM characters (unpacked septets); smpplib has no decoder."""
    data = encode_text(GSM_160)[1]
    _bench(benchmark, lambda d: decode_text(d, 0), data)


@pytest.mark.benchmark(group="gsm-decode-160")
def test_gsm_decode_reference_utf16(benchmark: Any) -> None:
    """Reference: bytes.decode('utf-16-be') of the same 160 characters."""
    data = GSM_160.encode("utf-16-be")
    _bench(benchmark, lambda d: d.decode("utf-16-be"), data)


# --------------------------------------------------------------------- UCS-2 encode, 70 chars with emoji


@pytest.mark.benchmark(group="ucs2-encode-70")
def test_ucs2_encode_smppfast_auto(benchmark: Any) -> None:
    """smppfast: encode_text of a 70-char text with emoji, automatic choice (tries GSM first)."""
    _bench(benchmark, encode_text, UCS2_70)


@pytest.mark.benchmark(group="ucs2-encode-70")
def test_ucs2_encode_smppfast_explicit(benchmark: Any) -> None:
    """smppfast: encode_text(text, 8) of the same 70-char text."""
    _bench(benchmark, lambda s: encode_text(s, 8), UCS2_70)


@needs_smpplib
@pytest.mark.benchmark(group="ucs2-encode-70")
def test_ucs2_encode_smpplib_auto(benchmark: Any) -> None:
    """smpplib: make_parts of the same text (tries GSM, falls back to UCS-2; one part)."""
    _bench(benchmark, smpplib_gsm.make_parts, UCS2_70)


@pytest.mark.benchmark(group="ucs2-encode-70")
def test_ucs2_encode_reference_utf16(benchmark: Any) -> None:
    """Reference: str.encode('utf-16-be') of the same 70-char text."""
    _bench(benchmark, lambda s: s.encode("utf-16-be"), UCS2_70)


# --------------------------------------------------------------------- splitting


@pytest.mark.benchmark(group="split-gsm-1000")
def test_split_gsm_smppfast(benchmark: Any) -> None:
    """smppfast: split_text of a 1,000-char GSM text into UDH parts."""
    _bench(benchmark, lambda s: split_text(s, reference=1), GSM_1000, n=10)


@needs_smpplib
@pytest.mark.benchmark(group="split-gsm-1000")
def test_split_gsm_smpplib(benchmark: Any) -> None:
    """smpplib: make_parts of the same 1,000-char GSM text."""
    _bench(benchmark, smpplib_gsm.make_parts, GSM_1000, n=10)


@pytest.mark.benchmark(group="split-ucs2-500")
def test_split_ucs2_smppfast(benchmark: Any) -> None:
    """smppfast: split_text of a 500-char UCS-2 text into UDH parts."""
    _bench(benchmark, lambda s: split_text(s, reference=1), UCS2_500, n=10)


@needs_smpplib
@pytest.mark.benchmark(group="split-ucs2-500")
def test_split_ucs2_smpplib(benchmark: Any) -> None:
    """smpplib: make_parts of the same 500-char text with UCS-2 requested."""
    _bench(benchmark, lambda s: smpplib_gsm.make_parts(s, smpplib_consts.SMPP_ENCODING_ISO10646), UCS2_500, n=10)


# --------------------------------------------------------------------- counting parts


@pytest.mark.benchmark(group="count-parts-gsm-1000")
def test_count_parts_smppfast(benchmark: Any) -> None:
    """smppfast: count_parts of the 1,000-char GSM text (no encoding, no allocation)."""
    _bench(benchmark, count_parts, GSM_1000, n=10)


@needs_smpplib
@pytest.mark.benchmark(group="count-parts-gsm-1000")
def test_count_parts_smpplib(benchmark: Any) -> None:
    """smpplib: len(make_parts(text)[0]), its only way to count parts."""
    _bench(benchmark, lambda s: len(smpplib_gsm.make_parts(s)[0]), GSM_1000, n=10)


# --------------------------------------------------------------------- national language tables
#
# The goal (issue 12): count_parts / split_text with languages= enabled stay within 2x of the same
# call without them on the same text. Each group holds the call without languages and with them;
# divide the two means for the ratio (README "National languages" gives the figures measured).

TR_900 = ("Ağaçların gölgesinde şarkı söyleyen çocuklar, ılık rüzgarda İzmir'e doğru yürüdü. " * 12)[:900]
HI_900 = ("भारत एक विशाल देश है, जिसकी संस्कृति बहुत पुरानी है। " * 20)[:900]
TR_SHORT = "Merhaba, yarın saat 10'da görüşelim mi? Teşekkürler."
LANGS = ("tr", "es", "pt")  # tuples are remembered by identity: the usual case of a constant
EVERY_LANGUAGE = tuple(range(1, 14))

LANGUAGE_CASES = [
    # (id, text, languages): a GSM text (no table pays), Turkish and Hindi texts (a table wins),
    # a UCS-2 text (no table fits), a short Turkish text with every language enabled.
    ("gsm-1000", GSM_1000, LANGS),
    ("tr-900", TR_900, LANGS),
    ("hi-900", HI_900, ("hi", "bn")),
    ("ucs2-500", UCS2_500, LANGS),
    ("tr-52-all", TR_SHORT, EVERY_LANGUAGE),
]


def test_language_inputs_are_what_the_names_say() -> None:
    from smppfast import describe_text

    assert describe_text(GSM_1000, languages=LANGS).locking_shift == 0
    assert describe_text(TR_900, languages=LANGS).locking_shift == 1
    assert describe_text(TR_900).data_coding == 8
    assert describe_text(HI_900, languages=("hi", "bn")).locking_shift == 6
    assert describe_text(UCS2_500, languages=LANGS).data_coding == 8
    assert describe_text(TR_SHORT, languages=EVERY_LANGUAGE).single_shift == 1


@pytest.mark.parametrize("case, text, langs", LANGUAGE_CASES, ids=[c[0] for c in LANGUAGE_CASES])
@pytest.mark.parametrize("enabled", [False, True], ids=["without", "with-languages"])
def test_count_parts_languages(benchmark: Any, case: str, text: str, langs: tuple[Any, ...], enabled: bool) -> None:
    """count_parts of the text, without languages= and with them (same group: compare the two)."""
    benchmark.group = f"languages-count-{case}"
    use = langs if enabled else ()
    _bench(benchmark, lambda s: count_parts(s, languages=use), text, n=10)


@pytest.mark.parametrize("case, text, langs", LANGUAGE_CASES, ids=[c[0] for c in LANGUAGE_CASES])
@pytest.mark.parametrize("enabled", [False, True], ids=["without", "with-languages"])
def test_split_text_languages(benchmark: Any, case: str, text: str, langs: tuple[Any, ...], enabled: bool) -> None:
    """split_text of the text into UDH parts, without languages= and with them."""
    benchmark.group = f"languages-split-{case}"
    use = langs if enabled else ()
    _bench(benchmark, lambda s: split_text(s, reference=1, languages=use), text, n=10)
