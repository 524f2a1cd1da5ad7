"""Past one machine: a :class:`Worker` serves a Redis Stream as one consumer of a consumer group,
sending each entry through a :class:`~smppfast.pool.Pool` and writing one outcome record per
entry. Run as many workers, on as many machines, as the binds need; ``smppfast worker`` is this
class on the command line.

Each entry goes to one worker of the group (``XREADGROUP``) and stays pending until its outcome
record is written (the record, the ``XACK`` and the removal of the entry's marker are one script
call). Before an entry's submit goes out it gets a marker in Redis; a worker that dies leaves its
pending entries to the others, which claim them after ``claim_after`` seconds (``XAUTOCLAIM``)
and, for an entry with a marker, record ``maybe_sent`` instead of sending it a second time (the
SMSC may or may not have accepted the first). How the markers and the scripts work:
:mod:`smppfast._worker_redis`.

Threads: the thread that calls :meth:`Worker.run` reads entries (as many as the binds have room
for), sends them and collects their responses; a writer thread writes the outcome records and
the receipts. Both survive a lost Redis connection: they back off and try again, and nothing is
acknowledged that has no record, so nothing is lost.
"""

from __future__ import annotations

import collections
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from ._codec import SubmitSm, encode
from ._redis_store import redact_url
from ._text import split_text
from ._worker_entry import INVALID, Invalid, Message, check_entry
from ._worker_redis import ConsumerStatus, GroupStatus, Outcome, Taken, WorkerRedis, group_status
from .constants import status_name
from .errors import CommandStatusError, ConnectionClosedError, SmppError, SmppTimeoutError, WindowFull
from .pool import Pool, _members_of
from .receipt import DeliveryReceipt
from .stores import RedisStore

__all__ = ["Worker", "WorkerError", "WorkerStats", "GroupStatus", "ConsumerStatus", "read_status",
           "MAYBE_SENT", "INVALID", "FAILED", "OK"]

log = logging.getLogger("smppfast.worker")

#: Outcome statuses besides the SMPP status names.
OK = "ESME_ROK"
MAYBE_SENT = "maybe_sent"  # the submit may have reached the SMSC; never sent again without this record
FAILED = "failed"  # some parts were accepted, the rest could not be sent (the link went)

# An entry whose submit never left is sent again after this, doubling up to _RETRY_MAX.
_RETRY_FIRST = 0.1
_RETRY_MAX = 5.0
# While messages are in flight and the stream is empty, the reader looks for new entries this
# often (without anything in flight it blocks in XREADGROUP instead).
_EMPTY_POLL = 0.02
# How often the reader looks at every message in flight, not only those at the front.
_SWEEP_EVERY = 0.1
# How long the reader naps while the binds have no room (responses free it); a sleep, not a
# wake-up per response: a Condition per future would cost more than the nap.
_NAP = 0.0005
# Records per finish call: big enough to amortise the round trip, small enough that Redis is
# never busy for long in one script.
_FINISH_CHUNK = 2000
# Lost Redis: the first retry after this, doubling up to _BACKOFF_MAX.
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 5.0
_ERROR_LOG_EVERY = 10.0


class WorkerError(SmppError, RuntimeError):
    """The worker cannot start (Redis unreachable, a bad option) or could not finish cleanly."""


@dataclass
class WorkerStats:
    """Counters of one worker since it started (read from any thread; a snapshot is a copy)."""

    taken: int = 0  # entries read or claimed
    claimed: int = 0  # of them, claimed from idle consumers (this one included)
    sent: int = 0  # messages handed to the pool (a resend counts again)
    resent: int = 0  # messages sent again because their submit never left
    outcomes: dict[str, int] = field(default_factory=dict)  # records this worker wrote, by status
    finished_elsewhere: int = 0  # outcomes not written: another worker had finished the entry
    receipts: int = 0  # receipt records written
    redis_errors: int = 0
    unwritten: int = 0  # outcomes still unwritten when run() returned (the entries stay pending)
    released: int = 0  # entries given back unsent when the worker stopped
    redis_round_trips: int = 0  # commands and script calls sent to Redis (receipts: one per batch)

    @property
    def written(self) -> int:
        return sum(self.outcomes.values())


class _Backoff:
    """Waiting times after Redis errors, and a log line that does not flood."""

    def __init__(self, what: str, stats: WorkerStats) -> None:
        self.what = what
        self.stats = stats
        self.delay = 0.0
        self.since = 0.0
        self.next_log = 0.0

    def failed(self, exc: BaseException) -> float:
        now = time.monotonic()
        self.stats.redis_errors += 1
        if not self.delay:
            self.since = now
            self.delay = _BACKOFF_FIRST
        else:
            self.delay = min(self.delay * 2, _BACKOFF_MAX)
        if now >= self.next_log:
            self.next_log = now + _ERROR_LOG_EVERY
            log.warning("%s: Redis error (%s: %s); trying again in %.1f s", self.what, type(exc).__name__, exc,
                        self.delay)
        return self.delay

    def succeeded(self) -> None:
        if self.delay:
            log.warning("%s: Redis answers again after %.1f s", self.what, time.monotonic() - self.since)
            self.delay = 0.0
            self.next_log = 0.0


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a number of seconds above 0, not {value!r}")
    return float(value)


def _owner(marker: str) -> str:
    """The consumer named in a marker (``?<consumer>/<nonce>``)."""
    return marker[1:].rpartition("/")[0] or marker


class Worker:
    """One consumer of a Redis Stream consumer group, sending through a pool of binds.

    ``Worker(redis_url, [(host, port), ...], stream="sms", binds=2, system_id=..., password=...)``;
    every keyword argument not named here goes to each member ``Client`` (``window``,
    ``rate_limit``, ``response_timeout``, ``ssl_context``, ...). :meth:`run` blocks until
    :meth:`stop` (from another thread or a signal handler), then drains and returns the stats.

    ``consumer`` defaults to ``host:pid``; ``results`` and ``receipts`` to ``<stream>:results``
    and ``<stream>:receipts``. ``claim_after``: seconds an entry of another worker stays idle
    before this one claims it. ``marker_ttl``: how long a marker outlives a worker that died
    holding it (longer than any claim_after). ``batch``: most entries read at once. ``block``:
    longest wait for new entries, which is also how quickly an idle worker notices :meth:`stop`.
    ``drain_timeout``: how long :meth:`run` waits, after :meth:`stop`, for responses and for
    Redis. ``source_addr`` and ``registered_delivery``: defaults for entries without ``from`` or
    ``registered_delivery``. Receipts are matched to refs through a :class:`RedisStore` on the
    same Redis (``receipt_ttl``), so a receipt that reaches any worker finds its ref.
    """

    def __init__(
        self,
        redis_url: str,
        endpoints: Iterable[tuple[str, int]],
        *,
        stream: str,
        group: str = "smppfast",
        consumer: Optional[str] = None,
        results: Optional[str] = None,
        receipts: Optional[str] = None,
        claim_after: float = 60.0,
        marker_ttl: float = 7 * 86400.0,
        batch: int = 1000,
        block: float = 1.0,
        drain_timeout: float = 60.0,
        progress_interval: float = 5.0,
        receipt_ttl: float = 7 * 86400.0,
        source_addr: str = "",
        registered_delivery: int = 0,
        redis_timeout: float = 5.0,
        binds: int = 1,
        **client_kwargs: Any,
    ) -> None:
        if not isinstance(redis_url, str):
            raise TypeError(f"redis_url must be a str such as 'redis://host:6379/0', not {type(redis_url).__name__}")
        if redis_url.partition("://")[0].lower() not in ("redis", "rediss", "unix") or "://" not in redis_url:
            raise ValueError(f"the Redis URL must start with redis://, rediss:// or unix://, not "
                             f"{redact_url(redis_url)!r}")
        for name, value in (("stream", stream), ("group", group)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty str, not {value!r}")
        for name in ("on_receipt", "store"):
            if name in client_kwargs:
                raise TypeError(f"Worker sets {name} itself: receipts go to the receipts stream")
        self.claim_after = _positive("claim_after", claim_after)
        self.marker_ttl = _positive("marker_ttl", marker_ttl)
        if self.marker_ttl <= self.claim_after:
            raise ValueError(f"marker_ttl ({marker_ttl:g} s) must be longer than claim_after ({claim_after:g} s): "
                             "a marker must outlive the wait before its entry is claimed")
        self.redis_timeout = _positive("redis_timeout", redis_timeout)
        self.block = _positive("block", block)
        if self.block >= self.redis_timeout:
            raise ValueError(f"block ({block:g} s) must be shorter than redis_timeout ({redis_timeout:g} s)")
        self.drain_timeout = _positive("drain_timeout", drain_timeout)
        self.progress_interval = _positive("progress_interval", progress_interval)
        self.receipt_ttl = _positive("receipt_ttl", receipt_ttl)
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a whole number of at least 1, not {batch!r}")
        if isinstance(registered_delivery, bool) or not isinstance(registered_delivery, int) or not (
                0 <= registered_delivery <= 255):
            raise ValueError(f"registered_delivery must be 0 to 255, not {registered_delivery!r}")
        self.redis_url = redis_url
        self.endpoints = list(endpoints)
        _members_of(self.endpoints, binds)  # checked here, not first when run() builds the pool
        self.binds = binds
        self.client_kwargs = client_kwargs
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}"
        self.results = results or f"{stream}:results"
        self.receipts = receipts or f"{stream}:receipts"
        self.batch = batch
        self.source_addr = source_addr
        self.registered_delivery = registered_delivery
        # Names this process's markers: a marker with this token and an entry this process does not
        # hold means the entry was never sent (this process sends only after its marker is known).
        self.token = f"?{self.consumer}/{secrets.token_hex(4)}"
        self.stats = WorkerStats()
        self.pool: Optional[Pool] = None
        self._stop = threading.Event()
        self._redis: Optional[WorkerRedis] = None
        # Entries this worker holds until their outcome is written: id -> when taken (or touched).
        # Only the reader thread changes it; the writer queues the ids it finished in _finished, and
        # the reader lets go of them between its own Redis calls. So an entry that a claim or a
        # recovery returns as pending, and that the writer finishes meanwhile, is still held when
        # the reader looks: it is never mistaken for a lost one and sent again.
        self._held: dict[str, float] = {}
        self._finished: collections.deque[str] = collections.deque()
        self._inflight: collections.deque[Message] = collections.deque()
        self._next_sweep = 0.0
        self._retry: collections.deque[tuple[float, Message]] = collections.deque()
        self._outcomes: collections.deque[Outcome] = collections.deque()
        self._receipts: collections.deque[dict[str, str]] = collections.deque()
        self._wake = threading.Event()
        self._writer_stop = False
        self._writer_deadline = float("inf")
        self._ran = False

    def __repr__(self) -> str:
        return (f"<Worker {self.consumer} of {self.group!r} on {self.stream!r} at {redact_url(self.redis_url)}, "
                f"{len(self._held)} held>")

    # -- the public face -------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop reading; :meth:`run` then drains what is in flight, writes the outcomes, unbinds and
        returns. Safe from any thread and from a signal handler."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> WorkerStats:
        """Connect (Redis, then the pool's binds), serve the stream until :meth:`stop`, drain, and
        return the stats. Raises :class:`WorkerError` when Redis cannot be reached at the start, and
        the pool's errors (``BindError``, ``OSError``, ...) when no bind comes up."""
        if self._ran:
            raise RuntimeError("a Worker runs once; make a new one")
        self._ran = True
        where = redact_url(self.redis_url)
        try:
            self._redis = WorkerRedis(self.redis_url, stream=self.stream, group=self.group, consumer=self.consumer,
                                      token=self.token, results=self.results, receipts=self.receipts,
                                      marker_ttl=self.marker_ttl, timeout=self.redis_timeout)
        except ValueError as exc:
            raise WorkerError(f"{exc} ({where})") from None
        try:
            try:
                created = self._redis.ensure_group()
            except self._redis.errors as exc:
                raise WorkerError(f"cannot reach Redis at {where}: {exc}") from None
            if created:
                log.info("created consumer group %r on stream %r", self.group, self.stream)
            try:
                store = RedisStore(self.redis_url, ttl=self.receipt_ttl, timeout=self.redis_timeout)
            except SmppError as exc:
                raise WorkerError(f"cannot reach Redis at {where}: {exc}") from None
            try:
                self.pool = Pool(self.endpoints, binds=self.binds, store=store, on_receipt=self._on_receipt,
                                 **self.client_kwargs)
                self.pool.connect()
                log.info("%s serving stream %r as consumer %r of group %r (%d/%d binds up); results to %r, "
                         "receipts to %r", where, self.stream, self.consumer, self.group, self.pool.bound_members,
                         len(self.pool.members), self.results, self.receipts)
                writer = threading.Thread(target=self._write_loop, name="smppfast-worker-writer", daemon=True)
                writer.start()
                try:
                    self._serve()
                finally:
                    self._drain()
                    self._writer_deadline = time.monotonic() + self.drain_timeout
                    self._writer_stop = True
                    self._wake.set()
                    writer.join()
            finally:
                if self.pool is not None:
                    self.pool.close()
                store.close()
        finally:
            self.stats.redis_round_trips = self._redis.calls
            self._redis.close()
        self.stats.unwritten = len(self._outcomes)
        log.info("%s stopped: %d outcomes written (%s), %d receipts, %d Redis round trips%s", self.consumer,
                 self.stats.written,
                 ", ".join(f"{k} {v}" for k, v in sorted(self.stats.outcomes.items())) or "none",
                 self.stats.receipts, self.stats.redis_round_trips,
                 f"; {self.stats.unwritten} outcomes could not be written (their entries stay pending)"
                 if self.stats.unwritten else "")
        return self.stats

    # -- the reader --------------------------------------------------------------------------------

    def _room(self) -> tuple[int, int]:
        """(requests the bound members can take now, their whole window)."""
        assert self.pool is not None
        room = capacity = 0
        for m in self.pool.members:
            if m.bound:
                capacity += m.window
                free = m.window_free
                if free > 0:
                    room += free
        return room, capacity

    def _serve(self) -> None:
        redis = self._redis
        assert redis is not None
        errors = redis.errors
        backoff = _Backoff(f"{self.consumer} reading", self.stats)
        claim_every = min(max(self.claim_after / 4, 0.2), 5.0)
        touch_every = self.claim_after / 3
        next_claim = time.monotonic() + min(claim_every, 1.0)
        next_touch = time.monotonic() + touch_every
        resume_at = next_take = 0.0
        # Look at this consumer's own pending entries first: a consumer name used before (entries a
        # former process left), and again after any Redis error (a take whose reply was lost).
        recover: Optional[str] = "0-0"
        while not self._stop.is_set():
            self._collect()
            now = time.monotonic()
            if now < resume_at:
                self._nap(resume_at - now)
                continue
            room, capacity = self._room()
            if self._retry and room > 0 and self._retry[0][0] <= now:
                self._resend(room)
                continue
            room -= len(self._retry)  # what waits to be sent again comes first
            try:
                if now >= next_touch:
                    self._touch()
                    next_touch = now + touch_every
                if recover is not None and room > 0:
                    recover = self._recover(recover, room)
                    continue
                if now >= next_claim and room > 0:
                    self._claim(room)
                    next_claim = now + claim_every
                    continue
                # Read when a quarter of the window is free: fewer, bigger batches per round trip.
                if room <= 0 or (self._inflight and room < max(1, capacity // 4)):
                    self._nap(_NAP)
                    continue
                if now < next_take:
                    self._nap(_NAP)
                    continue
                count = min(room, self.batch)
                taken = redis.take(count)
                if not taken and not self._inflight:
                    taken = redis.take_blocking(count, self.block)
                backoff.succeeded()
            except errors as exc:
                resume_at = time.monotonic() + backoff.failed(exc)
                recover = "0-0"
                continue
            if taken:
                self._dispatch(taken)
            elif self._inflight:
                # The stream is empty but responses are awaited (a blocking read would hold them
                # up): look again in a while, not at every nap.
                next_take = time.monotonic() + _EMPTY_POLL

    def _nap(self, seconds: float) -> None:
        self._stop.wait(min(seconds, 0.05)) if seconds > 0.01 else time.sleep(seconds)

    def _recover(self, cursor: str, room: int) -> Optional[str]:
        """One step through this consumer's own pending entries: those it does not hold are taken
        up again (sent if the marker is this process's or none; maybe_sent if an earlier process
        of the same name marked them). Returns the next cursor, None when done."""
        redis = self._redis
        assert redis is not None
        taken = redis.own_pending(cursor, max(1, min(room, self.batch)))
        if not taken:
            return None
        lost = [t for t in taken if t[0] not in self._held]
        if lost:
            log.info("%s: taking up %d of its own pending entries again", self.consumer, len(lost))
            self._dispatch(lost)
        return taken[-1][0]

    def _claim(self, room: int) -> None:
        """Entries idle for claim_after seconds, from any consumer of the group."""
        redis = self._redis
        assert redis is not None
        cursor = "0-0"
        for _ in range(10):  # bounded: the next round goes on
            cursor, taken, deleted = redis.claim(self.claim_after, cursor, max(1, room))
            for entry_id in deleted:
                log.warning("entry %s was deleted from stream %r while pending (XTRIM or XDEL?): it has no outcome "
                            "record", entry_id, self.stream)
            if taken:
                mine = [t for t in taken if t[0] not in self._held]
                if mine:
                    log.info("claimed %d entries idle for over %g s", len(mine), self.claim_after)
                    self.stats.claimed += len(mine)
                    self._dispatch(mine)
                    room -= len(mine)
            if cursor == "0-0" or room <= 0:
                return

    def _touch(self) -> None:
        """Reset the idle time of entries held for a while (waiting for a response, or for Redis), so
        that no other worker claims what this one is still working on."""
        redis = self._redis
        assert redis is not None
        cutoff = time.monotonic() - self.claim_after / 3
        old = [entry_id for entry_id, since in tuple(self._held.items()) if since < cutoff]
        for i in range(0, len(old), 1000):
            chunk = old[i:i + 1000]
            redis.touch(chunk)
            now = time.monotonic()
            for entry_id in chunk:
                if entry_id in self._held:
                    self._held[entry_id] = now

    def _dispatch(self, taken: list[Taken]) -> None:
        """Check and send taken entries; an entry that cannot be sent gets its outcome now."""
        now = time.monotonic()
        held = self._held
        token = self.token
        outcomes = self._outcomes
        self.stats.taken += len(taken)
        ready: list[Message] = []
        for entry_id, fields, marker in taken:
            held[entry_id] = now
            if fields is None:
                outcomes.append((entry_id, entry_id, INVALID, "", "the entry was deleted from the stream (XDEL or "
                                 "XTRIM) while pending, before it was sent"))
                continue
            checked = check_entry(entry_id, fields, source_addr=self.source_addr,
                                  registered_delivery=self.registered_delivery)
            if marker and marker != token:
                # Another worker marked it before it stopped answering: its submit may have left.
                owner = _owner(marker)
                outcomes.append((entry_id, checked.ref, MAYBE_SENT, "",
                                 f"claimed from consumer {owner}, which marked it for sending and then stopped "
                                 f"answering; the SMSC may have accepted it, so it was not sent again"))
                continue
            if isinstance(checked, Invalid):
                outcomes.append((entry_id, checked.ref, INVALID, "", checked.error))
                continue
            checked.taken_at = now
            ready.append(checked)
        if ready:
            self._send(ready)
        if not self._wake.is_set():
            self._wake.set()

    def _send(self, messages: list[Message]) -> None:
        """Hand messages to the pool: the one-part messages that need no ref in one ``submit_many``
        (spread over the binds by room: one lock and one wake-up per bind, not per message), the
        others one ``send_message`` each (every part through one bind)."""
        pool = self.pool
        assert pool is not None
        pdus: list[SubmitSm] = []
        singles: list[Message] = []
        for message in messages:
            message.attempts += 1
            if not message.with_ref:
                try:
                    parts = split_text(message.text)
                    if len(parts) == 1:
                        part = parts[0]
                        tlvs: Any = part.tlvs  # the Part's own TLV dict, typed narrower than SubmitSm's
                        pdu = SubmitSm(destination_addr=message.to, short_message=part.short_message,
                                       esm_class=part.esm_class, data_coding=part.data_coding, tlvs=tlvs,
                                       **message.fields)
                        # Encoded once here: in a batch, a PDU that fails to encode would fail the
                        # futures of every PDU after it too.
                        encode(pdu)
                        pdus.append(pdu)
                        singles.append(message)
                        continue
                except (ValueError, TypeError) as exc:  # TextError, PduError, FieldTypeError among them
                    self._outcomes.append((message.entry_id, message.ref, INVALID, "", f"cannot be sent: {exc}"))
                    continue
            self._send_one(message)
        if not pdus:
            return
        try:
            futures = pool.submit_many(pdus, timeout=1.0)
        except (SmppTimeoutError, ConnectionClosedError, WindowFull) as exc:
            for message in singles:
                self._later(message, exc)
            return
        for message, fut in zip(singles, futures):
            message.handle = (fut,)
        self.stats.sent += len(singles)
        self._inflight.extend(singles)

    def _send_one(self, message: Message) -> None:
        assert self.pool is not None
        try:
            message.handle = self.pool.send_message(message.to, message.text,
                                                    ref=message.ref if message.with_ref else None, timeout=1.0,
                                                    **message.fields)
        except (ValueError, TypeError) as exc:
            self._outcomes.append((message.entry_id, message.ref, INVALID, "", f"cannot be sent: {exc}"))
            return
        except (SmppTimeoutError, ConnectionClosedError, WindowFull) as exc:
            # Not one byte left: it waits, pending and marked by us, for a bind with room.
            self._later(message, exc)
            return
        self.stats.sent += 1
        self._inflight.append(message)

    def _later(self, message: Message, reason: BaseException) -> None:
        delay = min(_RETRY_FIRST * 2 ** (message.attempts - 1), _RETRY_MAX)
        log.debug("entry %s not sent (%s); again in %.1f s", message.entry_id, reason, delay)
        self._retry.append((time.monotonic() + delay, message))

    def _resend(self, room: int) -> None:
        now = time.monotonic()
        due_now: list[Message] = []
        while self._retry and len(due_now) < room and self._retry[0][0] <= now:
            due_now.append(self._retry.popleft()[1])
        self.stats.resent += len(due_now)
        self._send(due_now)

    def _collect(self) -> None:
        """Let go of the entries the writer finished; turn the messages whose every part has its
        response into outcomes."""
        finished = self._finished
        if finished:
            held = self._held
            for _ in range(len(finished)):
                held.pop(finished.popleft(), None)
        inflight = self._inflight
        if not inflight:
            return
        done = 0
        # Responses come back in about the order of the submits: settle from the front, a few
        # checks per call however many are in flight.
        while inflight:
            for fut in inflight[0].handle:
                if not fut.done():
                    break
            else:
                self._settle(inflight.popleft())
                done += 1
                continue
            break
        now = time.monotonic()
        if inflight and now >= self._next_sweep:
            # Now and then the whole lot: one message that waits long (a response timeout) must
            # not hold back the outcomes of those sent after it.
            self._next_sweep = now + _SWEEP_EVERY
            still: collections.deque[Message] = collections.deque()
            for message in inflight:
                for fut in message.handle:
                    if not fut.done():
                        still.append(message)
                        break
                else:
                    self._settle(message)
                    done += 1
            self._inflight = still
        if done and not self._wake.is_set():
            self._wake.set()

    def _settle(self, message: Message) -> None:
        handle = message.handle
        ids: list[str] = []
        refused: Optional[tuple[int, CommandStatusError]] = None
        maybe: Optional[tuple[int, BaseException]] = None
        unsent: Optional[tuple[int, BaseException]] = None
        invalid: Optional[tuple[int, BaseException]] = None
        for i, fut in enumerate(handle, 1):
            exc = fut.exception()
            if exc is None:
                ids.append(fut.result().message_id)
            elif isinstance(exc, CommandStatusError):
                refused = refused or (i, exc)
            elif isinstance(exc, (SmppTimeoutError, ConnectionClosedError)) and exc.maybe_accepted:
                maybe = maybe or (i, exc)
            elif isinstance(exc, (ValueError, TypeError)):  # a field that does not encode
                invalid = invalid or (i, exc)
            else:
                unsent = unsent or (i, exc)
        n = len(handle)
        joined = ",".join(ids)
        if maybe is not None:
            record = (MAYBE_SENT, f"part {maybe[0]}/{n}: {maybe[1]}; the SMSC may have accepted it, so it was not "
                                  "sent again")
        elif refused is not None:
            record = (status_name(refused[1].status), f"part {refused[0]}/{n}: {refused[1]}")
        elif invalid is not None:
            record = (INVALID, f"cannot be sent: {invalid[1]}")
        elif unsent is not None:
            if not ids:
                self._later(message, unsent[1])  # nothing left: send it again, whole
                return
            record = (FAILED, f"part {unsent[0]}/{n} was not sent ({unsent[1]}); {len(ids)} part(s) were accepted")
        else:
            record = (OK, "")
        self._outcomes.append((message.entry_id, message.ref, record[0], joined, record[1]))

    def _drain(self) -> None:
        """After stop: wait (bounded) for the responses in flight; give back what was never sent."""
        deadline = time.monotonic() + self.drain_timeout
        if self._inflight:
            log.info("%s stopping: waiting for %d messages in flight", self.consumer, len(self._inflight))
        while self._inflight and time.monotonic() < deadline:
            self._collect()
            time.sleep(0.001)
        if self._inflight and self.pool is not None:
            log.warning("%s: %d messages still without a response after %g s; closing the binds",
                        self.consumer, len(self._inflight), self.drain_timeout)
            self.pool.close()  # fails what is left in flight: maybe_sent, as it should be
            self._collect()
        unsent = [message for _, message in self._retry]
        self._retry.clear()
        if unsent:
            self._release(unsent)

    def _release(self, messages: list[Message]) -> None:
        """Entries this worker marked and never sent: its markers go (so the next worker sends them
        rather than recording maybe_sent) and they stay pending, to be claimed."""
        redis = self._redis
        assert redis is not None
        ids = [m.entry_id for m in messages]
        deadline = time.monotonic() + self.drain_timeout
        while True:
            try:
                redis.release(ids)
                break
            except redis.errors as exc:
                if time.monotonic() >= deadline:
                    log.warning("could not remove the markers of %d unsent entries (%s): the worker that claims "
                                "them will record maybe_sent", len(ids), exc)
                    break
                time.sleep(0.5)
        for entry_id in ids:
            self._held.pop(entry_id, None)
        self.stats.released += len(ids)
        log.warning("%s: %d entries were not sent before the stop; left pending for another worker", self.consumer,
                    len(ids))

    # -- receipts (pool callback threads) --------------------------------------------------------

    def _on_receipt(self, receipt: DeliveryReceipt) -> None:
        self._receipts.append({
            "ref": receipt.ref or "",
            "message_id": receipt.message_id,
            "stat": receipt.stat or "",
            "err": receipt.err or "",
            "done_date": receipt.done_date.isoformat(sep=" ") if receipt.done_date is not None else "",
        })
        self._wake.set()

    # -- the writer thread -------------------------------------------------------------------------

    def _write_loop(self) -> None:
        redis = self._redis
        assert redis is not None
        errors = redis.errors
        backoff = _Backoff(f"{self.consumer} writing", self.stats)
        progress = _Progress(self)
        while True:
            if not self._outcomes and not self._receipts:
                if self._writer_stop:
                    return
                self._wake.wait(0.1)
                self._wake.clear()
            progress.maybe_log(redis)
            if self._writer_stop and time.monotonic() >= self._writer_deadline:
                if self._outcomes or self._receipts:
                    log.error("%s: Redis still failing after %g s; %d outcomes and %d receipts were not written",
                              self.consumer, self.drain_timeout, len(self._outcomes), len(self._receipts))
                return
            try:
                self._write_outcomes(redis)
                self._write_receipts(redis)
                backoff.succeeded()
            except Exception as exc:
                if not isinstance(exc, errors):  # a bug: say so loudly, and keep the outcomes
                    log.exception("%s: writing outcomes failed", self.consumer)
                wait = backoff.failed(exc)
                end = time.monotonic() + wait
                while time.monotonic() < end and not (self._writer_stop and time.monotonic() >= self._writer_deadline):
                    time.sleep(min(0.05, wait))

    def _write_outcomes(self, redis: WorkerRedis) -> None:
        outcomes = self._outcomes
        while outcomes:
            batch = [outcomes[i] for i in range(min(len(outcomes), _FINISH_CHUNK))]
            skipped = redis.finish(batch)
            for _ in batch:  # written: only now are they no longer ours to hold
                outcomes.popleft()
            self._finished.extend(record[0] for record in batch)
            counts = self.stats.outcomes
            if skipped:
                # Finished by another worker first (it claimed them): its record stands.
                self.stats.finished_elsewhere += len(skipped)
                log.info("%s: %d entries had been finished by another worker", self.consumer, len(skipped))
                gone = set(skipped)
                batch = [record for i, record in enumerate(batch) if i not in gone]
            for record in batch:
                counts[record[2]] = counts.get(record[2], 0) + 1

    def _write_receipts(self, redis: WorkerRedis) -> None:
        receipts = self._receipts
        while receipts:
            batch = [receipts[i] for i in range(min(len(receipts), _FINISH_CHUNK))]
            redis.write_receipts(batch)
            for _ in batch:
                receipts.popleft()
            self.stats.receipts += len(batch)


class _Progress:
    """The INFO line every ``progress_interval`` seconds: throughput, in flight, pending, lag."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.last = time.monotonic()
        self.last_written = 0

    def maybe_log(self, redis: WorkerRedis) -> None:
        w = self.worker
        now = time.monotonic()
        if now - self.last < w.progress_interval:
            return
        written = w.stats.written
        rate = (written - self.last_written) / (now - self.last)
        self.last, self.last_written = now, written
        group = ""
        if log.isEnabledFor(logging.INFO):
            try:
                pending, lag = redis.group_counts()
                group = f"; group {w.group!r}: {pending} pending, lag {'?' if lag is None else lag}"
            except redis.errors:
                group = "; group: Redis does not answer"
            log.info("%s: %.0f outcomes/s over %.1f s, %d written in all; %d in flight, %d waiting to be "
                     "written, %d waiting for a bind%s", w.consumer, rate, w.progress_interval, written,
                     len(w._inflight), len(w._outcomes), len(w._retry), group)


def read_status(redis_url: str, stream: str, group: str = "smppfast", results: Optional[str] = None, *,
                timeout: float = 5.0) -> GroupStatus:
    """The group's lag, its pending entries per consumer and the outcome records by status (what
    ``smppfast worker --status`` prints). Raises ``LookupError`` for a missing stream or group and
    :class:`WorkerError` when Redis cannot be reached."""
    from ._worker_redis import _import_redis

    redis = _import_redis()
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    except ValueError as exc:
        raise ValueError(f"not a usable Redis URL {redact_url(redis_url)!r}: {exc}") from None
    try:
        return group_status(client, stream, group, results or f"{stream}:results")
    except (redis.RedisError, OSError) as exc:
        if isinstance(exc, redis.ResponseError):
            raise
        raise WorkerError(f"cannot reach Redis at {redact_url(redis_url)}: {exc}") from None
    finally:
        client.close()

