"""End-to-end client benchmarks: submits per second, one bind over loopback, smppfast and its peers.

    python -m pytest benchmarks/test_bench_client.py --benchmark-only -q

It measures the smppfast that ``import smppfast`` gives (the installed package after
``pip install ".[bench]"``); the child processes (simulator, memory) import the same one.
Short setting (as ``.ci/run`` uses): ``SMPPFAST_BENCH_SCALE=0.05 SMPPFAST_BENCH_ROUNDS=1``.

One benchmark per (case, server). A round binds a new connection, warms up and times N submits until
the last response has been read (``client_peers.py`` has the cases and what each one does); every
round is seconds long, so they run ``pedantic(rounds=3, iterations=1)``. pytest-benchmark's own times
include the connect, bind and warm-up; the figures to read are in ``extra_info``:
``submits_per_s`` (median round), ``submits_per_s_best``, ``p50_us`` / ``p99_us`` (median round;
smppfast's from the public ``client.stats.latency_samples()``),
``lib``, ``server`` and ``case``. A summary table of those prints at the end of the module.

Groups are the scenarios (window 1, 10, 100, 1000, 16 blocking threads, memory), each with the
server's name: the rows of a group are comparable. Peers that are not installed are skipped, and so
is everything that needs the C sink when gcc is missing.
"""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any, Iterator

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # works under any pytest import mode
    sys.path.insert(0, _HERE)

import client_peers as cp  # noqa: E402

ROUNDS = int(os.environ.get("SMPPFAST_BENCH_ROUNDS", "3"))
SCALE = float(os.environ.get("SMPPFAST_BENCH_SCALE", "1.0"))
_summary: list[tuple[str, str, str, float, float, Any, Any]] = []


@pytest.fixture(scope="module", params=["sink", "sim"])
def server(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "sink" and cp.tools_error():
        pytest.skip(f"no C sink: {cp.tools_error()}")
    srv = cp.SERVERS[request.param]()
    yield srv
    srv.stop()


class _Summary:
    """Registered as a plugin by the fixture below: prints the submits/s table at the end of the run."""

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not _summary:
            return
        w = terminalreporter.write_line
        w("")
        w("smppfast client vs peers, submits/s end to end (median round / best round), latency p50 / p99:")
        for group, label, server, med, best, p50, p99 in _summary:
            lat = f"   p50 {p50:.0f} µs / p99 {p99:.0f} µs" if p50 is not None else ""
            w(f"  {group + ' / ' + server:<28} {label:<62} {med:>10,.0f} / {best:>10,.0f}{lat}")


@pytest.fixture(scope="session", autouse=True)
def _register_summary(request: pytest.FixtureRequest) -> None:
    pm = request.config.pluginmanager
    if not pm.has_plugin("smppfast-client-summary"):
        pm.register(_Summary(), "smppfast-client-summary")


CASES = cp.cases(SCALE)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_client(benchmark: Any, server: Any, case: cp.Case) -> None:
    if server.name not in case.servers:
        pytest.skip(f"{case.id} does not run against {server.name}")
    why = case.available()
    if why:
        pytest.skip(why)
    benchmark.group = f"{case.group} / {server.name}"
    results: list[cp.Result] = []

    def once() -> None:
        results.append(case.run(server.port))

    benchmark.pedantic(once, rounds=ROUNDS, iterations=1)
    rates = [r.rate for r in results]
    med = sorted(results, key=lambda r: r.rate)[len(results) // 2]
    benchmark.extra_info.update(
        case=case.id, label=case.label, lib=case.lib, server=server.name, submits=results[0].submits,
        submits_per_s=statistics.median(rates), submits_per_s_best=max(rates), rounds_submits_per_s=rates,
        p50_us=med.p50_us, p99_us=med.p99_us,
    )
    _summary.append((case.group, case.label, server.name, statistics.median(rates), max(rates),
                     med.p50_us, med.p99_us))


@pytest.mark.parametrize("mid,label,kwargs", cp.memory_cases(), ids=[m[0] for m in cp.memory_cases()])
def test_memory_in_flight(benchmark: Any, mid: str, label: str, kwargs: dict[str, Any]) -> None:
    """Bytes per request with 20,000 in flight (the sink's HOLD mode), each in a fresh process."""
    if cp.tools_error():
        pytest.skip(f"no C sink: {cp.tools_error()}")
    benchmark.group = "memory per request in flight"
    key = "traced_per_request" if kwargs.get("use_tracemalloc") else "rss_per_request"
    per: list[float] = []

    def once() -> None:
        per.append(cp.memory_case(20_000, **kwargs)[key])

    benchmark.pedantic(once, rounds=ROUNDS if mid in cp.MEMORY_TARGET_CASES else 1, iterations=1)
    benchmark.extra_info.update(case=mid, label=label, lib="smppfast", server="sink hold",
                                bytes_per_request=statistics.median(per), bytes_per_request_best=min(per))
    assert statistics.median(per) > 0
