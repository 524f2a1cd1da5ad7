"""``ref=``: a receipt reaches ``on_receipt`` carrying the sender's own reference, through each
driver and each store, across binds and across a process restart."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import smppfast
from smppfast import AsyncClient, Client, MemoryStore, SqliteStore, SubmitSm
from smppfast.receipt import DeliveryReceipt
from smppfast.simulator import Faults, Simulator

CREDS = dict(system_id="refs", password="pw")

from .helpers import wait_until




def sm(i: int, **fields: Any) -> SubmitSm:
    return SubmitSm(source_addr="refs", destination_addr=f"1555{i:07d}", short_message=b"m%d" % i,
                    registered_delivery=1, **fields)


def test_client_receipts_carry_the_ref_and_a_final_receipt_takes_the_entry_out() -> None:
    receipts: list[DeliveryReceipt] = []
    store = MemoryStore()
    with Simulator() as sim, Client("127.0.0.1", sim.port, store=store, on_receipt=receipts.append, **CREDS) as client:
        futures = [client.submit(sm(i), ref=f"order-{i}") for i in range(50)]
        plain = client.submit(sm(99))  # no ref: its receipt carries none
        ids = {f.result(10).message_id: f"order-{i}" for i, f in enumerate(futures)}
        plain_id = plain.result(10).message_id
        assert wait_until(lambda: len(receipts) == 51)
    by_id = {r.message_id: r.ref for r in receipts}
    assert by_id.pop(plain_id) is None
    assert by_id == ids
    # DELIVRD is final: no later receipt is expected, the store let the entries go.
    assert all(store.get(mid) is None for mid in ids)


def test_client_send_message_gives_every_part_the_messages_ref() -> None:
    receipts: list[DeliveryReceipt] = []
    with Simulator() as sim, Client("127.0.0.1", sim.port, on_receipt=receipts.append, **CREDS) as client:
        handle = client.send_message("15551234", "a long text " * 30, ref="campaign-9", registered_delivery=1)
        parts = handle.result(10)
        assert len(parts) == 3
        assert wait_until(lambda: len(receipts) == 3)
    assert sorted(r.message_id for r in receipts) == sorted(p.message_id for p in parts)
    assert {r.ref for r in receipts} == {"campaign-9"}


def test_a_refused_submit_leaves_nothing_in_the_store() -> None:
    store = MemoryStore()
    with Simulator(faults=Faults(status="ESME_RSUBMITFAIL")) as sim, \
            Client("127.0.0.1", sim.port, store=store, **CREDS) as client:
        with pytest.raises(smppfast.CommandStatusError):
            client.submit(sm(1), ref="x").result(10)
    assert len(store) == 0


def test_ref_must_be_a_string() -> None:
    with Simulator() as sim, Client("127.0.0.1", sim.port, **CREDS) as client:
        with pytest.raises(TypeError, match="ref must be a str"):
            client.submit(sm(1), ref=7)  # type: ignore[call-overload]


def test_async_client_refs_survive_a_cancelled_await_and_a_coroutine_callback() -> None:
    async def main() -> None:
        receipts: list[DeliveryReceipt] = []

        async def on_receipt(r: DeliveryReceipt) -> None:
            await asyncio.sleep(0)
            receipts.append(r)

        with Simulator(faults=Faults(delay=0.2)) as sim:
            async with AsyncClient("127.0.0.1", sim.port, on_receipt=on_receipt, **CREDS) as client:
                task = asyncio.ensure_future(client.submit(sm(1), ref="cancelled-but-tracked"))
                await asyncio.sleep(0.05)
                task.cancel()  # the caller gave up; the request is still in flight
                ok = await client.submit(sm(2), ref="awaited")
                parts = await client.send_message("15551234", "x" * 200, ref="multi", registered_delivery=1)
                deadline = time.monotonic() + 10
                while len(receipts) < 2 + len(parts) and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
        refs = sorted(r.ref or "" for r in receipts)
        assert refs == sorted(["cancelled-but-tracked", "awaited"] + ["multi"] * len(parts))
        assert ok.message_id in {r.message_id for r in receipts}

    asyncio.run(main())


_SUBMITTER = textwrap.dedent("""
    import json, sys
    from smppfast import Client, SqliteStore, RedisStore, SubmitSm
    kind, where, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SqliteStore(where) if kind == "sqlite" else RedisStore(where)
    ids = {}
    with Client("127.0.0.1", port, system_id="refs", password="pw", bind_type="transmitter", store=store) as c:
        futures = [c.submit(SubmitSm(destination_addr="1555%07d" % i, short_message=b"x", registered_delivery=1),
                            ref="proc-a-%d" % i) for i in range(20)]
        for i, f in enumerate(futures):
            ids[f.result(10).message_id] = "proc-a-%d" % i
    store.close()
    print(json.dumps(ids))
""")


def _submit_from_another_process(kind: str, where: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(smppfast.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    done = subprocess.run([sys.executable, "-c", _SUBMITTER, kind, where, str(port)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    ids: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return ids


def _receipts_after(kind: str, where: str, store_factory: Callable[[], Any]) -> None:
    """Process A (a child) submits through a transmitter bind and exits; this process, bound as a
    receiver of the same account with its own store object, gets the receipts and their refs."""
    receipts: list[DeliveryReceipt] = []
    arrived: list[float] = []
    lock = threading.Lock()

    def on_receipt(r: DeliveryReceipt) -> None:
        with lock:
            arrived.append(time.monotonic())
            receipts.append(r)

    with Simulator(receipt_delay=1.5) as sim:
        store = store_factory()
        with Client("127.0.0.1", sim.port, bind_type="receiver", store=store, on_receipt=on_receipt, **CREDS):
            ids = _submit_from_another_process(kind, where, sim.port)
            exited = time.monotonic()
            assert wait_until(lambda: len(receipts) == 20, 20)
        store.close()
    assert {r.message_id: r.ref for r in receipts} == ids
    assert sim.counters["receipts_sent"] == 20
    assert min(arrived) > exited  # every receipt came after the submitting process had exited


def test_sqlite_store_matches_receipts_after_the_submitting_process_is_gone(tmp_path: Path) -> None:
    path = str(tmp_path / "refs.sqlite")
    _receipts_after("sqlite", path, lambda: SqliteStore(path))


def test_redis_store_shared_by_two_processes_matches_a_receipt_that_reaches_the_other(redis_server: Any) -> None:
    url = redis_server.url
    _receipts_after("redis", url, lambda: smppfast.RedisStore(url))


class _BrokenStore:
    """A store whose database is gone: every read fails (as SqliteStore/RedisStore report it)."""

    blocking = False

    def put(self, message_ids: Any, ref: str, submitted_at: float, parts: int) -> None:
        pass

    def get(self, message_id: str, *, exact: bool = False) -> Any:
        raise smppfast.StoreError("the database is gone")

    def discard(self, message_id: str) -> None:
        raise smppfast.StoreError("the database is gone")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_failing_store_costs_a_receipt_its_ref_never_the_receipt(caplog: pytest.LogCaptureFixture) -> None:
    receipts: list[DeliveryReceipt] = []
    with Simulator() as sim, Client("127.0.0.1", sim.port, store=_BrokenStore(), on_receipt=receipts.append,
                                    **CREDS) as client:
        ids = [client.submit(sm(i), ref=f"r{i}").result(10).message_id for i in range(5)]
        assert wait_until(lambda: len(receipts) == 5)
    assert sorted(r.message_id for r in receipts) == sorted(ids)
    assert all(r.ref is None for r in receipts)
    warnings = [r for r in caplog.records if r.name == "smppfast.refs"]
    assert len(warnings) == 1 and "without its ref" in warnings[0].getMessage()  # rate-limited: once


def test_an_exact_id_that_is_late_beats_a_cross_base_reading_of_another() -> None:
    # "32" read as hex is 50: with "50" already stored, a receipt for "32" that overtakes its own
    # response must wait for it rather than take order 50's ref.
    from smppfast._refs import RefKeeper

    store = MemoryStore()
    keeper = RefKeeper(store)
    store.put(("50",), "ref-of-50", time.time(), 1)
    token = object()
    keeper.add(token, "ref-of-32", 1)

    class Settled:
        def __init__(self) -> None:
            self.token = token
            self.response = smppfast.SubmitSmResp(message_id="32")

    threading.Timer(0.2, lambda: keeper.settled([Settled()])).start()
    t0 = time.monotonic()
    receipt = keeper.lookup(DeliveryReceipt(message_id="32", stat="ENROUTE"))
    assert receipt.ref == "ref-of-32"
    assert time.monotonic() - t0 >= 0.15
    # With nothing pending, the cross-base reading still finds an id reported in the other base.
    assert keeper.lookup(DeliveryReceipt(message_id="80")).ref == "ref-of-50"  # 0x50 == 80


def test_a_store_closed_under_a_running_client_loses_refs_not_responses(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    receipts: list[DeliveryReceipt] = []
    with Simulator() as sim, Client("127.0.0.1", sim.port, store=store, on_receipt=receipts.append, **CREDS) as client:
        store.close()  # put() now raises StoreError on the reader thread
        responses = [client.submit(sm(i), ref=f"r{i}").result(10) for i in range(5)]
        assert all(r.message_id for r in responses)
        assert wait_until(lambda: len(receipts) == 5)
        assert client.submit(sm(9)).result(10).message_id  # the link is still fine
    assert all(r.ref is None for r in receipts)
    assert any("not kept for its receipt" in r.getMessage() for r in caplog.records)
