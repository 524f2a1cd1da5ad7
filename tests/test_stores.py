"""The message-reference stores (smppfast.stores): the same behaviour from MemoryStore, SqliteStore
and RedisStore wherever it is the same, then what only one of them does (bounds, a restart, many
processes). RedisStore runs against a real redis-server (the session's ``redis_server`` fixture).
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import smppfast
from smppfast import MemoryStore, RedisStore, SqliteStore, Store, StoredRef
from smppfast._memstore import normalize
from smppfast.errors import SmppError, StoreError
from smppfast.receipt import normalize_message_id

from .redis_server import RedisServer

KINDS = ["memory", "sqlite", "redis"]
T0 = 1_700_000_000.5
Factory = Callable[..., Any]


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """``make(kind, **options)``: a new store of that kind (closed at the end of the test). Stores of
    one test with the same ``name`` share their data: the same file, or the same Redis prefix."""
    made: list[Any] = []
    test_id = uuid.uuid4().hex

    def factory(kind: str, *, name: str = "a", **options: Any) -> Any:
        if kind == "memory":
            store: Any = MemoryStore(**options)
        elif kind == "sqlite":
            store = SqliteStore(tmp_path / f"{name}.db", **options)
        else:
            server: RedisServer = request.getfixturevalue("redis_server")
            store = RedisStore(server.url, prefix=f"test:{test_id}:{name}:", **options)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


def child_env() -> dict[str, str]:
    """The environment of a child interpreter that imports this very smppfast."""
    env = dict(os.environ)
    root = str(Path(smppfast.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def run_child(code: str, *args: str, timeout: float = 60.0) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=child_env(), capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"child failed ({done.returncode}):\n{done.stderr}"
    return done.stdout


def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


# ------------------------------------------------------------------------------------------------
# The same in every store
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_put_get_discard(kind: str, make: Factory) -> None:
    store = make(kind)
    assert isinstance(store, Store)
    store.put(["4f8a3b2c"], "order-17", T0, 1)
    got = store.get("4f8a3b2c")
    assert got == StoredRef("order-17", T0, 1)
    assert isinstance(got, StoredRef) and got.ref == "order-17" and got.submitted_at == T0 and got.parts == 1
    assert store.get("4f8a3b2d") is None
    store.discard("4f8a3b2c")
    assert store.get("4f8a3b2c") is None
    store.discard("4f8a3b2c")  # nothing left to discard: no error
    store.discard("never-put")


@pytest.mark.parametrize("kind", KINDS)
def test_every_part_of_a_message_maps_to_its_ref(kind: str, make: Factory) -> None:
    store = make(kind)
    store.put(["p-1", "p-2", "p-3"], "long one", T0, 3)
    store.put(["q-1"], "short one", T0 + 1, 1)
    for part in ("p-1", "p-2", "p-3"):
        assert store.get(part) == StoredRef("long one", T0, 3)
    store.discard("p-2")  # one part's final receipt: the others still wait for theirs
    assert store.get("p-2") is None
    assert store.get("p-1") == store.get("p-3") == StoredRef("long one", T0, 3)
    assert store.get("q-1") == StoredRef("short one", T0 + 1, 1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flushed", [False, True], ids=["buffered", "flushed"])
def test_ids_match_across_case_zeros_and_base(kind: str, flushed: bool, make: Factory) -> None:
    store = make(kind)
    store.put(["0A1B2C"], "hex answered", T0, 1)  # submit_sm_resp in hex ...
    store.put(["1234567890"], "decimal answered", T0, 1)
    store.put(["msg-ABC"], "neither", T0, 1)
    if flushed:
        store.flush()
    for spelling in ("0A1B2C", "a1b2c", "0x000a1b2c", " 0A1B2C ", "662316"):  # ... receipt in decimal
        assert store.get(spelling) == StoredRef("hex answered", T0, 1), spelling
    for spelling in ("1234567890", "499602D2", "0x499602d2", "00001234567890"):
        assert store.get(spelling) == StoredRef("decimal answered", T0, 1), spelling
    assert store.get("MSG-abc") == StoredRef("neither", T0, 1)
    assert store.get("662317") is None
    assert store.get("") is None and store.get("  ") is None
    store.discard("662316")  # the receipt's spelling discards the entry it found
    assert store.get("0A1B2C") is None


@pytest.mark.parametrize("kind", KINDS)
def test_without_cross_base_only_case_and_zeros_are_ignored(kind: str, make: Factory) -> None:
    store = make(kind, cross_base=False)
    store.put(["0A1B2C"], "r", T0, 1)
    assert store.get("000a1b2c") == StoredRef("r", T0, 1)
    assert store.get("662316") is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flushed", [False, True], ids=["buffered", "flushed"])
def test_the_exact_spelling_wins_and_discard_removes_only_what_get_found(kind: str, flushed: bool,
                                                                        make: Factory) -> None:
    # "10" read as hex is 16: with both ids stored, each receipt finds its own message.
    store = make(kind)
    store.put(["10"], "ten", T0, 1)
    store.put(["16"], "sixteen", T0, 1)
    store.put(["a1b2c"], "hex", T0, 1)
    store.put(["662316"], "decimal", T0, 1)  # 0xa1b2c in decimal: another SMSC's id, say
    if flushed:
        store.flush()
    assert store.get("16").ref == "sixteen" and store.get("10").ref == "ten"
    assert store.get("662316").ref == "decimal" and store.get("A1B2C").ref == "hex"
    store.discard("662316")
    assert store.get("A1B2C").ref == "hex"
    store.discard("16")
    assert store.get("10").ref == "ten"
    # The ambiguity smppfast.receipt documents: with "16" gone, "16" read as decimal is 0x10.
    assert store.get("16").ref == "ten"


@pytest.mark.parametrize("kind", KINDS)
def test_an_id_put_again_takes_the_new_ref(kind: str, make: Factory) -> None:
    # An SMSC whose ids wrap around: the newer message owns the id.
    store = make(kind)
    store.put(["77"], "old", T0, 1)
    store.flush()
    store.put(["77"], "new", T0 + 5, 2)
    assert store.get("77") == StoredRef("new", T0 + 5, 2)
    store.flush()
    assert store.get("77") == StoredRef("new", T0 + 5, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_put_after_discard_of_the_same_id(kind: str, make: Factory) -> None:
    # Both in one buffered batch: the discard must not delete the later put when written.
    store = make(kind)
    store.put(["5"], "first", T0, 1)
    store.flush()
    store.discard("5")
    store.put(["5"], "second", T0, 1)
    assert store.get("5") == StoredRef("second", T0, 1)
    store.flush()
    assert store.get("5") == StoredRef("second", T0, 1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flushed", [False, True], ids=["buffered", "flushed"])
def test_entries_expire_after_ttl(kind: str, flushed: bool, make: Factory) -> None:
    store = make(kind, ttl=0.5)
    store.put(["abc"], "r", T0, 1)
    if flushed:
        store.flush()
    assert store.get("abc") == StoredRef("r", T0, 1)
    time.sleep(0.6)
    assert store.get("abc") is None
    store.put(["abc"], "again", T0, 1)  # a fresh put lives a fresh ttl
    assert store.get("abc") == StoredRef("again", T0, 1)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_ttl_with_an_injected_clock(kind: str, make: Factory) -> None:
    clock = FakeClock()
    store = make(kind, ttl=60.0, clock=clock)
    store.put(["old"], "r1", T0, 1)
    clock.now += 30
    store.put(["young"], "r2", T0, 1)
    store.flush()
    clock.now += 29.9
    assert store.get("old") is not None and store.get("young") is not None
    clock.now += 0.2
    assert store.get("old") is None
    assert store.get("young") == StoredRef("r2", T0, 1)
    clock.now += 30
    assert store.get("young") is None


@pytest.mark.parametrize("kind", KINDS)
def test_thread_safety(kind: str, make: Factory) -> None:
    store = make(kind, batch_size=500) if kind != "memory" else make(kind)
    threads, per = 8, 1500
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        try:
            start.wait(10)
            for i in range(per):
                store.put([f"t{t}-{i}-a", f"t{t}-{i}-b"], f"ref {t} {i}", T0 + i, 2)
                if i % 3 == 0:
                    found = store.get(f"T{t}-{i}-B")
                    assert found == StoredRef(f"ref {t} {i}", T0 + i, 2), found
                    store.discard(f"t{t}-{i}-a")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not errors, errors[0]
    store.flush()
    for t in range(threads):
        for i in range(0, per, 7):
            a, b = store.get(f"t{t}-{i}-a"), store.get(f"t{t}-{i}-b")
            assert b == StoredRef(f"ref {t} {i}", T0 + i, 2)
            assert a == (None if i % 3 == 0 else b)


@pytest.mark.parametrize("kind", KINDS)
def test_closed_stores_refuse_and_close_twice_is_fine(kind: str, make: Factory) -> None:
    with make(kind) as store:
        store.put(["x"], "r", T0, 1)
    store.close()
    for call in (lambda: store.put(["y"], "r", T0, 1), lambda: store.get("x"), lambda: store.discard("x"), store.flush):
        with pytest.raises(StoreError, match="closed"):
            call()
    assert "closed" in repr(store)
    assert issubclass(StoreError, SmppError)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "options, message",
    [
        ({"ttl": 0}, "ttl must be a positive"),
        ({"ttl": -1.0}, "ttl must be a positive"),
        ({"ttl": math.nan}, "ttl must be a positive"),
        ({"ttl": math.inf}, "ttl must be a positive"),
        ({"ttl": "60"}, "ttl must be a positive"),
        ({"ttl": True}, "ttl must be a positive"),
    ],
)
def test_bad_ttl(kind: str, options: dict[str, Any], message: str, make: Factory) -> None:
    with pytest.raises(ValueError, match=message):
        make(kind, **options)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_put_arguments(kind: str, make: Factory) -> None:
    store = make(kind)
    with pytest.raises(TypeError, match="sequence of ids"):
        store.put("abc", "r", T0, 1)  # one str is not a list of ids: it would be stored per character
    with pytest.raises(TypeError, match="ref must be a str"):
        store.put(["abc"], 17, T0, 1)
    assert store.get("a") is None and store.get("abc") is None
    with pytest.raises(TypeError, match="clock"):
        make(kind, clock=5.0)


@pytest.mark.parametrize(
    "make_bad, error, message",
    [
        (lambda: MemoryStore(max_entries=0), ValueError, "max_entries must be a whole number of at least 1"),
        (lambda: MemoryStore(max_entries=2.5), ValueError, "max_entries"),
        (lambda: SqliteStore(":memory:"), ValueError, "for a store in memory use MemoryStore"),
        (lambda: SqliteStore(""), ValueError, "name of a file"),
        (lambda: SqliteStore(42), TypeError, "path must be a file name"),
        (lambda: SqliteStore("/nonexistent-dir/x/y.db"), StoreError, "cannot open '/nonexistent-dir/x/y.db'"),
        (lambda: SqliteStore("x.db", flush_interval=0), ValueError, "flush_interval"),
        (lambda: SqliteStore("x.db", batch_size=0), ValueError, "batch_size"),
        (lambda: SqliteStore("x.db", timeout=-1), ValueError, "timeout"),
        (lambda: RedisStore("http://127.0.0.1:6379"), ValueError, "redis://, rediss:// or unix://"),
        (lambda: RedisStore(b"redis://x"), TypeError, "url must be a str"),
        (lambda: RedisStore("redis://127.0.0.1:1/0", prefix=3), TypeError, "prefix must be a str"),
        (lambda: RedisStore("redis://127.0.0.1:1/0", timeout=0), ValueError, "timeout"),
    ],
)
def test_bad_constructor_arguments(make_bad: Callable[[], Any], error: type, message: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        make_bad()
    assert not list(tmp_path.iterdir())  # a refused store leaves no file behind


@pytest.mark.parametrize("kind", KINDS)
def test_blocking_says_whether_calls_may_do_io(kind: str, make: Factory) -> None:
    assert make(kind).blocking is (kind != "memory")


# ------------------------------------------------------------------------------------------------
# MemoryStore
# ------------------------------------------------------------------------------------------------
def test_memory_store_is_bounded_by_count_oldest_first() -> None:
    store = MemoryStore(max_entries=4)
    store.put(["1a", "1b"], "one", T0, 2)
    store.put(["2a"], "two", T0, 1)
    store.put(["3a"], "three", T0, 1)
    assert len(store) == 4
    store.put(["4a", "4b"], "four", T0, 2)
    assert len(store) == 4
    assert store.get("1a") is None and store.get("1b") is None
    assert [store.get(i).ref for i in ("2a", "3a", "4a", "4b")] == ["two", "three", "four", "four"]
    store.put(["2a"], "two again", T0, 1)  # put again: the newest, so 3a goes first
    store.put(["5a"], "five", T0, 1)
    assert store.get("3a") is None and store.get("2a").ref == "two again"


def test_memory_store_churn_neither_evicts_early_nor_grows() -> None:
    # Discarded ids and ids put again leave stale bookkeeping behind; it must not count as entries
    # (evicting live ones early) nor pile up.
    import tracemalloc

    store = MemoryStore(max_entries=5)
    store.put(["a", "b", "c"], "kept", T0, 3)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(50_000):
            store.put([f"tmp{i}"], "r", T0, 1)
            store.discard(f"tmp{i}")
            store.put(["x"], f"x{i}", T0, 1)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 200_000, grown
    assert len(store) == 4 and store.get("x").ref == "x49999"
    assert [store.get(i).ref for i in "abc"] == ["kept"] * 3
    store.put(["d", "e"], "late", T0, 2)
    assert store.get("a") is None and store.get("b").ref == "kept" and len(store) == 5


def test_memory_store_prunes_expired_entries_by_itself() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl=10.0, clock=clock)
    for i in range(1000):
        store.put([f"id{i}"], "r", T0, 1)
    assert len(store) == 1000
    clock.now += 10.5
    store.put(["fresh"], "r", T0, 1)  # any put prunes the expired, oldest first
    assert len(store) == 1
    assert "1 ids" in repr(store)


def test_memory_store_close_empties_it() -> None:
    store = MemoryStore()
    store.put(["a"], "r", T0, 1)
    store.close()
    assert len(store) == 0


# ------------------------------------------------------------------------------------------------
# SqliteStore and RedisStore: batched writes
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_writes_are_batched_and_seen_while_buffered(kind: str, make: Factory) -> None:
    writer = make(kind, flush_interval=60.0, batch_size=10_000)
    reader = make(kind)  # the same file or prefix: sees only what is written
    writer.put(["w1"], "r", T0, 1)
    assert writer.get("w1") == StoredRef("r", T0, 1)  # from the buffer
    time.sleep(0.2)
    assert reader.get("w1") is None  # not written yet: neither size nor age reached
    writer.discard("w1")
    writer.put(["w2"], "r2", T0, 1)
    writer.flush()
    assert reader.get("w2") == StoredRef("r2", T0, 1)
    assert reader.get("w1") is None


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_full_batch_is_written_at_once(kind: str, make: Factory) -> None:
    writer = make(kind, flush_interval=60.0, batch_size=50)
    reader = make(kind)
    writer.put([f"b{i}" for i in range(49)], "r", T0, 49)
    time.sleep(0.2)
    assert reader.get("b0") is None
    writer.put(["b49"], "r", T0, 1)
    assert wait_until(lambda: reader.get("b0") and reader.get("b49"), timeout=10.0)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_batch_is_written_after_flush_interval(kind: str, make: Factory) -> None:
    writer = make(kind, flush_interval=0.05, batch_size=10_000)
    reader = make(kind)
    writer.put(["lonely"], "r", T0, 1)
    assert wait_until(lambda: reader.get("lonely"), timeout=5.0) == StoredRef("r", T0, 1)
    writer.discard("lonely")
    assert wait_until(lambda: reader.get("lonely") is None, timeout=5.0)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_close_writes_what_is_buffered(kind: str, make: Factory) -> None:
    writer = make(kind, flush_interval=60.0, batch_size=10_000)
    writer.put(["c1", "c2"], "closing", T0, 2)
    writer.close()
    assert make(kind).get("c2") == StoredRef("closing", T0, 2)


# ------------------------------------------------------------------------------------------------
# SqliteStore
# ------------------------------------------------------------------------------------------------
def _rows(path: Path) -> int:
    with sqlite3.connect(path, timeout=10) as db:
        return int(db.execute("SELECT count(*) FROM smppfast_refs").fetchone()[0])


def test_sqlite_store_uses_wal_and_its_table(tmp_path: Path) -> None:
    path = tmp_path / "refs.db"
    with SqliteStore(path) as store:
        store.put(["abc"], "r", T0, 1)
        store.flush()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            row = db.execute("SELECT id, ref, submitted_at, parts FROM smppfast_refs").fetchone()
        assert row == ("abc", "r", T0, 1)
    assert repr(store) == f"SqliteStore({str(path)!r}, ttl=604800, closed)"


def test_sqlite_store_prunes_expired_entries_by_itself(tmp_path: Path) -> None:
    path = tmp_path / "refs.db"
    with SqliteStore(path, ttl=0.3, prune_interval=0.1) as store:
        store.put([f"e{i}" for i in range(500)], "r", T0, 500)
        store.flush()
        assert _rows(path) == 500
        assert wait_until(lambda: _rows(path) == 0, timeout=10.0)


def test_sqlite_store_prunes_what_expired_while_no_process_ran(tmp_path: Path) -> None:
    path = tmp_path / "refs.db"
    clock = FakeClock()
    with SqliteStore(path, ttl=60.0, clock=clock) as store:
        store.put(["old"], "r", T0, 1)
    assert _rows(path) == 1
    clock.now += 61
    with SqliteStore(path, clock=clock):
        assert wait_until(lambda: _rows(path) == 0, timeout=10.0)


def test_sqlite_store_refuses_a_table_of_another_layout(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE smppfast_refs (message_id TEXT, reference TEXT)")
    with pytest.raises(StoreError, match="not a SqliteStore's"):
        SqliteStore(path)


def test_sqlite_store_keeps_a_batch_it_cannot_write_and_writes_it_later(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "locked.db"
    store = SqliteStore(path, flush_interval=0.02, max_pending=30, timeout=0.05)
    try:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with caplog.at_level(logging.ERROR, logger="smppfast.stores"):
            store.put(["k0"], "kept", T0, 1)
            assert wait_until(lambda: any("failed" in r.getMessage() for r in caplog.records), timeout=10.0)
        with pytest.raises(StoreError, match="writing failed"):
            store.flush()
        # The failed batch and the buffer behind it are still found; the buffer is bounded.
        for i in range(40):
            store.put([f"k{i + 1}"], f"ref{i + 1}", T0, 1)
        assert store.dropped == 10
        assert store.get("k0") == StoredRef("kept", T0, 1)  # the batch being retried is not dropped
        assert store.get("k1") is None  # the oldest of the buffer were
        assert store.get("k40") == StoredRef("ref40", T0, 1)
        blocker.execute("ROLLBACK")
        blocker.close()
        assert wait_until(lambda: _rows(path) == 31, timeout=10.0)
    finally:
        store.close()
    with SqliteStore(path) as again:
        assert again.get("k0") == StoredRef("kept", T0, 1) and again.get("k40") == StoredRef("ref40", T0, 1)


_SQLITE_CHILD = """
import sys, time
from smppfast import SqliteStore, StoredRef
path, action = sys.argv[1], sys.argv[2]
store = SqliteStore(path, flush_interval=60.0)  # nothing written before close() (or exit)
if action == "put":
    store.put(["0A1B2C", "0A1B2D"], "order-99", 1700000000.25, 2)
    store.close()
elif action == "put-no-close":
    store.put(["FF01"], "left open", 1700000000.5, 1)  # written at interpreter exit
else:
    print(store.get("662316"), store.get("a1b2d"), store.get("65281"))
    store.close()
"""


def test_sqlite_store_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "refs.db")
    run_child(_SQLITE_CHILD, path, "put")
    run_child(_SQLITE_CHILD, path, "put-no-close")
    out = run_child(_SQLITE_CHILD, path, "get")
    expected = [StoredRef("order-99", 1700000000.25, 2), StoredRef("order-99", 1700000000.25, 2),
                StoredRef("left open", 1700000000.5, 1)]
    assert out.strip() == " ".join(map(repr, expected))


# ------------------------------------------------------------------------------------------------
# RedisStore
# ------------------------------------------------------------------------------------------------
def test_redis_keys_carry_their_expiry(redis_server: RedisServer) -> None:
    import redis

    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisStore(redis_server.url, ttl=100.0, prefix=prefix)
    store.put(["0A1B2C"], "r", T0, 1)
    store.flush()
    client = redis.Redis.from_url(redis_server.url)
    try:
        key = prefix + "a1b2c"
        assert client.get(key) == f"1 {T0!r} r".encode()
        assert 98_000 < client.pttl(key) <= 100_000  # set with PX: Redis removes it by itself
        store.discard("662316")
        store.flush()
        assert client.exists(key) == 0
    finally:
        client.close()
        store.close()


def test_redis_store_ignores_a_foreign_value_under_its_prefix(redis_server: RedisServer,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    import redis

    prefix = f"test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set(prefix + "abc", b"\xff not ours")
    finally:
        client.close()
    with RedisStore(redis_server.url, prefix=prefix) as store, caplog.at_level(logging.WARNING, logger="smppfast.stores"):
        assert store.get("abc") is None
    assert "not a stored ref" in caplog.text


def test_redis_url_password_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex[:8]
    with RedisServer(password=secret) as server:
        with caplog.at_level(logging.DEBUG):
            with RedisStore(server.url) as store:
                store.put(["abc"], "r", T0, 1)
                store.flush()
                assert store.get("abc") == StoredRef("r", T0, 1)
                assert secret not in repr(store) and "***" in repr(store)
                assert repr(store) == f"RedisStore('redis://:***@127.0.0.1:{server.port}/0', ttl=604800, prefix='smppfast:ref:')"
            with pytest.raises(StoreError) as wrong:
                RedisStore(server.url.replace(secret, "not-" + secret))
            with RedisStore(f"redis://127.0.0.1:{server.port}/0?password={secret}") as by_option:
                assert secret not in repr(by_option) and "password=***" in repr(by_option)
        assert secret not in str(wrong.value) and "redis://:***@127.0.0.1" in str(wrong.value)
        assert secret not in caplog.text


def test_redis_store_names_an_unreachable_server() -> None:
    nobody_there = f"redis://user:pw123@127.0.0.1:{_closed_port()}/0"
    with pytest.raises(StoreError, match=r"cannot reach redis://user:\*\*\*@127.0.0.1") as info:
        RedisStore(nobody_there, timeout=2.0)
    assert "pw123" not in str(info.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_REDIS_A = """
import sys
from smppfast import RedisStore
url, prefix = sys.argv[1], sys.argv[2]
store = RedisStore(url, prefix=prefix)
store.put(["0A1B2C", "0A1B2D"], "order-7", 1700000000.75, 2)  # from A's submit_sm_resp
store.flush()
print("put", flush=True)
sys.stdin.readline()  # B works meanwhile
print(store.get("a1b2c"), store.get("a1b2d"), flush=True)
store.close()
"""
_REDIS_B = """
import sys
from smppfast import RedisStore
url, prefix = sys.argv[1], sys.argv[2]
with RedisStore(url, prefix=prefix) as store:
    print(store.get("662316"), flush=True)  # the receipt arrives on B's bind, in decimal
    store.discard("662316")  # a final receipt
"""


def test_redis_store_shared_by_two_processes(redis_server: RedisServer) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    args = [redis_server.url, prefix]
    a = subprocess.Popen([sys.executable, "-c", _REDIS_A, *args], env=child_env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert a.stdout is not None and a.stdin is not None
        assert a.stdout.readline().strip() == "put", a.stderr.read() if a.stderr else ""
        b = subprocess.run([sys.executable, "-c", _REDIS_B, *args], env=child_env(), capture_output=True, text=True,
                           timeout=60)
        assert b.returncode == 0, b.stderr
        assert b.stdout.strip() == repr(StoredRef("order-7", 1700000000.75, 2))
        a.stdin.write("go on\n")
        a.stdin.flush()
        out, err = a.communicate(timeout=60)
        assert a.returncode == 0, err
        # B's discard reached A: the part B discarded is gone, the other part still waits.
        assert out.strip() == f"None {StoredRef('order-7', 1700000000.75, 2)!r}"
    finally:
        if a.poll() is None:
            a.kill()
            a.wait(10)


def test_redis_store_without_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # an import of it now fails
    with pytest.raises(ImportError, match=r"pip install 'smppfast\[redis\]'"):
        RedisStore("redis://127.0.0.1:6379/0")


# ------------------------------------------------------------------------------------------------
# The compiled normalisation is the rule of smppfast.receipt
# ------------------------------------------------------------------------------------------------
class _Str(str):
    pass


@given(st.one_of(st.text(max_size=12), st.text("0123456789abcdefABCDEF xX\t\x1c\x85\u3000", max_size=12),
                 st.text("0xX1aA", max_size=6)))
def test_fast_normalize_is_receipts_rule(message_id: str) -> None:
    expected = normalize_message_id(message_id)
    assert normalize(message_id) == expected
    assert type(normalize(_Str(message_id))) is str and normalize(_Str(message_id)) == expected


def test_fast_normalize_keeps_a_canonical_id_as_it_is() -> None:
    canonical = "a1b2c3d4e5f60000"
    assert normalize(canonical) is canonical  # no copy on the put path
    assert normalize("A1B2C3") == "a1b2c3" and normalize("0") == "0" and normalize("00") == "0"
    assert normalize("000000000000ABCD") == "abcd" and normalize("0x00Ab") == "ab" and normalize("00x1") == "x1"
    with pytest.raises(TypeError, match="a message id is a str, not int"):
        normalize(12)


@pytest.mark.parametrize("kind", KINDS)
def test_stores_can_be_weakly_referenced(kind: str, make: Factory) -> None:
    # The clients that share a store find its RefKeeper through a weak mapping keyed by the store.
    import weakref

    store = make(kind)
    assert weakref.ref(store)() is store
