"""``smppfast worker``: worker processes started as a user starts them (``python -m smppfast worker``),
a real redis-server (persistent, so that it can be restarted) and the simulator in this process.

Every run checks the promise end to end: each entry of the stream ends in exactly one outcome record,
the simulator received each message at most once unless its record says ``maybe_sent``, and nothing
stays pending.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
import redis

from smppfast import SubmitSm
from smppfast._worker_entry import Invalid, Message, check_entry
from smppfast.simulator import Faults, Simulator
from smppfast.worker import Worker, read_status

from .redis_server import RedisServer, missing_reason
from .test_cli import _env


TEXT_FILL = """
for i = 1, tonumber(ARGV[1]) do
    redis.call('XADD', KEYS[1], '*', 'to', string.format('4477009%05d', i), 'text', ARGV[2] .. i)
end
"""


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    """A persistent redis-server of this module's own: the restart test restarts it."""
    reason = missing_reason()
    if reason:
        pytest.fail(reason)
    with RedisServer(persistent=True) as srv:
        yield srv


@pytest.fixture
def r(server: RedisServer) -> Iterator[Any]:
    client = redis.Redis.from_url(server.url, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def stream() -> str:
    return f"sms-{uuid.uuid4().hex[:8]}"


def fill(r: Any, stream: str, n: int, prefix: str = "m") -> list[str]:
    """``n`` entries (to 4477009NNNNN, text PREFIX<i>), written inside Redis; their ids in order."""
    r.eval(TEXT_FILL, 1, stream, n, prefix)
    return [entry_id.decode() for entry_id, _ in r.xrange(stream)]


class Workers:
    """Worker processes, each logging to its own file."""

    def __init__(self, tmp_path: Path, server: RedisServer) -> None:
        self.tmp_path = tmp_path
        self.server = server
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, stream: str, port: int, *options: str, wait: bool = True) -> subprocess.Popen[bytes]:
        i = len(self.procs)
        log = self.tmp_path / f"worker{i}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "smppfast", "worker", "--redis", self.server.url, "--stream", stream,
                 "--port", str(port), "--consumer", f"w{i}", *options],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env(),
            )
        self.procs.append(proc)
        self.logs.append(log)
        if wait:
            self.wait_for_log(i, "serving stream")
        return proc

    def log(self, i: int) -> str:
        return self.logs[i].read_text(errors="replace")

    def wait_for_log(self, i: int, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log(i):
            if self.procs[i].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {i} never logged {needle!r}:\n{self.log(i)}")
            time.sleep(0.02)

    def stop_all(self, timeout: float = 30.0) -> list[int]:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = []
        for i, p in enumerate(self.procs):
            try:
                codes.append(p.wait(timeout))
            except subprocess.TimeoutExpired:
                p.kill()
                raise AssertionError(f"worker {i} did not stop on SIGTERM:\n{self.log(i)}") from None
        return codes

    def kill_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def workers(tmp_path: Path, server: RedisServer) -> Iterator[Workers]:
    w = Workers(tmp_path, server)
    yield w
    w.kill_all()


def wait_records(r: Any, results: str, n: int, timeout: float, workers: Optional[Workers] = None) -> None:
    deadline = time.monotonic() + timeout
    while r.xlen(results) < n:
        if time.monotonic() > deadline:
            logs = "\n".join(workers.log(i) for i in range(len(workers.procs))) if workers else ""
            raise AssertionError(f"{r.xlen(results)} of {n} outcome records after {timeout} s\n{logs[-6000:]}")
        time.sleep(0.05)


def records(r: Any, results: str) -> dict[str, list[dict[str, str]]]:
    """The outcome records, by the entry they are for."""
    out: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
    for _, fields in r.xrange(results):
        rec = {k.decode(): v.decode() for k, v in fields.items()}
        out[rec["entry"]].append(rec)
    return out


def received_texts(sim: Simulator) -> collections.Counter[str]:
    return collections.Counter(pdu.short_message.decode() for pdu in list(sim.received) if isinstance(pdu, SubmitSm))


def check_exactly_once(r: Any, stream: str, ids: list[str], sim: Simulator, prefix: str = "m") -> dict[str, list[dict[str, str]]]:
    """Every entry has exactly one record; a message the SMSC received twice has a maybe_sent record;
    every ESME_ROK message was received; nothing stays pending."""
    recs = records(r, f"{stream}:results")
    assert sorted(recs) == sorted(ids)
    doubles = {e: v for e, v in recs.items() if len(v) != 1}
    assert not doubles, f"entries with more than one record: {list(doubles.items())[:5]}"
    seen = received_texts(sim)
    for i, entry_id in enumerate(ids, 1):
        rec = recs[entry_id][0]
        text = f"{prefix}{i}"
        assert rec["ref"] == entry_id
        if rec["status"] == "ESME_ROK":
            assert seen[text] >= 1, (entry_id, rec)
            assert rec["message_ids"]
        if seen[text] > 1:
            assert rec["status"] == "maybe_sent", (text, seen[text], rec)
    assert r.xpending(stream, "smppfast")["pending"] == 0
    return recs


# -- the checks of one entry, in process ------------------------------------------------------------


@pytest.mark.parametrize("fields, error", [
    ({"text": "hi"}, "no 'to' field"),
    ({"to": "447700900123"}, "no 'text' field"),
    ({"to": "447700900123", "text": ""}, "text is empty"),
    ({"to": "4" * 21, "text": "hi"}, "21 characters long; SMPP 3.4 allows at most 20"),
    ({"to": "+447700900123", "text": "hi"}, "not a number (without the '+')"),
    ({"to": "07700 900123", "text": "hi"}, "not a number (digits only)"),
    ({"to": "447700900123", "text": "bad \udcff"}, "text is not valid UTF-8"),
    ({"to": "447700900123", "text": "hi", "from": "S" * 21}, "from 'SSSSSSSSSSSSSSSSSSSSS' is 21 characters long"),
    ({"to": "447700900123", "text": "hi", "from": "Café€"}, "character '€' that SMPP cannot carry"),
    ({"to": "447700900123", "text": "hi", "registered_delivery": "yes"}, "registered_delivery 'yes' is not a number"),
    ({"to": "447700900123", "text": "hi", "registered_delivery": "256"}, "is not a number from 0 to 255"),
])
def test_a_malformed_entry_is_refused_naming_the_field(fields: dict[str, str], error: str) -> None:
    checked = check_entry("1-1", fields)
    assert isinstance(checked, Invalid)
    assert error in checked.error
    assert checked.ref == "1-1"


def test_a_good_entry_becomes_a_message() -> None:
    checked = check_entry("1-1", {"to": "447700900123", "text": "hi", "from": "Shop", "ref": "order-9",
                                  "registered_delivery": "1", "other": "ignored"})
    assert isinstance(checked, Message)
    assert (checked.ref, checked.to, checked.text, checked.with_ref) == ("order-9", "447700900123", "hi", True)
    assert checked.fields == {"dest_addr_ton": 1, "dest_addr_npi": 1, "source_addr": "Shop", "source_addr_ton": 5,
                              "source_addr_npi": 0, "registered_delivery": 1}
    numeric = check_entry("1-2", {"to": "447700900123", "text": "hi", "from": "447700900999"})
    assert isinstance(numeric, Message) and numeric.fields["source_addr_ton"] == 1 and not numeric.with_ref


# -- worker processes -----------------------------------------------------------------------------


def test_three_workers_send_every_entry_exactly_once(r: Any, stream: str, workers: Workers) -> None:
    n = 30_000
    with Simulator(record=n + 1000) as sim:
        for _ in range(3):
            workers.start(stream, sim.port, "--window", "200", "--progress", "1", wait=False)
        for i in range(3):
            workers.wait_for_log(i, "serving stream")
        ids = fill(r, stream, n)
        wait_records(r, f"{stream}:results", n, 90, workers)
        assert workers.stop_all() == [0, 0, 0]
        recs = check_exactly_once(r, stream, ids, sim)
        assert {rec[0]["status"] for rec in recs.values()} == {"ESME_ROK"}
        assert sim.counters["submits"] == n
        assert received_texts(sim) == collections.Counter(f"m{i}" for i in range(1, n + 1))
    # Each took its share, and said so in its progress line.
    for i in range(3):
        log = workers.log(i)
        assert "outcomes/s" in log and "stopped:" in log, log
    counts = {k.decode(): int(v) for k, v in r.hgetall(f"{stream}:results:counts").items()}
    assert counts == {"ESME_ROK": n}


def test_a_killed_workers_entries_are_finished_by_the_others(r: Any, stream: str, workers: Workers) -> None:
    n = 3000
    # Responses held 0.2 s: every worker always has entries in flight, so the one killed leaves some.
    with Simulator(record=n + 1000, faults=Faults(delay=0.2)) as sim:
        for _ in range(3):
            workers.start(stream, sim.port, "--window", "100", "--claim-after", "1", "--progress", "1", wait=False)
        for i in range(3):
            workers.wait_for_log(i, "serving stream")
        ids = fill(r, stream, n)
        wait_records(r, f"{stream}:results", n // 4, 60, workers)
        # The worker holding the most (on a busy machine one may lag behind the others).
        busiest = max(r.xinfo_consumers(stream, "smppfast"), key=lambda c: c["pending"])["name"].decode()
        k = int(busiest[1:])
        workers.procs[k].send_signal(signal.SIGKILL)
        workers.procs[k].wait(10)
        # What it held when it died: marked entries, some of them perhaps already accepted by the SMSC.
        orphans = {e["message_id"].decode() for e in
                   r.xpending_range(stream, "smppfast", min="-", max="+", count=n, consumername=busiest)}
        assert orphans, workers.log(k)
        wait_records(r, f"{stream}:results", n, 60, workers)
        codes = workers.stop_all()
        assert codes[k] == -signal.SIGKILL and codes[:k] + codes[k + 1:] == [0, 0]
        recs = check_exactly_once(r, stream, ids, sim)
    statuses = collections.Counter(rec[0]["status"] for rec in recs.values())
    assert set(statuses) <= {"ESME_ROK", "maybe_sent"}, statuses
    # The others claimed them and, seeing the dead worker's marker, did not send them again.
    maybe = {entry_id for entry_id, rec in recs.items() if rec[0]["status"] == "maybe_sent"}
    # (An orphan read by a blocking XREADGROUP and killed before its marker was written would be
    # sent by its claimer, rightly: it never left.)
    assert maybe and maybe <= orphans
    assert all(f"claimed from consumer {busiest}" in recs[e][0]["error"] for e in maybe)
    assert "claimed" in "".join(workers.log(i) for i in range(3) if i != k)
    pending = {c["name"].decode(): c["pending"] for c in r.xinfo_consumers(stream, "smppfast")}
    assert pending.get(busiest, 0) == 0


def test_a_redis_restart_loses_nothing(r: Any, stream: str, workers: Workers, server: RedisServer) -> None:
    n = 6000
    with Simulator(record=n + 1000, faults=Faults(delay=0.05)) as sim:
        for _ in range(2):
            workers.start(stream, sim.port, "--window", "50", "--claim-after", "10", wait=False)
        for i in range(2):
            workers.wait_for_log(i, "serving stream")
        ids = fill(r, stream, n)
        wait_records(r, f"{stream}:results", n // 3, 60, workers)
        server.restart(down=0.5)
        wait_records(r, f"{stream}:results", n, 90, workers)
        assert workers.stop_all() == [0, 0]
        recs = check_exactly_once(r, stream, ids, sim)
    assert {rec[0]["status"] for rec in recs.values()} == {"ESME_ROK"}
    assert received_texts(sim) == collections.Counter(f"m{i}" for i in range(1, n + 1))
    both = workers.log(0) + workers.log(1)
    assert "Redis error" in both and "Redis answers again" in both, both[-3000:]


def test_sigterm_drains_what_is_in_flight(r: Any, stream: str, workers: Workers) -> None:
    n = 2000
    with Simulator(record=n + 100, faults=Faults(delay=0.5)) as sim:
        ids = fill(r, stream, n)
        proc = workers.start(stream, sim.port, "--window", "100", "--drain-timeout", "20")
        sim.wait_for(lambda: sim.counters["submits"] >= 150, timeout=20)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, workers.log(0)
        # The responses held 0.5 s were waited for, not dropped.
        assert time.monotonic() - started >= 0.3
        log = workers.log(0)
        assert "waiting for" in log and "in flight" in log and "unbound" in log, log
        recs = records(r, f"{stream}:results")
        # What the worker took it finished; the rest waits in the stream for the next worker.
        assert r.xpending(stream, "smppfast")["pending"] == 0
        assert len(recs) == sim.counters["submits"] < n
        assert all(len(v) == 1 and v[0]["status"] == "ESME_ROK" for v in recs.values())
        assert set(recs) == set(ids[:len(recs)])


def test_malformed_entries_get_a_record_and_the_worker_goes_on(r: Any, stream: str, workers: Workers) -> None:
    bad = [
        {"text": "no destination"},
        {"to": "447700900123", "text": ""},
        {"to": "1" * 25, "text": "too long a number"},
        {"to": "447700900123", "text": b"not utf-8 \xff\xfe"},
        {"to": "447700900123", "text": "x", "registered_delivery": "many"},
        {"to": "447700900123", "text": "x", "from": "A" * 30},
        {"to": b"\xff\xfe44", "text": "a number that is not even UTF-8"},
    ]
    with Simulator() as sim:
        proc = workers.start(stream, sim.port)
        good = []
        bad_ids = []
        for i, fields in enumerate(bad):
            good.append(r.xadd(stream, {"to": "447700900001", "text": f"good {i}", "ref": f"g{i}"}).decode())
            bad_ids.append(r.xadd(stream, fields).decode())  # type: ignore[arg-type]
        wait_records(r, f"{stream}:results", len(bad) * 2, 20, workers)
        assert proc.poll() is None, workers.log(0)  # still serving
        recs = records(r, f"{stream}:results")
        for i, entry_id in enumerate(good):
            assert recs[entry_id][0]["status"] == "ESME_ROK" and recs[entry_id][0]["ref"] == f"g{i}"
        errors = [recs[entry_id][0]["error"] for entry_id in bad_ids]
        assert [recs[e][0]["status"] for e in bad_ids] == ["invalid"] * len(bad)
        assert "no 'to' field" in errors[0]
        assert "text is empty" in errors[1]
        assert "25 characters long; SMPP 3.4 allows at most 20" in errors[2]
        assert "not valid UTF-8" in errors[3]
        assert "registered_delivery 'many'" in errors[4]
        assert "from 'AAAA" in errors[5]
        assert errors[6] == "to '\\udcff\\udcfe44' is not a number (digits only)"  # the bytes, shown
        assert received_texts(sim) == collections.Counter(f"good {i}" for i in range(len(bad)))
        assert workers.stop_all() == [0]


def test_status_prints_lag_pending_and_outcomes(r: Any, stream: str, workers: Workers, server: RedisServer) -> None:
    with Simulator() as sim:
        workers.start(stream, sim.port)
        r.xadd(stream, {"to": "447700900001", "text": "one"})
        r.xadd(stream, {"text": "no to"})
        wait_records(r, f"{stream}:results", 2, 20, workers)
        out = subprocess.run([sys.executable, "-m", "smppfast", "worker", "--redis", server.url, "--stream", stream,
                              "--status"], capture_output=True, text=True, env=_env(), timeout=30)
        assert workers.stop_all() == [0]
    assert out.returncode == 0, out.stderr
    assert f"stream {stream}: 2 entries; group smppfast: lag 0, pending 0" in out.stdout
    assert "consumer w0: 0 pending" in out.stdout
    assert f"outcomes ({stream}:results, 2 records): ESME_ROK 1, invalid 1" in out.stdout
    status = read_status(server.url, stream)
    assert (status.lag, status.pending, status.outcomes) == (0, 0, {"ESME_ROK": 1, "invalid": 1})


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smppfast", "worker", *args], capture_output=True, text=True,
                          env=_env(), timeout=60)


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if "INFO" not in line]
    assert len(lines) == 1 and lines[0].startswith("smppfast: error: "), result.stderr
    assert needle in lines[0], lines[0]


def test_user_mistakes_are_one_line_and_exit_2(server: RedisServer, stream: str) -> None:
    _one_line_error(_cli("--redis", server.url, "--stream", "nowhere", "--status"), 2, "there is no stream 'nowhere'")
    _one_line_error(_cli("--redis", "redis://127.0.0.1:1/0", "--stream", stream, "--quiet"), 2, "cannot reach Redis")
    _one_line_error(_cli("--redis", "http://x", "--stream", stream), 2, "redis://")
    _one_line_error(_cli("--redis", server.url, "--stream", stream, "--claim-after", "60", "--marker-ttl", "30"), 2,
                    "--marker-ttl (30 s) must be longer than --claim-after (60 s)")
    _one_line_error(_cli("--redis", server.url, "--stream", stream, "--claim-after", "0"), 2, "--claim-after")
    _one_line_error(_cli("--redis", server.url), 2, "--stream")
    with Simulator(credentials={"user": "right"}) as sim:
        refused = _cli("--redis", server.url, "--stream", stream, "--port", str(sim.port), "--system-id", "user")
    _one_line_error(refused, 3, "bind refused")


def test_receipts_reach_the_receipts_stream_with_their_ref(r: Any, stream: str, server: RedisServer) -> None:
    """The library face: a Worker embedded in a program, two binds, receipts sent on the other bind."""
    with Simulator(receipts_elsewhere=True) as sim:
        worker = Worker(server.url, [("127.0.0.1", sim.port)], binds=2, stream=stream, system_id="me",
                        password="x", claim_after=5, progress_interval=60)
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            for i in range(20):
                r.xadd(stream, {"to": "447700900123", "text": f"receipt {i}", "ref": f"order-{i}",
                                "registered_delivery": "1"})
            deadline = time.monotonic() + 20
            while (r.exists(f"{stream}:receipts") == 0 or r.xlen(f"{stream}:receipts") < 20) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.stop()
            thread.join(30)
        assert not thread.is_alive()
    receipts = [{k.decode(): v.decode() for k, v in f.items()} for _, f in r.xrange(f"{stream}:receipts")]
    assert sorted(rec["ref"] for rec in receipts) == sorted(f"order-{i}" for i in range(20))
    assert all(rec["stat"] == "DELIVRD" and rec["message_id"] for rec in receipts)
    outcomes = records(r, f"{stream}:results")
    ids_by_ref = {v[0]["ref"]: v[0]["message_ids"] for v in outcomes.values()}
    assert all(ids_by_ref[rec["ref"]] == rec["message_id"] for rec in receipts)
    assert worker.stats.outcomes == {"ESME_ROK": 20} and worker.stats.receipts == 20


def test_refusals_and_lost_responses_get_their_status(r: Any, stream: str, server: RedisServer) -> None:
    """On one bind the Nth submit is the Nth entry: every 3rd answered with generic_nack
    (ESME_RSYSERR), every 5th never answered (a response timeout: maybe_sent, not sent again)."""
    with Simulator(faults=Faults(drop_every=5, nack_every=3)) as sim:
        ids = fill(r, stream, 15)
        worker = Worker(server.url, [("127.0.0.1", sim.port)], stream=stream, system_id="me", password="x",
                        response_timeout=0.5, window=20, progress_interval=60)
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            wait_records(r, f"{stream}:results", 15, 20)
        finally:
            worker.stop()
            thread.join(30)
        recs = check_exactly_once(r, stream, ids, sim)
        assert sim.counters["submits"] == 15
    status = {i: recs[entry_id][0]["status"] for i, entry_id in enumerate(ids, 1)}
    assert [i for i, s in status.items() if s == "maybe_sent"] == [5, 10, 15]
    assert [i for i, s in status.items() if s == "ESME_RSYSERR"] == [3, 6, 9, 12]
    assert all(s == "ESME_ROK" for i, s in status.items() if i % 3 and i % 5)
    assert "no response" in recs[ids[4]][0]["error"] and "not sent again" in recs[ids[4]][0]["error"]
    assert worker.stats.outcomes == {"ESME_ROK": 8, "ESME_RSYSERR": 4, "maybe_sent": 3}


def test_of_two_workers_finishing_one_entry_only_the_first_writes(r: Any, stream: str, server: RedisServer) -> None:
    """The scripts alone: A takes an entry and stalls; B claims it, sees A's marker, records
    maybe_sent; A's late outcome is then not written. An entry whose marker A removed (never
    sent) is sent by its claimer."""
    from smppfast._worker_redis import WorkerRedis

    def redis_for(name: str) -> WorkerRedis:
        return WorkerRedis(server.url, stream=stream, group="g", consumer=name, token=f"?{name}/1",
                           results=f"{stream}:results", receipts=f"{stream}:receipts", marker_ttl=60)

    a, b = redis_for("A"), redis_for("B")
    try:
        assert a.ensure_group() and not b.ensure_group()
        first = r.xadd(stream, {"to": "447700900123", "text": "one"}).decode()
        second = r.xadd(stream, {"to": "447700900123", "text": "two"}).decode()
        taken = a.take(10)
        assert [(t[0], t[2]) for t in taken] == [(first, ""), (second, "")]  # '' : A's markers written now
        assert a.release([second]) == 1  # A gives the second back unsent
        cursor, claimed, deleted = b.claim(0, "0-0", 10)
        assert [(t[0], t[2]) for t in claimed] == [(first, "?A/1"), (second, "")]
        assert b.finish([(first, first, "maybe_sent", "", "claimed from A")]) == []
        assert a.finish([(first, first, "ESME_ROK", "1", "")]) == [0]  # too late: not written
        assert b.finish([(second, second, "ESME_ROK", "2", "")]) == []
        recs = records(r, f"{stream}:results")
        assert {e: [x["status"] for x in v] for e, v in recs.items()} == {first: ["maybe_sent"], second: ["ESME_ROK"]}
        assert r.xpending(stream, "g")["pending"] == 0
        assert r.keys(f"smppfast:sent:{stream}:*") == []  # no marker outlives its outcome
        assert {k.decode(): int(v) for k, v in r.hgetall(f"{stream}:results:counts").items()} == {
            "maybe_sent": 1, "ESME_ROK": 1}
    finally:
        a.close()
        b.close()
