"""The README's promises about itself: its Python examples run as written, against the
simulator, and its table of session options names every parameter of ``Client``."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import smppfast
from smppfast.simulator import Simulator

README = Path(__file__).resolve().parent.parent / "README.md"
pytestmark = pytest.mark.skipif(not README.exists(), reason="needs the source tree's README.md")


def python_blocks() -> list[tuple[int, str]]:
    """Every ```python block of the README: (line number of its first line, code)."""
    if not README.exists():
        return []
    blocks = []
    lines = README.read_text(encoding="utf-8").splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == "```python":
            start = number
        elif start is not None and line.strip() == "```":
            blocks.append((start + 1, "\n".join(lines[start:number - 1]) + "\n"))
            start = None
    assert start is None, f"README.md: the ```python block at line {start} is never closed"
    return blocks


BLOCKS = python_blocks()


@pytest.fixture
def smsc_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A simulator on a free port, named by the variables the README's examples read."""
    with Simulator() as sim:
        monkeypatch.setenv("SMSC_HOST", sim.host)
        monkeypatch.setenv("SMSC_PORT", str(sim.port))
        yield sim


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 4
    assert any("smppfast.Client(" in code for _, code in BLOCKS)


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_example_runs_as_written(line: int, code: str, smsc_env: Simulator) -> None:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
    # An example that is a pytest test (the fixture's) is run too, against a fresh simulator.
    for name, value in list(namespace.items()):
        if name.startswith("test_") and inspect.isfunction(value):
            params = list(inspect.signature(value).parameters)
            assert params == ["smsc"], f"{name} takes {params}: the test only provides smsc"
            with Simulator() as fresh:
                value(fresh)


def test_the_quick_start_talks_to_the_simulator(smsc_env: Simulator) -> None:
    [(line, code)] = [(n, c) for n, c in BLOCKS if "smppfast.Client(" in c and "def test_" not in c]
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "readme_example"})
    assert smsc_env.submits >= 1  # it sent its message to the simulator, not elsewhere


def documented_options() -> list[str]:
    """The option names in the first column of the README's "Session options" table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Session options", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        names += re.findall(r"`([a-z_]+)`", row.split("|")[1])
    return names


def test_the_options_table_names_every_client_parameter() -> None:
    documented = documented_options()
    assert len(documented) == len(set(documented)), "an option is listed twice"
    parameters = [name for name in inspect.signature(smppfast.Client.__init__).parameters if name != "self"]
    assert set(parameters) - set(documented) == set(), "Client options missing from the README's table"
    assert set(documented) - set(parameters) == set(), "the README's table lists options Client does not take"
    for name in ("close_timeout", "connect_timeout", "bind_timeout", "unbind_timeout"):
        assert name in documented
