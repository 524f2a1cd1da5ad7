"""One home for the version: ``src/smppfast/_version.py``, which the package metadata reads."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

import smppfast
from smppfast import _version

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
PACKAGE_INIT = Path(smppfast.__file__).resolve()


def _installed_distribution() -> importlib.metadata.Distribution | None:
    """The distribution that the imported package came from, if it was installed (a wheel)."""
    try:
        dist = importlib.metadata.distribution("smppfast")
    except importlib.metadata.PackageNotFoundError:
        return None
    init = Path(str(dist.locate_file("smppfast/__init__.py"))).resolve()
    return dist if init == PACKAGE_INIT else None  # metadata of another copy proves nothing


def test_version_is_the_one_in_version_py() -> None:
    assert smppfast.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", smppfast.__version__)


@pytest.mark.skipif(_installed_distribution() is None, reason="smppfast is imported from the source tree")
def test_installed_metadata_has_the_package_version() -> None:
    dist = _installed_distribution()
    assert dist is not None
    assert dist.version == importlib.metadata.version("smppfast") == smppfast.__version__


@pytest.mark.skipif(not PYPROJECT.exists(), reason="needs pyproject.toml next to tests/")
def test_pyproject_takes_the_version_from_version_py() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    project = config["project"]
    assert "version" not in project, "a static version in pyproject.toml would be a second home"
    assert "version" in project["dynamic"]
    attr = config["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, _, name = attr.rpartition(".")
    assert module == "smppfast._version"
    assert getattr(sys.modules[module], name) == smppfast.__version__
