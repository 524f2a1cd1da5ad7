"""Both drivers against an SMSC that goes silent, stops reading, drips octets or answers
with the wrong PDU (``hostile.py``): dead links are found, no call blocks past its timeout,
and every submit ends in an outcome the caller sees. (The ``driver`` fixture and the face
over ``AsyncClient`` are conftest.py's and drivers.py's.)"""

from __future__ import annotations

import ssl
import threading
import time
from typing import Any, Callable

import pytest

from smppfast import LocalProtocolError, RemoteProtocolError, SmppTimeoutError, SubmitSm, WindowFull
from smppfast.errors import ConnectionClosedError

from . import drivers, hostile
from .helpers import wait_until
from .hostile import ENQUIRE_LINK, HostileSmsc

PASSWORD = "secret"


def client(port: int, driver: str = "threads", **kwargs: Any) -> Any:
    opts: dict[str, Any] = dict(
        system_id="test", password=PASSWORD, response_timeout=1.0, enquire_link_interval=None,
        window_timeout=2.0, close_timeout=1.0, unbind_timeout=0.5, bind_timeout=2.0, connect_timeout=2.0,
    )
    opts.update(kwargs)
    return drivers.make_client(driver, "127.0.0.1", port, **opts)


def smppfast_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("smppfast-")]


@pytest.fixture(autouse=True)
def no_leaked_client_threads():  # type: ignore[no-untyped-def]
    before = set(smppfast_threads())
    yield
    assert wait_until(lambda: not (set(smppfast_threads()) - before), 8.0), [t.name for t in smppfast_threads()]


def test_a_silent_smsc_is_found_dead_and_the_client_reconnects(driver: str) -> None:
    with HostileSmsc(hostile.silent) as smsc:
        c = client(smsc.port, driver=driver, reconnect=True, enquire_link_interval=0.3, response_timeout=0.3)
        with c:
            # enquire_link after 0.3 s, unanswered for 0.3 s: dead; the socket closes and a
            # new bind follows within about a second.
            assert wait_until(lambda: smsc.connections >= 2, 4.0), f"{smsc.connections} connections"
            assert wait_until(lambda: c.stats.reconnects >= 1, 4.0)
            assert smsc.count(ENQUIRE_LINK) >= 1


def test_a_response_timeout_with_a_silent_smsc_also_finds_the_link_dead(driver: str) -> None:
    with HostileSmsc(hostile.silent) as smsc:
        with client(smsc.port, driver=driver, reconnect=True, response_timeout=0.3) as c:  # no enquire_link timer
            fut = c.submit(SubmitSm(destination_addr="1"))
            with pytest.raises(SmppTimeoutError) as info:
                fut.result(3)
            assert info.value.maybe_accepted
            assert wait_until(lambda: smsc.connections >= 2, 4.0), "no reconnect after the probe went unanswered"


def test_dripped_octets_do_not_keep_a_dead_link_alive(driver: str) -> None:
    with HostileSmsc(hostile.dripping) as smsc:
        with client(smsc.port, driver=driver, reconnect=True, enquire_link_interval=0.3, response_timeout=0.3):
            assert wait_until(lambda: smsc.count(ENQUIRE_LINK) >= 1, 3.0), "no enquire_link while octets dripped"
            assert wait_until(lambda: smsc.connections >= 2, 4.0), "the dripping link was never declared dead"


def test_submit_never_blocks_past_its_timeout_when_the_smsc_stops_reading(driver: str) -> None:
    # 60 KB per PDU fills the kernel's buffers within a few dozen submits.
    big = SubmitSm(destination_addr="1", tlvs={0x0424: b"x" * 60_000})
    durations: list[float] = []
    outcomes: list[str] = []

    def run(c: Any) -> None:
        for _ in range(80):
            t0 = time.monotonic()
            try:
                c.submit(big, timeout=0.5)
                outcomes.append("sent")
            except (WindowFull, SmppTimeoutError, ConnectionClosedError) as exc:
                outcomes.append(type(exc).__name__)
            durations.append(time.monotonic() - t0)

    with HostileSmsc(hostile.deaf, rcvbuf=4096) as smsc:
        with client(smsc.port, driver=driver, window=1, response_timeout=0.05, close_timeout=0.5) as c:
            t = threading.Thread(target=run, args=(c,), daemon=True)
            t.start()
            t.join(60)
            assert not t.is_alive(), f"submit blocked: {len(durations)} calls returned, the last took forever"
            assert max(durations) < 2.0, max(durations)
            assert len(outcomes) == 80


def test_tls_handshake_that_drips_is_bounded_by_connect_timeout(driver: str) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with HostileSmsc(hostile.tls_dripping) as smsc:
        c = client(smsc.port, driver=driver, ssl_context=ctx, connect_timeout=1.0)
        t0 = time.monotonic()
        with pytest.raises((OSError, ssl.SSLError)):
            c.connect()
        assert time.monotonic() - t0 < 3.0


def test_close_during_a_reconnect_wins_and_leaves_nothing_behind(driver: str) -> None:
    state = {"n": 0}

    def first_binds_then_mute(conn: hostile.Conn) -> None:
        state["n"] += 1
        if state["n"] == 1:
            conn.answer_bind()
            time.sleep(0.2)
            conn.sock.close()  # the link drops: the client reconnects...
        else:
            hostile.mute(conn)  # ...to an SMSC that never answers the bind

    with HostileSmsc(first_binds_then_mute) as smsc:
        c = client(smsc.port, driver=driver, reconnect=True, bind_timeout=10.0)
        c.connect()
        assert wait_until(lambda: smsc.connections >= 2, 5.0)
        time.sleep(0.2)  # the reconnect's bind is waiting now
        t0 = time.monotonic()
        c.close()
        assert time.monotonic() - t0 < 3.0
        assert not c.bound
        assert wait_until(lambda: smsc.open_connections == 0, 3.0), "a connection was left open"
        time.sleep(0.5)
        assert smsc.connections == 2  # and no reconnect after close


def test_connect_on_a_connected_client_raises(driver: str) -> None:
    with HostileSmsc(hostile.silent) as smsc:
        with client(smsc.port, driver=driver) as c:
            with pytest.raises(LocalProtocolError, match="already connected"):
                c.connect()
        assert smsc.connections == 1


def test_one_reconnect_loop_when_a_reconnect_bind_is_refused(driver: str) -> None:
    state = {"n": 0}
    bound_now = {"n": 0, "most": 0}
    lock = threading.Lock()

    def flaky(conn: hostile.Conn) -> None:
        with lock:
            state["n"] += 1
            n = state["n"]
        if n == 1:
            conn.answer_bind()
            time.sleep(0.1)
            conn.sock.close()  # hang up: the client reconnects
            return
        if n <= 3:
            conn.answer_bind(status=0x0D)  # ESME_RBINDFAIL: shutting down
            return
        if conn.answer_bind():
            with lock:
                bound_now["n"] += 1
                bound_now["most"] = max(bound_now["most"], bound_now["n"])
            try:
                while conn.read_pdu(timeout=None) is not None:
                    pass
            finally:
                with lock:
                    bound_now["n"] -= 1

    with HostileSmsc(flaky) as smsc:
        with client(smsc.port, driver=driver, reconnect=True, reconnect_max_delay=0.5) as c:
            assert wait_until(lambda: c.stats.reconnects >= 1 and c.bound, 10.0)
            time.sleep(1.5)  # a second loop would bind again by now
            assert bound_now["most"] == 1
            assert smsc.connections == 4


@pytest.mark.parametrize("behaviour, needle", [(hostile.nack_ok, "generic_nack"), (hostile.wrong_command, "DeliverSmResp")])
def test_a_wrong_answer_fails_the_submit_naming_it(behaviour: Callable[[hostile.Conn], None], needle: str, driver: str) -> None:
    with HostileSmsc(behaviour) as smsc:
        with client(smsc.port, driver=driver) as c:
            fut = c.submit(SubmitSm(destination_addr="1"))
            with pytest.raises(RemoteProtocolError, match=needle):
                fut.result(3)
            assert c.stats.failed == 1


def test_an_smsc_that_floods_but_never_reads_is_pushed_back(driver: str) -> None:
    # Every deliver_sm needs a deliver_sm_resp the SMSC never reads. Once 1 MiB of answers
    # waits, the client stops reading, so the flood stalls instead of growing our memory.
    with HostileSmsc(hostile.flooding, rcvbuf=65536) as smsc:
        with client(smsc.port, driver=driver, enquire_link_interval=None, response_timeout=None, close_timeout=0.5):
            assert wait_until(lambda: smsc.flooded > 1000, 5.0)
            history = [smsc.flooded]
            for _ in range(20):  # until the flood stalls: the kernel's buffers fill first
                time.sleep(1.0)
                history.append(smsc.flooded)
                if history[-1] == history[-2]:
                    break
            # ~25 octets of answer per deliver_sm: 1 MiB plus the kernel's buffers (a few MB)
            # is well under 600,000 of them; without backpressure the flood goes on.
            assert history[-1] == history[-2], f"still flowing: {history}"
            assert smsc.flooded < 600_000, history

