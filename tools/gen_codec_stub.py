#!/usr/bin/env python3
"""Write ``src/smppfast/_codec.pyi`` from the layout table (``src/smppfast/_layout.py``).

The PDU classes are generated from the table at import, so their stub is too: one class per
PDU with a typed attribute per field, read-only derived lengths, a keyword-only ``__init__``,
``has_response`` and, for requests that have one, ``response()``. The hand-written rest of
the stub (the ``Pdu`` base, encode, decode, Decoder) is ``tools/codec_stub_template.pyi``;
this script fills the template's ``# @generated: ...`` lines. Run after changing either::

    python tools/gen_codec_stub.py            # rewrite src/smppfast/_codec.pyi
    python tools/gen_codec_stub.py -o PATH    # write elsewhere (tests compare the two)

The table is loaded without importing the package, so no compiled extension is needed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "smppfast"
DEFAULT_OUT = SRC / "_codec.pyi"


def load_layout() -> types.ModuleType:
    """Import ``_layout.py`` (and the ``constants.py`` it needs) under a private package name."""
    name = "_smppfast_stubgen"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(SRC)]
        sys.modules[name] = pkg
    return importlib.import_module(f"{name}._layout")


TEMPLATE = ROOT / "tools" / "codec_stub_template.pyi"
NAMES_MARKER = "    # @generated: PDU class names\n"
CLASSES_MARKER = "# @generated: PDU classes\n"


def _py_type(layout: types.ModuleType, kind: int) -> str:
    return {
        layout.U8: "int",
        layout.CSTR: "str",
        layout.SM: "bytes",
        layout.DESTS: "list[SmeAddress | DistributionList]",
        layout.UNSUCC: "list[UnsuccessSme]",
    }[kind]


def _init_type(layout: types.ModuleType, kind: int) -> str:
    # Construction also takes a bytearray or memoryview short_message (kept as bytes) and a
    # tuple for the lists (kept as a list).
    return {
        layout.SM: "bytes | bytearray | memoryview",
        layout.DESTS: "list[SmeAddress | DistributionList] | tuple[SmeAddress | DistributionList, ...]",
        layout.UNSUCC: "list[UnsuccessSme] | tuple[UnsuccessSme, ...]",
    }.get(kind, _py_type(layout, kind))


def _template() -> str:
    """The template without its leading comment lines (they describe the template itself)."""
    lines = TEMPLATE.read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    text = "".join(lines)
    for marker in (NAMES_MARKER, CLASSES_MARKER):
        if text.count(marker) != 1:
            raise SystemExit(f"{TEMPLATE}: expected exactly one line {marker.strip()!r}")
    return text


def render(layout: types.ModuleType) -> str:
    by_cid = {row.command_id: row.name for row in layout.PDUS}
    names = "".join(f'    "{row.name}",\n' for row in layout.PDUS)
    out = []
    for name, cid, fields, has_response in layout.PDUS:
        doc = ", ".join(f[0] for f in fields) or "(none)"
        out.append(f"\nclass {name}(Pdu):\n")
        out.append(f'    """SMPP 3.4 PDU, command_id 0x{cid:08X}. Body fields: {doc}."""\n\n')
        out.append(f"    has_response: ClassVar[Literal[{has_response}]]\n")
        for fname, kind, fmax in fields:
            size = f"  # at most {fmax - 1} characters" if kind == layout.CSTR else ""
            if kind == layout.SM:
                size = f"  # at most {fmax} octets"
            out.append(f"    {fname}: {_py_type(layout, kind)}{size}\n")
            if kind in layout.LENGTH_FIELDS:
                length = layout.LENGTH_FIELDS[kind]
                out.append("    @property\n")
                out.append(f"    def {length}(self) -> int:\n")
                out.append(f'        """Derived from {fname}; read-only."""\n')
        params = ["sequence_number: int = ...", "command_status: int = ...", "tlvs: _TlvDict | None = ..."]
        params += [f"{fname}: {_init_type(layout, kind)} = ..." for fname, kind, _ in fields]
        out.append("    def __init__(\n        self,\n        *,\n")
        for p in params:
            out.append(f"        {p},\n")
        out.append("    ) -> None: ...\n")
        if has_response:
            out.append(f"    def response(self, **fields: Any) -> {by_cid[cid | 0x80000000]}: ...\n")
    return _template().replace(NAMES_MARKER, names).replace(CLASSES_MARKER, "".join(out).lstrip("\n"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT, help="where to write the stub")
    args = parser.parse_args(argv)
    args.output.write_text(render(load_layout()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
