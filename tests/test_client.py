"""The client against the simulator over loopback (and through TLS).

Every behaviour test that does not depend on threads runs against both drivers, through the
``driver`` fixture (conftest.py): "threads" is ``Client`` itself, "asyncio" is ``AsyncClient``
behind the synchronous face of ``drivers.py``. The tests left on ``Client`` alone say why.

Fault tests count outcomes: every submit ends exactly once, in its response or in an
error the caller sees (raised by ``submit`` itself or set on its future), and the number
of outcomes equals the number of submits.

``Tap`` is a one-thread TCP proxy between the client and an SMSC: it records every PDU in
both directions (for what the simulator does not count, such as enquire_link or the
status of a deliver_sm_resp) and can terminate TLS in front of a plain-TCP SMSC, because
the simulator has no ``ssl_context`` of its own.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import gc
import logging
import selectors
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Optional

import pytest

import smppfast
from smppfast import (
    BindError,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    Client,
    CommandStatusError,
    ConnectionClosedError,
    Decoder,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    PduError,
    RateLimiter,
    SmppTimeoutError,
    Status,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    WindowFull,
    split_text,
)
from smppfast.simulator import Faults, Simulator

from . import drivers
from .drivers import blocking
from .helpers import wait_until

CERTS = Path(__file__).parent / "certs"
PASSWORD = "s3cr3tPw"  # SMPP 3.4 allows 8 characters

# -- helpers ------------------------------------------------------------------------


def make_client(port: int, driver: str = "threads", **kwargs: Any) -> Any:
    """A ``Client`` (``driver="threads"``) or the test face over an ``AsyncClient``
    (``"asyncio"``, see ``drivers.py``) on 127.0.0.1:``port``."""
    # Test defaults: short timers so a failure shows in seconds, not the library's 30 s.
    opts: dict[str, Any] = dict(
        system_id="test",
        password=PASSWORD,
        response_timeout=5.0,
        enquire_link_interval=None,
        window_timeout=5.0,
        close_timeout=5.0,
        unbind_timeout=1.0,
        bind_timeout=3.0,
    )
    opts.update(kwargs)
    return drivers.make_client(driver, "127.0.0.1", port, **opts)


def sm(i: int = 0, **fields: Any) -> SubmitSm:
    return SubmitSm(source_addr="100", destination_addr="4479000000%02d" % (i % 100), short_message=b"m%06d" % i, **fields)


def outcomes(futures: Iterable[cf.Future], timeout: float = 10.0) -> collections.Counter[str]:
    """Wait for every future; count how each ended (``ok`` or the exception's class name)."""
    futures = list(futures)
    done, not_done = cf.wait(futures, timeout)
    assert not not_done, f"{len(not_done)} of {len(futures)} submits never ended"
    counts: collections.Counter[str] = collections.Counter()
    for f in futures:
        exc = f.exception()
        counts["ok" if exc is None else type(exc).__name__] += 1
    assert sum(counts.values()) == len(futures)
    return counts


def submit_counting(client: Client, pdus: Iterable[SubmitSm], **kw: Any) -> tuple[list[cf.Future], collections.Counter[str]]:
    """Submit each PDU; an error raised by ``submit`` itself counts as that submit's outcome."""
    futures: list[cf.Future] = []
    raised: collections.Counter[str] = collections.Counter()
    for pdu in pdus:
        try:
            futures.append(client.submit(pdu, **kw))
        except smppfast.SmppError as exc:
            raised[type(exc).__name__] += 1
    return futures, raised


def smppfast_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("smppfast-") and not t.name.startswith("smppfast-sim")]


@pytest.fixture
def sim():
    with Simulator() as s:
        yield s


@pytest.fixture(autouse=True)
def no_leaked_client_threads():
    before = set(smppfast_threads())
    yield
    assert wait_until(lambda: not (set(smppfast_threads()) - before), 6.0), [t.name for t in smppfast_threads()]


# -- a recording (and optionally TLS-terminating) proxy ---------------------------------


class _Link:
    __slots__ = ("down", "up", "tls", "incoming", "outgoing", "handshaken", "decoders", "down_eof", "up_eof")

    def __init__(self, down: socket.socket, up: socket.socket, context: Optional[ssl.SSLContext]) -> None:
        self.down = down  # the client's side
        self.up = up  # the SMSC's side
        self.tls = None
        self.incoming = self.outgoing = None
        if context is not None:
            self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.handshaken = context is None
        self.decoders = {"up": Decoder(), "down": Decoder()}
        self.down_eof = self.up_eof = False


class Tap:
    """Proxy 127.0.0.1:``port`` -> 127.0.0.1:``upstream_port``; records ``(direction, pdu)``.

    ``direction`` is "up" (ESME -> SMSC) or "down" (SMSC -> ESME). With ``tls`` (a server
    SSLContext) the client side speaks TLS and the SMSC side plain TCP. One thread, a
    selector and memory BIOs: no SSL object is ever touched by two threads.
    """

    def __init__(self, upstream_port: int, *, tls: Optional[ssl.SSLContext] = None) -> None:
        self.upstream_port = upstream_port
        self.context = tls
        self.records: list[tuple[str, Any]] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, "accept")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "stop")
        self._links: list[_Link] = []
        self._thread = threading.Thread(target=self._run, name="test-tap", daemon=True)
        self._thread.start()

    def __enter__(self) -> "Tap":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._wake_w.send(b"x")
        self._thread.join(5)
        assert not self._thread.is_alive()
        for link in self._links:
            link.down.close()
            link.up.close()
        self._sel.close()
        for s in (self._listener, self._wake_r, self._wake_w):
            s.close()

    def pdus(self, direction: Optional[str] = None, cls: Optional[type] = None) -> list[Any]:
        with self._lock:
            return [p for d, p in self.records if (direction is None or d == direction) and (cls is None or type(p) is cls)]

    # the proxy thread

    def _record(self, link: _Link, direction: str, data: bytes) -> None:
        try:
            pdus = link.decoders[direction].feed(data)
        except PduError:
            pdus = []
        with self._lock:
            self.records.extend((direction, p) for p in pdus)

    def _run(self) -> None:
        while True:
            for key, _ in self._sel.select():
                if key.data == "stop":
                    return
                if key.data == "accept":
                    self._accept()
                    continue
                link, side = key.data
                try:
                    if side == "down":
                        self._from_client(link)
                    else:
                        self._from_smsc(link)
                except (OSError, ssl.SSLError):
                    self._drop(link)

    def _accept(self) -> None:
        down, _ = self._listener.accept()
        up = socket.create_connection(("127.0.0.1", self.upstream_port))
        link = _Link(down, up, self.context)
        self._links.append(link)
        self.connections += 1
        self._sel.register(down, selectors.EVENT_READ, (link, "down"))
        self._sel.register(up, selectors.EVENT_READ, (link, "up"))

    def _flush_tls(self, link: _Link) -> None:
        assert link.outgoing is not None
        data = link.outgoing.read()
        if data:
            link.down.sendall(data)

    def _from_client(self, link: _Link) -> None:
        data = link.down.recv(65536)
        if link.tls is None:
            plain, eof = data, not data
        else:
            assert link.incoming is not None
            if data:
                link.incoming.write(data)
            else:
                link.incoming.write_eof()
            chunks, eof = [], not data
            if not link.handshaken:
                try:
                    link.tls.do_handshake()
                    link.handshaken = True
                except ssl.SSLWantReadError:
                    pass
                self._flush_tls(link)
            while link.handshaken:
                try:
                    chunk = link.tls.read(65536)
                except ssl.SSLWantReadError:
                    break
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    eof = True
                    break
                if not chunk:
                    eof = True
                    break
                chunks.append(chunk)
            self._flush_tls(link)
            plain = b"".join(chunks)
        if plain:
            self._record(link, "up", plain)
            link.up.sendall(plain)
        if eof:
            self._sel.unregister(link.down)
            link.down_eof = True
            try:
                link.up.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self._maybe_done(link)

    def _from_smsc(self, link: _Link) -> None:
        data = link.up.recv(65536)
        if data:
            self._record(link, "down", data)
            if link.tls is None:
                link.down.sendall(data)
            else:
                link.tls.write(data)
                self._flush_tls(link)
            return
        self._sel.unregister(link.up)
        link.up_eof = True
        if link.tls is not None:
            try:
                link.tls.unwrap()  # queue close_notify
            except ssl.SSLError:
                pass
            self._flush_tls(link)
        try:
            link.down.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._maybe_done(link)

    def _maybe_done(self, link: _Link) -> None:
        if link.down_eof and link.up_eof:
            self._drop(link)

    def _drop(self, link: _Link) -> None:
        for s in (link.down, link.up):
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(CERTS / "localhost.crt", CERTS / "localhost.key")
    client = ssl.create_default_context(cafile=str(CERTS / "localhost.crt"))
    return server, client


# -- binding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bind_type, pdu_class",
    [("transmitter", BindTransmitter), ("receiver", BindReceiver), ("transceiver", BindTransceiver)],
)
def test_bind_each_type(sim: Simulator, bind_type: str, pdu_class: type, driver: str) -> None:
    got: list[Any] = []
    with make_client(sim.port, driver=driver, bind_type=bind_type, system_type="demo", on_message=got.append) as client:
        assert client.bound
        assert sim.wait_for(lambda: sim.bound == 1)
        (bind,) = [p for p in sim.received if type(p) is pdu_class]
        assert (bind.system_id, bind.password, bind.system_type, bind.interface_version) == ("test", PASSWORD, "demo", 0x34)
        if bind_type == "receiver":
            # A receiver may not submit: refused locally, before anything leaves.
            with pytest.raises(smppfast.SmppError):
                client.submit(sm()).result(5)
            sim.send_mo("555", "100", "to a receiver")
            assert wait_until(lambda: len(got) == 1)
            assert got[0].text == "to a receiver"
        else:
            response = client.submit(sm()).result(5)
            assert type(response) is SubmitSmResp and response.message_id
    assert not client.bound
    assert sim.wait_for(lambda: sim.connections == 0)


@pytest.mark.parametrize(
    "sim_kwargs, system_id, password, status",
    [
        ({"credentials": {"test": "right"}}, "test", "wrong", Status.ESME_RINVPASWD),
        ({"credentials": {"other": PASSWORD}}, "test", PASSWORD, Status.ESME_RINVSYSID),
        ({"faults": Faults(refuse_binds=Status.ESME_RALYBND)}, "test", PASSWORD, Status.ESME_RALYBND),
    ],
)
def test_bind_refused_raises_bind_error_with_status(sim_kwargs: dict, system_id: str, password: str, status: int, driver: str) -> None:
    with Simulator(**sim_kwargs) as sim:
        client = make_client(sim.port, driver=driver, system_id=system_id, password=password)
        with pytest.raises(BindError) as info:
            client.connect()
        assert info.value.status == status
        assert isinstance(info.value, CommandStatusError)
        assert info.value.response.command_status == status
        assert not client.bound
        assert sim.binds_refused == 1
        # Nothing stays connected, and submitting says so instead of hanging.
        assert sim.wait_for(lambda: sim.connections == 0)
        with pytest.raises(ConnectionClosedError):
            client.submit(sm())
        client.close()


def test_invalid_bind_field_raises_and_leaves_nothing_open(sim: Simulator, driver: str) -> None:
    # SMPP 3.4 passwords have at most 8 characters: the bind cannot be encoded. connect()
    # raises at once and closes its socket (a leak would show as a ResourceWarning, an error here).
    client = make_client(sim.port, driver=driver, password="123456789")
    with pytest.raises(PduError, match="password"):
        client.connect()
    assert not client.bound
    assert sim.wait_for(lambda: sim.connections == 0)
    assert sim.binds == 0
    del client
    gc.collect()


def test_right_credentials_bind(sim: Simulator, driver: str) -> None:
    sim.credentials = {"test": PASSWORD}
    with make_client(sim.port, driver=driver) as client:
        assert client.submit(sm()).result(5).message_id


# -- throughput and matching ----------------------------------------------------------


# Threads only: eight OS threads submitting at once is Client's thread-safety promise;
# AsyncClient is used from one loop (its many-tasks case is test_aio's).
def test_10000_submits_from_8_threads_all_matched(sim: Simulator) -> None:
    n_threads, per_thread = 8, 1250
    sim.received = collections.deque(maxlen=None)
    with make_client(sim.port, window=100) as client:
        results: list[list[cf.Future]] = [[] for _ in range(n_threads)]
        start = threading.Barrier(n_threads)

        def producer(k: int) -> None:
            start.wait()
            for i in range(per_thread):
                results[k].append(client.submit(sm(k * per_thread + i)))

        threads = [threading.Thread(target=producer, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        futures = [f for batch in results for f in batch]
        assert len(futures) == n_threads * per_thread
        assert outcomes(futures, 30) == {"ok": 10_000}
        # Each future got the response to its own request: the SMSC numbers message ids
        # in the order it received submits, so map each id back to the text it received.
        by_id = {}
        submits = [p for p in sim.received if type(p) is SubmitSm]
        assert len(submits) == 10_000
        for n, pdu in enumerate(submits, start=1):
            by_id["%x" % n] = pdu.short_message
        ids = set()
        for f in futures:
            resp = f.result()
            assert resp.sequence_number == f.request.sequence_number
            assert by_id[resp.message_id] == f.request.short_message
            ids.add(resp.message_id)
        assert len(ids) == 10_000
        assert client.stats.submitted == 10_000
        assert client.stats.responses[0] == 10_000
        assert client.in_flight == 0
        p50, p99 = client.stats.latency_percentiles(0.5, 0.99)
        assert 0 <= p50 <= p99
    assert sim.submits == 10_000


# Threads only: concurrent.futures.wait / as_completed on the futures Client returns is
# Client's contract; AsyncClient returns asyncio futures (awaited, gathered).
def test_submit_many_and_futures_work_with_wait_and_as_completed(sim: Simulator) -> None:
    with make_client(sim.port, window=50) as client:
        futures = client.submit_many([sm(i) for i in range(200)])
        assert len(futures) == 200
        seen = set()
        for f in cf.as_completed(futures, timeout=10):
            seen.add(id(f))
            assert f.result().message_id
        assert len(seen) == 200
        sim.set_faults(delay=0.3)
        slow = [client.submit(sm(i)) for i in range(5)]
        done, not_done = cf.wait(slow, timeout=0.05, return_when=cf.FIRST_COMPLETED)
        assert not done and len(not_done) == 5  # nothing answered yet: wait really waited
        done, not_done = cf.wait(slow, timeout=5, return_when=cf.FIRST_COMPLETED)
        assert done
        done, not_done = cf.wait(slow, timeout=5, return_when=cf.ALL_COMPLETED)
        assert len(done) == 5 and not not_done
        # A done callback runs once, with the future.
        called: list[Any] = []
        f = client.submit(sm())
        f.add_done_callback(called.append)
        f.result(5)
        assert wait_until(lambda: called == [f])


# -- window and throttling -----------------------------------------------------------


def test_window_full_raises_after_window_timeout(sim: Simulator, driver: str) -> None:
    sim.set_faults(delay=0.5)
    with make_client(sim.port, driver=driver, window=2, window_timeout=0.1) as client:
        futures, raised = submit_counting(client, [sm(1), sm(2)])
        t0 = time.monotonic()
        with pytest.raises(WindowFull):
            client.submit(sm(3))
        assert 0.08 <= time.monotonic() - t0 < 0.45
        # submit's own timeout wins over window_timeout
        t0 = time.monotonic()
        with pytest.raises(WindowFull):
            client.submit(sm(4), timeout=0.02)
        assert time.monotonic() - t0 < 0.3
        counts = outcomes(futures) + raised + collections.Counter({"WindowFull": 2})
        assert counts == {"ok": 2, "WindowFull": 2}
        assert sum(counts.values()) == 4
        # Slots free again once responses arrive.
        sim.clear_faults()
        assert client.submit(sm(5), timeout=2).result(5).message_id


def _accepted_submits(sim: Simulator, throttle_every: int) -> list[SubmitSm]:
    """The submits the simulator accepted (it throttles every Nth it receives)."""
    submits = [p for p in sim.received if type(p) is SubmitSm]
    return [p for n, p in enumerate(submits, start=1) if n % throttle_every]


def test_throttled_submits_are_retried_in_order(sim: Simulator, driver: str) -> None:
    sim.set_faults(throttle_every=3)
    with make_client(sim.port, driver=driver, window=1, throttle_backoff=0.005, throttle_retries=5) as client:
        futures = [client.submit(sm(i)) for i in range(30)]
        assert outcomes(futures) == {"ok": 30}
        assert client.stats.throttled >= 10
        assert client.stats.responses[Status.ESME_RTHROTTLED] == client.stats.throttled
        accepted = [p.short_message for p in _accepted_submits(sim, 3)]
        assert accepted == [b"m%06d" % i for i in range(30)]
        ids = [f.result().message_id for f in futures]
        assert len(set(ids)) == 30


def test_throttled_parts_of_one_message_keep_their_order(sim: Simulator, driver: str) -> None:
    sim.set_faults(throttle_every=2)
    text = "".join("part%03d " % i for i in range(80))  # 640 GSM chars: 5 parts
    with make_client(sim.port, driver=driver, window=1, throttle_backoff=0.005) as client:
        responses = client.send_message("447900000001", text, source_addr="100").result(10)
        assert len(responses) == smppfast.count_parts(text) == 5
        assert all(r.command_status == 0 for r in responses)
        assert client.stats.throttled >= 2
    parts = _accepted_submits(sim, 2)
    assert [p.short_message[5] for p in parts] == [1, 2, 3, 4, 5]  # UDH sequence numbers
    assert smppfast.decode_text(b"".join(p.short_message[6:] for p in parts), 0) == text


def test_throttling_with_a_window_loses_nothing(sim: Simulator, driver: str) -> None:
    # With many requests in flight the SMSC has already taken later ones when it refuses
    # one, so order is only promised for window=1; every submit still ends exactly once.
    sim.set_faults(throttle_every=7)
    with make_client(sim.port, driver=driver, window=20, throttle_backoff=0.005, throttle_retries=10) as client:
        futures = client.submit_many([sm(i) for i in range(300)])
        assert outcomes(futures) == {"ok": 300}
        assert client.stats.throttled > 0
        accepted = sorted(p.short_message for p in _accepted_submits(sim, 7))
        assert accepted == [b"m%06d" % i for i in range(300)]


def test_throttle_retries_exhausted(sim: Simulator, driver: str) -> None:
    sim.set_faults(status=Status.ESME_RTHROTTLED)
    with make_client(sim.port, driver=driver, window=5, throttle_backoff=0.005, throttle_retries=2) as client:
        futures = [client.submit(sm(i)) for i in range(3)]
        assert outcomes(futures) == {"CommandStatusError": 3}
        for f in futures:
            err = f.exception()
            assert err.status == Status.ESME_RTHROTTLED
            assert err.response.command_status == Status.ESME_RTHROTTLED
        assert sim.submits == 3 * 3  # first try + 2 retries each
        assert client.stats.throttled == 3 * 2
        sim.clear_faults()
        assert client.submit(sm()).result(5).message_id  # not stuck paused


def test_other_error_status_is_not_retried(sim: Simulator, driver: str) -> None:
    sim.set_faults(status=Status.ESME_RINVDSTADR)
    with make_client(sim.port, driver=driver) as client:
        f = client.submit(sm())
        with pytest.raises(CommandStatusError) as info:
            f.result(5)
        assert info.value.status == Status.ESME_RINVDSTADR
        assert client.stats.responses[Status.ESME_RINVDSTADR] == 1
        assert sim.submits == 1


# -- timeouts, nacks, disconnects ------------------------------------------------------


def test_delayed_responses_time_out(sim: Simulator, caplog: pytest.LogCaptureFixture, driver: str) -> None:
    sim.set_faults(delay=0.4)
    with make_client(sim.port, driver=driver, window=10, response_timeout=0.1) as client:
        futures = [client.submit(sm(i)) for i in range(5)]
        assert outcomes(futures) == {"SmppTimeoutError": 5}
        assert all(isinstance(f.exception(), TimeoutError) for f in futures)
        assert client.stats.timeouts == 5
        assert client.in_flight == 0
        # The late responses arrive for unknown sequence numbers: dropped, link still fine.
        time.sleep(0.45)
        sim.clear_faults()
        assert client.submit(sm(9)).result(5).message_id
        assert client.bound


def test_dropped_responses_time_out(sim: Simulator, driver: str) -> None:
    sim.set_faults(drop_every=2)
    with make_client(sim.port, driver=driver, window=10, response_timeout=0.2) as client:
        t0 = time.monotonic()
        futures = [client.submit(sm(i)) for i in range(10)]
        assert outcomes(futures) == {"ok": 5, "SmppTimeoutError": 5}
        assert time.monotonic() - t0 < 1.0  # the timeout fires on time, timers or not
        assert client.stats.timeouts == 5
        assert client.stats.responses[0] == 5


def test_generic_nack_fails_the_request(sim: Simulator, driver: str) -> None:
    sim.set_faults(nack_every=2)
    with make_client(sim.port, driver=driver, window=10) as client:
        futures = [client.submit(sm(i)) for i in range(6)]
        assert outcomes(futures) == {"ok": 3, "CommandStatusError": 3}
        for f in futures[1::2]:
            err = f.exception()
            assert err.status == Status.ESME_RSYSERR
            assert type(err.response) is GenericNack
        assert client.bound


@pytest.mark.parametrize("fault", ["close_after", "close_mid_pdu_after"])
def test_disconnect_mid_stream_fails_in_flight_as_maybe_accepted(sim: Simulator, fault: str, driver: str) -> None:
    # The link drops on the 10th, the last: every submit went out before the drop could be
    # seen (a drop on an earlier one races the submits still to come).
    sim.set_faults(delay=0.2, **{fault: 10})
    with make_client(sim.port, driver=driver, window=10) as client:
        futures, raised = submit_counting(client, [sm(i) for i in range(10)])
        assert len(futures) == 10 and not raised
        counts = outcomes(futures)
        # Nothing was answered before the drop (responses are delayed), so every request
        # was on the wire and may have been taken.
        assert counts == {"ConnectionClosedError": 10}
        for f in futures:
            assert f.exception().maybe_accepted is True
        assert isinstance(futures[0].exception(), ConnectionError)
        assert wait_until(lambda: not client.bound)
        # Later submits fail at once (no reconnect): an outcome the caller sees.
        later, raised = submit_counting(client, [sm(i) for i in range(3)])
        assert outcomes(later) + raised == {"ConnectionClosedError": 3}
        assert client.stats.failed >= 10


def test_disconnect_after_some_responses(sim: Simulator, driver: str) -> None:
    sim.set_faults(close_after=6)
    with make_client(sim.port, driver=driver, window=1) as client:
        futures, raised = submit_counting(client, [sm(i) for i in range(10)], timeout=2)
        counts = outcomes(futures) + raised
        assert sum(counts.values()) == 10
        assert counts["ok"] == 5
        assert counts["ConnectionClosedError"] == 5
        # The 6th went out and got no answer: maybe accepted. The rest never left.
        sixth = futures[5].exception()
        assert isinstance(sixth, ConnectionClosedError) and sixth.maybe_accepted


def test_reconnect_binds_again_after_the_link_drops(sim: Simulator, driver: str) -> None:
    with make_client(sim.port, driver=driver, reconnect=True, window=5) as client:
        assert client.submit(sm(0)).result(5).message_id
        sim.set_faults(close_after=2, delay=0.1)
        # One submit_many puts all three on this link; separate submits could race the
        # reconnect and land on the next link, where close_after would strike again.
        futures = client.submit_many([sm(i) for i in range(1, 4)])
        counts = outcomes(futures)
        assert counts == {"ConnectionClosedError": 3}
        assert all(f.exception().maybe_accepted for f in futures)
        sim.clear_faults()
        # Submits made while the client reconnects wait for the new bind.
        later = [client.submit(sm(i), timeout=10) for i in range(4, 14)]
        assert outcomes(later) == {"ok": 10}
        assert (client.stats.reconnects, sim.binds) == (1, 2), (client.stats, sim.counters)
        sim.disconnect_all()
        assert wait_until(lambda: client.stats.reconnects == 2, 10)
        assert client.submit(sm(99), timeout=10).result(5).message_id
    assert sim.wait_for(lambda: sim.connections == 0)


# -- inbound messages ----------------------------------------------------------------


def test_on_message_that_raises_is_logged_and_answered_with_an_error(sim: Simulator, caplog: pytest.LogCaptureFixture, driver: str) -> None:
    calls: list[str] = []

    def on_message(message: Any) -> None:
        calls.append(message.text)
        if message.text == "boom":
            raise RuntimeError("callback bug")

    with Tap(sim.port) as tap, make_client(tap.port, driver=driver, on_message=on_message) as client:
        sim.send_mo("555", "100", "boom")
        assert wait_until(lambda: len(tap.pdus("up", DeliverSmResp)) == 1)
        sim.send_mo("555", "100", "fine")  # the reader survived
        assert wait_until(lambda: len(tap.pdus("up", DeliverSmResp)) == 2)
        assert calls == ["boom", "fine"]
        first, second = tap.pdus("up", DeliverSmResp)
        assert first.command_status == Status.ESME_RX_T_APPN
        assert second.command_status == 0
        assert client.submit(sm()).result(5).message_id
        assert client.stats.received == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("smppfast")]
    assert len(errors) == 1 and errors[0].exc_info and "callback bug" in str(errors[0].exc_info[1])
    assert sim.deliver_responses == 2


def test_callback_may_submit(sim: Simulator, driver: str) -> None:
    # Callbacks run outside every lock: answering an MO from inside on_message works.
    replies: list[cf.Future] = []
    holder: list[Client] = []
    # blocking(): the asyncio driver awaits it in a worker thread, as a coroutine callback.
    with make_client(sim.port, driver=driver, on_message=blocking(lambda m: replies.append(holder[0].submit(sm(7))))) as client:
        holder.append(client)
        sim.send_mo("555", "100", "ping")
        assert wait_until(lambda: len(replies) == 1)
        assert replies[0].result(5).message_id


def test_on_receipt_gets_parsed_receipts(sim: Simulator, driver: str) -> None:
    receipts: list[Any] = []
    messages: list[Any] = []
    with make_client(sim.port, driver=driver, on_receipt=receipts.append, on_message=messages.append) as client:
        futures = [client.submit(sm(i, registered_delivery=1)) for i in range(5)]
        ids = {f.result(5).message_id for f in futures}
        assert wait_until(lambda: len(receipts) == 5)
        assert {r.message_id for r in receipts} == ids
        assert all(r.stat == "DELIVRD" and r.delivered and r.is_final for r in receipts)
        assert client.stats.receipts == 5
        assert messages == []  # receipts do not go to on_message
    assert sim.receipts_sent == 5 and sim.deliver_responses == 5


@pytest.mark.parametrize("text", ["Hello from the handset! " * 20, "Привет с телефона, " * 12])
def test_multipart_mo_is_reassembled_into_one_message(sim: Simulator, text: str, driver: str) -> None:
    # The simulator sends one deliver_sm per send_mo, so the test splits the text itself
    # and sends each part with its UDH, as an SMSC relaying a long MO would.
    got: list[Any] = []
    with make_client(sim.port, driver=driver, on_message=got.append) as client:
        parts = split_text(text, reference=42)
        assert len(parts) > 1
        for part in parts:
            sim.send_mo(
                "447900000002", "100", part.short_message,
                data_coding=part.data_coding, esm_class=part.esm_class, tlvs=dict(part.tlvs),
            )
        assert wait_until(lambda: len(got) == 1)
        time.sleep(0.05)
        assert len(got) == 1
        (message,) = got
        assert message.text == text
        assert message.total == len(parts)
        assert message.source_addr == "447900000002"
        assert client.stats.received == len(parts)
    assert sim.deliver_responses == len(parts)


@pytest.mark.parametrize(
    "text, data_coding, per_part",
    [("The quick brown fox jumps over the lazy dog. " * 10, 0, 153), ("Съешь же ещё этих мягких булок. " * 8, 8, 67)],
)
def test_send_message_splits_and_every_part_gets_a_response(sim: Simulator, text: str, data_coding: int, per_part: int, driver: str) -> None:
    with make_client(sim.port, driver=driver) as client:
        responses = client.send_message("447900000003", text, source_addr="100", registered_delivery=0).result(10)
        n = smppfast.count_parts(text)
        assert n >= 3 and len(responses) == n
        assert all(type(r) is SubmitSmResp and r.command_status == 0 for r in responses)
        assert len({r.message_id for r in responses}) == n
    parts = [p for p in sim.received if type(p) is SubmitSm]
    assert len(parts) == n
    assert all(p.data_coding == data_coding and p.esm_class & 0x40 for p in parts)
    assert all(p.source_addr == "100" and p.destination_addr == "447900000003" for p in parts)
    payload = b"".join(p.short_message[6:] for p in parts)  # 6-octet UDH, 8-bit reference
    assert smppfast.decode_text(payload, data_coding) == text
    unit = 2 if data_coding == 8 else 1
    assert len(parts[0].short_message) - 6 == per_part * unit


# -- timers and closing -------------------------------------------------------------


def test_enquire_link_keeps_an_idle_link_alive(sim: Simulator, driver: str) -> None:
    with Tap(sim.port) as tap, make_client(tap.port, driver=driver, enquire_link_interval=0.1, response_timeout=0.5) as client:
        time.sleep(0.65)
        assert client.bound
        links = tap.pdus("up", EnquireLink)
        assert len(links) >= 3
        answered = {p.sequence_number for p in tap.pdus("down", EnquireLinkResp)}
        assert {p.sequence_number for p in links} <= answered | {links[-1].sequence_number}
        assert client.submit(sm()).result(5).message_id


def test_client_answers_the_smscs_enquire_link(driver: str) -> None:
    # The simulator's session closes a link whose enquire_link goes unanswered.
    with Simulator(enquire_link_interval=0.1, response_timeout=0.3) as sim:
        with make_client(sim.port, driver=driver) as client:
            time.sleep(0.6)
            assert client.bound and sim.bound == 1
            assert client.submit(sm()).result(5).message_id


def test_dead_link_is_noticed_by_enquire_link(sim: Simulator, driver: str) -> None:
    # Stop the simulator's I/O thread from answering anything: the enquire_link times out
    # and the client fails what is in flight instead of waiting for response_timeout.
    block = threading.Event()
    with make_client(sim.port, driver=driver, enquire_link_interval=0.1, response_timeout=0.3) as client:
        sim._call_soon(lambda: block.wait(3))  # the simulator's loop is stuck for a while
        try:
            assert wait_until(lambda: not client.bound, 3)
        finally:
            block.set()
        with pytest.raises(ConnectionClosedError):
            client.submit(sm())


def test_inactivity_timeout_unbinds(sim: Simulator, driver: str) -> None:
    with Tap(sim.port) as tap:
        client = make_client(tap.port, driver=driver, inactivity_timeout=0.2)
        client.connect()
        assert client.submit(sm()).result(5).message_id
        assert wait_until(lambda: not client.bound, 3)
        # Client.bound turns false when the link closes, AsyncClient.bound when the unbind
        # goes out (submits stop there): wait for the answer rather than for one of them.
        assert wait_until(lambda: len(tap.pdus("down", UnbindResp)) >= 1, 3)
        assert len(tap.pdus("up", Unbind)) == 1
        assert len(tap.pdus("down", UnbindResp)) == 1
        assert sim.wait_for(lambda: sim.connections == 0)
        with pytest.raises(ConnectionClosedError):
            client.submit(sm())
        client.close()


def test_close_waits_for_in_flight_responses_then_unbinds(sim: Simulator, driver: str) -> None:
    sim.set_faults(delay=0.3)
    with Tap(sim.port) as tap:
        client = make_client(tap.port, driver=driver, window=10)
        client.connect()
        futures = [client.submit(sm(i)) for i in range(5)]
        t0 = time.monotonic()
        client.close()
        assert time.monotonic() - t0 >= 0.2
        assert outcomes(futures, 0) == {"ok": 5}
        names = [type(p).__name__ for d, p in tap.records if type(p) is not EnquireLink]
        assert names.index("Unbind") > max(i for i, n in enumerate(names) if n == "SubmitSmResp")
        assert names[-2:] == ["Unbind", "UnbindResp"]
        with pytest.raises(ConnectionClosedError):
            client.submit(sm())
        client.close()  # twice is fine


@pytest.mark.parametrize("when", ["paused", "in flight"])
def test_close_waits_for_throttled_requests_to_go_out_again(sim: Simulator, driver: str, when: str) -> None:
    # A request the SMSC throttled is still the client's to deliver: close() sends it again
    # (within close_timeout) before it unbinds, whether the throttle came before close() was
    # called ("paused") or while close() waited for the responses in flight.
    sim.set_faults(throttle_every=2, delay=0.0 if when == "paused" else 0.1)
    client = make_client(sim.port, driver=driver, window=2, throttle_backoff=0.3)
    client.connect()
    futures = [client.submit(sm(1)), client.submit(sm(2))]
    if when == "paused":
        assert wait_until(lambda: client.stats.throttled == 1)
        assert client.in_flight == 0  # the throttled one waits to be sent again
    client.close()
    assert outcomes(futures, 0) == {"ok": 2}
    assert client.stats.throttled == 1
    assert [p.short_message for p in _accepted_submits(sim, 2)] == [b"m000001", b"m000002"]


def test_unbind_from_the_smsc_is_answered_before_the_socket_closes(driver: str) -> None:
    # A hand-driven SMSC: bind, then unbind the client at once and read until it hangs up.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = make_client(listener.getsockname()[1], driver=driver)
        accepted: list[socket.socket] = []

        def smsc() -> list[Any]:
            conn, _ = listener.accept()
            accepted.append(conn)
            decoder, seen = Decoder(), []
            conn.settimeout(5)
            while True:
                data = conn.recv(65536)
                if not data:
                    return seen
                for pdu in decoder.feed(data):
                    seen.append(pdu)
                    if type(pdu) is BindTransceiver:
                        conn.sendall(smppfast.encode(pdu.response(system_id="fake")) + smppfast.encode(Unbind(sequence_number=1)))

        with cf.ThreadPoolExecutor(1) as pool:
            seen = pool.submit(smsc)
            client.connect()
            got = seen.result(5)
        accepted[0].close()
        assert [type(p) for p in got] == [BindTransceiver, UnbindResp]
        assert got[1].sequence_number == 1 and got[1].command_status == 0
        assert wait_until(lambda: not client.bound)
        client.close()


def test_close_is_bounded_when_responses_never_come(sim: Simulator, driver: str) -> None:
    sim.set_faults(drop_every=1)
    client = make_client(sim.port, driver=driver, window=10, close_timeout=0.2, response_timeout=30)
    client.connect()
    futures = [client.submit(sm(i)) for i in range(3)]
    t0 = time.monotonic()
    client.close()
    assert time.monotonic() - t0 < 2.5
    counts = outcomes(futures, 1)
    assert sum(counts.values()) == 3 and "ok" not in counts


def test_close_copes_with_an_smsc_that_skips_unbind_resp(sim: Simulator, driver: str) -> None:
    sim.set_faults(skip_unbind_resp=True)
    client = make_client(sim.port, driver=driver, unbind_timeout=2.0)
    client.connect()
    assert client.submit(sm()).result(5).message_id
    t0 = time.monotonic()
    client.close()
    # The socket closing after our unbind is taken as its answer: no wait for unbind_timeout.
    assert time.monotonic() - t0 < 1.0
    assert sim.tally["unbind_resp_skipped"] == 1


# -- TLS ----------------------------------------------------------------------------


def test_tls_bind_submit_and_receive(sim: Simulator, driver: str) -> None:
    server_ctx, client_ctx = tls_contexts()
    got: list[Any] = []
    with Tap(sim.port, tls=server_ctx) as tap:
        with make_client(tap.port, driver=driver, ssl_context=client_ctx, window=20, on_message=got.append) as client:
            assert client.bound
            futures = client.submit_many([sm(i, registered_delivery=0) for i in range(200)])
            assert outcomes(futures) == {"ok": 200}
            sim.send_mo("555", "100", "over TLS")
            assert wait_until(lambda: len(got) == 1)
            assert got[0].text == "over TLS"
        assert len(tap.pdus("up", SubmitSm)) == 200
        assert tap.pdus("up", Unbind) and tap.pdus("down", UnbindResp)
    assert sim.submits == 200


def test_tls13_binds_reliably(driver: str) -> None:
    # TLS 1.3 servers send session tickets right after the handshake. A client that sits in
    # recv on the SSLSocket in one thread while another thread writes the bind lost the bind
    # about once in 15 connections; each cycle here must bind at once.
    server_ctx, client_ctx = tls_contexts()
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with Simulator() as sim, Tap(sim.port, tls=server_ctx) as tap:
        for i in range(40):
            with make_client(tap.port, driver=driver, ssl_context=client_ctx, bind_timeout=0.5) as client:
                assert client.submit(sm(i)).result(5).message_id
        assert sim.binds == 40


def test_tls_reads_and_writes_overlap_safely(sim: Simulator, driver: str) -> None:
    # The reader decrypts receipts and MOs while submitting threads encrypt: every call into
    # OpenSSL is serialised by the client's TLS transport, so nothing is lost or garbled.
    server_ctx, client_ctx = tls_contexts()
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    got: list[Any] = []
    receipts: list[Any] = []
    with Tap(sim.port, tls=server_ctx) as tap:
        with make_client(tap.port, driver=driver, ssl_context=client_ctx, window=100,
                         on_message=got.append, on_receipt=receipts.append) as client:
            def submitter(base: int) -> list[cf.Future]:
                return [client.submit(sm(base + i, registered_delivery=1)) for i in range(500)]

            with cf.ThreadPoolExecutor(4) as pool:
                batches = list(pool.map(submitter, range(0, 2000, 500)))
                for i in range(50):
                    sim.send_mo("555", "100", f"mo {i}")
            assert outcomes(f for batch in batches for f in batch) == {"ok": 2000}
            assert wait_until(lambda: len(got) == 50 and len(receipts) == 2000, 20)
        assert len(tap.pdus("up", SubmitSm)) == 2000
    assert sorted(m.text for m in got) == sorted(f"mo {i}" for i in range(50))


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_simulator_serves_tls_itself(version: ssl.TLSVersion, driver: str) -> None:
    server_ctx, client_ctx = tls_contexts()
    client_ctx.minimum_version = client_ctx.maximum_version = version
    got: list[Any] = []
    with Simulator(ssl_context=server_ctx) as tls_sim:
        with make_client(tls_sim.port, driver=driver, ssl_context=client_ctx, window=50, on_receipt=got.append) as client:
            futures = client.submit_many([sm(i, registered_delivery=1) for i in range(300)])
            assert outcomes(futures) == {"ok": 300}
            assert wait_until(lambda: len(got) == 300)
        assert tls_sim.wait_for(lambda: tls_sim.connections == 0)
    assert tls_sim.submits == 300 and tls_sim.binds == 1
    # A client without TLS cannot bind to it (the handshake bytes are not a PDU).
    with Simulator(ssl_context=server_ctx) as tls_sim:
        with pytest.raises((SmppTimeoutError, ConnectionClosedError, OSError)):
            make_client(tls_sim.port, driver=driver, bind_timeout=0.5).connect()


def test_tls_with_an_untrusted_certificate_fails_to_connect(sim: Simulator, driver: str) -> None:
    server_ctx, _ = tls_contexts()
    untrusting = ssl.create_default_context()  # system CAs only: our self-signed cert fails
    with Tap(sim.port, tls=server_ctx) as tap:
        client = make_client(tap.port, driver=driver, ssl_context=untrusting)
        with pytest.raises(ssl.SSLCertVerificationError):
            client.connect()
        assert not client.bound
        client.close()
    assert sim.binds == 0


# -- secrets ------------------------------------------------------------------------


def test_password_never_in_logs_or_reprs(caplog: pytest.LogCaptureFixture, driver: str) -> None:
    caplog.set_level(logging.DEBUG)
    with Simulator(credentials={"test": PASSWORD}) as sim:
        with make_client(sim.port, driver=driver, enquire_link_interval=0.05) as client:
            client.submit(sm()).result(5)
            time.sleep(0.15)
            texts = [repr(client), str(client), repr(client.stats)]
        bind = [p for p in sim.received if type(p) is BindTransceiver][0]
        assert bind.password == PASSWORD  # it did go on the wire
        texts += [repr(bind), str(bind)]
        # A refused bind: neither the error nor its repr carries the password.
        bad = make_client(sim.port, driver=driver, password="wrongPw")
        with pytest.raises(BindError) as info:
            bad.connect()
        bad.close()
        texts += [repr(info.value), str(info.value), repr(info.value.response), repr(bad)]
    assert caplog.records  # DEBUG logging did happen
    logged = caplog.text + "".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for text in texts + [logged]:
        assert PASSWORD not in text


# -- batches and rate limits ----------------------------------------------------------


def test_submit_many_gives_every_pdu_an_outcome_even_when_one_cannot_be_sent(sim: Simulator, driver: str) -> None:
    with make_client(sim.port, driver=driver, window=4) as client:
        bad = SubmitSm(source_addr="x" * 30, destination_addr="1")  # too long for SMPP 3.4
        pdus = [sm(i) for i in range(6)] + [bad] + [sm(i) for i in range(6, 9)]
        futures = client.submit_many(pdus)
        assert len(futures) == len(pdus)
        assert [f.request for f in futures] == pdus
        counts = outcomes(futures)
        # The six before the bad PDU went out (in two window-fulls); it and the rest did not.
        assert counts == {"ok": 6, "PduError": 4}
        assert futures[6].exception().field == "source_addr"
        assert client.stats.submitted == 6
        assert sim.submits == 6


def test_submit_many_respects_the_rate_limit(sim: Simulator, driver: str) -> None:
    with make_client(sim.port, driver=driver, window=50, rate_limit=200) as client:
        start = time.monotonic()
        futures = client.submit_many([sm(i) for i in range(100)])
        assert outcomes(futures) == {"ok": 100}
        # 100 submits at 200/s with a burst of 20: at least (100 - 20) / 200 s.
        assert time.monotonic() - start >= 0.35


def test_rate_limiter_hands_out_what_it_has() -> None:
    now = [0.0]
    limiter = RateLimiter(10, burst=5, clock=lambda: now[0])
    assert limiter.take_up_to(3) == (3, 0.0)
    granted, wait = limiter.take_up_to(5)
    assert granted == 2 and wait == 0.0
    granted, wait = limiter.take_up_to(1)
    assert granted == 0 and wait == pytest.approx(0.1)
    now[0] += 0.25
    assert limiter.take_up_to(10) == (2, 0.0)


# Threads only: the MessageHandle (a list of concurrent futures) is Client's return type;
# AsyncClient.send_message returns the responses (test_send_message_splits_... on both).
def test_send_message_returns_a_handle_for_the_whole_message(sim: Simulator) -> None:
    with make_client(sim.port, window=10) as client:
        handle = client.send_message("447700900123", "long " * 80, source_addr="Shop")
        assert isinstance(handle, list) and len(handle) == 3  # 400 GSM characters: 3 parts
        assert all(isinstance(f, cf.Future) for f in handle)
        ids = handle.message_ids(timeout=10)
        assert handle.done() and len(set(ids)) == 3
        assert [r.sequence_number for r in handle.result()] == [f.request.sequence_number for f in handle]
        sim.set_faults(status=Status.ESME_RSUBMITFAIL)
        failing = client.send_message("447700900123", "no")
        with pytest.raises(CommandStatusError) as info:
            failing.result(timeout=10)
        assert info.value.status == Status.ESME_RSUBMITFAIL


# -- malformed input from the SMSC ------------------------------------------------------


def _hand_driven_smsc(listener: socket.socket, after_submit: bytes, replies: int) -> list[Any]:
    """Bind the client, answer its submits with ``after_submit`` bytes, record what it sends."""
    conn, _ = listener.accept()
    decoder, seen = Decoder(), []
    conn.settimeout(5)
    try:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return seen
            if not data:
                return seen
            for pdu in decoder.feed(data):
                seen.append(pdu)
                if type(pdu) is BindTransceiver:
                    conn.sendall(smppfast.encode(pdu.response(system_id="fake")))
                elif type(pdu) is SubmitSm and replies:
                    replies -= 1
                    ok = smppfast.encode(pdu.response(message_id="ok"))
                    conn.sendall(after_submit + ok)
    finally:
        conn.close()


def test_a_malformed_pdu_from_the_smsc_is_nacked_and_the_link_goes_on(driver: str) -> None:
    # deliver_sm whose sm_length overruns its body: the header is readable, so the client
    # answers generic_nack (ESME_RINVMSGLEN) for its sequence number and keeps going.
    bad = bytearray(smppfast.encode(smppfast.DeliverSm(sequence_number=77, short_message=b"hello")))
    bad[-6] = 200  # sm_length
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = make_client(listener.getsockname()[1], driver=driver)
        with cf.ThreadPoolExecutor(1) as pool:
            seen = pool.submit(_hand_driven_smsc, listener, bytes(bad), 2)
            client.connect()
            assert client.submit(sm(1)).result(5).message_id == "ok"
            assert client.submit(sm(2)).result(5).message_id == "ok"
            client.close()
            got = seen.result(5)
    nacks = [p for p in got if type(p) is GenericNack]
    assert [(n.sequence_number, n.command_status) for n in nacks] == [(77, Status.ESME_RINVMSGLEN)] * 2


def test_broken_framing_from_the_smsc_fails_what_is_in_flight(caplog: pytest.LogCaptureFixture, driver: str) -> None:
    # A command_length of 3 cannot be framed: the client closes the link, and the request
    # in flight ends in ConnectionClosedError saying the SMSC may have taken it.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = make_client(listener.getsockname()[1], driver=driver, window=5)
        with cf.ThreadPoolExecutor(1) as pool:
            seen = pool.submit(_hand_driven_smsc, listener, b"\0\0\0\x03garbage", 1)
            client.connect()
            future = client.submit(sm(1))
            assert outcomes([future]) == {"ConnectionClosedError": 1}
            assert future.exception().maybe_accepted
            assert wait_until(lambda: not client.bound)
            with pytest.raises(ConnectionClosedError):
                client.submit(sm(2))
            client.close()
            seen.result(5)
    assert "framing lost" in caplog.text
