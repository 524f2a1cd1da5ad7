#!/usr/bin/env python3
"""Check that Cython-generated C was compiled with bounds checks on (the debug build).

Cython passes ``boundscheck`` as an argument to its indexing helpers
(``__Pyx_GetItemInt*(o, i, type, is_signed, to_py_func, wraparound, boundscheck, ...)`` and
``__Pyx_SetItemInt(o, i, v, ...)``), so the generated C shows which directive was in force at
every indexing site. A ``# cython: boundscheck=False`` header in a .pyx would silently win over
setup.py, which is what this guards against::

    python tools/check_boundscheck.py src/smppfast/_codec.c src/smppfast/_text.c

Exit status 0 when every file has indexing sites and all of them are checked.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CALL = re.compile(r"__Pyx_(Get|Set)ItemInt(?:_List|_Tuple)?\(([^;\n]*)")


def boundscheck_args(c_source: str) -> list[str]:
    """The boundscheck argument of every indexing call site (macro definitions skipped)."""
    found = []
    for m in CALL.finditer(c_source):
        line_start = c_source.rfind("\n", 0, m.start()) + 1
        if c_source.startswith("#define", line_start) or c_source.startswith("static", line_start):
            continue
        args = [a.strip() for a in m.group(2).split(",")]
        found.append(args[7 if m.group(1) == "Set" else 6])
    return found


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    ok = True
    for name in argv:
        args = boundscheck_args(Path(name).read_text(encoding="utf-8"))
        unchecked = sum(a != "1" for a in args)
        print(f"{name}: {len(args)} indexing sites, {unchecked} without bounds checks")
        ok = ok and bool(args) and not unchecked
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
