"""``smppfast count``: what a text costs before it is sent: the encoding, the national
language tables, the parts and the units, from the same decision ``send`` makes."""

from __future__ import annotations

import argparse

from .._text import NATIONAL_LANGUAGES, describe_text
from ..errors import TextError
from ._common import EXIT_OK, CliError, Subparsers, _data_coding_arg, _languages_arg, _out

_NAMES = {lang: name for name, lang in NATIONAL_LANGUAGES.items()}
_ENCODINGS = {0: "GSM 03.38", 1: "IA5 (ASCII)", 3: "Latin-1", 8: "UCS-2"}


def _table(lang: int) -> str:
    return f"{_NAMES[lang]} ({lang})" if lang else "none"


def cmd_count(args: argparse.Namespace) -> int:
    try:
        info = describe_text(args.text, data_coding=args.data_coding, languages=args.languages, method=args.method)
    except TextError as err:
        raise CliError(str(err)) from None
    unit = "UTF-16 units" if info.data_coding == 8 else "septets" if info.data_coding == 0 else "octets"
    _out(f"encoding       {_ENCODINGS.get(info.data_coding, 'data_coding')} (data_coding {info.data_coding})")
    _out(f"locking shift  {_table(info.locking_shift)}")
    _out(f"single shift   {_table(info.single_shift)}")
    _out(f"parts          {info.parts}")
    _out(f"units          {info.units} {unit}")
    return EXIT_OK


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "count",
        parents=parents,
        help="show the encoding, tables, parts and units a text needs",
        description="Print how TEXT would be sent: the encoding, the 3GPP TS 23.038 national language "
        "tables chosen (with --languages), the number of parts and the units (septets, UTF-16 units or "
        "octets). Nothing is sent.",
    )
    p.add_argument("text", metavar="TEXT", help="message text")
    p.add_argument(
        "--languages",
        type=_languages_arg,
        default=(),
        metavar="LANGS",
        help="national language tables the text may use, comma-separated (e.g. tr,es); default: none",
    )
    p.add_argument("--data-coding", type=_data_coding_arg, default=None, metavar="DC",
                   help="data_coding (default: the cheapest)")
    p.add_argument("--method", choices=("udh", "sar", "payload"), default="udh", help="how long texts are split (default: udh)")
    p.set_defaults(func=cmd_count)
