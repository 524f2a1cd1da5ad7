from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"


def load_jsonl(name: str) -> list[dict[str, Any]]:
    with open(VECTORS / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# Hypothesis explains a failure with libcst, whose import trips a DeprecationWarning from
# mypy_extensions; with warnings as errors that would hide the failure itself. Import it once,
# quietly, before any test runs.
def _preload_libcst() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import libcst.metadata  # noqa: F401
        except ImportError:
            pass


_preload_libcst()


import pytest  # noqa: E402

from .drivers import DRIVERS  # noqa: E402


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    """The client driver a behaviour test runs against: "threads" (``Client``) or "asyncio"
    (``AsyncClient``, through the synchronous face in ``drivers.py``)."""
    return str(request.param)
