"""Many binds as one sender: Pool (threads) and AsyncPool (asyncio) against real simulators."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures as cf
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from smppfast import AsyncPool, CommandStatusError, Pool, SubmitSm, WindowFull
from smppfast.errors import BindError, ConnectionClosedError, SmppError
from smppfast.pool import route
from smppfast.receipt import DeliveryReceipt
from smppfast.simulator import Faults, Simulator

CREDS = dict(system_id="pool", password="pw")

from .helpers import wait_until




def sm(i: int = 0, **fields: Any) -> SubmitSm:
    return SubmitSm(source_addr="pool", destination_addr=f"1555{i:07d}", short_message=b"hi %d" % i, **fields)


@pytest.fixture
def sims() -> Iterator[list[Simulator]]:
    started = [Simulator().start(), Simulator().start()]
    yield started
    for s in started:
        s.stop()


def submits_seen(sim: Simulator) -> int:
    return int(sim.counters["submits"])


# -- the routing rule ------------------------------------------------------------------------


@dataclass(eq=False)
class FakeMember:
    bound: bool = True
    window_free: int = 10
    in_flight: int = 0

    def routing_state(self) -> tuple[int, int]:
        return (self.window_free, self.in_flight) if self.bound else (-1, 0)


def test_route_prefers_room_then_fewest_in_flight_and_spreads_ties() -> None:
    a, b, c = FakeMember(in_flight=5, window_free=5), FakeMember(in_flight=2, window_free=8), FakeMember(bound=False)
    assert route([a, b, c]) == ("send", b, 8)
    b.window_free = 0  # full: the one with room wins even with more in flight
    assert route([a, b, c]) == ("send", a, 5)
    a.window_free = 0  # all full: wait on the least loaded
    assert route([a, b, c]) == ("queue", b, 0)
    assert route([c]) == ("wait", None, 0)
    assert route([]) == ("wait", None, 0)
    idle = [FakeMember(), FakeMember(), FakeMember()]
    chosen = [route(idle, turn)[1] for turn in range(6)]
    assert [[x is m for x in idle].index(True) for m in chosen] == [0, 1, 2, 0, 1, 2]


def test_pool_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one endpoint"):
        Pool([], **CREDS)
    with pytest.raises(ValueError, match="binds must be"):
        Pool([("127.0.0.1", 2775)], binds=0, **CREDS)
    with pytest.raises(TypeError, match=r"\(host, port\) pair"):
        Pool(["127.0.0.1:2775"], **CREDS)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="port must be 1..65535"):
        Pool([("127.0.0.1", 0)], **CREDS)
    with pytest.raises(TypeError, match="store must be a smppfast store"):
        Pool([("127.0.0.1", 2775)], store={}, **CREDS)  # type: ignore[arg-type]


def test_members_are_labelled_per_endpoint_and_an_endpoint_listed_twice_gets_twice_the_binds(sims: list[Simulator]) -> None:
    a, b = sims
    pool = Pool([("127.0.0.1", a.port), ("127.0.0.1", b.port), ("127.0.0.1", a.port)], binds=2, **CREDS)
    labels = [m.label for m in pool.members]
    assert labels == [f"127.0.0.1:{a.port}#1", f"127.0.0.1:{a.port}#2", f"127.0.0.1:{b.port}#1",
                      f"127.0.0.1:{b.port}#2", f"127.0.0.1:{a.port}#3", f"127.0.0.1:{a.port}#4"]
    with pool:
        assert pool.bound_members == 6
        assert wait_until(lambda: a.bound == 4 and b.bound == 2)
    assert "password" not in repr(pool) and "pw" not in repr(pool)


# -- traffic -----------------------------------------------------------------------------------


def outcome(fut: cf.Future[Any]) -> str:
    exc = fut.exception(timeout=30)
    if exc is None:
        return "ok"
    if isinstance(exc, CommandStatusError):
        return exc.status.name if hasattr(exc.status, "name") else str(exc.status)
    return type(exc).__name__


def test_three_binds_on_two_simulators_survive_one_stopping_and_starting_again(sims: list[Simulator]) -> None:
    a, b = sims
    port_b = b.port
    with Pool([("127.0.0.1", a.port), ("127.0.0.1", a.port), ("127.0.0.1", port_b)], window=20,
              reconnect_max_delay=0.3, window_timeout=10, **CREDS) as pool:
        futures: list[cf.Future[Any]] = []
        futures += [pool.submit(sm(i)) for i in range(600)]
        assert wait_until(lambda: all(f.done() for f in futures))
        assert submits_seen(b) > 100  # traffic was spread: b's one bind took its share
        b.stop()  # one SMSC goes away mid-run
        stopped_at = len(futures)
        futures += [pool.submit(sm(i)) for i in range(600, 1800)]
        assert wait_until(lambda: pool.bound_members == 2)
        seen_a_before = submits_seen(a)
        futures += [pool.submit(sm(i)) for i in range(1800, 2400)]
        assert wait_until(lambda: all(f.done() for f in futures), 30)
        assert submits_seen(a) >= seen_a_before + 600  # the live binds carried the traffic
        b2 = Simulator(port=port_b).start()  # ... and comes back on the same port
        try:
            assert wait_until(lambda: pool.bound_members == 3, 15), pool
            futures += [pool.submit(sm(i)) for i in range(2400, 3000)]
            assert wait_until(lambda: all(f.done() for f in futures), 30)
            assert submits_seen(b2) > 50  # the member that came back takes traffic again
        finally:
            stats = pool.stats
            b2.stop()
    counts = collections.Counter(outcome(f) for f in futures)
    # Every submit ended exactly once: accepted, or failed with an error the caller sees (the
    # ones in flight on b when it stopped may have been accepted: ConnectionClosedError).
    assert sum(counts.values()) == 3000
    assert set(counts) <= {"ok", "ConnectionClosedError", "SmppTimeoutError"}, counts
    assert counts["ok"] >= 3000 - 20, counts  # at most b's window was lost with it
    assert stats.submitted >= 3000
    assert sum(stats.responses.values()) == counts["ok"]
    assert stopped_at == 600


def test_window_is_per_bind(sims: list[Simulator]) -> None:
    a, _ = sims
    a.set_faults(delay=1.0)  # responses held: the windows fill
    with Pool([("127.0.0.1", a.port)], binds=2, window=3, window_timeout=0.2, **CREDS) as pool:
        held = [pool.submit(sm(i)) for i in range(6)]  # 3 per bind go at once
        assert sorted(m.in_flight for m in pool.members) == [3, 3]
        t0 = time.monotonic()
        with pytest.raises(WindowFull):
            pool.submit(sm(6))
        assert time.monotonic() - t0 >= 0.2  # it waited for room on any member first
        assert all(f.result(10) for f in held)


def test_rate_limit_is_per_bind(sims: list[Simulator]) -> None:
    a, _ = sims
    with Pool([("127.0.0.1", a.port)], binds=2, rate_limit=20, **CREDS) as pool:
        t0 = time.monotonic()
        futures = [pool.submit(sm(i)) for i in range(40)]
        elapsed = time.monotonic() - t0
        assert all(f.result(10) for f in futures)
        per_member = [m.stats.submitted for m in pool.members]
    # 20/s per bind: 40 submits need about a second over two binds (a burst of 2 each aside),
    # and both binds carried their share rather than one bind all of it at its own rate.
    assert elapsed >= (40 - 4) / 40 - 0.05, elapsed
    assert min(per_member) >= 15, per_member


def test_submit_many_spreads_by_room_and_gives_every_pdu_an_outcome(sims: list[Simulator]) -> None:
    a, b = sims
    with Pool([("127.0.0.1", a.port), ("127.0.0.1", b.port)], window=50, **CREDS) as pool:
        futures = pool.submit_many([sm(i) for i in range(2000)])
        assert len(futures) == 2000
        assert all(outcome(f) == "ok" for f in futures)
        assert submits_seen(a) > 200 and submits_seen(b) > 200


def test_every_part_of_a_message_goes_through_one_bind_and_carries_the_ref(sims: list[Simulator]) -> None:
    a, b = sims
    receipts: list[DeliveryReceipt] = []
    got = threading.Event()

    def on_receipt(r: DeliveryReceipt) -> None:
        receipts.append(r)
        if len(receipts) >= 3:
            got.set()

    with Pool([("127.0.0.1", a.port), ("127.0.0.1", b.port)], on_receipt=on_receipt, **CREDS) as pool:
        handle = pool.send_message("15551234", "long text " * 40, ref="order-7", registered_delivery=1)
        responses = handle.result(10)
        assert len(responses) == 3
        assert sorted([submits_seen(a), submits_seen(b)]) == [0, 3]  # one bind took all the parts
        assert got.wait(10)
    assert {r.ref for r in receipts} == {"order-7"}
    assert sorted(r.message_id for r in receipts) == sorted(x.message_id for x in responses)


def test_receipts_arriving_on_another_bind_are_matched() -> None:
    with Simulator(receipts_elsewhere=True) as sim:
        receipts: list[DeliveryReceipt] = []
        lock = threading.Lock()

        def on_receipt(r: DeliveryReceipt) -> None:
            with lock:
                receipts.append(r)

        with Pool([("127.0.0.1", sim.port)], binds=3, on_receipt=on_receipt, **CREDS) as pool:
            futures = [pool.submit(sm(i, registered_delivery=1), ref=f"ref-{i}") for i in range(60)]
            ids = {f.result(10).message_id: f"ref-{i}" for i, f in enumerate(futures)}
            assert wait_until(lambda: len(receipts) == 60)
            submitted = [m.stats.submitted for m in pool.members]
            received = [m.stats.receipts for m in pool.members]
        assert min(submitted) > 0
        assert sum(received) == 60
    # Each receipt came on another bind than its submit, and still carries the sender's ref.
    assert {r.message_id: r.ref for r in receipts} == ids
    assert sim.counters["receipts_sent"] == 60


def test_a_member_that_cannot_bind_at_first_keeps_trying_while_the_others_carry_traffic(sims: list[Simulator]) -> None:
    a, b = sims
    port_b = b.port
    b.stop()
    with Pool([("127.0.0.1", a.port), ("127.0.0.1", port_b)], reconnect_max_delay=0.3, **CREDS) as pool:
        assert pool.bound_members == 1
        assert all(outcome(f) == "ok" for f in [pool.submit(sm(i)) for i in range(50)])
        b2 = Simulator(port=port_b).start()
        try:
            assert wait_until(lambda: pool.bound_members == 2, 15)
        finally:
            pool.close()
            b2.stop()


def test_a_pool_that_binds_nowhere_raises_the_bind_error_and_leaves_nothing_running() -> None:
    before = {t.ident for t in threading.enumerate()}
    with Simulator(faults=Faults(refuse_binds="ESME_RBINDFAIL")) as sim:
        pool = Pool([("127.0.0.1", sim.port)], binds=2, **CREDS)
        with pytest.raises(BindError):
            pool.connect()
        with pytest.raises(ConnectionClosedError):
            pool.submit(sm())
    assert wait_until(lambda: not [t for t in threading.enumerate()
                                   if t.ident not in before and t.name.startswith("smppfast-") and t.is_alive()], 10)


def test_submits_wait_for_a_bind_then_time_out_when_none_comes(sims: list[Simulator]) -> None:
    a, _ = sims
    port = a.port
    with Pool([("127.0.0.1", port)], reconnect_max_delay=5, window_timeout=0.3, **CREDS) as pool:
        a.stop()
        assert wait_until(lambda: pool.bound_members == 0)
        t0 = time.monotonic()
        with pytest.raises(SmppError):
            pool.submit(sm())
        assert time.monotonic() - t0 >= 0.25
        failed = pool.submit_many([sm(1), sm(2)])
        assert [type(f.exception(5)).__name__ for f in failed] == ["SmppTimeoutError"] * 2


# -- AsyncPool: the same routing, on AsyncClient ------------------------------------------------


def test_async_pool_spreads_survives_a_stop_and_matches_receipts_across_binds() -> None:
    async def main() -> None:
        with Simulator(receipts_elsewhere=True) as a, Simulator() as b:
            port_b = b.port
            receipts: list[DeliveryReceipt] = []

            async def on_receipt(r: DeliveryReceipt) -> None:
                receipts.append(r)

            async with AsyncPool([("127.0.0.1", a.port), ("127.0.0.1", a.port), ("127.0.0.1", port_b)],
                                 window=20, reconnect_max_delay=0.3, on_receipt=on_receipt, **CREDS) as pool:
                assert pool.bound_members == 3
                first = await asyncio.gather(*(pool.submit(sm(i), ref=f"r{i}") for i in range(300)))
                assert len(first) == 300
                assert submits_seen(b) > 30
                b.stop()
                results = await asyncio.gather(*(pool.submit(sm(i)) for i in range(300, 900)),
                                               return_exceptions=True)
                kinds = collections.Counter("ok" if not isinstance(r, BaseException) else type(r).__name__
                                            for r in results)
                assert sum(kinds.values()) == 600
                assert kinds["ok"] >= 600 - 20, kinds
                futures = await pool.submit_many([sm(i, registered_delivery=1) for i in range(900, 1000)])
                await asyncio.gather(*futures)
                parts = await pool.send_message("15551234", "long text " * 40, ref="msg", registered_delivery=1)
                assert len(parts) == 3
                parts_ids = {p.message_id for p in parts}
                deadline = time.monotonic() + 10
                while len([r for r in receipts if r.message_id in parts_ids]) < 3 and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                assert {r.ref for r in receipts if r.message_id in parts_ids} == {"msg"}
                b2 = Simulator(port=port_b).start()
                try:
                    deadline = time.monotonic() + 15
                    while pool.bound_members < 3 and time.monotonic() < deadline:
                        await asyncio.sleep(0.05)
                    assert pool.bound_members == 3
                finally:
                    await pool.close()
                    b2.stop()

    asyncio.run(main())


def test_async_pool_window_is_per_bind() -> None:
    async def main() -> None:
        with Simulator(faults=Faults(delay=1.0)) as sim:
            async with AsyncPool([("127.0.0.1", sim.port)], binds=2, window=3, window_timeout=0.2, **CREDS) as pool:
                held = [asyncio.ensure_future(pool.submit(sm(i))) for i in range(6)]
                await asyncio.sleep(0.05)
                assert sorted(m.in_flight for m in pool.members) == [3, 3]
                with pytest.raises(WindowFull):
                    await pool.submit(sm(6))
                await asyncio.gather(*held)

    asyncio.run(main())


@pytest.mark.parametrize("driver", ["threads", "asyncio"])
def test_without_reconnect_a_dropped_member_is_routed_around(sims: list[Simulator], driver: str) -> None:
    # Members that never come back (reconnect=False, as `smppfast bench` builds its pool): a
    # submit a dropped member refuses before sending goes to another member instead of failing.
    a, b = sims
    endpoints = [("127.0.0.1", a.port), ("127.0.0.1", b.port)]
    if driver == "threads":
        with Pool(endpoints, reconnect=False, window=5, **CREDS) as pool:
            assert all(outcome(pool.submit(sm(i))) == "ok" for i in range(20))
            b.stop()
            assert wait_until(lambda: pool.bound_members == 1)
            assert [outcome(pool.submit(sm(i))) for i in range(200)] == ["ok"] * 200
            a.stop()
            assert wait_until(lambda: pool.bound_members == 0)
            with pytest.raises(ConnectionClosedError, match="none reconnects"):
                pool.submit(sm(0))
        return

    async def main() -> None:
        async with AsyncPool(endpoints, reconnect=False, window=5, **CREDS) as pool:
            await asyncio.gather(*(pool.submit(sm(i)) for i in range(20)))
            b.stop()
            for _ in range(500):
                if pool.bound_members == 1:
                    break
                await asyncio.sleep(0.01)
            results = await asyncio.gather(*(pool.submit(sm(i)) for i in range(200)))
            assert len(results) == 200 and all(r.message_id for r in results)

    asyncio.run(main())


def test_a_refusal_before_sending_goes_to_another_member_but_a_maybe_sent_one_is_never_resent(
        sims: list[Simulator], monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = sims
    with Pool([("127.0.0.1", a.port)], binds=2, **CREDS) as pool:
        first, second = pool.members
        tried: list[str] = []

        def refuse(error: Exception) -> Any:
            def submit(pdu: Any, **kw: Any) -> Any:
                tried.append(first.label)
                raise error
            return submit

        monkeypatch.setattr(pool, "_route", lambda: ("send", first, 1) if not tried else ("send", second, 1))
        monkeypatch.setattr(first, "submit", refuse(ConnectionClosedError("not bound to the SMSC")))
        assert pool.submit(sm(1)).result(5).message_id  # taken by the second member
        assert tried == [first.label] and second.stats.submitted == 1
        tried.clear()
        monkeypatch.setattr(first, "submit", refuse(ConnectionClosedError("link lost", maybe_accepted=True)))
        with pytest.raises(ConnectionClosedError, match="link lost"):
            pool.submit(sm(2))  # it may have reached the SMSC: not sent again elsewhere
        assert second.stats.submitted == 1
