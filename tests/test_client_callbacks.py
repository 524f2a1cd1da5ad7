"""Callbacks never hold up the matching of responses (both drivers against the simulator).

``Client`` runs them on its callback thread, ``AsyncClient`` in a task of its own, each
behind a bounded inbox; what reads only reads and matches. These tests pin the three ways
that used to go wrong: a callback that submits into a full window, a slow callback during
heavy traffic, and a receipt flood larger than the inbox. Callbacks marked ``blocking``
reach the asyncio driver as coroutine functions (awaiting the blocking part in a worker
thread), the others as plain functions (see ``drivers.py``).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
from typing import Any

import pytest

from smppfast import DeliverSmResp, Status
from smppfast.simulator import Simulator

from .drivers import blocking, read_size
from .test_client import Tap, make_client, outcomes, sm, wait_until


@pytest.fixture
def sim():
    with Simulator() as s:
        yield s


def test_window_1_on_receipt_that_submits_completes(sim: Simulator, driver: str) -> None:
    # The receipt's callback submits a reply into a window the main thread keeps full: the
    # slot frees only when the reader matches a response, which it must be free to do.
    replies: list[cf.Future[Any]] = []
    holder: list[Any] = []

    @blocking
    def on_receipt(receipt: Any) -> None:
        replies.append(holder[0].submit(sm(99)))

    with make_client(sim.port, driver=driver, window=1, window_timeout=30.0, on_receipt=on_receipt) as client:
        holder.append(client)
        futures = [client.submit(sm(i, registered_delivery=1)) for i in range(50)]
        assert outcomes(futures) == {"ok": 50}
        assert wait_until(lambda: len(replies) == 50, 20.0), f"{len(replies)} of 50 replies submitted"
        assert outcomes(replies, 20.0) == {"ok": 50}
    assert sim.deliver_responses == 50


def test_slow_callback_does_not_stall_responses(sim: Simulator, driver: str) -> None:
    entered = threading.Event()
    release = threading.Event()

    @blocking
    def on_message(message: Any) -> None:
        entered.set()
        release.wait(30)

    with make_client(sim.port, driver=driver, window=100, on_message=on_message) as client:
        sim.send_mo("555", "100", "hold on")
        assert entered.wait(5)
        futures = client.submit_many([sm(i) for i in range(10_000)], timeout=20.0)
        assert outcomes(futures, 30.0) == {"ok": 10_000}
        assert not release.is_set()  # every response came while the callback still slept
        release.set()
        assert wait_until(lambda: sim.deliver_responses == 1)


def test_receipt_flood_larger_than_the_inbox_loses_nothing_and_stays_bounded(sim: Simulator, driver: str) -> None:
    bound = 20
    receipts: list[Any] = []
    most_waiting = [0]
    holder: list[Any] = []

    def on_receipt(receipt: Any) -> None:
        most_waiting[0] = max(most_waiting[0], holder[0].callbacks_waiting)
        receipts.append(receipt)

    n = 3000
    with make_client(sim.port, driver=driver, window=200, callback_queue=bound, on_receipt=on_receipt) as client:
        holder.append(client)
        futures = client.submit_many([sm(i, registered_delivery=1) for i in range(n)], timeout=20.0)
        ids = [f.result(20).message_id for f in futures]
        assert wait_until(lambda: len(receipts) == n, 30.0), f"{len(receipts)} of {n} receipts"
        assert sorted(r.message_id for r in receipts) == sorted(ids)
        assert client.stats.receipts == n
    assert sim.deliver_responses == n
    # Reading stops once the inbox is full, so it holds at most its bound plus what one read
    # carries (64 KiB for Client, 256 KiB for asyncio's transport); every receipt deliver_sm
    # here is over 100 octets. With no backpressure all 3000 could wait at once.
    assert 0 < most_waiting[0] <= bound + read_size(driver) // 100


def test_on_message_chooses_the_deliver_sm_resp_status(sim: Simulator, driver: str) -> None:
    def on_message(message: Any) -> int:
        return Status.ESME_RX_P_APPN if message.text == "no" else 0

    with Tap(sim.port) as tap, make_client(tap.port, driver=driver, on_message=on_message):
        sim.send_mo("555", "100", "no")
        sim.send_mo("555", "100", "yes")
        assert wait_until(lambda: len(tap.pdus("up", DeliverSmResp)) == 2)
        first, second = tap.pdus("up", DeliverSmResp)
        assert first.command_status == Status.ESME_RX_P_APPN
        assert second.command_status == Status.ESME_ROK


def test_malformed_receipt_is_reported_for_what_it_is(sim: Simulator, caplog: pytest.LogCaptureFixture, driver: str) -> None:
    called: list[Any] = []
    with Tap(sim.port) as tap, make_client(tap.port, driver=driver, on_receipt=called.append, on_message=called.append) as client:
        sim.send_mo("555", "100", b"not a receipt", esm_class=0x04)
        assert wait_until(lambda: len(tap.pdus("up", DeliverSmResp)) == 1)
        (resp,) = tap.pdus("up", DeliverSmResp)
        assert resp.command_status == Status.ESME_ROK
        assert called == []
        assert client.stats.receipts_malformed == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("malformed delivery receipt" in w for w in warnings), warnings
    assert not any("callback raised" in r.getMessage() for r in caplog.records)


def test_callbacks_pending_at_close_still_run(sim: Simulator, driver: str) -> None:
    seen: list[str] = []
    gate = threading.Event()

    @blocking
    def on_message(message: Any) -> None:
        gate.wait(5)
        seen.append(message.text)

    client = make_client(sim.port, driver=driver, on_message=on_message)
    client.connect()
    for i in range(5):
        sim.send_mo("555", "100", f"m{i}")
    assert wait_until(lambda: client.callbacks_waiting >= 4)
    gate.set()
    client.close()
    assert seen == [f"m{i}" for i in range(5)]
    # Each was answered before the unbind: the SMSC does not send them again.
    assert sim.deliver_responses == 5


def test_a_multipart_message_unfinished_at_close_reaches_on_incomplete(sim: Simulator, driver: str) -> None:
    from smppfast import split_text

    unfinished: list[Any] = []
    client = make_client(sim.port, driver=driver, on_incomplete=unfinished.append, on_message=lambda m: None)
    client.connect()
    first = split_text("z" * 400, reference=77)[0]
    sim.send_mo("555", "100", first.short_message, esm_class=first.esm_class)
    assert wait_until(lambda: sim.deliver_responses == 1)  # the part arrived and was answered
    client.close()
    (message,) = unfinished
    assert message.reason == "closed" and message.reference == 77 and message.received == (1,)
