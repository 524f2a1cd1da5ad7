"""The threaded ESME client: the only place smppfast touches a socket.

All protocol rules live in :mod:`smppfast.session`; this module moves bytes and time in
and out of it and turns its events into Futures and callbacks.

Threads and locks:

* one lock guards the Session (it is not thread-safe); held only to hand it bytes or PDUs;
* a writer thread sends everything queued in one ``sendall``; it is woken only when the
  queue goes from empty to non-empty, so a busy producer never pays a system call per PDU;
* a reader thread reads, feeds the Session and resolves Futures (most of them in place,
  in C: ``_futures.settle``);
* a callback thread runs the user's ``on_message`` / ``on_receipt`` / ``on_incomplete``
  and answers the deliver_sm they came in, so a slow callback never holds up the
  matching of responses, and a callback may ``submit`` (even into a full window: while it
  waits for a slot, the reader goes on reading the responses that free one);
* a timer thread waits on the Session's next deadline (response timeouts, enquire_link,
  inactivity, stale multipart messages) and ends throttling pauses.

Inbound backpressure: the reader hands a whole received buffer's events over at once
(responses first resolved, then messages queued for the callback thread), and only before
its next read does it wait: while ``callback_queue`` inbound messages wait for the
callback thread, or while more than ``_MAX_OUTPUT`` octets wait to be written (an SMSC
that stops reading), it stops reading, so TCP pushes back on the SMSC. (While the callback
thread itself waits on the client, for a window slot or a future's result, the reader
reads on, up to four times that bound, so the responses it waits for arrive; an SMSC that
keeps to its own window never sends more unanswered messages than that window anyway.)

Liveness: every blocking call has a bound. A dead link (an unanswered enquire_link, which
the session also sends when a request times out with the SMSC silent since) closes the
socket, so the reader stops and a reconnect starts at once; ``close()`` wins over a
reconnect in progress; exactly one reconnect loop runs per client.

Every submit ends exactly once: in its response, in ``CommandStatusError`` for a non-zero
status, in ``SmppTimeoutError``, or in ``ConnectionClosedError`` whose ``maybe_accepted``
says whether the SMSC may have taken it.
"""

from __future__ import annotations

import collections
import logging
import socket
import ssl
import threading
import time
from typing import Any, Callable, Iterable, Literal, Optional, Sequence, Union, overload

from ._codec import (
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
)
from ._future import SubmitFuture, set_wait_hook
from ._driver import THROTTLE_STATUSES, Languages, check_languages, check_options, message_pdus, response_timeout_error
from ._futures import new_futures, settle
from ._refs import keeper_for, threaded_on_receipt
from .constants import Status, format_status
from .errors import (
    BindError,
    CommandStatusError,
    ConnectionClosedError,
    LocalProtocolError,
    SmppTimeoutError,
    WindowFull,
)
from .events import (
    AlertReceived,
    BindRefused,
    Bound,
    Closed,
    MessageIncomplete,
    MessageReceived,
    OutbindReceived,
    ReceiptMalformed,
    ReceiptReceived,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Unbound,
)
from .reassembly import CompleteMessage, IncompleteMessage, Reassembler
from .receipt import DeliveryReceipt
from ._tls import TlsSocket
from .session import Session
from .stats import ClientStats  # its home is stats.py; importable from here as before
from .stores import MemoryStore, Store

# What the client reads and writes: a plain socket, or TLS over one (see _tls.py).
_Transport = Union[socket.socket, TlsSocket]

__all__ = ["Client", "ClientStats", "MessageHandle", "RateLimiter"]

log = logging.getLogger("smppfast.client")

_monotonic = time.monotonic
_RECV_SIZE = 64 * 1024  # below malloc's mmap threshold: a larger buffer costs page faults per recv
# Octets queued for an SMSC that does not read them, past which the reader stops reading.
_MAX_OUTPUT = 1 << 20


class RateLimiter:
    """A token bucket: at most ``rate`` acquisitions per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: Optional[float] = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate / 10))
        self._tokens = self.burst
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self, n: int = 1) -> float:
        """Take n tokens; return how long the caller must wait before using them."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def take_up_to(self, n: int) -> tuple[int, float]:
        """Take as many of n tokens as are there now: (how many, how long to wait if none)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            granted = max(0, min(n, int(self._tokens)))
            self._tokens -= granted
            return granted, (0.0 if granted else (1.0 - self._tokens) / self.rate)

    def available(self) -> int:
        """Tokens there are now (a look, taking none): what could go without waiting."""
        with self._lock:
            return int(min(self.burst, self._tokens + (self._clock() - self._stamp) * self.rate))

    def acquire(self, n: int = 1) -> None:
        wait = self.reserve(n)
        if wait > 0:
            time.sleep(wait)


class MessageHandle(list[SubmitFuture[SubmitSmResp]]):
    """The futures of one message's parts, in order, with a way to wait for all of them.

    Still a plain list of ``Future`` (``concurrent.futures.wait`` takes it as it is).
    """

    def done(self) -> bool:
        """True once every part has its outcome."""
        return all(f.done() for f in self)

    def result(self, timeout: Optional[float] = None) -> list[SubmitSmResp]:
        """Every part's response, in order; raises the first part's error if one failed.

        ``timeout`` bounds the whole wait, not each part.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        out: list[SubmitSmResp] = []
        for fut in self:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            out.append(fut.result(left))
        return out

    def message_ids(self, timeout: Optional[float] = None) -> list[str]:
        """The SMSC's message_id of every part, in order (waits like ``result``)."""
        return [response.message_id for response in self.result(timeout)]


class Client:
    """An SMPP 3.4 ESME over TCP (or TLS). Use as a context manager, or ``connect()``/``close()``.

    Timers are in seconds; ``None`` turns one off. ``window`` is the number of requests in
    flight; ``window_timeout`` is how long ``submit`` blocks for a free slot before raising
    ``WindowFull``. ``rate_limit`` caps submits per second. On ESME_RTHROTTLED or
    ESME_RMSGQFUL every submit pauses (``throttle_backoff`` doubling up to
    ``throttle_max_backoff``) and the refused request is sent again first, at most
    ``throttle_retries`` times (with ``window`` above 1, requests after it may already have
    been accepted: strict order across a throttle needs ``window=1``). With ``reconnect``
    the client binds again after the link drops.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        system_id: str,
        password: str,
        system_type: str = "",
        bind_type: str = "transceiver",
        addr_ton: int = 0,
        addr_npi: int = 0,
        address_range: str = "",
        window: int = 10,
        window_timeout: Optional[float] = 60.0,
        response_timeout: Optional[float] = 30.0,
        enquire_link_interval: Optional[float] = 30.0,
        inactivity_timeout: Optional[float] = None,
        connect_timeout: float = 10.0,
        bind_timeout: float = 10.0,
        unbind_timeout: float = 5.0,
        close_timeout: float = 10.0,
        rate_limit: Optional[float] = None,
        throttle_retries: int = 5,
        throttle_backoff: float = 0.1,
        throttle_max_backoff: float = 10.0,
        reconnect: bool = False,
        reconnect_max_delay: float = 60.0,
        ssl_context: Optional[ssl.SSLContext] = None,
        on_message: Optional[Callable[[CompleteMessage], Optional[int]]] = None,
        on_receipt: Optional[Callable[[DeliveryReceipt], Optional[int]]] = None,
        on_incomplete: Optional[Callable[[IncompleteMessage], None]] = None,
        reassembly_timeout: float = 600.0,
        callback_queue: int = 1000,
        store: Optional[Store] = None,
        languages: Languages = (),
    ) -> None:
        check_options(locals())
        #: National language tables send_message may use by default (3GPP TS 23.038 ids).
        self.languages = check_languages(languages)
        self.host = host
        self.port = port
        self.system_id = system_id
        self._password = password
        self.system_type = system_type
        self.bind_type = bind_type
        self._bind_args = dict(addr_ton=addr_ton, addr_npi=addr_npi, address_range=address_range)
        self.window = window
        self.window_timeout = window_timeout
        self.response_timeout = response_timeout
        self.enquire_link_interval = enquire_link_interval
        self.inactivity_timeout = inactivity_timeout
        self.connect_timeout = connect_timeout
        self.bind_timeout = bind_timeout
        self.unbind_timeout = unbind_timeout
        self.close_timeout = close_timeout
        self.rate_limiter = RateLimiter(rate_limit) if rate_limit else None
        self.throttle_retries = throttle_retries
        self.throttle_backoff = throttle_backoff
        self.throttle_max_backoff = throttle_max_backoff
        self.reconnect = reconnect
        self.reconnect_max_delay = reconnect_max_delay
        self.ssl_context = ssl_context
        #: Where ``message_id -> ref`` waits for the receipt (``submit(..., ref=...)``).
        self.store: Store = store if store is not None else MemoryStore()
        self._refs = keeper_for(self.store)  # shared with every client of this store
        #: Names this bind in logs and metrics (a pool numbers its members).
        self.label = f"{host}:{port}"
        self.on_message = on_message
        self.on_receipt = on_receipt
        self.on_incomplete = on_incomplete
        self.stats = ClientStats(self)
        #: One for the client's life, handed to every session: parts that straddle a
        #: reconnect still meet.
        self.reassembler = Reassembler(max_age=reassembly_timeout)
        self.callback_queue = callback_queue
        # Work for the callback thread: (callback, argument, session, request to answer).
        self._inbox: collections.deque[tuple[str, Callable[[Any], Any], Any, Optional[Session], Optional[Pdu]]] = (
            collections.deque()
        )
        self._inbox_lock = threading.Condition(threading.Lock())
        self._inbox_stop = False
        self._callback_thread: Optional[threading.Thread] = None
        self._callback_blocked = 0  # the callback thread waits on the client: the reader reads on
        self._callback_running = False
        self._connected = False  # connect() ran (once per client)
        self._reconnect_running = False  # exactly one reconnect loop per client
        self._leftover = b""  # what a direct write could not send at once; the writer's first
        self._direct_ok = False

        self._lock = threading.Lock()
        self._state_changed = threading.Condition(self._lock)  # window slots, bind, pauses
        self._writer_wake = threading.Condition(self._lock)
        self._timer_wake = threading.Condition(self._lock)
        self._write_pending = False
        self._writing = False  # one thread at a time writes, so PDUs never interleave
        # The session while submits may go straight in (bound, not paused, nothing to retry,
        # not closing); None sends submit() down the slow path. Kept by _refresh_open.
        self._open_session: Optional[Session] = None
        self._reconnecting = False
        self._waiting = 0  # threads blocked in submit: notify only when someone waits
        self._session: Optional[Session] = None
        self._sock: Optional[_Transport] = None
        self._closing = False
        self._closed = False
        self._bound = False
        self._bind_result: Optional[BaseException] = None
        self._bind_done = threading.Event()
        self._retry: collections.deque[SubmitFuture[Any]] = collections.deque()
        self._paused_until = 0.0
        self._backoff = throttle_backoff
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        state = self._session.state.name if self._session else "NEW"
        return f"<Client {self.system_id}@{self.host}:{self.port} {self.bind_type} {state}>"

    @property
    def on_receipt(self) -> Optional[Callable[[DeliveryReceipt], Optional[int]]]:
        """Called with each delivery receipt, ``.ref`` set when the store matched it."""
        return self._user_on_receipt

    @on_receipt.setter
    def on_receipt(self, callback: Optional[Callable[[DeliveryReceipt], Optional[int]]]) -> None:
        self._user_on_receipt = callback
        self._on_receipt = threaded_on_receipt(self._refs, callback)

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> "Client":
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection and bind; raises ``BindError`` when the SMSC refuses.

        Once per client: ``with Client(...)`` already connects.
        """
        with self._lock:
            if self._closed or self._closing:
                raise LocalProtocolError("this client was closed; make a new one")
            if self._connected:
                raise LocalProtocolError("this client is already connected (a `with Client(...)` block connects)")
            self._connected = True
        try:
            self._open_and_bind()
        except BaseException:
            with self._lock:
                self._connected = False
            raise
        for target, name in (
            (self._write_loop, "writer"),
            (self._timer_loop, "timer"),
            (self._callback_loop, "callbacks"),
        ):
            t = threading.Thread(target=target, name=f"smppfast-{name}", daemon=True)
            t.start()
            self._threads.append(t)
            if name == "callbacks":
                self._callback_thread = t

    def _open_and_bind(self) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock: _Transport = raw
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                # Not ssl.SSLSocket: its reads and writes must not overlap, and ours do (_tls.py).
                sock = TlsSocket(raw, self.ssl_context, self.host, self.connect_timeout)
            raw.settimeout(None)
        except BaseException:
            raw.close()
            raise
        now = time.monotonic()
        try:  # a bad option or bind field (a password over 8 characters) raises: close the socket
            if self._closing:
                raise ConnectionClosedError("the client is closing")
            session = Session(
                "esme",
                window=self.window,
                response_timeout=self.response_timeout,
                enquire_link_interval=self.enquire_link_interval,
                inactivity_timeout=self.inactivity_timeout,
                bind_timeout=self.bind_timeout,
                unbind_timeout=self.unbind_timeout,
                reassembler=self.reassembler,
                now=now,
            )
            session.label = f"{self.host}:{self.port} "
            session.bind(  # not shared yet: no lock needed
                self.bind_type,
                system_id=self.system_id,
                password=self._password,
                system_type=self.system_type,
                now=now,
                **self._bind_args,  # type: ignore[arg-type]
            )
        except BaseException:
            _shutdown(sock)
            raise
        self._bind_done.clear()
        self._bind_result = None
        with self._lock:
            if self._closing:  # close() came while we connected: it wins
                _shutdown(sock)
                raise ConnectionClosedError("the client is closing")
            # Submitting threads write directly only to a plain socket (MSG_DONTWAIT);
            # TLS records go through the writer thread.
            self._direct_ok = isinstance(sock, socket.socket)
            self._sock = sock
            self._session = session
            data = session.data_to_send()
        # The bind leaves before the reader starts, so its answer finds a reader ready.
        try:
            sock.sendall(data)
        except OSError:
            self._abort(sock, session, "bind could not be sent")
            raise
        reader = threading.Thread(target=self._read_loop, args=(sock, session), name="smppfast-reader", daemon=True)
        reader.start()
        self._threads.append(reader)
        if not self._bind_done.wait(self.bind_timeout + 1.0):
            self._abort(sock, session, "bind got no response")
            raise SmppTimeoutError("bind got no response")
        if self._bind_result is not None:
            self._abort(sock, session, "bind refused")
            raise self._bind_result
        if self._closing:
            self._abort(sock, session, "client closed while binding")
            raise ConnectionClosedError("the client is closing")
        log.info("bound as %s to %s:%d", self.bind_type, self.host, self.port)

    def _abort(self, sock: _Transport, session: Session, reason: str) -> None:
        with self._lock:
            events = session.close(reason)
        self._handle_events(events, session)
        _shutdown(sock)

    def close(self) -> None:
        """Stop accepting submits, wait (bounded) for responses in flight, unbind, close."""
        with self._lock:
            if self._closed:
                return
            self._closing = True
            self._refresh_open()
            self._state_changed.notify_all()
            session = self._session
            if self._reconnect_running and self._sock is not None:
                _shutdown(self._sock)  # a reconnect's connect or bind in progress ends now
            self._bind_done.set()
        in_callback = threading.current_thread() is self._callback_thread
        deadline = time.monotonic() + self.close_timeout
        if session is not None:
            with self._lock:
                # Responses in flight, throttled retries and the messages waiting for their
                # callbacks (whose answers must leave before the unbind) get close_timeout.
                while session.is_bound and (
                    session.in_flight or self._retry or (not in_callback and self._callbacks_busy())
                ):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._waiting += 1
                    try:
                        self._state_changed.wait(min(left, 0.05))
                    finally:
                        self._waiting -= 1
                events = session.unbind(time.monotonic())
                self._kick_writer()
            self._handle_events(events, session)
            end = time.monotonic() + self.unbind_timeout + 1.0
            with self._lock:
                while not session.is_closed and time.monotonic() < end:
                    self._state_changed.wait(0.05)
                events = [] if session.is_closed else session.close("client closed")
            self._handle_events(events, session)
        with self._lock:
            self._closed = True
            self._bound = False
            self._open_session = None
            self._fail_retries(ConnectionClosedError("client closed before the request could be sent again"))
            self._writer_wake.notify_all()
            self._timer_wake.notify_all()
            self._state_changed.notify_all()
            sock = self._sock
        if sock is not None:
            _shutdown(sock)
        with self._lock:
            unfinished = self.reassembler.flush()
        for message in unfinished:  # multipart messages that never completed: told, in order
            if self.on_incomplete is None:
                log.warning("multipart message unfinished at close: %r", message)
            else:
                self._to_callback("on_incomplete", self.on_incomplete, message, None, None)
        with self._inbox_lock:
            # The callback thread ends once the queue is empty. A message still queued was
            # never answered (the SMSC sends it again), so it is dropped, not run; what needs
            # no answer (an unfinished multipart message) still runs.
            dropped = sum(1 for item in self._inbox if item[4] is not None)
            kept = [item for item in self._inbox if item[4] is None]
            self._inbox.clear()
            self._inbox.extend(kept)
            self._inbox_stop = True
            self._inbox_lock.notify_all()
        if dropped:
            log.warning("closed with %d inbound messages not yet handed to a callback; the SMSC will send them again",
                        dropped)
        for t in list(self._threads):
            if t is not threading.current_thread():
                t.join(timeout=5.0)

    @property
    def bound(self) -> bool:
        return self._bound

    def _callbacks_busy(self) -> bool:
        return bool(self._inbox) or self._callback_running

    @property
    def callbacks_waiting(self) -> int:
        """Inbound messages and receipts waiting for the callback thread (at most about
        ``callback_queue``; the reader stops reading while it is full)."""
        return len(self._inbox)

    @property
    def in_flight(self) -> int:
        session = self._session
        return session.in_flight if session is not None else 0

    def routing_state(self) -> tuple[int, int]:
        """``(window_free, in_flight)`` in one call, for a pool's routing; ``(-1, 0)`` while not bound."""
        session = self._session
        if session is None or not self._bound:
            return -1, 0
        return self.window_free, session.in_flight

    @property
    def window_free(self) -> int:
        """Requests a submit could send now without waiting: room in the window, within the
        rate limit (0 while unbound or throttled)."""
        session = self._open_session
        if session is None or not self._bound:
            return 0
        room = session.window_free
        return room if self.rate_limiter is None else min(room, self.rate_limiter.available())

    # -- submitting ---------------------------------------------------------------

    @overload
    def submit(self, pdu: SubmitSm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitFuture[SubmitSmResp]: ...
    @overload
    def submit(self, pdu: DataSm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitFuture[DataSmResp]: ...
    @overload
    def submit(self, pdu: SubmitMulti, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitFuture[SubmitMultiResp]: ...
    @overload
    def submit(self, pdu: QuerySm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitFuture[QuerySmResp]: ...
    @overload
    def submit(self, pdu: CancelSm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitFuture[CancelSmResp]: ...
    @overload
    def submit(self, pdu: ReplaceSm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitFuture[ReplaceSmResp]: ...
    @overload
    def submit(self, pdu: Pdu, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitFuture[Pdu]: ...

    def submit(self, pdu: Pdu, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitFuture[Any]:
        """Send a request; the Future resolves to its response PDU.

        Blocks while the window is full, for at most ``timeout`` (default ``window_timeout``),
        then raises ``WindowFull``. Safe from any number of threads. With ``ref``, the message id
        of the response is kept in ``store`` so its receipt reaches ``on_receipt`` with ``.ref``.
        """
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        fut: SubmitFuture[Any] = SubmitFuture(pdu)
        if ref is None:
            return self._send_one(fut, pdu, timeout)
        return self._send_with_ref(fut, pdu, timeout, ref, 1)

    def _send_with_ref(self, fut: SubmitFuture[Any], pdu: Pdu, timeout: Optional[float], ref: str,
                       parts: int) -> SubmitFuture[Any]:
        self._refs.add(fut, ref, parts)  # before it is sent: its response may come at once
        try:
            return self._send_one(fut, pdu, timeout)
        except BaseException:
            self._refs.drop(fut)
            raise

    def _send_one(self, fut: SubmitFuture[Any], pdu: Pdu, timeout: Optional[float]) -> SubmitFuture[Any]:
        direct = b""
        sock = None
        with self._lock:
            session = self._open_session
            if session is None or session.window_free <= 0:
                session = self._wait_for_slot(timeout)
            session.send(pdu, _monotonic(), fut)
            self.stats.submitted += 1
            if self._writing or self._write_pending:
                self._write_pending = True  # whoever writes now takes it on their next round
            elif session.in_flight == 1 and self._direct_ok:
                # The link was idle: write now from this thread, saving the writer's
                # wake-up on the latency path (stop-and-wait, window 1).
                direct = session.data_to_send()
                sock = self._sock  # the socket of this session: a reconnect may replace self._sock
                self._writing = True
            else:
                self._write_pending = True
                self._writer_wake.notify()
        if direct:
            self._write_direct(sock, direct)
        return fut

    def _write_direct(self, sock: Optional[_Transport], data: bytes) -> None:
        # The submitting thread writes only what the socket takes at once (a plain socket,
        # MSG_DONTWAIT): an SMSC that stops reading never blocks submit(); the rest is the
        # writer thread's, sent before anything queued after it.
        sent = 0
        try:
            if isinstance(sock, socket.socket):
                sent = sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            pass
        except OSError as exc:
            log.warning("send failed: %s", exc)
            if sock is not None:
                _shutdown(sock)
            sent = len(data)  # the link is gone: the reader fails what is in flight
        finally:
            with self._lock:
                self._writing = False
                if sent < len(data):
                    self._leftover = data[sent:] + self._leftover if self._leftover else data[sent:]
                if self._leftover or self._write_pending or (
                    self._session is not None and self._session.output_size
                ):
                    self._kick_writer()  # whatever queued up meanwhile is the writer's now

    @overload
    def submit_many(
        self, pdus: Iterable[SubmitSm], *, timeout: Optional[float] = None
    ) -> list[SubmitFuture[SubmitSmResp]]: ...
    @overload
    def submit_many(self, pdus: Iterable[Pdu], *, timeout: Optional[float] = None) -> list[SubmitFuture[Pdu]]: ...

    def submit_many(self, pdus: Iterable[Pdu], *, timeout: Optional[float] = None) -> list[SubmitFuture[Any]]:
        """Submit a batch: one Future per PDU, in order; as many go out per lock as the window admits.

        Never raises for a single PDU: if one cannot be sent (a field that does not encode, the
        window still full after ``timeout``, the link gone), its Future and those of the PDUs
        after it fail with that error, so every PDU has an outcome the caller sees.
        """
        if self._closing or self._closed:
            raise ConnectionClosedError("the client is closing; no new submits")
        futures: list[SubmitFuture[Any]] = []
        pending = pdus if isinstance(pdus, list) else list(pdus)
        n = len(pending)
        limiter = self.rate_limiter
        while len(futures) < n:
            i = len(futures)
            wait = 0.0
            try:
                with self._lock:
                    session = self._wait_for_slot(timeout)
                    count = min(session.window_free, n - i)
                    if limiter is not None:
                        count, wait = limiter.take_up_to(count)
                    if count:
                        batch = new_futures(SubmitFuture, pending, i, i + count)
                        before = session.in_flight
                        try:
                            session.send_batch(pending, i, batch, _monotonic())
                        finally:
                            # On an error the PDUs before the bad one went out (nothing else
                            # changes the window while we hold the lock): keep their futures.
                            sent = session.in_flight - before
                            futures.extend(batch[:sent])
                            self.stats.submitted += sent
                            if sent:
                                self._kick_writer()
            except Exception as exc:
                for pdu in pending[len(futures):]:
                    fut: SubmitFuture[Any] = SubmitFuture(pdu)
                    fut.set_exception(exc)
                    futures.append(fut)
                break
            if wait > 0:
                time.sleep(wait)
        return futures

    def send_message(
        self,
        destination_addr: str,
        text: str,
        *,
        data_coding: Optional[int] = None,
        method: Literal["udh", "sar", "payload"] = "udh",
        reference: Optional[int] = None,
        ref: Optional[str] = None,
        languages: Languages = None,
        **fields: Any,
    ) -> "MessageHandle":
        """Encode, split and submit a text; one Future per part, in order.

        ``fields`` go on every part's SubmitSm (source_addr, registered_delivery, ...). The
        list returned is a ``MessageHandle``: it also waits for the whole message at once.
        With ``ref``, every part's receipt reaches ``on_receipt`` carrying it. ``languages``
        (default: the client's) enables national language tables, as for split_text.
        """
        pdus = message_pdus(destination_addr, text, data_coding, method, reference, fields,
                            self.languages if languages is None else languages)
        if ref is None:
            return MessageHandle(self.submit_many(pdus))
        # One by one, each future watched before it is sent: the store holds every part's id
        # before its receipt can be read (parts keep their order as submit_many's would).
        futures: list[SubmitFuture[SubmitSmResp]] = []
        for pdu in pdus:
            try:
                if self.rate_limiter is not None:
                    self.rate_limiter.acquire()
                futures.append(self._send_with_ref(SubmitFuture(pdu), pdu, None, ref, len(pdus)))
            except Exception as exc:  # as submit_many: this part and the rest fail, visibly
                for rest in pdus[len(futures):]:
                    failed: SubmitFuture[SubmitSmResp] = SubmitFuture(rest)
                    failed.set_exception(exc)
                    futures.append(failed)
                break
        return MessageHandle(futures)

    def _wait_for_slot(self, timeout: Optional[float]) -> Session:
        """Called with the lock held: a bound session with a free window slot, or raise."""
        if timeout is None:
            timeout = self.window_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closing or self._closed:
                raise ConnectionClosedError("the client is closing; no new submits")
            session = self._session
            now = time.monotonic()
            if session is not None and self._bound and session.is_bound:
                if session.window_free > 0 and not self._retry and now >= self._paused_until:
                    self._refresh_open()
                    return session
            elif not self.reconnect:
                raise ConnectionClosedError("not bound to the SMSC")
            left = None if deadline is None else deadline - now
            if left is not None and left <= 0:
                if session is not None and self._bound and session.window_free <= 0:
                    raise WindowFull(f"window of {self.window} still full after {timeout} s")
                raise SmppTimeoutError(f"no free slot to submit within {timeout} s (throttled or reconnecting)")
            wait = left
            if now < self._paused_until:
                pause = self._paused_until - now
                wait = pause if wait is None else min(wait, pause)
            in_callback = threading.current_thread() is self._callback_thread
            if in_callback:
                # The responses that free a slot may sit behind inbound messages the reader
                # holds for us: let it read on while we wait (bounded: see the module doc).
                self._callback_waits(True)
            self._waiting += 1
            try:
                self._state_changed.wait(wait)
            finally:
                self._waiting -= 1
                if in_callback:
                    self._callback_waits(False)

    # -- the threads --------------------------------------------------------------

    def _refresh_open(self) -> None:
        """With the lock held: recompute whether submits may take the fast path."""
        s = self._session
        ok = (
            s is not None
            and self._bound
            and s.is_bound
            and not self._closing
            and not self._closed
            and not self._retry
            and _monotonic() >= self._paused_until
        )
        self._open_session = s if ok else None

    def _kick_writer(self) -> None:
        """With the lock held: make sure the writer thread will flush what is queued."""
        self._write_pending = True
        self._writer_wake.notify()

    def _write_loop(self) -> None:
        lock = self._lock
        while True:
            with lock:
                while (not self._write_pending or self._writing) and not self._closed:
                    self._writer_wake.wait()
                if self._closed and not self._write_pending:
                    return
                self._write_pending = False
                session = self._session
                sock = self._sock
                data = session.data_to_send() if session is not None else b""
                if self._leftover:
                    data, self._leftover = self._leftover + data, b""
                self._writing = bool(data)
            if data and sock is not None:
                try:
                    sock.sendall(data)
                except OSError as exc:
                    if session is not None and not session.is_closed and not self._closing:
                        log.warning("send failed: %s", exc)
                    _shutdown(sock)  # the reader sees the close and fails what is in flight
            if data:
                with lock:
                    self._writing = False
                    self._state_changed.notify_all()  # a reader waiting for the output to drain

    def _read_loop(self, sock: _Transport, session: Session) -> None:
        recv = sock.recv
        lock = self._lock
        refs = self._refs
        kept_refs: list[Any] = []  # responses settled in C whose requests carried a ref
        while True:
            self._wait_before_reading(session)
            try:
                data = recv(_RECV_SIZE)
            except OSError as exc:
                # After a local close (client closing, bind refused) the socket error is ours.
                if not self._closing and not session.is_closed:
                    log.warning("connection error: %s", exc)
                data = b""
            now = _monotonic()
            with lock:
                events = session.receive_data(data, now)
                if events:
                    # Successful responses of unwatched futures resolve here, in C.
                    resolved = settle(events, now, self.stats.latency, refs.pending, kept_refs)
                    if resolved:
                        self.stats.responses[0] += resolved
                        if self._waiting:
                            self._state_changed.notify_all()
                if session.output_size:
                    self._kick_writer()
            if kept_refs:  # before this buffer's receipts reach a callback
                refs.settled(kept_refs)
                kept_refs.clear()
            if events:
                self._handle_events(events, session)
            if not data or session.is_closed:
                break
        # The session's last answers (unbind_resp to the SMSC's unbind, a generic_nack) leave
        # before we hang up: wait out a write in progress, then send what is still queued.
        with lock:
            end = time.monotonic() + 1.0
            while self._writing and time.monotonic() < end:
                self._state_changed.wait(0.005)
            rest = session.data_to_send() if data and self._session is session else b""
        if rest:
            try:
                sock.sendall(rest)
            except OSError:
                pass
        _shutdown(sock)
        with lock:
            if self._sock is sock:
                self._bound = False
            self._state_changed.notify_all()
        with self._inbox_lock:
            self._inbox_lock.notify_all()  # a reader waiting for room in the inbox is gone
        with lock:
            # Only a session that was bound is worth a reconnect (a failed attempt's reader
            # leaves that to the loop already running), and only one loop runs at a time.
            start = (
                self.reconnect and not self._closing and not self._closed and self._session is session
                and session.bind_type is not None and not self._reconnect_running
            )
            if start:
                self._reconnect_running = True
        if start:
            try:
                self._reconnect_loop()
            finally:
                with lock:
                    self._reconnect_running = False

    def _wait_before_reading(self, session: Session) -> None:
        """Backpressure, outside every lock: wait while the callbacks or the SMSC fall behind."""
        with self._inbox_lock:
            while (
                not self._inbox_stop
                and not session.is_closed
                and len(self._inbox) >= self.callback_queue * (4 if self._callback_blocked else 1)
            ):
                self._inbox_lock.wait(0.2)
        if session.output_size > _MAX_OUTPUT:
            with self._lock:
                while session.output_size > _MAX_OUTPUT and not session.is_closed and not self._closed:
                    self._state_changed.wait(0.2)

    def _callback_waits(self, waiting: bool) -> None:
        """The callback thread starts or stops waiting on the client (a window slot, a result)."""
        with self._inbox_lock:
            self._callback_blocked += 1 if waiting else -1
            self._inbox_lock.notify_all()

    def _reconnect_loop(self) -> None:
        delay = 0.5
        self._reconnecting = True
        while not self._closing and not self._closed:
            try:
                self._open_and_bind()
                with self._lock:
                    self._state_changed.notify_all()
                return
            except (OSError, BindError, SmppTimeoutError, ConnectionClosedError) as exc:
                if self._closing or self._closed:
                    return
                log.warning("reconnect failed (%s); next try in %.1f s", exc, delay)
                with self._lock:
                    self._state_changed.wait(delay)
                delay = min(delay * 2, self.reconnect_max_delay)

    def _timer_loop(self) -> None:
        lock = self._lock
        # Nothing wakes this thread when a deadline appears while it sleeps (a submit's
        # response timeout, the next enquire_link after a response): a notify per submit
        # would tax the hot path. So it never sleeps longer than the shortest timer, and a
        # deadline made during a sleep is still seen before it is due.
        timers = [t for t in (self.response_timeout, self.enquire_link_interval, self.inactivity_timeout) if t]
        cap = max(0.01, min(timers + [1.0]))
        while True:
            events: list[Any] = []
            session = None
            with lock:
                if self._closed:
                    return
                session = self._session
                now = time.monotonic()
                deadlines = [d for d in (
                    session.next_deadline() if session is not None else None,
                    self._paused_until if self._retry or self._paused_until > now else None,
                ) if d is not None]
                deadline = min(deadlines) if deadlines else None
                if deadline is None or deadline > now:
                    self._timer_wake.wait(cap if deadline is None else min(deadline - now, cap))
                    now = time.monotonic()
                if session is not None and session is self._session:
                    events = session.handle_deadline(now)
                    if now >= self._paused_until and self._retry:
                        self._resend_retries(session, now)
                    if session.output_size:
                        self._kick_writer()
            if events and session is not None:
                self._handle_events(events, session)
                if session.is_closed:
                    # The timers found the link dead: hang up, so the reader stops and a
                    # reconnect can start (a silent SMSC would keep recv() waiting forever).
                    with lock:
                        sock = self._sock if self._session is session else None
                    if sock is not None:
                        _shutdown(sock)

    # -- events -> futures and callbacks --------------------------------------------

    def _handle_events(self, events: Sequence[Any], session: Session) -> None:
        # Successful responses of unwatched futures were resolved in the compiled matcher;
        # what reaches here is the rest: watched futures, errors, timeouts, inbound traffic.
        stats = self.stats
        now = _monotonic()
        freed = timeouts = failed = 0
        statuses: collections.Counter[int] = collections.Counter()
        latencies: list[float] = []
        for ev in events:
            t = type(ev)
            if t is ResponseReceived:
                fut = ev.token
                freed += 1
                if fut is None:
                    continue
                response = ev.response
                status = int(response.command_status)
                statuses[status] += 1
                if status == 0:
                    latencies.append(now - ev.sent_at)
                    if self._refs.pending:
                        self._refs.settled((ev,))
                    if not fut.done():
                        fut.set_result(response)
                elif status in THROTTLE_STATUSES and fut.retries < self.throttle_retries:
                    self._throttled(fut)  # sent again: its ref stays pending
                else:
                    self._refs.drop(fut)
                    fut.set_exception(CommandStatusError(status, response))
            elif t is ReceiptReceived:
                with self._lock:
                    stats.count_receipt(ev.receipt)
                self._to_callback("on_receipt", self._on_receipt, ev.receipt, session, ev.request)
            elif t is MessageReceived:
                with self._lock:
                    stats.received += len(ev.message.parts)  # the deliver_sm it took
                self._to_callback("on_message", self.on_message, ev.message, session, ev.request)
            elif t is MessageIncomplete:
                if self.on_incomplete is None:
                    log.warning("multipart message never completed: %r", ev.message)
                else:
                    self._to_callback("on_incomplete", self.on_incomplete, ev.message, None, None)
            elif t is ReceiptMalformed:
                with self._lock:
                    stats.receipts_malformed += 1
            elif t is RequestReceived:
                # Only deliver_sm / data_sm reach an ESME as requests to answer, and the
                # session turns those into the events above; anything else is refused.
                self._answer(session, ev.request, Status.ESME_RINVCMDID)
            elif t is RequestTimedOut:
                freed += 1
                timeouts += 1
                if ev.token is not None:
                    self._refs.drop(ev.token)
                    ev.token.set_exception(response_timeout_error(ev.request, self.response_timeout))
            elif t is RequestFailed:
                freed += 1
                failed += 1
                if ev.token is not None:
                    self._refs.drop(ev.token)
                    ev.token.set_exception(ev.error)
            elif t is Bound:
                with self._lock:
                    if self._reconnecting:
                        # Counted before submits may flow again, so no response can beat it.
                        self.stats.reconnects += 1
                        self._reconnecting = False
                    self._bound = True
                    self._refresh_open()
                self._bind_done.set()
            elif t is BindRefused:
                self._bind_result = BindError(ev.status, ev.response, f"bind refused: {format_status(ev.status)}")
                self._bind_done.set()
            elif t is Closed:
                with self._lock:
                    self._bound = False
                    self._refresh_open()
                if not self._bind_done.is_set():
                    self._bind_result = ConnectionClosedError(f"connection closed during bind: {ev.reason}")
                    self._bind_done.set()
                log.info("session closed: %s", ev.reason)
            # PduRejected and GenericNackReceived need nothing here: the session logged them,
            # rate-limited (a hostile peer can send them at wire speed).
            elif t is AlertReceived:
                log.info("alert_notification: %r", ev.pdu)
            elif t is Unbound:
                log.info("unbound (%s)", "by the SMSC" if ev.by_peer else "by us")
            elif t is OutbindReceived:
                log.warning("outbind received on a bound client; ignored")
        if freed:
            # The reader and the timer thread both get here: counters change under the lock.
            with self._lock:
                stats.responses.update(statuses)
                stats.timeouts += timeouts
                stats.failed += failed
                for latency in latencies:
                    stats.latency.add(latency)
                if self._waiting:
                    self._state_changed.notify_all()
        elif any(type(e) is Closed for e in events[-1:]):
            with self._lock:
                self._state_changed.notify_all()

    def _throttled(self, fut: SubmitFuture[Any]) -> None:
        """The SMSC asked us to slow down: pause everything, then resend this request first."""
        with self._lock:
            self.stats.throttled += 1
            fut.retries += 1
            now = time.monotonic()
            if now >= self._paused_until:
                self._backoff = min(self._backoff * 2, self.throttle_max_backoff) if self._retry else self.throttle_backoff
            self._paused_until = now + self._backoff
            self._retry.append(fut)
            self._open_session = None
            self._timer_wake.notify()
        log.info("throttled by the SMSC; pausing %.2f s", self._backoff)

    def _resend_retries(self, session: Session, now: float) -> None:
        """With the lock held: send queued retries in order, as the window allows."""
        while self._retry and session.is_bound and session.window_free > 0:
            fut = self._retry.popleft()
            session.send(fut.request, now, fut)
        if not self._retry:
            self._backoff = self.throttle_backoff
            self._state_changed.notify_all()

    def _fail_retries(self, error: BaseException) -> None:
        while self._retry:
            fut = self._retry.popleft()
            self._refs.drop(fut)
            fut.set_exception(error)

    # -- the callback thread ----------------------------------------------------------

    def _to_callback(
        self,
        name: str,
        callback: Optional[Callable[[Any], Any]],
        argument: Any,
        session: Optional[Session],
        request: Optional[Pdu],
    ) -> None:
        """Hand an inbound message to the callback thread; answer ``request`` after it ran.

        Never blocks: the reader waits for room before its next read instead
        (``_wait_before_reading``), so no event of a received buffer waits behind another.
        With no callback there is nothing to wait for: the answer goes at once.
        """
        if callback is None:
            if request is not None and session is not None:
                self._answer(session, request, 0)
            return
        with self._inbox_lock:
            if self._inbox_stop:
                return  # closed: unanswered, the SMSC sends it again
            self._inbox.append((name, callback, argument, session, request))
            if len(self._inbox) == 1:
                self._inbox_lock.notify_all()

    def _callback_loop(self) -> None:
        inbox = self._inbox
        cond = self._inbox_lock
        set_wait_hook(self._callback_waits)  # a callback waiting on a result lets the reader read on
        while True:
            with cond:
                while not inbox and not self._inbox_stop:
                    cond.wait()
                if not inbox:
                    return
                name, callback, argument, session, request = inbox.popleft()
                cond.notify_all()  # room for the reader
                if session is not None and session.is_closed:
                    continue  # it can no longer be answered, and the SMSC will send it again
                self._callback_running = True
            status = 0
            try:
                result = callback(argument)
                if isinstance(result, int) and not isinstance(result, bool):
                    status = result  # on_message may choose the deliver_sm_resp's command_status
            except Exception:
                log.exception("%s callback raised; answering ESME_RX_T_APPN", name)
                status = Status.ESME_RX_T_APPN
            finally:
                with cond:
                    self._callback_running = False
            if request is not None and session is not None:
                self._answer(session, request, status)

    def _answer(self, session: Session, request: Pdu, status: int) -> None:
        """Queue the response to an inbound request (nothing once its session is closed)."""
        with self._lock:
            if session.is_closed:
                return
            try:
                session.respond(request, status=status)
            except ValueError as exc:  # a status that does not fit 32 bits
                log.error("callback returned an invalid command_status %r: %s", status, exc)
                session.respond(request, status=Status.ESME_RX_T_APPN)
            self._kick_writer()


def _shutdown(sock: _Transport) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
