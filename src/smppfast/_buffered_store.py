"""The write buffer and writer thread of the stores that keep their entries outside the process
(``SqliteStore``, ``RedisStore``)."""

from __future__ import annotations

import atexit
import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from ._memstore import normalize
from ._storebase import Entry, StoredRef, check_clock, check_put, logger, positive_seconds, stored_ref, whole_number
from .errors import StoreError
from .receipt import matching_message_ids

__all__ = ["BufferedStore"]

_GONE = object()  # in a buffer: discarded, or past its ttl
_FOUND_MEMORY = 1024  # ids whose entry get() found, kept for the discard() that usually follows
_ERROR_LOG_INTERVAL = 60.0
_RETRY_DELAY = 1.0


class BufferedStore:
    """Base of the stores whose entries live in a database or a server.

    ``put`` and ``discard`` only touch an in-memory buffer. A writer thread writes it out in one
    batch when ``batch_size`` ids are waiting or ``flush_interval`` seconds after the first of them
    came, whichever is first, and prunes expired entries every ``prune_interval`` seconds (when the
    backend does not expire them itself). ``get`` looks in the buffer before the backend, so it sees
    every entry put so far. A batch that fails to write is kept and tried again (the error is
    logged, at most once a minute); meanwhile the buffer grows up to ``max_pending`` ids and then
    drops its oldest, counted in :attr:`dropped`. ``close`` writes what is left, and runs at
    interpreter exit for a store left open.

    Subclasses give ``_write``, ``_read``, ``_prune`` and ``_close_backend`` and call ``_start()``
    at the end of their constructor.
    """

    blocking = True
    _kind = "store"

    def __init__(
        self,
        *,
        ttl: float,
        flush_interval: float,
        batch_size: int,
        max_pending: int,
        prune_interval: Optional[float],
        cross_base: bool,
        clock: Callable[[], float],
    ) -> None:
        self._ttl = positive_seconds("ttl", ttl)
        self._flush_interval = positive_seconds("flush_interval", flush_interval)
        self._batch_size = whole_number("batch_size", batch_size)
        self._max_pending = whole_number("max_pending", max_pending)
        self._prune_interval = None if prune_interval is None else positive_seconds("prune_interval", prune_interval)
        self._cross_base = bool(cross_base)
        self._clock = check_clock(clock)
        #: Entries dropped because the buffer was full while the backend could not be written.
        self.dropped = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # the writer waits on it; put and discard wake it
        self._flush_lock = threading.Lock()  # one batch written at a time; also guards the writing handle
        # The buffer (normalised id -> (StoredRef, expiry); discarded ids), and the batch being
        # written: get() must see both until the batch is in the backend.
        self._puts: dict[str, Entry] = {}
        self._deletes: set[str] = set()
        self._out_puts: Mapping[str, Entry] = {}
        self._out_deletes: frozenset[str] | set[str] = frozenset()
        self._first_at = 0.0  # monotonic time the oldest buffered change came
        self._full = False
        self._retry_at = 0.0
        self._failures = 0
        self._next_error_log = 0.0
        self._found: OrderedDict[str, str] = OrderedDict()
        self._closed = False
        self._closing = False
        self._writer: Optional[threading.Thread] = None

    # -- what subclasses give ----------------------------------------------------------------------

    def _write(self, puts: Mapping[str, Entry], deletes: frozenset[str] | set[str], now: float) -> None:
        """Write one batch: the deletes first, then the puts (a put after a discard of the same id wins)."""
        raise NotImplementedError

    def _read(self, keys: list[str], now: float) -> dict[str, StoredRef]:
        """The live entries among ``keys`` (normalised ids)."""
        raise NotImplementedError

    def _prune(self, now: float) -> None:
        """Remove the entries past their ttl."""

    def _close_backend(self) -> None:
        raise NotImplementedError

    def _start(self) -> None:
        self._writer = threading.Thread(target=self._run, name=f"smppfast-{self._kind}-writer", daemon=True)
        self._writer.start()
        atexit.register(self.close)

    # -- the interface -------------------------------------------------------------------------------

    def put(self, message_ids: Sequence[str], ref: str, submitted_at: float, parts: int) -> None:
        if isinstance(message_ids, str) or ref.__class__ is not str:
            check_put(message_ids, ref)
        entry = (ref, submitted_at, parts, self._clock() + self._ttl)
        with self._lock:
            if self._closed:
                raise self._closed_error()
            puts = self._puts
            was_empty = not puts and not self._deletes
            for message_id in message_ids:
                key = normalize(message_id)
                if key:
                    puts[key] = entry
            if was_empty:
                self._first_at = time.monotonic()
                self._cond.notify()
            elif len(puts) >= self._batch_size and not self._full:
                self._full = True
                self._cond.notify()
            if len(puts) > self._max_pending:
                self._drop_oldest()

    def get(self, message_id: str, *, exact: bool = False) -> Optional[StoredRef]:
        found = self._lookup(message_id, exact)
        if found is None:
            return None
        with self._lock:
            self._found[message_id] = found[0]
            if len(self._found) > _FOUND_MEMORY:
                self._found.popitem(last=False)
        return found[1]

    def discard(self, message_id: str) -> None:
        with self._lock:
            if self._closed:
                raise self._closed_error()
            key = self._found.pop(message_id, None)
        if key is None:
            # Not just found by get(): find which entry the id means (this may read the backend).
            found = self._lookup(message_id)
            if found is None:
                return
            key = found[0]
        with self._lock:
            was_empty = not self._puts and not self._deletes
            self._puts.pop(key, None)
            self._deletes.add(key)
            if was_empty:
                self._first_at = time.monotonic()
                self._cond.notify()

    def flush(self) -> None:
        with self._lock:
            if self._closed:
                raise self._closed_error()
        try:
            while self._write_out():  # a batch kept from a failed write went first; now the buffer
                pass
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{self!r}: writing failed ({exc}); the entries are kept and tried again") from exc

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True  # puts from now on fail; what is buffered is written below
            self._closing = True
            self._cond.notify_all()
        atexit.unregister(self.close)
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(30.0)  # it ends after its current batch, bounded by the backend's timeouts
        error: Optional[BaseException] = None
        try:
            while self._write_out():
                pass
        except Exception as exc:
            error = exc
        finally:
            self._close_backend()
        if error is not None:
            lost = len(self._puts) + len(self._out_puts)
            raise StoreError(f"{self!r}: closed, but the last {lost} entries could not be written ({error})") from error

    def __enter__(self) -> "BufferedStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inside --------------------------------------------------------------------------------------

    def _closed_error(self) -> StoreError:
        return StoreError(f"{self!r} is closed")

    def _lookup(self, message_id: str, exact: bool = False) -> Optional[tuple[str, StoredRef]]:
        """(normalised id, entry) of what ``message_id`` means: the buffer first, then the backend."""
        forms = matching_message_ids(message_id, cross_base=self._cross_base and not exact)
        if not forms:
            return None
        now = self._clock()
        slots: list[tuple[str, Optional[StoredRef]]] = []  # in order of preference; None: ask the backend
        with self._lock:
            if self._closed:
                raise self._closed_error()
            for key in forms:
                entry = self._buffered(key)
                if entry is None:
                    slots.append((key, None))
                elif entry is not _GONE and entry[3] > now:
                    if not slots:
                        return key, stored_ref(entry)
                    slots.append((key, stored_ref(entry)))
        if not slots:
            return None
        try:
            stored = self._read([key for key, ref in slots if ref is None], now)
        except Exception as exc:
            raise StoreError(f"{self!r}: reading {message_id!r} failed: {exc}") from exc
        for key, ref in slots:
            ref = ref if ref is not None else stored.get(key)
            if ref is not None:
                return key, ref
        return None

    def _buffered(self, key: str) -> Any:
        """The buffered entry for ``key``, ``_GONE`` when it was discarded, ``None`` when the buffer
        does not know (under the lock). Newest first: the buffer, then the batch being written."""
        entry = self._puts.get(key)
        if entry is not None:
            return entry
        if key in self._deletes:
            return _GONE
        entry = self._out_puts.get(key)
        if entry is not None:
            return entry
        return _GONE if key in self._out_deletes else None

    def _write_out(self) -> bool:
        """Write one batch: the one kept from a failed write if any (then True: the buffer still
        waits), else the buffer. Raises what the backend raised; the batch is kept for the next try."""
        with self._flush_lock:
            with self._lock:
                retry = bool(self._out_puts or self._out_deletes)
                if not retry:
                    if not self._puts and not self._deletes:
                        return False
                    self._out_puts, self._puts = self._puts, {}
                    self._out_deletes, self._deletes = self._deletes, set()
                    self._full = False
                puts, deletes = self._out_puts, self._out_deletes
            self._write(puts, deletes, self._clock())
            with self._lock:
                self._out_puts = {}
                self._out_deletes = frozenset()
            return retry

    def _run(self) -> None:
        """The writer thread: a batch when it is full or old enough, a prune when one is due."""
        # Prune once at start: entries may have expired while no process had the store open.
        next_prune = time.monotonic() if self._prune_interval is not None else math.inf
        while True:
            with self._cond:
                while not self._closing:
                    now = time.monotonic()
                    if now >= next_prune:
                        break
                    deadline = next_prune
                    if self._puts or self._deletes or self._out_puts or self._out_deletes:
                        due = self._retry_at if self._full else max(self._first_at + self._flush_interval, self._retry_at)
                        if now >= due:
                            break
                        deadline = min(deadline, due)
                    self._cond.wait(None if deadline == math.inf else deadline - now)
                if self._closing:
                    return
            try:
                while self._write_out():
                    pass
                self._succeeded()
            except Exception as exc:
                self._failed("writing a batch", exc)
            if time.monotonic() >= next_prune:
                assert self._prune_interval is not None
                try:
                    self._prune(self._clock())
                except Exception as exc:
                    self._failed("pruning expired entries", exc)
                next_prune = time.monotonic() + self._prune_interval

    def _failed(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        self._retry_at = now + _RETRY_DELAY
        self._failures += 1
        if now >= self._next_error_log:
            self._next_error_log = now + _ERROR_LOG_INTERVAL
            logger.error("%r: %s failed (%d failures so far); the entries are kept and tried again every %.0f s: %s",
                         self, what, self._failures, _RETRY_DELAY, exc, exc_info=self._failures == 1)

    def _succeeded(self) -> None:
        if self._failures:
            logger.warning("%r: writing again after %d failures", self, self._failures)
            self._failures = 0
            self._retry_at = 0.0
            self._next_error_log = 0.0

    def _drop_oldest(self) -> None:
        """The buffer is over max_pending because the backend cannot be written: drop the oldest
        (under the lock). Bounded memory comes first; the loss is logged and counted."""
        excess = len(self._puts) - self._max_pending
        for key in list(itertools.islice(self._puts, excess)):
            del self._puts[key]
        self.dropped += excess
        now = time.monotonic()
        if now >= self._next_error_log:
            self._next_error_log = now + _ERROR_LOG_INTERVAL
            logger.error("%r: %d entries waiting to be written (max_pending); dropped the oldest, %d so far",
                         self, self._max_pending, self.dropped)
