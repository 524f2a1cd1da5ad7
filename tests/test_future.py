"""SubmitFuture: a concurrent.futures.Future whose locks exist only when someone waits."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import pytest

from smppfast._future import SubmitFuture


def later(delay: float, fn, *args) -> threading.Thread:  # type: ignore[no-untyped-def]
    t = threading.Timer(delay, fn, args)
    t.start()
    return t


def test_is_a_concurrent_future_and_costs_no_lock_until_waited() -> None:
    fut = SubmitFuture("req")
    assert isinstance(fut, cf.Future)
    assert fut.request == "req" and not fut.done() and not fut.cancel()
    fut.set_result(5)
    assert fut._cond is None and fut._parked is None  # nobody waited: no lock was made
    assert fut.done() and fut.result() == 5 and fut.exception() is None


def test_a_single_blocked_waiter_parks_on_a_plain_lock_and_wakes() -> None:
    fut = SubmitFuture()
    t = later(0.05, fut.set_result, "ok")
    assert fut.result(timeout=5) == "ok"
    assert fut._cond is None  # served without a Condition
    t.join()


def test_exception_wakes_a_parked_waiter() -> None:
    fut = SubmitFuture()
    t = later(0.05, fut.set_exception, ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        fut.result(timeout=5)
    assert isinstance(fut.exception(timeout=0), ValueError)
    t.join()


def test_timeout_then_a_second_wait_still_sees_the_result() -> None:
    fut = SubmitFuture()
    with pytest.raises(TimeoutError):
        fut.result(timeout=0.01)
    t = later(0.05, fut.set_result, 7)
    assert fut.result(timeout=5) == 7  # the second wait goes through the Condition
    t.join()


def test_many_waiters_and_wait_and_as_completed_all_wake() -> None:
    futures = [SubmitFuture() for _ in range(4)]
    results: list[object] = []
    lock = threading.Lock()

    def block(f: SubmitFuture) -> None:
        value = f.result(timeout=5)
        with lock:
            results.append(value)

    waiters = [threading.Thread(target=block, args=(f,)) for f in futures for _ in range(3)]
    for w in waiters:
        w.start()
    time.sleep(0.05)
    timers = [later(0.01 * i, f.set_result, i) for i, f in enumerate(futures)]
    done, not_done = cf.wait(futures, timeout=5)
    assert len(done) == 4 and not not_done
    assert sorted(f.result() for f in cf.as_completed(futures, timeout=5)) == [0, 1, 2, 3]
    for w in waiters:
        w.join(5)
    for t in timers:
        t.join()
    assert sorted(results) == sorted([0, 1, 2, 3] * 3)


def test_done_callbacks_run_once_after_or_before_resolution() -> None:
    fut = SubmitFuture()
    seen: list[object] = []
    fut.add_done_callback(lambda f: seen.append(f.result()))
    fut.set_result(1)
    fut.add_done_callback(lambda f: seen.append(("late", f.result())))
    assert seen == [1, ("late", 1)]
    with pytest.raises(cf.InvalidStateError):
        fut.set_result(2)


def test_racing_resolution_against_parking_never_loses_a_wakeup() -> None:
    # Resolve at the moment the waiter parks, many times: no waiter may hang.
    for i in range(300):
        fut = SubmitFuture()
        t = threading.Thread(target=fut.set_result, args=(i,))
        t.start()
        assert fut.result(timeout=5) == i
        t.join()


# -- settle: the client's compiled resolution of a received buffer's responses -------------

from smppfast import SubmitSm, SubmitSmResp  # noqa: E402
from smppfast._futures import LatencyRing, new_futures, settle  # noqa: E402
from smppfast.events import ResponseReceived, RequestTimedOut  # noqa: E402


def _response(fut: SubmitFuture, status: int = 0) -> ResponseReceived:
    return ResponseReceived(fut.request, SubmitSmResp(message_id="m", command_status=status), fut, 1.0)


def test_settle_resolves_unwatched_and_parked_futures_and_leaves_the_rest_in_order() -> None:
    plain, parked, watched, failed = new_futures(SubmitFuture, [SubmitSm() for _ in range(4)], 0, 4)
    assert all(type(f) is SubmitFuture and f.request is not None for f in (plain, parked, watched))
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(parked.result(5)))
    waiter.start()
    assert _wait(lambda: parked._parked is not None)
    watched.add_done_callback(lambda f: got.append("callback"))
    timeout = RequestTimedOut(SubmitSm(), None)
    events = [_response(plain), timeout, _response(parked), _response(watched), _response(failed, 0x58)]
    ring = LatencyRing(4)
    assert settle(events, 1.25, ring) == 2
    # What is left is for the client's Python code, in the order it came.
    assert [type(e) for e in events] == [RequestTimedOut, ResponseReceived, ResponseReceived]
    assert events[1].token is watched and events[2].token is failed
    assert plain.done() and plain.result().message_id == "m"
    waiter.join(5)
    assert not waiter.is_alive() and got and got[0].message_id == "m"  # type: ignore[attr-defined]
    assert parked._parked is None
    assert not watched.done() and not failed.done()
    assert ring.samples() == [0.25, 0.25]


def test_latency_ring_keeps_the_latest_in_order() -> None:
    ring = LatencyRing(3)
    for v in (1.0, 2.0, 3.0, 4.0, 5.0):
        ring.add(v)
    assert len(ring) == 3 and ring.samples() == [3.0, 4.0, 5.0]
    ring.clear()
    assert ring.samples() == []


def _wait(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.001)
    return True


def test_state_change_and_waiter_notification_are_one_step() -> None:
    # concurrent.futures.wait holds each future's Condition while it reads the state and
    # installs its waiter. A resolver must not publish the state in between, or the waiter
    # counts the future as done twice and returns early. Force that interleaving: hold the
    # Condition as wait() would, and resolve from another thread.
    fut = SubmitFuture()
    with fut._condition:
        t = threading.Thread(target=fut.set_result, args=("ok",))
        t.start()
        t.join(0.2)
        assert t.is_alive() and fut._state == "RUNNING"  # it waits for the Condition
    t.join(5)
    assert not t.is_alive() and fut.result(0) == "ok"


def test_wait_all_completed_never_returns_while_one_is_pending() -> None:
    for _ in range(200):
        a, b = SubmitFuture(), SubmitFuture()
        _ = a._condition  # watched, as a future someone waits on is
        racer = threading.Thread(target=a.set_result, args=(1,))
        racer.start()
        done, pending = cf.wait([a, b], timeout=0.01, return_when=cf.ALL_COMPLETED)
        racer.join()
        assert b in pending and b not in done
