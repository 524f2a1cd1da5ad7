"""``python -m smppfast``: the same as the ``smppfast`` command."""

from __future__ import annotations

from .cli import main

# Guarded so tools that import every submodule (stubtest, pydoc) do not run the command.
if __name__ == "__main__":
    raise SystemExit(main())
