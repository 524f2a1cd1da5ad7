"""``python -m smppfast.cli``: the same as the ``smppfast`` command (and ``python -m smppfast``)."""

from __future__ import annotations

from . import main

# Guarded so tools that import every submodule (stubtest, pydoc) do not run the command.
if __name__ == "__main__":
    raise SystemExit(main())
