"""Interop: both drivers (``Client``, and ``AsyncClient`` through the face of ``drivers.py``)
against an SMSC someone else wrote, the ``smpp34`` package's ``Server``.

smpp34 (PyPI ``smpp34==1.5.0``, a Rust core with an asyncio API) ships ``smpp34.Server``:
``await Server(host, port).start()``, then ``await server.next()`` yields an ``Esme`` for
each bind, a ``SubmitSmEvent`` for each submit_sm (the application must ``accept(message_id)``
or ``reject(status)``) and ``Unbound`` when a session ends; ``Esme.deliver_sm(...)`` sends
MO / receipts. The test runs it on its own asyncio loop in a thread, on loopback.

Its quirks, each one met by a test below, and how the client copes:

* it accepts any system_id and password (no credentials at all) - nothing to cope with,
  but a test binds with a nonsense password so nobody mistakes this for an auth test;
* it answers only some PDUs itself: enquire_link and unbind get real answers; query_sm,
  cancel_sm and data_sm get error statuses (ESME_RQUERYFAIL, ESME_RCANCELFAIL,
  ESME_RSYSERR); a second bind or an unknown command gets generic_nack ESME_RINVCMDID;
  generic_nack is ignored. The client turns every non-zero status into
  ``CommandStatusError`` on that request's future and stays bound;
* on our unbind it often closes the socket without sending unbind_resp (measured: about
  7 times in 10): the client takes the peer's close during UNBINDING as a clean unbind,
  so ``close()`` neither waits for ``unbind_timeout`` nor logs an error;
* when it unbinds us, it answers our unbind_resp with generic_nack ESME_RINVCMDID: the
  client's session is already closed by then and ignores it;
* it never sends enquire_link itself, so the client's own keep-alive is the only one;
* it hands the submits of one link to its application concurrently, not always in wire
  order (the parts of a long message leave us in order and arrive shuffled): nothing for
  the client to do, the UDH numbers the parts.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any, Awaitable, Callable, Optional

import pytest

smpp34 = pytest.importorskip("smpp34")

import smppfast  # noqa: E402
from smppfast import (  # noqa: E402
    CancelSm,
    CommandStatusError,
    DataSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    QuerySm,
    Status,
    Unbind,
    UnbindResp,
)

from .test_aio import run  # noqa: E402
from .test_client import PASSWORD, Tap, make_client, no_leaked_client_threads, outcomes, sm, wait_until  # noqa: E402,F401


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Smpp34Smsc:
    """smpp34's Server on its own event loop thread, with a small SMSC application."""

    def __init__(self) -> None:
        self.esmes: list[Any] = []
        self.submits: list[Any] = []
        self.unbound: list[Any] = []
        # destination_addr -> statuses to answer with, one per submit, before accepting.
        self.refuse: dict[str, list[int]] = {}
        self._ids = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: Optional[BaseException] = None
        self._task: Optional[asyncio.Task] = None
        self.port = 0
        self._thread = threading.Thread(target=self._main, name="smpp34-server", daemon=True)

    def start(self) -> "Smpp34Smsc":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("smpp34 server did not start")
        if self._failure is not None:
            raise self._failure
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)
        assert not self._thread.is_alive()

    def run(self, fn: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> Any:
        """Await ``fn()`` on the server's loop (smpp34 makes its futures on the running loop)."""

        async def call() -> Any:
            return await fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._task = self._loop.create_task(self._serve())
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # reported by start()
            self._failure = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        for _ in range(5):  # the free port may be taken between finding and binding it
            self.port = _free_port()
            server = smpp34.Server("127.0.0.1", self.port, system_id="smpp34")
            try:
                await server.start()
                break
            except Exception:
                continue
        else:
            raise RuntimeError("no port for the smpp34 server")
        self._ready.set()
        try:
            while True:
                event = await server.next()
                if isinstance(event, smpp34.SubmitSmEvent):
                    self.submits.append(event)
                    pending = self.refuse.get(event.destination_addr)
                    if pending:
                        event.reject(pending.pop(0))
                    else:
                        self._ids += 1
                        event.accept("s34-%d" % self._ids)
                elif isinstance(event, smpp34.Esme):
                    self.esmes.append(event)
                elif isinstance(event, smpp34.Unbound):
                    self.unbound.append(event)
        finally:
            await server.stop()


@pytest.fixture
def smsc():
    server = Smpp34Smsc().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("bind_type, can_receive", [("transmitter", False), ("receiver", True), ("transceiver", True)])
def test_bind_each_type_with_any_password(smsc: Smpp34Smsc, bind_type: str, can_receive: bool, driver: str) -> None:
    # Quirk: smpp34's server has no credentials; any password binds.
    with make_client(smsc.port, driver=driver, system_id="interop", password="anything", bind_type=bind_type) as client:
        assert client.bound
        assert wait_until(lambda: len(smsc.esmes) == 1)
        (esme,) = smsc.esmes
        assert esme.system_id == "interop"
        assert esme.can_receive is can_receive
    assert wait_until(lambda: len(smsc.unbound) == 1)


def test_submit_responses_matched(smsc: Smpp34Smsc, driver: str) -> None:
    with make_client(smsc.port, driver=driver, window=10) as client:
        futures = client.submit_many([sm(i) for i in range(200)])
        assert outcomes(futures) == {"ok": 200}
        ids = [f.result().message_id for f in futures]
        assert len(set(ids)) == 200
        # Each response belongs to its own request: the server numbered the ids in the
        # order it saw submits, so id N's request carried the Nth short_message it received.
        received = {"s34-%d" % n: ev.short_message for n, ev in enumerate(smsc.submits, start=1)}
        assert all(received[f.result().message_id] == f.request.short_message for f in futures)
        assert {ev.destination_addr for ev in smsc.submits} == {f.request.destination_addr for f in futures}
        assert client.stats.responses[0] == 200


def test_submit_refused_by_the_smsc_application(smsc: Smpp34Smsc, driver: str) -> None:
    smsc.refuse["447000000001"] = [smpp34.ESME_RINVDSTADR]
    # Throttled twice, then accepted: the client's retry goes through smpp34 too.
    smsc.refuse["447000000002"] = [smpp34.ESME_RTHROTTLED, smpp34.ESME_RTHROTTLED]
    with make_client(smsc.port, driver=driver, throttle_backoff=0.01) as client:
        bad = client.submit(smppfast.SubmitSm(destination_addr="447000000001", short_message=b"x"))
        with pytest.raises(CommandStatusError) as info:
            bad.result(5)
        assert info.value.status == Status.ESME_RINVDSTADR
        slow = client.submit(smppfast.SubmitSm(destination_addr="447000000002", short_message=b"y"))
        assert slow.result(5).message_id.startswith("s34-")
        assert client.stats.throttled == 2
        assert client.bound


def test_send_message_multipart_ucs2(smsc: Smpp34Smsc, driver: str) -> None:
    text = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 4
    with Tap(smsc.port) as tap, make_client(tap.port, driver=driver) as client:
        responses = client.send_message("447000000003", text, source_addr="100").result(10)
        n = smppfast.count_parts(text)
        assert len(responses) == n > 1
        assert all(r.command_status == 0 and r.message_id.startswith("s34-") for r in responses)
        # The parts leave in order...
        assert [p.short_message[5] for p in tap.pdus("up", smppfast.SubmitSm)] == list(range(1, n + 1))
    # ...but smpp34 handles the submits of one link concurrently and may hand them to its
    # application in another order (quirk): the UDH numbers put them back together.
    parts = sorted(smsc.submits, key=lambda p: p.short_message[5])
    assert len(parts) == n
    assert all(p.data_coding == 8 and p.esm_class & 0x40 for p in parts)
    assert smppfast.decode_text(b"".join(p.short_message[6:] for p in parts), 8) == text


def test_receive_deliver_sm_and_receipt(smsc: Smpp34Smsc, caplog: pytest.LogCaptureFixture, driver: str) -> None:
    messages: list[Any] = []
    receipts: list[Any] = []

    def on_message(message: Any) -> None:
        messages.append(message)
        if message.text == "boom":
            raise RuntimeError("callback bug")

    with make_client(smsc.port, driver=driver, on_message=on_message, on_receipt=receipts.append) as client:
        assert wait_until(lambda: len(smsc.esmes) == 1)
        esme = smsc.esmes[0]
        resp = smsc.run(lambda: esme.deliver_sm("100", b"Hello from smpp34", source_addr="447000000004"))
        assert resp.is_success
        assert [m.text for m in messages] == ["Hello from smpp34"]
        assert messages[0].source_addr == "447000000004" and messages[0].destination_addr == "100"
        receipt_text = b"id:abc123 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:hi"
        resp = smsc.run(lambda: esme.deliver_sm("100", receipt_text, source_addr="447000000004", esm_class=0x04))
        assert resp.is_success
        assert len(receipts) == 1 and receipts[0].message_id == "abc123" and receipts[0].stat == "DELIVRD"
        # A callback that raises: smpp34 sees our deliver_sm_resp carry ESME_RX_T_APPN.
        resp = smsc.run(lambda: esme.deliver_sm("100", b"boom", source_addr="447000000004"))
        assert resp.command_status == Status.ESME_RX_T_APPN
        assert client.submit(sm()).result(5).message_id  # the reader lives on
        assert (client.stats.received, client.stats.receipts) == (2, 1)
    assert any("callback raised" in r.getMessage() for r in caplog.records)


def test_enquire_link(smsc: Smpp34Smsc, driver: str) -> None:
    # smpp34 never sends enquire_link itself; ours are answered.
    with Tap(smsc.port) as tap, make_client(tap.port, driver=driver, enquire_link_interval=0.1, response_timeout=0.5) as client:
        time.sleep(0.5)
        assert client.bound
        asked = [p.sequence_number for p in tap.pdus("up", EnquireLink)]
        answered = [p.sequence_number for p in tap.pdus("down", EnquireLinkResp)]
        assert len(asked) >= 3
        assert set(asked[:-1]) <= set(answered)
        assert not tap.pdus("down", EnquireLink)
        assert client.submit(sm()).result(5).message_id


def test_requests_the_server_answers_itself_with_errors(smsc: Smpp34Smsc, driver: str) -> None:
    # Quirk: no application hook for these; the server answers each with an error status.
    with make_client(smsc.port, driver=driver) as client:
        expected = [
            (QuerySm(message_id="s34-1", source_addr="100"), Status.ESME_RQUERYFAIL),
            (CancelSm(message_id="s34-1", destination_addr="447000000005"), Status.ESME_RCANCELFAIL),
            (DataSm(destination_addr="447000000005"), Status.ESME_RSYSERR),
        ]
        futures = [client.submit(pdu) for pdu, _ in expected]
        assert outcomes(futures) == {"CommandStatusError": 3}
        assert [f.exception().status for f in futures] == [status for _, status in expected]
        assert client.bound
        assert client.submit(sm()).result(5).message_id


def test_unbind_with_or_without_unbind_resp(smsc: Smpp34Smsc, caplog: pytest.LogCaptureFixture, driver: str) -> None:
    # Quirk: on our unbind smpp34 often just closes the socket. Either way close() is quick
    # (it does not sit out unbind_timeout) and nothing is logged as a problem.
    cycles = 8
    with Tap(smsc.port) as tap:
        for i in range(cycles):
            client = make_client(tap.port, driver=driver, unbind_timeout=2.0)
            client.connect()
            assert client.submit(sm(i)).result(5).message_id
            t0 = time.monotonic()
            client.close()
            assert time.monotonic() - t0 < 1.0
            assert not client.bound
        assert len(tap.pdus("up", Unbind)) == cycles
        assert 0 <= len(tap.pdus("down", UnbindResp)) <= cycles
    assert wait_until(lambda: len(smsc.unbound) == cycles)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("smppfast")]


def test_unbind_from_the_server_then_reconnect(smsc: Smpp34Smsc, driver: str) -> None:
    # The server unbinds us: we answer unbind_resp (it replies generic_nack, ignored) and,
    # with reconnect on, bind again.
    with Tap(smsc.port) as tap, make_client(tap.port, driver=driver, reconnect=True) as client:
        assert wait_until(lambda: len(smsc.esmes) == 1)
        smsc.run(lambda: smsc.esmes[0].unbind())
        assert wait_until(lambda: client.stats.reconnects == 1, 10)
        assert tap.pdus("down", Unbind) and tap.pdus("up", UnbindResp)
        assert client.submit(sm(), timeout=5).result(5).message_id
        assert len(smsc.esmes) == 2
    assert not [p for p in tap.pdus("up", DeliverSmResp)]


# -- AsyncClient's own API against the same server -------------------------------------------


def test_async_client_binds_submits_receives_and_unbinds(smsc: Smpp34Smsc) -> None:
    from smppfast import AsyncClient

    messages: list[Any] = []

    async def on_message(message: Any) -> None:  # a coroutine callback
        messages.append(message.text)

    async def main() -> list[str]:
        async with AsyncClient("127.0.0.1", smsc.port, system_id="aio", password="x", window=10,
                               enquire_link_interval=None, on_message=on_message) as client:
            futures = await client.submit_many([sm(i) for i in range(100)])
            responses = await asyncio.gather(*futures)
            smsc.refuse["4479000000%02d" % 7] = [Status.ESME_RINVDSTADR]
            with pytest.raises(smppfast.CommandStatusError):
                await client.submit(sm(7))
            await asyncio.to_thread(wait_until, lambda: len(smsc.esmes) == 1)
            esme = smsc.esmes[0]
            resp = await asyncio.to_thread(
                smsc.run, lambda: esme.deliver_sm("100", b"Hello from smpp34", source_addr="447000000004"))
            assert resp.is_success
            return [r.message_id for r in responses]

    ids = run(main())  # debug mode; nothing may be left behind
    assert len(set(ids)) == 100
    assert messages == ["Hello from smpp34"]
    assert wait_until(lambda: len(smsc.unbound) == 1)
