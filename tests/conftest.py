from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .drivers import DRIVERS
from .redis_server import RedisServer, missing_reason

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


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    """The client driver a behaviour test runs against: "threads" (``Client``) or "asyncio"
    (``AsyncClient``, through the synchronous face in ``drivers.py``)."""
    return str(request.param)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free port of 127.0.0.1 for the whole session (tests/redis_server.py).

    Without redis-server the tests that use it fail, saying how to install it: a Redis test that
    skips is not a test."""
    reason = missing_reason()
    if reason:
        pytest.fail(reason)
    with RedisServer() as server:
        yield server
