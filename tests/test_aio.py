"""What is asyncio's own in ``smppfast.AsyncClient``: its awaitable API, cancellation, coroutine
callbacks, close() with tasks still waiting, and running clean under ``asyncio.run`` in debug
mode. The behaviour both drivers share (binds, throttling, timeouts, a cut link, reconnect,
TLS, callbacks, the fault tests) runs on both from test_client*.py through ``drivers.py``.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import warnings
from typing import Any

import pytest

from smppfast import (
    AsyncClient,
    CommandStatusError,
    ConnectionClosedError,
    LocalProtocolError,
    SmppTimeoutError,
    Status,
    SubmitSm,
)
from smppfast.simulator import Simulator

PASSWORD = "secret"


def client(port: int, **kwargs: Any) -> AsyncClient:
    opts: dict[str, Any] = dict(system_id="test", password=PASSWORD, response_timeout=5.0, enquire_link_interval=None,
                                window_timeout=5.0, close_timeout=5.0, unbind_timeout=1.0, bind_timeout=3.0)
    opts.update(kwargs)
    return AsyncClient("127.0.0.1", port, **opts)


def sm(i: int = 0, **fields: Any) -> SubmitSm:
    return SubmitSm(source_addr="100", destination_addr="4479000000%02d" % (i % 100), short_message=b"m%06d" % i,
                    **fields)


class LoopProblems(AssertionError):
    """What ``run`` found wrong with how a coroutine used its event loop."""


def run(coro: Any) -> Any:
    """asyncio.run in debug mode, failing when anything is left behind: a task still pending
    once ``coro`` returned (it would be "destroyed"), a coroutine never awaited, an unclosed
    transport or socket, or anything else that reaches the loop's exception handler
    ("Task exception was never retrieved", ...)."""
    problems: list[str] = []

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: problems.append(str(context.get("message"))))
        result = await coro
        me = asyncio.current_task()
        for _ in range(5):  # what close() scheduled: connection_lost, done callbacks
            await asyncio.sleep(0)
        problems.extend(f"task left pending: {t!r}" for t in asyncio.all_tasks() if t is not me)
        return result

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = asyncio.run(main(), debug=True)
        gc.collect()  # a coroutine never awaited, or an unclosed transport, says so now
    problems.extend(str(w.message) for w in caught if issubclass(w.category, (RuntimeWarning, ResourceWarning)))
    if problems:
        raise LoopProblems("; ".join(problems))
    return result


@pytest.fixture
def sim():  # type: ignore[no-untyped-def]
    with Simulator() as s:
        yield s


def test_bind_submit_and_close(sim: Simulator) -> None:
    async def main() -> list[str]:
        async with client(sim.port, window=50) as c:
            assert c.bound
            one = await c.submit(sm(0))
            many = await c.submit_many([sm(i) for i in range(1, 200)])
            responses = await asyncio.gather(*many)
            assert c.stats.submitted == 200 and c.stats.responses[0] == 200
            assert len(c.stats.latency_samples()) == 200
            return [one.message_id] + [r.message_id for r in responses]  # type: ignore[attr-defined]

    ids = run(main())
    assert len(set(ids)) == 200
    assert sim.submits == 200
    assert sim.wait_for(lambda: sim.connections == 0)  # unbound and closed


def test_many_tasks_each_awaiting_submit(sim: Simulator) -> None:
    async def main() -> int:
        async with client(sim.port, window=100) as c:
            async def worker(k: int) -> int:
                for i in range(20):
                    await c.submit(sm(k * 100 + i))
                return 20
            done = await asyncio.gather(*(worker(k) for k in range(100)))
            assert c.in_flight == 0
            return sum(done)

    assert run(main()) == 2000 and sim.submits == 2000


def test_send_message_returns_one_response_per_part(sim: Simulator) -> None:
    async def main() -> list[Any]:
        async with client(sim.port) as c:
            return await c.send_message("447700900123", "x" * 400, source_addr="me")

    parts = run(main())
    assert len(parts) == 3 and all(p.command_status == 0 for p in parts)


def test_errors_are_raised_as_the_threaded_clients_futures_carry_them(sim: Simulator) -> None:
    async def main() -> None:
        async with client(sim.port, response_timeout=0.3) as c:
            sim.set_faults(status="ESME_RINVDSTADR")
            with pytest.raises(CommandStatusError) as info:
                await c.submit(sm(1))
            assert info.value.status == Status.ESME_RINVDSTADR
            sim.set_faults(drop_every=1)
            with pytest.raises(SmppTimeoutError) as timeout:
                await c.submit(sm(2))
            assert timeout.value.maybe_accepted
            sim.clear_faults()
            assert (await c.submit(sm(3))).command_status == 0

    run(main())



def test_cancelling_the_awaiting_task_keeps_the_request_and_its_slot(sim: Simulator) -> None:
    sim.set_faults(delay=0.3)

    async def main() -> None:
        async with client(sim.port, window=1) as c:
            task = asyncio.create_task(c.submit(sm(1)))
            await asyncio.sleep(0.05)
            assert c.in_flight == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The response still comes, is matched and counted, and frees the slot.
            for _ in range(100):
                if c.in_flight == 0:
                    break
                await asyncio.sleep(0.01)
            assert c.in_flight == 0 and c.stats.responses[0] == 1
            sim.clear_faults()
            assert (await c.submit(sm(2), timeout=2)).command_status == 0

    run(main())



def test_plain_and_coroutine_callbacks_and_a_callback_that_awaits_a_submit(sim: Simulator) -> None:
    seen: list[str] = []
    replies: list[Any] = []

    async def main() -> None:
        holder: list[AsyncClient] = []

        async def on_message(message: Any) -> int:
            seen.append(message.text)
            replies.append(await holder[0].submit(sm(9)))  # even at window 1
            return 0

        def on_receipt(receipt: Any) -> None:
            seen.append("receipt " + receipt.stat)

        async with client(sim.port, window=1, on_message=on_message, on_receipt=on_receipt) as c:
            holder.append(c)
            sim.send_mo("555", "100", "hello")
            await c.submit(sm(1, registered_delivery=1))
            for _ in range(200):
                if len(seen) == 2 and replies:
                    break
                await asyncio.sleep(0.01)

    run(main())
    assert sorted(seen) == ["hello", "receipt DELIVRD"]
    assert replies and replies[0].command_status == 0
    assert sim.wait_for(lambda: sim.deliver_responses == 2)


def test_close_with_requests_in_flight_waits_for_them(sim: Simulator) -> None:
    sim.set_faults(delay=0.2)

    async def main() -> list[Any]:
        c = client(sim.port, window=10)
        await c.connect()
        futures = await c.submit_many([sm(i) for i in range(10)])
        await c.close()
        return [f.result() for f in futures]

    assert [r.command_status for r in run(main())] == [0] * 10


def test_close_ends_every_task_awaiting_a_submit(sim: Simulator) -> None:
    # Requests in flight that are never answered and tasks still waiting for a slot: close()
    # is bounded by close_timeout, and every awaiting task ends, none is left pending.
    sim.set_faults(drop_every=1)

    async def main() -> list[Any]:
        c = client(sim.port, window=2, close_timeout=0.2, response_timeout=30.0, window_timeout=30.0)
        await c.connect()
        tasks = [asyncio.create_task(c.submit(sm(i))) for i in range(5)]
        await asyncio.sleep(0.05)
        assert c.in_flight == 2
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await c.close()
        assert loop.time() - t0 < 3.0
        return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2.0)

    outcomes = run(main())
    assert all(isinstance(o, ConnectionClosedError) for o in outcomes), outcomes
    # The two on the wire may have been taken; the three that waited never left.
    assert [o.maybe_accepted for o in outcomes] == [True, True, False, False, False]


def test_a_task_cancelled_as_a_slot_frees_for_it_hands_the_slot_on(sim: Simulator) -> None:
    # The response that frees the only slot wakes the first waiting task; that task is
    # cancelled before it resumes. The slot must go to the next waiter at once, not after its
    # window_timeout (30 s here). The request of the cancelled task went out or did not, and
    # is counted as what it was.
    sim.set_faults(delay=0.1)

    async def main() -> None:
        async with client(sim.port, window=1, window_timeout=30.0) as c:
            (first,) = await c.submit_many([sm(1)])
            second = asyncio.create_task(c.submit(sm(2)))
            third = asyncio.create_task(c.submit(sm(3)))
            await asyncio.sleep(0.02)
            assert c.in_flight == 1  # both tasks wait for the slot
            # Done callbacks of the freeing response run before the woken task resumes.
            first.add_done_callback(lambda _: second.cancel())
            assert (await asyncio.wait_for(third, 5.0)).command_status == 0
            try:
                await second
                sent = 3  # the cancel came too late to stop it (asyncio.wait_for before 3.12)
            except asyncio.CancelledError:
                sent = 2
            for _ in range(100):
                if c.in_flight == 0:
                    break
                await asyncio.sleep(0.01)
            assert (c.stats.submitted, c.stats.responses[0], c.in_flight) == (sent, sent, 0)

    run(main())


def test_close_from_inside_a_coroutine_callback(sim: Simulator) -> None:
    # A callback may end the session: close() does not wait for the callback it is called
    # from (close_timeout is 5 s here), nor for the task that runs it.
    async def main() -> None:
        holder: list[AsyncClient] = []
        closed = asyncio.Event()

        async def on_message(message: Any) -> None:
            await holder[0].close()
            closed.set()

        c = client(sim.port, on_message=on_message, close_timeout=5.0)
        holder.append(c)
        await c.connect()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        sim.send_mo("555", "100", "bye")
        await asyncio.wait_for(closed.wait(), 4.0)
        assert loop.time() - t0 < 2.0
        assert not c.bound
        await c.close()  # again: nothing to do

    run(main())
    assert sim.wait_for(lambda: sim.connections == 0)


def test_run_fails_on_what_a_coroutine_leaves_behind() -> None:
    # The checks every test here runs under are real: a task left pending, a coroutine
    # never awaited.
    async def leaves_a_task() -> None:
        asyncio.get_running_loop().create_task(asyncio.sleep(10))

    async def never_awaits() -> None:
        asyncio.sleep(0)  # type: ignore[unused-coroutine]  # deliberately never awaited

    with pytest.raises(LoopProblems, match="task left pending"):
        run(leaves_a_task())
    with pytest.raises(LoopProblems, match="never awaited"):
        run(never_awaits())


def test_connect_twice_and_bad_options_are_refused_clearly(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="response_timeout"):
        client(sim.port, response_timeout=-1)
    with pytest.raises(ValueError, match="bind_type"):
        client(sim.port, bind_type="trx")

    async def main() -> None:
        async with client(sim.port) as c:
            with pytest.raises(LocalProtocolError, match="already connected"):
                await c.connect()
        with pytest.raises(ConnectionClosedError):
            await c.submit(sm(1))

    run(main())



def test_throttled_submits_are_sent_again_in_order(sim: Simulator) -> None:
    sim.set_faults(throttle_every=3)

    async def main() -> list[Any]:
        async with client(sim.port, window=1, throttle_backoff=0.005, throttle_retries=5) as c:
            responses = [await c.submit(sm(i)) for i in range(30)]
            assert c.stats.throttled >= 10 and not c._retries
            return responses

    responses = run(main())
    assert all(r.command_status == 0 for r in responses)
    submits = [p for p in sim.received if type(p) is SubmitSm]
    accepted = [p.short_message for n, p in enumerate(submits, start=1) if n % 3]
    assert accepted == [b"m%06d" % i for i in range(30)]




def test_runs_on_uvloop(sim: Simulator) -> None:
    if sys.platform == "win32":
        pytest.skip("uvloop does not exist on Windows")
    import uvloop

    async def main() -> int:
        async with client(sim.port, window=100) as c:
            futures = await c.submit_many([sm(i) for i in range(500)])
            return len(await asyncio.gather(*futures))

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == 500
    finally:
        loop.close()



def test_close_wins_over_a_reconnect_in_progress(sim: Simulator) -> None:
    async def main() -> None:
        c = client(sim.port, reconnect=True)
        await c.connect()
        sim.set_faults(refuse_binds=Status.ESME_RBINDFAIL, close_after=1)
        with pytest.raises(ConnectionClosedError):
            await c.submit(sm(1))
        await asyncio.sleep(0.6)  # a refused reconnect or two
        t0 = asyncio.get_running_loop().time()
        await c.close()
        assert asyncio.get_running_loop().time() - t0 < 2.0
        assert not c.bound

    run(main())
    assert sim.wait_for(lambda: sim.connections == 0)


def test_same_keyword_arguments_and_defaults_as_client() -> None:
    import inspect

    from smppfast import Client

    threaded = inspect.signature(Client.__init__).parameters
    asyncio_ = inspect.signature(AsyncClient.__init__).parameters
    assert set(threaded) == set(asyncio_)
    assert {n: p.default for n, p in threaded.items()} == {n: p.default for n, p in asyncio_.items()}
