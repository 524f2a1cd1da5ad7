"""Metrics: ``client.stats`` counted against the simulator (threaded and asyncio), the latency
histogram, ``combined`` for pools, the Prometheus export scraped over HTTP from
prometheus_client's own server, and the per-PDU debug log of a real client."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import subprocess
import sys
import urllib.request
from typing import Any, Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

import smppfast
import smppfast.prometheus
from smppfast import AsyncClient, Status
from smppfast._futures import LATENCY_BUCKETS, LatencyRing
from smppfast.simulator import Simulator
from smppfast.stats import ClientStats, combined

from .test_client import make_client, outcomes, sm, wait_until

PASSWORD = "s3cr3tPw"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


def receipt_text(state: str) -> str:
    return f"id:abc{state} sub:001 dlvrd:000 submit date:2601011200 done date:2601011201 stat:{state} err:001 text:x"


def send_receipt(sim: Simulator, state: str) -> None:
    """A delivery receipt in the given ``stat:`` (the simulator's own are all DELIVRD)."""
    sim.send_mo("447700900001", "100", receipt_text(state), esm_class=0x04)


def histogram_total(stats: ClientStats) -> int:
    return stats.histogram().count


# -- the histogram in C ------------------------------------------------------------------


def test_latency_buckets_are_inclusive_upper_bounds_and_merge_adds_up() -> None:
    ring = LatencyRing(4)
    for seconds in (0.0, 0.0005, 0.00051, 0.1, 10.0, 10.5, 3600.0):
        ring.add(seconds)
    counts, total = ring.histogram()
    assert len(counts) == len(LATENCY_BUCKETS) + 1
    by_bound = dict(zip((*LATENCY_BUCKETS, math.inf), counts))
    # A latency equal to a bound is in that bound's bucket (Prometheus' "le").
    assert by_bound[0.0005] == 2 and by_bound[0.001] == 1 and by_bound[0.1] == 1 and by_bound[10.0] == 1
    assert by_bound[math.inf] == 2 and sum(counts) == 7
    assert total == pytest.approx(0.0005 + 0.00051 + 0.1 + 10.0 + 10.5 + 3600.0)
    assert ring.samples() == [0.1, 10.0, 10.5, 3600.0]  # the ring forgets; the histogram does not

    merged = LatencyRing(10)
    merged.add(0.002)
    merged.merge(ring)
    merged_counts, merged_total = merged.histogram()
    assert sum(merged_counts) == 8 and merged_total == pytest.approx(total + 0.002)
    assert merged.samples() == [0.002, 0.1, 10.0, 10.5, 3600.0]
    ring.clear()
    assert ring.histogram() == ([0] * (len(LATENCY_BUCKETS) + 1), 0.0) and ring.samples() == []


def test_the_buckets_run_from_half_a_millisecond_to_ten_seconds() -> None:
    assert LATENCY_BUCKETS[0] == 0.0005 and LATENCY_BUCKETS[-1] == 10.0
    assert list(LATENCY_BUCKETS) == sorted(set(LATENCY_BUCKETS))
    hist = ClientStats().histogram()
    assert hist.bounds == LATENCY_BUCKETS and hist.count == 0
    assert hist.cumulative()[-1] == (math.inf, 0)


# -- the threaded client against the simulator -------------------------------------------


def test_counters_by_status_throttle_and_receipt_state(sim: Simulator) -> None:
    with make_client(sim.port, window=1, throttle_backoff=0.001) as client:
        assert outcomes([client.submit(sm(i, registered_delivery=1)) for i in range(6)]) == {"ok": 6}
        sim.set_faults(status=Status.ESME_RINVDSTADR)
        assert outcomes([client.submit(sm(i)) for i in range(3)]) == {"CommandStatusError": 3}
        sim.set_faults(status=0, throttle_every=2)
        assert outcomes([client.submit(sm(i)) for i in range(4)]) == {"ok": 4}
        sim.clear_faults()
        send_receipt(sim, "UNDELIV")
        send_receipt(sim, "EXPIRED")
        send_receipt(sim, "SOMETHING")  # no state of SMPP 3.4: counted, under one bounded key
        assert wait_until(lambda: client.stats.receipts == 9)
        stats = client.stats
        assert stats.submitted == 13
        assert stats.throttled >= 2
        assert dict(stats.responses) == {
            Status.ESME_ROK: 10, Status.ESME_RINVDSTADR: 3, Status.ESME_RTHROTTLED: stats.throttled,
        }
        assert dict(stats.receipts_by_state) == {"DELIVRD": 6, "UNDELIV": 1, "EXPIRED": 1, "OTHER": 1}
        assert (stats.timeouts, stats.failed, stats.reconnects, stats.received) == (0, 0, 0, 0)
        assert (stats.in_flight, stats.bound) == (0, 1)
        assert histogram_total(stats) == stats.responses[0]
        assert "receipts_by_state={'DELIVRD': 6" in repr(stats) and PASSWORD not in repr(stats)
    assert client.stats.bound == 0


def test_timeouts_failures_and_reconnects_are_counted(sim: Simulator) -> None:
    with make_client(sim.port, reconnect=True, response_timeout=0.2, window=5) as client:
        sim.set_faults(drop_every=2)
        assert outcomes([client.submit(sm(i)) for i in range(4)]) == {"ok": 2, "SmppTimeoutError": 2}
        assert client.stats.timeouts == 2
        sim.set_faults(drop_every=0, close_after=2, delay=0.1)
        assert outcomes(client.submit_many([sm(i) for i in range(3)])) == {"ConnectionClosedError": 3}
        sim.clear_faults()
        assert wait_until(lambda: client.stats.reconnects == 1 and client.bound, 10)
        assert client.stats.failed == 3
        sim.disconnect_all()
        assert wait_until(lambda: client.stats.reconnects == 2 and client.bound, 10)
        assert client.submit(sm(9), timeout=10).result(5).message_id


def test_the_histogram_counts_every_successful_response_in_its_bucket(sim: Simulator) -> None:
    sim.set_faults(delay=0.06)
    with make_client(sim.port, window=20) as client:
        futures = client.submit_many([sm(i) for i in range(20)])
        # Watched futures resolve in Python, the rest in C: both record the latency.
        for f in futures[::2]:
            f.add_done_callback(lambda f: None)
        assert outcomes(futures) == {"ok": 20}
        sim.set_faults(delay=0.0)
        fast = [client.submit(sm(i)) for i in range(30)]
        assert outcomes(fast) == {"ok": 30}
        hist = client.stats.histogram()
        assert hist.count == client.stats.responses[0] == 50
        cumulative = dict(hist.cumulative())
        # The 20 held back 60 ms were all slower than 50 ms; the other 30 were not held.
        assert cumulative[0.05] <= 30 and cumulative[math.inf] - cumulative[0.05] >= 20
        assert hist.sum >= 20 * 0.06


def test_combined_sums_members_and_counts_the_bound(sim: Simulator) -> None:
    with Simulator() as other, make_client(sim.port) as a, make_client(other.port) as b:
        assert outcomes([a.submit(sm(i, registered_delivery=1)) for i in range(3)]) == {"ok": 3}
        other.set_faults(status=Status.ESME_RSYSERR)
        assert outcomes([b.submit(sm(i)) for i in range(2)]) == {"CommandStatusError": 2}
        assert wait_until(lambda: a.stats.receipts == 3)
        total = combined([a.stats, b.stats])
        assert (total.submitted, total.receipts, total.bound, total.in_flight) == (5, 3, 2, 0)
        assert dict(total.responses) == {0: 3, Status.ESME_RSYSERR: 2}
        assert dict(total.receipts_by_state) == {"DELIVRD": 3}
        assert total.histogram().count == 3
        assert sorted(total.latency_samples()) == sorted(a.stats.latency_samples())
        b.close()
        assert combined([a.stats, b.stats]).bound == 1
        assert total.bound == 2  # a snapshot stays as it was
    assert combined([]).submitted == 0 and combined([]).bound == 0


def test_clientstats_keeps_its_old_homes() -> None:
    from smppfast import client as client_module

    assert smppfast.ClientStats is client_module.ClientStats is ClientStats


# -- asyncio ----------------------------------------------------------------------------


def test_async_client_counts_the_same(sim: Simulator) -> None:
    async def main() -> ClientStats:
        opts: dict[str, Any] = dict(system_id="test", password=PASSWORD, response_timeout=0.3, enquire_link_interval=None,
                                    window_timeout=5.0, close_timeout=5.0, unbind_timeout=1.0, bind_timeout=3.0)
        async with AsyncClient("127.0.0.1", sim.port, window=1, throttle_backoff=0.001, reconnect=True, **opts) as c:
            for i in range(5):
                await c.submit(sm(i, registered_delivery=1))
            sim.set_faults(status=Status.ESME_RINVDSTADR)
            for i in range(2):
                with pytest.raises(smppfast.CommandStatusError):
                    await c.submit(sm(i))
            sim.set_faults(status=0, throttle_every=2)
            for i in range(4):
                await c.submit(sm(i))
            sim.set_faults(throttle_every=0, drop_every=1)
            with pytest.raises(smppfast.SmppTimeoutError):
                await c.submit(sm(0))
            sim.clear_faults()
            send_receipt(sim, "REJECTD")
            for _ in range(500):
                if c.stats.receipts == 6:
                    break
                await asyncio.sleep(0.01)
            sim.disconnect_all()
            for _ in range(1000):
                if c.stats.reconnects == 1 and c.bound:
                    break
                await asyncio.sleep(0.01)
            assert (c.stats.in_flight, c.stats.bound) == (0, 1)
            return c.stats

    stats = asyncio.run(main())
    assert stats.submitted == 12 and stats.throttled >= 2 and stats.timeouts == 1 and stats.reconnects == 1
    assert dict(stats.responses) == {0: 9, Status.ESME_RINVDSTADR: 2, Status.ESME_RTHROTTLED: stats.throttled}
    assert dict(stats.receipts_by_state) == {"DELIVRD": 5, "REJECTD": 1}
    assert stats.histogram().count == 9
    assert stats.bound == 0


# -- Prometheus ------------------------------------------------------------------------


class FakePool:
    """What ``register`` needs of a pool: ``members``, each a client with a ``label``."""

    def __init__(self, members: list[Any]) -> None:
        self.members = members

    @property
    def stats(self) -> ClientStats:
        return combined(m.stats for m in self.members)


@pytest.fixture
def scrape() -> Iterator[Callable[[CollectorRegistry], dict[tuple[str, tuple[tuple[str, str], ...]], float]]]:
    """Serve a registry with prometheus_client's own HTTP server; return a function that
    scrapes ``/metrics`` over HTTP and parses the text exposition into {(sample, labels): value}."""
    servers: list[Any] = []

    def serve_and_scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        if not servers:
            servers.append(start_http_server(0, addr="127.0.0.1", registry=registry))
        server, _thread = servers[0]
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            text = response.read().decode("utf-8")
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples

    yield serve_and_scrape
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_prometheus_scrape_of_one_client(sim: Simulator, scrape: Any) -> None:
    registry = CollectorRegistry()
    with make_client(sim.port, window=1, throttle_backoff=0.001) as client:
        sim.set_faults(throttle_every=3)
        assert outcomes([client.submit(sm(i, registered_delivery=1)) for i in range(4)]) == {"ok": 4}
        sim.set_faults(throttle_every=0, status="ESME_RINVDSTADR")
        assert outcomes([client.submit(sm(9))]) == {"CommandStatusError": 1}
        sim.clear_faults()
        send_receipt(sim, "UNDELIV")
        assert wait_until(lambda: client.stats.receipts == 5)
        collector = smppfast.prometheus.register(client, registry)
        got = scrape(registry)
        bind = (("bind", f"127.0.0.1:{sim.port}"),)
        assert got[("smppfast_submits_total", bind)] == 5
        assert got[("smppfast_throttled_total", bind)] == client.stats.throttled >= 1
        assert got[("smppfast_responses_total", (*bind, ("status", "ESME_ROK")))] == 4
        assert got[("smppfast_responses_total", (*bind, ("status", "ESME_RINVDSTADR")))] == 1
        assert got[("smppfast_responses_total", (*bind, ("status", "ESME_RTHROTTLED")))] == client.stats.throttled
        assert got[("smppfast_receipts_total", (*bind, ("state", "DELIVRD")))] == 4
        assert got[("smppfast_receipts_total", (*bind, ("state", "UNDELIV")))] == 1
        for name in ("reconnects", "failed", "timeouts"):
            assert got[(f"smppfast_{name}_total", bind)] == 0
        assert got[("smppfast_in_flight", bind)] == 0
        assert got[("smppfast_bound", bind)] == 1 and got[("smppfast_bound_members", ())] == 1
        assert got[("smppfast_response_seconds_count", bind)] == 4
        assert got[("smppfast_response_seconds_bucket", (*bind, ("le", "+Inf")))] == 4
        assert got[("smppfast_response_seconds_sum", bind)] > 0
        les = [float(dict(k[1])["le"]) for k in got if k[0] == "smppfast_response_seconds_bucket"]
        assert sorted(les) == [*LATENCY_BUCKETS, math.inf]

        # Read at scrape time: the next scrape sees the next submits.
        assert client.submit(sm(10)).result(5).message_id
        assert scrape(registry)[("smppfast_submits_total", bind)] == 6
    # Closed: still scraped, now unbound.
    assert scrape(registry)[("smppfast_bound", bind)] == 0
    registry.unregister(collector)
    assert not [k for k in scrape(registry) if k[0].startswith("smppfast_")]


def test_prometheus_reports_one_series_per_pool_member(sim: Simulator, scrape: Any) -> None:
    with Simulator() as other, make_client(sim.port) as a, make_client(other.port) as b:
        a.label, b.label = "east#1", "west#1"  # type: ignore[attr-defined]
        pool = FakePool([a, b])
        registry = CollectorRegistry()
        smppfast.prometheus.register(pool, registry)
        assert outcomes([a.submit(sm(i)) for i in range(3)] + [b.submit(sm(i)) for i in range(5)]) == {"ok": 8}
        got = scrape(registry)
        assert got[("smppfast_submits_total", (("bind", "east#1"),))] == 3
        assert got[("smppfast_submits_total", (("bind", "west#1"),))] == 5
        assert got[("smppfast_response_seconds_count", (("bind", "west#1"),))] == 5
        assert got[("smppfast_bound_members", ())] == 2
        assert {dict(k[1])["bind"] for k in got if k[0] == "smppfast_bound"} == {"east#1", "west#1"}
        b.close()
        got = scrape(registry)
        assert got[("smppfast_bound", (("bind", "west#1"),))] == 0
        assert got[("smppfast_bound", (("bind", "east#1"),))] == 1
        assert got[("smppfast_bound_members", ())] == 1
        assert pool.stats.submitted == 8 and pool.stats.bound == 1


def test_prometheus_on_a_real_pool_reports_every_bind(sim: Simulator, scrape: Any) -> None:
    with Simulator() as other, smppfast.Pool(
        [("127.0.0.1", sim.port), ("127.0.0.1", other.port)], binds=2, system_id="test", password=PASSWORD,
        response_timeout=5.0, enquire_link_interval=None, window_timeout=5.0, close_timeout=5.0, unbind_timeout=1.0,
    ) as pool:
        registry = CollectorRegistry()
        smppfast.prometheus.register(pool, registry)
        assert outcomes(pool.submit_many([sm(i, registered_delivery=1) for i in range(40)])) == {"ok": 40}
        assert wait_until(lambda: pool.stats.receipts == 40)
        got = scrape(registry)
        labels = [m.label for m in pool.members]
        assert len(set(labels)) == 4
        per_bind = {label: got[("smppfast_submits_total", (("bind", label),))] for label in labels}
        assert sum(per_bind.values()) == 40 == pool.stats.submitted
        assert sum(got[("smppfast_receipts_total", (("bind", label), ("state", "DELIVRD")))]
                   for label in labels if per_bind[label]) == 40
        assert sum(got[("smppfast_response_seconds_count", (("bind", label),))] for label in labels) == 40
        assert got[("smppfast_bound_members", ())] == 4 == pool.stats.bound
        assert pool.stats.histogram().count == 40


def test_prometheus_on_an_async_pool(sim: Simulator) -> None:
    async def main() -> dict[str, float]:
        async with smppfast.AsyncPool([("127.0.0.1", sim.port)], binds=3, system_id="test", password=PASSWORD,
                                      enquire_link_interval=None) as pool:
            registry = CollectorRegistry()
            smppfast.prometheus.register(pool, registry)
            for i in range(12):
                await pool.submit(sm(i))
            return {s.labels["bind"]: s.value for f in registry.collect() if f.name == "smppfast_submits"
                    for s in f.samples if s.name == "smppfast_submits_total"}

    got = asyncio.run(main())
    assert sorted(got) == [f"127.0.0.1:{sim.port}#{n}" for n in (1, 2, 3)] and sum(got.values()) == 12


def test_importing_smppfast_does_not_import_prometheus_client() -> None:
    code = "import sys, smppfast; smppfast.prometheus.register; print('prometheus_client' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_register_refuses_what_it_cannot_export(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = CollectorRegistry()
    with pytest.raises(TypeError, match="expected a Client, AsyncClient, Pool"):
        smppfast.prometheus.register(object(), registry)
    with make_client(sim.port) as a, make_client(sim.port) as b:
        # Two clients of one registry would clash: one list (labels made distinct) or one pool.
        smppfast.prometheus.register(a, registry)
        with pytest.raises(ValueError, match="one smppfast collector"):
            smppfast.prometheus.register(b, registry)
        both = CollectorRegistry()
        smppfast.prometheus.register([a, b], both)
        binds = {s.labels["bind"] for f in both.collect() if f.name == "smppfast_bound" for s in f.samples}
        assert binds == {f"127.0.0.1:{sim.port}", f"127.0.0.1:{sim.port}#2"}
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'smppfast[prometheus]'")):
        smppfast.prometheus.register(a, CollectorRegistry())


# -- the per-PDU debug log of a real client -------------------------------------------------


def test_every_pdu_of_a_real_client_is_logged_without_the_password(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="smppfast.pdu"):
        with make_client(sim.port, password=PASSWORD) as client:
            assert outcomes([client.submit(sm(i, registered_delivery=1)) for i in range(3)]) == {"ok": 3}
            assert wait_until(lambda: client.stats.receipts == 3 and sim.deliver_responses == 3)
    prefix = f"127.0.0.1:{sim.port} "  # the client's lines (the simulator's session logs its own, unprefixed)
    lines = [r.getMessage() for r in caplog.records if r.name == "smppfast.pdu" and r.getMessage().startswith(prefix)]
    shown = [tuple(line[len(prefix):].split()[:2]) for line in lines]
    expected = {
        ("->", "BindTransceiver"): 1, ("<-", "BindTransceiverResp"): 1,
        ("->", "SubmitSm"): 3, ("<-", "SubmitSmResp"): 3,
        ("<-", "DeliverSm"): 3, ("->", "DeliverSmResp"): 3,
        ("->", "Unbind"): 1, ("<-", "UnbindResp"): 1,
    }
    assert {k: shown.count(k) for k in expected} == expected and len(shown) == sum(expected.values())
    for line in lines:
        assert re.search(r" seq=\d+ status=[A-Z_]+", line), line
        assert PASSWORD not in line
    submit = next(line for line in lines if " SubmitSm " in line)
    assert "destination_addr='447900000000'" in submit and "registered_delivery=1" in submit and "sm=7B" in submit
    resp = next(line for line in lines if " SubmitSmResp " in line)
    assert "status=ESME_ROK" in resp and "message_id='" in resp
    receipt = next(line for line in lines if " DeliverSm " in line)
    assert "esm_class=4" in receipt and "receipted_message_id='" in receipt and "message_state=2" in receipt


def test_nothing_is_logged_per_pdu_when_debug_is_off(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="smppfast.pdu"):
        with make_client(sim.port) as client:
            assert outcomes([client.submit(sm(i)) for i in range(3)]) == {"ok": 3}
            assert client._session is not None and client._session._trace_out is None
    assert not [r for r in caplog.records if r.name == "smppfast.pdu"]

