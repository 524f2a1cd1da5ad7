"""An asyncio ESME on the same sans-IO ``Session`` as the threaded client.

This driver does only I/O, waiting and callbacks: an ``asyncio.Protocol`` hands each received
buffer to the session in one call, the session's events become future results and callback
calls, its deadlines become one loop timer, and everything the session queues
leaves in one ``transport.write`` per loop iteration.

Every submit ends exactly once, as with ``Client``: in its response, ``CommandStatusError``,
``SmppTimeoutError`` (``maybe_accepted``), ``ConnectionClosedError`` or
``RemoteProtocolError``. Cancelling the task that awaits a submit does not lose the request:
it stays in the window until its response (or timeout) frees the slot, and is counted.

Callbacks (plain functions or coroutine functions) run one at a time, in order, in a task of
their own; while ``callback_queue`` inbound messages wait for them, or while the transport's
write buffer is over its high-water mark (an SMSC that stops reading), the transport stops
reading (TCP backpressure on the SMSC).

Throttling: on ESME_RTHROTTLED or ESME_RMSGQFUL every submit pauses (``throttle_backoff``,
doubling up to ``throttle_max_backoff``) and the refused requests go out again first, in
order, at most ``throttle_retries`` times each, as with ``Client``.

With ``reconnect=True`` a link that drops (or that the timers find dead) is bound again,
with a doubling delay up to ``reconnect_max_delay``; submits meanwhile wait for the new bind
(up to their timeout). ``close()`` wins over a reconnect in progress.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import ssl
import time
from typing import Any, Awaitable, Callable, Iterable, Optional, Sequence, TypeVar, Union, overload

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
from ._futures import settle_asyncio
from ._refs import async_on_receipt, keeper_for
from ._driver import THROTTLE_STATUSES, Languages, check_languages, check_options, message_pdus, response_timeout_error
from .client import ClientStats, RateLimiter
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
    BindRefused,
    Bound,
    Closed,
    MessageIncomplete,
    MessageReceived,
    ReceiptMalformed,
    ReceiptReceived,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
)
from .reassembly import Reassembler
from .session import Session
from .stores import MemoryStore, Store

__all__ = ["AsyncClient", "wait_all"]

log = logging.getLogger("smppfast.aio")

# The session's clock. Not loop.time(): uvloop's counts whole milliseconds, too coarse for
# latencies; timers convert a deadline into a delay for call_later.
_now = time.monotonic

Callback = Callable[[Any], Union[None, int, Awaitable[Optional[int]]]]

# How long close() waits for its transport to be closed for good (a TLS transport first trades
# close_notify with the peer) before it aborts it.
_CLOSE_WAIT = 1.0


_F = TypeVar("_F", bound="asyncio.Future[Any]")


async def wait_all(futures: Sequence[_F]) -> Sequence[_F]:
    """Wait until every future of a batch (``submit_many``'s) is done; return them, to read.

    Unlike ``asyncio.gather`` it raises nothing for a failed future and adds no callback per
    future: it waits on one future at a time, from the last (responses come back nearly in
    order, so once the last is done the others mostly are), which keeps a batch of thousands
    cheap. Cancelling the waiting task cancels none of the futures.
    """
    for fut in reversed(futures):
        if not fut.done():
            try:
                await asyncio.shield(fut)
            except asyncio.CancelledError:
                if not fut.cancelled():
                    raise  # the waiting task itself was cancelled
            except Exception:
                pass  # a failed request: its future holds the error for the caller
    return futures


class AsyncClient:
    """An SMPP 3.4 ESME for asyncio: ``async with AsyncClient(host, port, system_id=..., password=...)``.

    The keyword arguments mean what they mean for :class:`smppfast.Client`.
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
        ssl_context: Optional[ssl.SSLContext] = None,
        on_message: Optional[Callback] = None,
        on_receipt: Optional[Callback] = None,
        on_incomplete: Optional[Callback] = None,
        reassembly_timeout: float = 600.0,
        callback_queue: int = 1000,
        reconnect: bool = False,
        reconnect_max_delay: float = 60.0,
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
        self.ssl_context = ssl_context
        #: Where ``message_id -> ref`` waits for the receipt (``submit(..., ref=...)``).
        self.store: Store = store if store is not None else MemoryStore()
        self._refs = keeper_for(self.store)  # shared with every client of this store
        self._kept_refs: list[Any] = []  # responses settled in C whose requests carried a ref
        #: Names this bind in logs and metrics (a pool numbers its members).
        self.label = f"{host}:{port}"
        self.on_message = on_message
        self.on_receipt = on_receipt
        self.on_incomplete = on_incomplete
        self.callback_queue = callback_queue
        self.reconnect = reconnect
        self.reconnect_max_delay = reconnect_max_delay
        self._reconnect_task: Optional[asyncio.Task[None]] = None
        self.stats = ClientStats(self)
        self.reassembler = Reassembler(max_age=reassembly_timeout)
        self._session: Optional[Session] = None
        self._transport: Optional[asyncio.Transport] = None
        self._protocol: Optional[_Protocol] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._bind_waiter: Optional[asyncio.Future[None]] = None
        self._slot_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._flush_handle: Optional[asyncio.Handle] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at: Optional[float] = None
        self._inbox: collections.deque[tuple[str, Callback, Any, Optional[Pdu]]] = collections.deque()
        self._inbox_wake: Optional[asyncio.Event] = None
        self._callback_task: Optional[asyncio.Task[None]] = None
        self._reading_paused = False
        self._callback_running = False  # a callback has its message and has not answered it yet
        self._write_paused = False
        self._closed_event: Optional[asyncio.Event] = None
        # Throttling: the refused requests, in order, and how often each was sent again.
        self._retry: collections.deque[tuple[Pdu, asyncio.Future[Pdu]]] = collections.deque()
        self._retries: dict[asyncio.Future[Pdu], int] = {}
        self._paused_until = 0.0
        self._backoff = throttle_backoff
        self._resume: Optional[asyncio.TimerHandle] = None
        self._connected = False
        self._closing = False
        self._closed = False

    def __repr__(self) -> str:
        state = self._session.state.name if self._session else "NEW"
        return f"<AsyncClient {self.system_id}@{self.host}:{self.port} {self.bind_type} {state}>"

    @property
    def on_receipt(self) -> Optional[Callback]:
        """Called (or awaited) with each delivery receipt, ``.ref`` set when the store matched it."""
        return self._user_on_receipt

    @on_receipt.setter
    def on_receipt(self, callback: Optional[Callback]) -> None:
        self._user_on_receipt = callback
        self._on_receipt = async_on_receipt(self._refs, callback)

    async def __aenter__(self) -> "AsyncClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def bound(self) -> bool:
        return self._session is not None and self._session.is_bound and not self._closing

    def routing_state(self) -> tuple[int, int]:
        """``(window_free, in_flight)`` in one call, for a pool's routing; ``(-1, 0)`` while not bound."""
        session = self._session
        if session is None or not session.is_bound or self._closing:
            return -1, 0
        return self.window_free, session.in_flight

    @property
    def window_free(self) -> int:
        """Requests a submit could send now without waiting: room in the window, within the rate
        limit (0 while unbound, throttled or closing)."""
        session = self._session
        if (session is None or not session.is_bound or self._closing or self._retry
                or self._slot_waiters or _now() < self._paused_until):
            return 0
        room = session.window_free
        return room if self.rate_limiter is None else min(room, self.rate_limiter.available())

    @property
    def in_flight(self) -> int:
        return self._session.in_flight if self._session is not None else 0

    @property
    def callbacks_waiting(self) -> int:
        """Inbound messages and receipts waiting for their callback, as ``Client.callbacks_waiting``
        (reading pauses while ``callback_queue`` of them wait)."""
        return len(self._inbox)

    # -- lifecycle ----------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection and bind; raises ``BindError`` when the SMSC refuses."""
        if self._closed or self._closing:
            raise LocalProtocolError("this client was closed; make a new one")
        if self._connected:
            raise LocalProtocolError("this client is already connected (an `async with` block connects)")
        self._connected = True
        loop = self._loop = asyncio.get_running_loop()
        self._closed_event = asyncio.Event()
        self._inbox_wake = asyncio.Event()
        try:
            await self._open_and_bind()
        except BaseException:
            self._connected = False
            raise
        self._callback_task = loop.create_task(self._callback_loop(), name="smppfast-aio-callbacks")

    async def _open_and_bind(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Protocol(self), self.host, self.port, ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context is not None else None,
                ),
                self.connect_timeout,
            )
        except asyncio.TimeoutError:
            raise SmppTimeoutError(f"could not connect to {self.host}:{self.port} within {self.connect_timeout} s") from None
        if self._closing:
            transport.close()
            raise ConnectionClosedError("the client is closing")
        self._transport = transport
        self._protocol = protocol
        now = _now()
        session = self._session = Session(
            "esme", window=self.window, response_timeout=self.response_timeout,
            enquire_link_interval=self.enquire_link_interval, inactivity_timeout=self.inactivity_timeout,
            bind_timeout=self.bind_timeout, unbind_timeout=self.unbind_timeout, reassembler=self.reassembler, now=now,
        )
        protocol.session = session  # what this transport reads goes to this session only
        session.label = f"{self.host}:{self.port} "
        self._bind_waiter = loop.create_future()
        self._cancel_timer()
        try:
            session.bind(self.bind_type, system_id=self.system_id, password=self._password,
                         system_type=self.system_type, now=now, **self._bind_args)  # type: ignore[arg-type]
            self._after_activity()
            await asyncio.wait_for(asyncio.shield(self._bind_waiter), self.bind_timeout + 1.0)
        except BaseException as exc:
            self._abort("bind failed")
            if isinstance(exc, asyncio.TimeoutError):
                raise SmppTimeoutError("bind got no response") from None
            raise
        log.info("bound as %s to %s:%d", self.bind_type, self.host, self.port)
        self._wake_slot_waiters()

    async def _reconnect_loop(self) -> None:
        delay = 0.5
        while not self._closing and not self._closed:
            try:
                await self._open_and_bind()
                self.stats.reconnects += 1
                return
            except (OSError, BindError, SmppTimeoutError, ConnectionClosedError) as exc:
                if self._closing or self._closed:
                    return
                log.warning("reconnect failed (%s); next try in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_delay)

    def _abort(self, reason: str) -> None:
        session = self._session
        if session is not None and not session.is_closed:
            self._handle_events(session.close(reason))
        self._hang_up()
        self._cancel_timer()

    async def close(self) -> None:
        """Stop new submits, wait (bounded) for responses and callbacks, unbind, close."""
        if self._closed:
            return
        self._closing = True
        self._wake_slot_waiters()
        # Called from a callback (it runs in the callback task): waiting for that callback,
        # or for the task it runs in, would wait for ourselves.
        in_callback = self._callback_task is not None and asyncio.current_task() is self._callback_task
        if self._reconnect_task is not None and not self._reconnect_task.done():
            self._reconnect_task.cancel()  # close() wins over a reconnect in progress
            try:
                await self._reconnect_task
            except (asyncio.CancelledError, Exception):
                pass
        session = self._session
        if session is not None and session.is_bound:
            deadline = _now() + self.close_timeout
            # Responses in flight, throttled requests still to go out again, and the messages
            # waiting for (or in) their callbacks, whose answers must leave before the unbind.
            while (session.is_bound and _now() < deadline and (
                    session.in_flight or self._retry or (not in_callback and (self._inbox or self._callback_running)))):
                await asyncio.sleep(0.005)
            self._handle_events(session.unbind(_now()))
            self._after_activity()
            assert self._closed_event is not None
            try:
                await asyncio.wait_for(self._closed_event.wait(), self.unbind_timeout + 1.0)
            except asyncio.TimeoutError:
                pass
        self._abort("client closed")
        await self._transport_closed()
        self._closed = True
        if self._resume is not None:
            self._resume.cancel()
        while self._retry:
            _, fut = self._retry.popleft()
            self._refs.drop(fut)
            if not fut.done():
                fut.set_exception(ConnectionClosedError("client closed before the request could be sent again"))
        if self._callback_task is not None:
            assert self._inbox_wake is not None
            self._inbox.clear()  # unanswered now: the SMSC sends them again
            self._inbox_wake.set()
            if not in_callback:  # else it ends once the callback that called us returns
                try:
                    await asyncio.wait_for(self._callback_task, 5.0)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    self._callback_task.cancel()
        for message in self.reassembler.flush():  # multipart messages that never completed
            if self.on_incomplete is None:
                log.warning("multipart message unfinished at close: %r", message)
            else:
                await self._run_callback("on_incomplete", self.on_incomplete, message)

    async def _transport_closed(self) -> None:
        """Wait (bounded) until the transport has really closed its socket. A TLS transport
        first trades close_notify with the peer: a loop that ended before then (asyncio.run
        right after close()) would leave the socket open."""
        protocol, transport = self._protocol, self._transport
        if protocol is None or transport is None or protocol.lost.done():
            return
        await asyncio.wait([protocol.lost], timeout=_CLOSE_WAIT)
        if not protocol.lost.done():
            transport.abort()  # the peer never answered: close without it
            await asyncio.wait([protocol.lost], timeout=_CLOSE_WAIT)

    # -- submitting ---------------------------------------------------------------

    async def _slot(self, timeout: Optional[float]) -> Session:
        """A bound session with a free window slot, waiting at most ``timeout``."""
        if timeout is None:
            timeout = self.window_timeout
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else _now() + timeout
        while True:
            session = self._session
            if self._closing or self._closed:
                raise ConnectionClosedError("the client is closing; no new submits")
            bound = session is not None and session.is_bound
            if not bound and not self.reconnect:
                raise ConnectionClosedError("not bound to the SMSC")
            paused = bool(self._retry) or _now() < self._paused_until
            if session is not None and bound and session.window_free > 0 and not self._slot_waiters and not paused:
                return session
            left = None if deadline is None else deadline - _now()
            if left is not None and left <= 0:
                if bound:
                    raise WindowFull(f"window of {self.window} still full after {timeout} s")
                raise SmppTimeoutError(f"no free slot to submit within {timeout} s (throttled or reconnecting)")
            waiter: asyncio.Future[None] = loop.create_future()
            self._slot_waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, left)
            except asyncio.TimeoutError:
                pass
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    # Woken for a slot, then cancelled before it resumed: the slot is the
                    # next waiter's, or it waits until its timeout for a slot that is free.
                    self._wake_slot_waiters()
                raise
            finally:
                if waiter in self._slot_waiters:
                    self._slot_waiters.remove(waiter)
            session = self._session
            paused = bool(self._retry) or _now() < self._paused_until
            if session is not None and session.is_bound and session.window_free > 0 and not paused:
                return session

    def _send(self, session: Session, pdu: Pdu, ref: Optional[str] = None) -> "asyncio.Future[Pdu]":
        assert self._loop is not None
        fut: asyncio.Future[Pdu] = self._loop.create_future()
        if ref is None:
            session.send(pdu, _now(), fut)
        else:
            self._refs.add(fut, ref, 1)  # before it is sent: its response may come at once
            try:
                session.send(pdu, _now(), fut)
            except BaseException:  # a PDU that does not encode: no response will come
                self._refs.drop(fut)
                raise
        self.stats.submitted += 1
        if session.in_flight == 1 and self._flush_handle is None:
            # The link was idle: write at once rather than a loop iteration later, which is
            # the round trip of stop-and-wait (window 1). Busier links batch per iteration.
            self._flush()
        else:
            self._schedule_flush()
        return fut

    @overload
    async def submit(self, pdu: SubmitSm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitSmResp: ...
    @overload
    async def submit(self, pdu: DataSm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> DataSmResp: ...
    @overload
    async def submit(self, pdu: SubmitMulti, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> SubmitMultiResp: ...
    @overload
    async def submit(self, pdu: QuerySm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> QuerySmResp: ...
    @overload
    async def submit(self, pdu: CancelSm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> CancelSmResp: ...
    @overload
    async def submit(self, pdu: ReplaceSm, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> ReplaceSmResp: ...
    @overload
    async def submit(self, pdu: Pdu, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> Pdu: ...

    async def submit(self, pdu: Pdu, *, timeout: Optional[float] = None, ref: Optional[str] = None) -> Any:
        """Send a request and return its response PDU (raising as ``Client``'s futures do).

        With ``ref``, the response's message id is kept in ``store`` so its receipt reaches
        ``on_receipt`` with ``.ref`` (also when the awaiting task was cancelled meanwhile).
        """
        if self.rate_limiter is not None:
            wait = self.rate_limiter.reserve()
            if wait > 0:
                await asyncio.sleep(wait)
        session = self._session
        if (session is None or not session.is_bound or session.window_free <= 0 or self._slot_waiters
                or self._retry or self._closing or _now() < self._paused_until):
            session = await self._slot(timeout)
        if ref is None:
            return await self._send(session, pdu)
        # Shielded: a cancelled caller must not cancel the request's future, whose response
        # still puts the message id into the store for the receipt to find.
        return await asyncio.shield(self._send(session, pdu, ref))

    @overload
    async def submit_many(
        self, pdus: Iterable[SubmitSm], *, timeout: Optional[float] = None
    ) -> "list[asyncio.Future[SubmitSmResp]]": ...
    @overload
    async def submit_many(self, pdus: Iterable[Pdu], *, timeout: Optional[float] = None) -> "list[asyncio.Future[Pdu]]": ...

    async def submit_many(self, pdus: Iterable[Pdu], *, timeout: Optional[float] = None) -> "list[asyncio.Future[Any]]":
        """Send every PDU as the window allows; return their futures once all are sent.

        As ``Client.submit_many``: one PDU that cannot be sent fails its own future and the
        ones after it; a closed client raises.
        """
        return await self._submit_many(pdus, timeout)

    async def _submit_many(self, pdus: Iterable[Pdu], timeout: Optional[float],
                           ref: Optional[str] = None) -> "list[asyncio.Future[Any]]":
        if self._closing or self._closed:
            raise ConnectionClosedError("the client is closing; no new submits")
        assert self._loop is not None
        futures: list[asyncio.Future[Any]] = []
        pending = list(pdus)
        loop = self._loop
        while len(futures) < len(pending):
            i = len(futures)
            try:
                session = await self._slot(timeout)
                count = min(session.window_free, len(pending) - i)
                if self.rate_limiter is not None:
                    count, wait = self.rate_limiter.take_up_to(count)
                    if not count:
                        await asyncio.sleep(wait)
                        continue
                batch = [loop.create_future() for _ in range(count)]
                if ref is not None:  # registered before they are sent
                    for registered in batch:
                        self._refs.add(registered, ref, len(pending))
                before = session.in_flight
                try:
                    session.send_batch(pending, i, batch, _now())
                finally:
                    sent = session.in_flight - before  # on an error, those before the bad PDU went out
                    futures.extend(batch[:sent])
                    if ref is not None:
                        for unsent in batch[sent:]:
                            self._refs.drop(unsent)
                    self.stats.submitted += sent
                    self._schedule_flush()
            except Exception as exc:
                for _ in pending[len(futures):]:
                    fut: asyncio.Future[Any] = loop.create_future()
                    fut.set_exception(exc)
                    futures.append(fut)
                break
        return futures

    async def send_message(self, destination_addr: str, text: str, *, data_coding: Optional[int] = None,
                           method: str = "udh", reference: Optional[int] = None, ref: Optional[str] = None,
                           languages: Languages = None, **fields: Any) -> list[SubmitSmResp]:
        """Split, submit and return one response per part (the first failure raises).

        With ``ref``, every part's receipt reaches ``on_receipt`` carrying it. ``languages``
        (default: the client's) enables national language tables, as for split_text.
        """
        pdus = message_pdus(destination_addr, text, data_coding, method, reference, fields,
                            self.languages if languages is None else languages)
        futures = await self._submit_many(pdus, None, ref)
        return list(await asyncio.gather(*futures))

    # -- I/O ----------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        # One transport.write per loop iteration, however many PDUs were queued in it.
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        session = self._session
        if session is None or self._transport is None:
            return
        data = session.data_to_send()
        if data and not self._transport.is_closing():
            self._transport.write(data)
        self._arm_timer()

    def _after_activity(self) -> None:
        session = self._session
        if session is not None and session.output_size:
            self._schedule_flush()
        self._arm_timer()

    def _arm_timer(self) -> None:
        session = self._session
        if session is None or self._loop is None:
            return
        deadline = session.next_deadline()
        if deadline is None or (self._timer_at is not None and self._timer_at <= deadline):
            return
        self._cancel_timer()
        self._timer_at = deadline
        self._timer = self._loop.call_later(max(0.0, deadline - _now()), self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        session = self._session
        if session is None or self._loop is None:
            return
        self._handle_events(session.handle_deadline(_now()))
        if session.is_closed and self._transport is not None:
            self._hang_up()  # the timers found the link dead
        self._after_activity()

    def _data_received(self, session: Optional[Session], data: bytes) -> None:
        if session is None or session is not self._session or self._loop is None:
            return
        now = _now()
        events = session.receive_data(data, now)
        if events:
            # Successful responses set their futures here, in C; the rest is _handle_events'.
            refs = self._refs
            kept_refs = self._kept_refs  # one list for the client's life, emptied after each buffer
            resolved = settle_asyncio(events, now, self.stats.latency, refs.pending, kept_refs)
            if kept_refs:  # before this buffer's receipts reach a callback
                refs.settled(kept_refs)
                kept_refs.clear()
            if resolved:
                self.stats.responses[0] += resolved
                if self._retries:  # a request sent again after a throttle may be among them
                    for fut in [f for f in self._retries if f.done()]:
                        del self._retries[fut]
                self._wake_slot_waiters()
            if events:
                self._handle_events(events)
        self._after_activity()

    def _connection_lost(self, session: Optional[Session]) -> None:
        if session is None or session is not self._session or self._loop is None:
            return
        was_bound = session.bind_type is not None
        self._handle_events(session.connection_lost(_now()))
        self._cancel_timer()
        if (self.reconnect and was_bound and not self._closing and not self._closed
                and (self._reconnect_task is None or self._reconnect_task.done())):
            self._reconnect_task = self._loop.create_task(self._reconnect_loop(), name="smppfast-aio-reconnect")

    # -- events -------------------------------------------------------------------

    def _handle_events(self, events: list[Any]) -> None:
        stats = self.stats
        freed = False
        for ev in events:
            t = type(ev)
            if t is ResponseReceived:
                freed = True
                fut = ev.token
                status = int(ev.response.command_status)
                retried = self._retries.pop(fut, 0) if self._retries else 0
                stats.responses[status] += 1
                if status == 0:
                    stats.latency.add(_now() - ev.sent_at)
                    if self._refs.pending:
                        self._refs.settled((ev,))
                    if fut is not None and not fut.done():
                        fut.set_result(ev.response)
                elif (
                    status in THROTTLE_STATUSES and fut is not None and not fut.done()
                    and retried < self.throttle_retries
                ):  # also while closing: close() waits for the retries, as Client's does
                    self._throttled(ev.request, fut, retried + 1)
                else:
                    self._refs.drop(fut)
                    if fut is not None and not fut.done():
                        fut.set_exception(CommandStatusError(status, ev.response))
            elif t is RequestTimedOut:
                freed = True
                stats.timeouts += 1
                if self._retries:
                    self._retries.pop(ev.token, None)
                self._refs.drop(ev.token)
                if ev.token is not None and not ev.token.done():
                    ev.token.set_exception(response_timeout_error(ev.request, self.response_timeout))
            elif t is RequestFailed:
                freed = True
                stats.failed += 1
                if self._retries:
                    self._retries.pop(ev.token, None)
                self._refs.drop(ev.token)
                if ev.token is not None and not ev.token.done():
                    ev.token.set_exception(ev.error)
            elif t is ReceiptReceived:
                stats.count_receipt(ev.receipt)
                self._to_callback("on_receipt", self._on_receipt, ev.receipt, ev.request)
            elif t is MessageReceived:
                stats.received += len(ev.message.parts)
                self._to_callback("on_message", self.on_message, ev.message, ev.request)
            elif t is MessageIncomplete:
                if self.on_incomplete is None:
                    log.warning("multipart message never completed: %r", ev.message)
                else:
                    self._to_callback("on_incomplete", self.on_incomplete, ev.message, None)
            elif t is ReceiptMalformed:
                stats.receipts_malformed += 1
            elif t is RequestReceived:
                self._answer(ev.request, Status.ESME_RINVCMDID)
            elif t is Bound:
                if self._bind_waiter is not None and not self._bind_waiter.done():
                    self._bind_waiter.set_result(None)
            elif t is BindRefused:
                if self._bind_waiter is not None and not self._bind_waiter.done():
                    self._bind_waiter.set_exception(
                        BindError(ev.status, ev.response, f"bind refused: {format_status(ev.status)}"))
            elif t is Closed:
                log.info("session closed: %s", ev.reason)
                if self._bind_waiter is not None and not self._bind_waiter.done():
                    self._bind_waiter.set_exception(ConnectionClosedError(f"connection closed during bind: {ev.reason}"))
                if self._closed_event is not None:
                    self._closed_event.set()
                freed = True
        if freed:
            self._wake_slot_waiters()

    def _throttled(self, request: Pdu, fut: "asyncio.Future[Pdu]", retries: int) -> None:
        """The SMSC asked us to slow down: pause every submit, then send this one again first."""
        assert self._loop is not None
        self.stats.throttled += 1
        self._retries[fut] = retries  # until its next outcome
        now = _now()
        if now >= self._paused_until:
            self._backoff = min(self._backoff * 2, self.throttle_max_backoff) if self._retry else self.throttle_backoff
        self._paused_until = now + self._backoff
        self._retry.append((request, fut))
        if self._resume is not None:
            self._resume.cancel()
        self._resume = self._loop.call_later(max(0.0, self._paused_until - _now()), self._resend_retries)
        log.info("throttled by the SMSC; pausing %.2f s", self._backoff)

    def _resend_retries(self) -> None:
        self._resume = None
        session = self._session
        if session is None or self._loop is None or not session.is_bound:
            while self._retry:  # the link is gone: they cannot be sent again
                _, fut = self._retry.popleft()
                self._refs.drop(fut)
                if not fut.done():
                    fut.set_exception(ConnectionClosedError("the link went down before the request could be sent again"))
            return
        now = _now()
        while self._retry and session.window_free > 0:
            request, fut = self._retry.popleft()
            if fut.done():  # its awaiting task was cancelled: nothing waits for it any more
                self._refs.drop(fut)
                continue
            session.send(request, now, fut)
        if self._retry:
            self._resume = self._loop.call_later(0.01, self._resend_retries)
        else:
            self._backoff = self.throttle_backoff
        self._schedule_flush()
        self._wake_slot_waiters()

    def _wake_slot_waiters(self) -> None:
        session = self._session
        room = session.window_free if session is not None and not self._closing else len(self._slot_waiters)
        while self._slot_waiters and room > 0:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                room -= 1

    # -- callbacks ------------------------------------------------------------------

    def _to_callback(self, name: str, callback: Optional[Callback], argument: Any, request: Optional[Pdu]) -> None:
        if callback is None:
            if request is not None:
                self._answer(request, 0)
            return
        self._inbox.append((name, callback, argument, request))
        if self._inbox_wake is not None:
            self._inbox_wake.set()
        if len(self._inbox) >= self.callback_queue:
            self._update_reading()  # backpressure: the SMSC waits until callbacks catch up

    async def _run_callback(self, name: str, callback: Callback, argument: Any) -> int:
        try:
            result = callback(argument)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, int) and not isinstance(result, bool):
                return result
            return 0
        except Exception:
            log.exception("%s callback raised; answering ESME_RX_T_APPN", name)
            return int(Status.ESME_RX_T_APPN)

    async def _callback_loop(self) -> None:
        assert self._inbox_wake is not None
        while True:
            while not self._inbox:
                if self._closed:
                    return
                self._inbox_wake.clear()
                await self._inbox_wake.wait()
            name, callback, argument, request = self._inbox.popleft()
            if self._reading_paused:
                self._update_reading()
            self._callback_running = True
            try:
                status = await self._run_callback(name, callback, argument)
                if request is not None:
                    self._answer(request, status)
            finally:
                self._callback_running = False

    def _hang_up(self) -> None:
        """Close the transport; abort it when octets still wait for an SMSC that does not read
        them (a plain close() would wait for them for ever, leaving the socket open)."""
        transport = self._transport
        if transport is None:
            return
        if transport.get_write_buffer_size():
            transport.abort()
        else:
            transport.close()

    def _set_write_paused(self, paused: bool) -> None:
        self._write_paused = paused
        self._update_reading()

    def _update_reading(self) -> None:
        """Read only while the callbacks keep up and the SMSC takes what we write."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        want_paused = self._write_paused or len(self._inbox) >= self.callback_queue
        if want_paused != self._reading_paused:
            self._reading_paused = want_paused
            if want_paused:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def _answer(self, request: Pdu, status: int) -> None:
        session = self._session
        if session is None or session.is_closed:
            return
        session.respond(request, status=status)
        self._schedule_flush()


class _Protocol(asyncio.Protocol):
    """Moves bytes between one transport and its session; nothing else."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.session: Optional[Session] = None
        #: Done once the transport has closed its socket.
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.client._data_received(self.session, data)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.client._connection_lost(self.session)

    # The transport's write buffer passed its high-water mark (an SMSC that stops reading):
    # stop reading too, so answers to what it sends cannot pile up without bound.
    def pause_writing(self) -> None:
        self.client._set_write_paused(True)

    def resume_writing(self) -> None:
        self.client._set_write_paused(False)
