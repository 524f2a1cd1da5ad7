"""pytest fixtures that run the smppfast SMSC simulator, so you can test your own application.

Installing smppfast registers this plugin through the ``pytest11`` entry point: the fixtures
are available in every test without an import. (Without the entry point, e.g. from a source
checkout, load it with ``-p smppfast.pytest_plugin`` or ``pytest_plugins =
["smppfast.pytest_plugin"]`` in your root ``conftest.py``.)

Fixtures
--------

``smsc``
    A started :class:`smppfast.simulator.Simulator` on a free port of 127.0.0.1, stopped
    after the test (function scope). Read ``smsc.host`` and ``smsc.port`` to connect; it
    accepts any system_id and password. Inspect what it received in ``smsc.received`` (the
    PDUs), ``smsc.counters`` and ``smsc.submits``; change its behaviour mid-test with
    ``smsc.set_faults(throttle_every=3)``; push mobile-originated messages with
    ``smsc.send_mo(...)``; wait for something with ``smsc.wait_for(predicate)``.

``smsc_factory``
    A callable that starts another simulator per call and stops them all after the test:
    ``smsc_factory(**kwargs) -> Simulator``. Keyword arguments are the Simulator's
    (``credentials={"user": "pass"}``, ``receipt_delay=0.5``, ``system_id=...``, ...);
    ``faults`` may be a :class:`smppfast.simulator.Faults` or a dict of its fields
    (statuses by name or number: ``{"status": "ESME_RINVDSTADR"}``). Bad values raise
    TypeError or ValueError when the simulator is made, naming the field.

Marker
------

``@pytest.mark.smsc(**kwargs)`` configures the ``smsc`` fixture of one test with the same
keyword arguments as ``smsc_factory``.

Example::

    import pytest
    import smppfast

    def test_my_sender(smsc):
        with smppfast.Client(smsc.host, smsc.port, system_id="app", password="pw") as client:
            response = client.submit(smppfast.SubmitSm(destination_addr="15551234",
                                                       short_message=b"hi")).result(5)
        assert response.message_id
        assert smsc.received[-1].destination_addr == "15551234"

    @pytest.mark.smsc(credentials={"app": "secret"}, faults={"throttle_every": 2})
    def test_throttled_link(smsc):
        ...
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Mapping

import pytest

from .simulator import Faults, Simulator

__all__ = ["smsc", "smsc_factory"]

SimulatorFactory = Callable[..., Simulator]


def pytest_configure(config: pytest.Config) -> None:
    # Registered here so projects running with --strict-markers can use it.
    config.addinivalue_line(
        "markers",
        "smsc(**kwargs): configure the smppfast `smsc` fixture (Simulator keyword arguments; "
        "faults as a Faults or a dict)",
    )


def _faults(value: Any) -> Faults:
    if isinstance(value, Faults):
        return value
    if isinstance(value, Mapping):
        known = {f.name for f in dataclasses.fields(Faults)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise TypeError(f"unknown Faults field(s) {unknown}; known: {sorted(known)}")
        return Faults(**value)
    raise TypeError(f"faults must be a smppfast.simulator.Faults or a dict, not {type(value).__name__}")


@pytest.fixture
def smsc_factory() -> Iterator[SimulatorFactory]:
    """Start simulators on free ports (``smsc_factory(**Simulator kwargs)``); all stop after the test."""
    started: list[Simulator] = []

    def start(**kwargs: Any) -> Simulator:
        kwargs.setdefault("host", "127.0.0.1")
        kwargs.setdefault("port", 0)
        if kwargs.get("faults") is not None:
            kwargs["faults"] = _faults(kwargs["faults"])
        sim = Simulator(**kwargs).start()
        started.append(sim)
        return sim

    yield start
    errors: list[BaseException] = []
    for sim in reversed(started):
        try:
            sim.stop()
        except Exception as exc:  # stop the others anyway; report the first problem
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def smsc(request: pytest.FixtureRequest, smsc_factory: SimulatorFactory) -> Simulator:
    """A started SMSC simulator on a free port (``.host``, ``.port``), stopped after the test."""
    marker = request.node.get_closest_marker("smsc")
    kwargs: dict[str, Any] = {}
    if marker is not None:
        if marker.args:
            raise TypeError("@pytest.mark.smsc takes keyword arguments only")
        kwargs = dict(marker.kwargs)
    return smsc_factory(**kwargs)
