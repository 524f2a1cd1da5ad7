"""``SqliteStore``: message references in a SQLite file (stdlib ``sqlite3``), kept across restarts."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Union

from ._buffered_store import BufferedStore
from ._storebase import Entry, StoredRef, positive_seconds
from .errors import StoreError

__all__ = ["SqliteStore"]

_TABLE = "smppfast_refs"
_COLUMNS = ["id", "ref", "submitted_at", "parts", "expires"]
# id is the normalised message id (smppfast.receipt.normalize_message_id); expires is unix time.
# WITHOUT ROWID: the rows live in the id's own b-tree, so a write touches that and the expiry index.
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE} (id TEXT PRIMARY KEY NOT NULL, ref TEXT NOT NULL, "
    "submitted_at REAL NOT NULL, parts INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_expires ON {_TABLE} (expires)",
)
_INSERT = f"INSERT OR REPLACE INTO {_TABLE} (id, ref, submitted_at, parts, expires) VALUES (?, ?, ?, ?, ?)"
_DELETE = f"DELETE FROM {_TABLE} WHERE id = ?"
# A receipt's id has at most three spellings (smppfast.receipt.matching_message_ids).
_SELECT = {
    n: f"SELECT id, ref, submitted_at, parts FROM {_TABLE} WHERE id IN ({', '.join('?' * n)}) AND expires > ?"
    for n in (1, 2, 3)
}
# Pruned in chunks, each its own transaction, so that a large prune never holds the write lock long.
_PRUNE_CHUNK = 5000
_PRUNE = f"DELETE FROM {_TABLE} WHERE id IN (SELECT id FROM {_TABLE} WHERE expires <= ? LIMIT {_PRUNE_CHUNK})"


class SqliteStore(BufferedStore):
    """Message references in a SQLite file, found again by a new process after a restart.

    ``SqliteStore(path, ttl=7 days)`` opens (or creates) the file in WAL mode, with a table
    ``smppfast_refs``. Writes are batched: ``put`` and ``discard`` only buffer, and a writer thread
    commits the buffer in one transaction when ``batch_size`` ids are waiting or ``flush_interval``
    seconds after the first of them came. ``get`` sees buffered entries too. Entries past ``ttl``
    are never returned and are deleted every ``prune_interval`` seconds. ``close()`` writes what is
    buffered (and so does interpreter exit, for a store left open): entries put before it are there
    for the next process. With ``synchronous=NORMAL`` a committed batch survives the process being
    killed; a power cut may lose the last batches.

    Several processes may share one file (SQLite locks it; a write waits up to ``timeout``
    seconds for another's). The clock (default ``time.time``) must be the wall clock that every
    process sharing the file reads, since expiry times are stored.
    """

    _kind = "sqlite"

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]"],
        ttl: float = 7 * 86400.0,
        *,
        flush_interval: float = 0.05,
        batch_size: int = 5000,
        max_pending: int = 1_000_000,
        prune_interval: float = 60.0,
        timeout: float = 10.0,
        cross_base: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a file name (str or path-like), not {type(path).__name__}")
        file = os.fspath(path)
        if file in ("", ":memory:") or file.startswith("file:"):
            # Each connection would get its own database: the writer's would never be read.
            raise ValueError(f"SqliteStore needs the name of a file, not {file!r}; for a store in memory use MemoryStore")
        self._path = file
        self._timeout = positive_seconds("timeout", timeout)
        super().__init__(ttl=ttl, flush_interval=flush_interval, batch_size=batch_size, max_pending=max_pending,
                         prune_interval=prune_interval, cross_base=cross_base, clock=clock)
        self._writer_db = self._connect()
        try:
            self._setup(self._writer_db)
            self._reader_db = self._connect()
        except BaseException:
            self._writer_db.close()
            raise
        self._read_lock = threading.Lock()
        self._start()

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r}, ttl={self._ttl:g}{', closed' if self._closed else ''})"

    # -- the backend ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            # Autocommit (isolation_level=None): a batch is one explicit transaction. Each connection
            # is used under one lock of ours (writes: _flush_lock; reads: _read_lock).
            db = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"SqliteStore cannot open {self._path!r}: {exc}") from exc
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"SqliteStore needs WAL mode, and {self._path!r} is in {mode!r} mode")
            db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            db.close()
            raise StoreError(f"SqliteStore cannot use {self._path!r}: {exc}") from exc
        except BaseException:
            db.close()
            raise
        return db

    def _setup(self, db: sqlite3.Connection) -> None:
        table, index = _SCHEMA
        try:
            db.execute(table)
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({_TABLE})")]
            if columns == _COLUMNS:
                db.execute(index)
        except sqlite3.Error as exc:
            raise StoreError(f"SqliteStore cannot create its table in {self._path!r}: {exc}") from exc
        if columns != _COLUMNS:
            raise StoreError(f"{self._path!r} has a table {_TABLE} with columns {columns}, not a SqliteStore's {_COLUMNS}")

    def _write(self, puts: Mapping[str, Entry], deletes: Any, now: float) -> None:
        db = self._writer_db
        rows = [(key, *entry) for key, entry in puts.items() if entry[3] > now]
        db.execute("BEGIN IMMEDIATE")
        try:
            if deletes:
                db.executemany(_DELETE, [(key,) for key in deletes])
            if rows:
                db.executemany(_INSERT, rows)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _read(self, keys: list[str], now: float) -> dict[str, StoredRef]:
        with self._read_lock:
            rows = self._reader_db.execute(_SELECT[len(keys)], (*keys, now)).fetchall()
        return {row[0]: StoredRef(row[1], row[2], row[3]) for row in rows}

    def _prune(self, now: float) -> None:
        while True:
            with self._flush_lock:  # the writing connection: one user at a time
                deleted = self._writer_db.execute(_PRUNE, (now,)).rowcount
            if deleted < _PRUNE_CHUNK:
                return

    def _close_backend(self) -> None:
        with self._flush_lock:
            self._writer_db.close()
        with self._read_lock:
            self._reader_db.close()
