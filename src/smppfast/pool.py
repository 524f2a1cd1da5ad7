"""Many binds as one sender: ``Pool`` (threads, on ``Client``) and ``AsyncPool`` (asyncio, on
``AsyncClient``).

SMSCs license throughput per bind, so a sender holds several binds, often on several hosts. A
pool holds one client per bind and sends each submit through the bound member with room in its
window and the fewest requests in flight; all parts of one message go through one member. A
member that drops reconnects on its own (members are built with ``reconnect=True``) while the
others carry the traffic; one that could not bind at first keeps trying in the background. The
pool stays usable while at least one member is bound.

Routing is decided once, here, by :func:`route` (a pure function of the members' public state);
the two pool classes only carry its decision out with their driver's way of waiting.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Generic, Iterable, Literal, Optional, Protocol, Sequence, TypeVar, overload

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
from ._future import SubmitFuture
from .aio import AsyncClient
from .client import Client, MessageHandle
from .errors import BindError, ConnectionClosedError, SmppTimeoutError, WindowFull
from .stats import ClientStats, combined
from .stores import MemoryStore, Store

__all__ = ["Pool", "AsyncPool", "route", "Route"]

log = logging.getLogger("smppfast.pool")

# How long a submit waits on one full member before it looks at the others again: short enough
# that a slot freed elsewhere is taken soon, long enough that a saturated pool does not spin.
_RECHECK = 0.05
# While no member is bound, how often the pool looks again (a member's reconnect wakes nobody).
_NONE_BOUND_POLL = 0.02
# A member that could not bind at first tries again after this, doubling up to reconnect_max_delay.
_FIRST_RETRY = 0.5


class _Member(Protocol):
    label: str
    window_timeout: Optional[float]

    @property
    def bound(self) -> bool: ...
    @property
    def in_flight(self) -> int: ...
    def routing_state(self) -> tuple[int, int]: ...


_M = TypeVar("_M", bound=_Member)


#: What to do with the next submit: ``("send", member, room)``: ``room`` requests fit in that
#: member's window now; ``("queue", member, 0)``: every bound member is full, wait a short while
#: on this one; ``("wait", None, 0)``: no member is bound.
Route = tuple[Literal["send", "queue", "wait"], Optional[_M], int]


def route(members: Sequence[_M], turn: int = 0) -> Route[_M]:
    """The routing rule, written once for both pools.

    Among bound members with room (in their window and within their rate limit), the one with
    the fewest requests in flight; ties go round: the scan starts at member ``turn % n``, so a
    lightly loaded pool spreads its traffic over every bind. When every bound member is full,
    the least loaded of them: its window frees first on average. With no member bound, wait.
    """
    best: Optional[_M] = None
    best_load = 0
    fallback: Optional[_M] = None
    fallback_load = 0
    n = len(members)
    best_room = 0
    for k in range(n):
        m = members[(turn + k) % n]
        room, load = m.routing_state()
        if room < 0:  # not bound
            continue
        if room > 0:
            if best is None or load < best_load:
                best, best_load, best_room = m, load, room
        elif fallback is None or load < fallback_load:
            fallback, fallback_load = m, load
    if best is not None:
        return ("send", best, best_room)
    if fallback is not None:
        return ("queue", fallback, 0)
    return ("wait", None, 0)


def _members_of(endpoints: Iterable[tuple[str, int]], binds: int) -> list[tuple[str, int, str]]:
    """(host, port, label) per bind, endpoints checked where they are given."""
    if isinstance(binds, bool) or not isinstance(binds, int) or binds < 1:
        raise ValueError(f"binds must be a whole number of at least 1, not {binds!r}")
    if isinstance(endpoints, (str, bytes)):
        raise TypeError("endpoints must be a list of (host, port) pairs, not a string")
    out: list[tuple[str, int, str]] = []
    seen: dict[tuple[str, int], int] = {}
    for ep in endpoints:
        if not (isinstance(ep, (tuple, list)) and len(ep) == 2):
            raise TypeError(f"each endpoint must be a (host, port) pair, not {ep!r}")
        host, port = ep
        if not isinstance(host, str) or not host:
            raise ValueError(f"an endpoint's host must be a non-empty str, not {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"an endpoint's port must be 1..65535, not {port!r}")
        for _ in range(binds):
            n = seen.get((host, port), 0) + 1
            seen[(host, port)] = n
            out.append((host, port, f"{host}:{port}#{n}"))
    if not out:
        raise ValueError("a pool needs at least one endpoint")
    return out


def _client_options(client_kwargs: dict[str, Any]) -> dict[str, Any]:
    options = dict(client_kwargs)
    # A pool lives by its members coming back on their own after a drop.
    options.setdefault("reconnect", True)
    return options


def _unsent(exc: Exception) -> bool:
    """True for a member's refusal that came before the request left (no slot in time, not bound,
    closing): another member may take the request. Never for a request that may have gone out."""
    if isinstance(exc, WindowFull):
        return True
    return isinstance(exc, (SmppTimeoutError, ConnectionClosedError)) and not exc.maybe_accepted


def _none_bound(timeout: Optional[float]) -> SmppTimeoutError:
    return SmppTimeoutError(f"no member of the pool was bound within {timeout} s")


class _PoolBase(Generic[_M]):
    members: list[_M]
    store: Store
    window_timeout: Optional[float]
    _closed: bool
    _turn = 0  # where route() starts looking: spreads ties over the members

    @property
    def stats(self) -> ClientStats:
        """Every member's counters added up (a snapshot; ``members[i].stats`` per bind)."""
        return combined([m.stats for m in self.members])  # type: ignore[attr-defined]

    @property
    def bound_members(self) -> int:
        return sum(1 for m in self.members if m.bound)

    @property
    def in_flight(self) -> int:
        return sum(m.in_flight for m in self.members)

    @property
    def bound(self) -> bool:
        """True while at least one member is bound: the pool can send."""
        return any(m.bound for m in self.members)

    def _set_up(self, make: Any, endpoints: Iterable[tuple[str, int]], binds: int, store: Optional[Store],
                client_kwargs: dict[str, Any]) -> None:
        """The members, one ``make(host, port, ...)`` per bind, sharing one store."""
        specs = _members_of(endpoints, binds)
        options = _client_options(client_kwargs)
        self.store = store if store is not None else MemoryStore()
        self.members = []
        for host, port, label in specs:
            member = make(host, port, store=self.store, **options)
            member.label = label
            self.members.append(member)
        self.window_timeout = self.members[0].window_timeout
        self._connected = False
        self._closed = False

    def _start_connect(self) -> None:
        if self._connected or self._closed:
            raise RuntimeError("a pool connects once; make a new one")
        self._connected = True

    def _unbound_after_connect(self, errors: Sequence[Optional[BaseException]]) -> list[_M]:
        """The members that did not bind, each logged; raises the first error when none bound
        (after which the caller has closed the pool)."""
        failed = []
        for member, err in zip(self.members, errors):
            if err is not None:
                log.warning("%s did not bind (%s); trying again in the background", member.label, err)
                failed.append(member)
        return failed

    def _check_can_bind(self, retrying: list[bool]) -> None:
        """Raise when no member is bound and none will be: waiting would only run out the clock."""
        if self._closed:
            raise ConnectionClosedError("the pool is closed; no new submits")
        if not any(retrying) and not any(getattr(m, "reconnect", False) for m in self.members):
            raise ConnectionClosedError("no member of the pool is bound, and none reconnects (reconnect=False)")

    def _route(self) -> Route[_M]:
        # Not locked: a lost increment between threads only changes where a tie goes.
        self._turn += 1
        return route(self.members, self._turn)

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        t = self.window_timeout if timeout is None else timeout
        return None if t is None else time.monotonic() + t

    @staticmethod
    def _left(deadline: Optional[float]) -> Optional[float]:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.bound_members}/{len(self.members)} bound, {self.in_flight} in flight>"


class Pool(_PoolBase[Client]):
    """Many binds as one sender, on threads: ``with Pool([(host, port), ...], binds=2, system_id=...,
    password=...) as pool``. Every keyword argument but ``binds`` and ``store`` goes to each
    member ``Client`` (``window`` and ``rate_limit`` are per bind)."""

    def __init__(self, endpoints: Iterable[tuple[str, int]], *, binds: int = 1, store: Optional[Store] = None,
                 **client_kwargs: Any) -> None:
        self._set_up(Client, endpoints, binds, store, client_kwargs)
        self._stop = threading.Event()
        self._retry_threads: list[threading.Thread] = []

    def __enter__(self) -> "Pool":
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self) -> None:
        """Bind every member at once. Raises only when none binds (the first member's error);
        a member that fails keeps trying in the background."""
        self._start_connect()
        errors: list[Optional[BaseException]] = [None] * len(self.members)

        def bind(i: int) -> None:
            try:
                self.members[i].connect()
            except Exception as exc:
                errors[i] = exc

        threads = [threading.Thread(target=bind, args=(i,), name="smppfast-pool-bind", daemon=True)
                   for i in range(len(self.members))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()  # each bounded by the member's connect_timeout + bind_timeout
        if all(e is not None for e in errors):
            self.close()
            raise errors[0]  # type: ignore[misc]  # not None: every member failed
        for member in self._unbound_after_connect(errors):
            t = threading.Thread(target=self._keep_trying, args=(member,), name="smppfast-pool-retry", daemon=True)
            t.start()
            self._retry_threads.append(t)

    def _keep_trying(self, member: Client) -> None:
        delay = _FIRST_RETRY
        while not self._stop.wait(delay):
            try:
                member.connect()
                log.info("%s bound", member.label)
                return
            except (OSError, BindError, SmppTimeoutError, ConnectionClosedError) as exc:
                delay = min(delay * 2, member.reconnect_max_delay)
                log.warning("%s did not bind (%s); next try in %.1f s", member.label, exc, delay)

    def close(self) -> None:
        """Close every member at once: each waits (bounded) for its responses, unbinds and closes."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for t in self._retry_threads:
            t.join()  # a connect in progress ends within its own timeouts
        threads = [threading.Thread(target=m.close, name="smppfast-pool-close", daemon=True) for m in self.members]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _wait_for_a_bind(self, deadline: Optional[float], timeout: Optional[float]) -> None:
        self._check_can_bind([t.is_alive() for t in self._retry_threads])
        left = self._left(deadline)
        if left == 0:
            raise _none_bound(timeout)
        time.sleep(_NONE_BOUND_POLL if left is None else min(left, _NONE_BOUND_POLL))

    def _member_for(self, deadline: Optional[float], timeout: Optional[float]) -> Client:
        """A member to send a whole message through: one with room if any, else the least loaded."""
        while True:
            action, member, room = self._route()
            if member is not None:
                return member
            self._wait_for_a_bind(deadline, timeout)

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
        """As ``Client.submit``, through the member the routing rule picks. Raises ``WindowFull``
        only when no member had room for ``timeout`` (default ``window_timeout``)."""
        deadline = self._deadline(timeout)
        while True:
            if self._closed:
                raise ConnectionClosedError("the pool is closed; no new submits")
            action, member, room = self._route()
            if member is None:
                self._wait_for_a_bind(deadline, timeout)
                continue
            left = self._left(deadline)
            final = left is not None and left <= _RECHECK
            try:  # a member with room takes it at once; a full one is waited on a little at a time
                return member.submit(pdu, timeout=left if final else _RECHECK, ref=ref)
            except (WindowFull, SmppTimeoutError, ConnectionClosedError) as exc:
                if final or not _unsent(exc):
                    raise

    def submit_many(self, pdus: Iterable[Pdu], *, timeout: Optional[float] = None) -> list[SubmitFuture[Any]]:
        """As ``Client.submit_many``: one future per PDU, in order, spread over the members by
        window room. A PDU that cannot be sent fails its own future and those after it."""
        if self._closed:
            raise ConnectionClosedError("the pool is closed; no new submits")
        pending = pdus if isinstance(pdus, list) else list(pdus)
        futures: list[SubmitFuture[Any]] = []
        deadline = self._deadline(timeout)
        while len(futures) < len(pending):
            i = len(futures)
            try:
                action, member, room = self._route()
                if member is None:
                    self._wait_for_a_bind(deadline, timeout)
                    continue
                room = room if action == "send" else member.window
                futures.extend(member.submit_many(pending[i:i + room], timeout=self._left(deadline)))
            except Exception as exc:
                for pdu in pending[len(futures):]:
                    fut: SubmitFuture[Any] = SubmitFuture(pdu)
                    fut.set_exception(exc)
                    futures.append(fut)
                break
        return futures

    def send_message(self, destination_addr: str, text: str, *, timeout: Optional[float] = None,
                     ref: Optional[str] = None, **kwargs: Any) -> MessageHandle:
        """As ``Client.send_message``: every part through one member."""
        if self._closed:
            raise ConnectionClosedError("the pool is closed; no new submits")
        member = self._member_for(self._deadline(timeout), timeout)
        return member.send_message(destination_addr, text, ref=ref, **kwargs)


class AsyncPool(_PoolBase[AsyncClient]):
    """``Pool`` for asyncio, on ``AsyncClient``: ``async with AsyncPool([...], binds=2, ...) as pool``;
    ``await pool.submit(pdu)`` returns the response."""

    def __init__(self, endpoints: Iterable[tuple[str, int]], *, binds: int = 1, store: Optional[Store] = None,
                 **client_kwargs: Any) -> None:
        self._set_up(AsyncClient, endpoints, binds, store, client_kwargs)
        self._retry_tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> "AsyncPool":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        """As ``Pool.connect``: all members at once; raises only when none binds."""
        self._start_connect()
        results = await asyncio.gather(*(m.connect() for m in self.members), return_exceptions=True)
        errors = [r if isinstance(r, BaseException) else None for r in results]
        if all(e is not None for e in errors):
            await self.close()
            raise errors[0]  # type: ignore[misc]  # not None: every member failed
        for member in self._unbound_after_connect(errors):
            self._retry_tasks.append(asyncio.ensure_future(self._keep_trying(member)))

    async def _keep_trying(self, member: AsyncClient) -> None:
        delay = _FIRST_RETRY
        while not self._closed:
            await asyncio.sleep(delay)
            try:
                await member.connect()
                log.info("%s bound", member.label)
                return
            except (OSError, BindError, SmppTimeoutError, ConnectionClosedError) as exc:
                delay = min(delay * 2, member.reconnect_max_delay)
                log.warning("%s did not bind (%s); next try in %.1f s", member.label, exc, delay)

    async def close(self) -> None:
        """Close every member at once (each bounded by its close_timeout)."""
        if self._closed:
            return
        self._closed = True
        for t in self._retry_tasks:
            t.cancel()
        await asyncio.gather(*self._retry_tasks, return_exceptions=True)
        await asyncio.gather(*(m.close() for m in self.members), return_exceptions=True)

    async def _wait_for_a_bind(self, deadline: Optional[float], timeout: Optional[float]) -> None:
        self._check_can_bind([not t.done() for t in self._retry_tasks])
        left = self._left(deadline)
        if left == 0:
            raise _none_bound(timeout)
        await asyncio.sleep(_NONE_BOUND_POLL if left is None else min(left, _NONE_BOUND_POLL))

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
        """As ``AsyncClient.submit``, through the member the routing rule picks."""
        deadline = self._deadline(timeout)
        while True:
            if self._closed:
                raise ConnectionClosedError("the pool is closed; no new submits")
            action, member, room = self._route()
            if member is None:
                await self._wait_for_a_bind(deadline, timeout)
                continue
            left = self._left(deadline)
            final = left is not None and left <= _RECHECK
            try:
                return await member.submit(pdu, timeout=left if final else _RECHECK, ref=ref)
            except (WindowFull, SmppTimeoutError, ConnectionClosedError) as exc:
                if final or not _unsent(exc):
                    raise  # e.g. a response timeout: the request went out, it is not ours to resend

    async def submit_many(self, pdus: Iterable[Pdu], *, timeout: Optional[float] = None) -> "list[asyncio.Future[Any]]":
        """As ``AsyncClient.submit_many``, spread over the members by window room."""
        if self._closed:
            raise ConnectionClosedError("the pool is closed; no new submits")
        pending = list(pdus)
        futures: list[asyncio.Future[Any]] = []
        deadline = self._deadline(timeout)
        loop = asyncio.get_running_loop()
        while len(futures) < len(pending):
            i = len(futures)
            try:
                action, member, room = self._route()
                if member is None:
                    await self._wait_for_a_bind(deadline, timeout)
                    continue
                room = room if action == "send" else member.window
                futures.extend(await member.submit_many(pending[i:i + room], timeout=self._left(deadline)))
            except Exception as exc:
                for _ in pending[len(futures):]:
                    fut: asyncio.Future[Any] = loop.create_future()
                    fut.set_exception(exc)
                    futures.append(fut)
                break
        return futures

    async def send_message(self, destination_addr: str, text: str, *, timeout: Optional[float] = None,
                           ref: Optional[str] = None, **kwargs: Any) -> list[SubmitSmResp]:
        """As ``AsyncClient.send_message``: every part through one member."""
        deadline = self._deadline(timeout)
        while True:
            if self._closed:
                raise ConnectionClosedError("the pool is closed; no new submits")
            action, member, room = self._route()
            if member is not None:
                return await member.send_message(destination_addr, text, ref=ref, **kwargs)
            await self._wait_for_a_bind(deadline, timeout)
