"""Servers and measurement loops for the client benchmarks (smppfast's ``Client`` and its peers).

Everything here is plumbing shared by ``test_bench_client.py`` (pytest-benchmark) and
``client_throughput.py`` (a standalone table). One *case* is one end-to-end measurement: bind one
connection over loopback, warm up, then time N submits from the first submit until the response to
the last one has been matched and read by the submitting code.

Servers, each in its own process so that it never competes with the client for its GIL:

* ``Sink``: ``sink.c`` (a copy of the shared C SMSC), compiled with gcc into a temporary directory
  at first use. It answers every submit_sm at once, so the client is measured alone. With ``hold``
  it keeps every response back until that many submit_sm are in flight (memory per request).
* ``SimServer``: smppfast's own ``Simulator`` in a child interpreter that prints its port.

Clients:

* smppfast: one ``Client`` per case. The submitting code is what a user writes: a deque of pending
  futures, the done ones popped from the left after each submit and their ``result()`` read; or
  ``submit_many`` in batches of 1000; or ``submit(p).result()`` from many threads. The PDUs come from
  a pool of 4096 ``SubmitSm`` built before timing (cycled; the pool is larger than any window, so a
  PDU is never in flight twice); the ``+construct`` case builds a new ``SubmitSm`` per submit.
* ``stopwait.c``: a C ESME, compiled like the sink: stop-and-wait (the round-trip bound) or windowed.
* smpplib 2.2.4: its ``Client``: ``send_message`` then ``read_once`` (one thread, stop-and-wait);
  and a sender thread bounded by a semaphore window of 100 with ``listen()`` in a reader thread.
* smpp34 1.5.0: ``smpp34.Client(..., window_size=100)`` and 100 asyncio tasks awaiting
  ``Smsc.submit_sm`` in a loop (its only submit API; it builds the PDU inside).

Every case checks its outcome: every submit must end in an ESME_ROK response, or the case raises.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import gc
import itertools
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The benchmarks measure whatever ``import smppfast`` gives this interpreter: normally the installed
# package (``pip install ".[bench]"``). Child processes run the same interpreter with the same
# environment, so they import the same package; ``child_env()`` and ``check_same_smppfast()`` make
# sure of it. SMPPFAST_SRC=/path/to/tree/src measures another *built* tree instead: it goes first
# on sys.path here and on PYTHONPATH in every child.
SRC: Optional[str] = os.environ.get("SMPPFAST_SRC") or None
if SRC and SRC not in sys.path:
    sys.path.insert(0, SRC)


def child_env() -> dict[str, str]:
    """The environment of a child interpreter: this one's, with SMPPFAST_SRC first on PYTHONPATH if set."""
    env = dict(os.environ)
    if SRC:
        env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def smppfast_location() -> str:
    """The directory of the smppfast package this process imports (what is being measured)."""
    import smppfast

    return os.path.dirname(os.path.abspath(smppfast.__file__))


def check_same_smppfast(child_location: str, what: str) -> None:
    """Raise if a child process imported another smppfast than this process."""
    here = smppfast_location()
    if os.path.realpath(child_location) != os.path.realpath(here):
        raise RuntimeError(f"{what} imported smppfast from {child_location}, this process from {here}")


TEXT_60 = b"Your code is 482913. It expires in 10 minutes. Do not share!"
SUBMIT_FIELDS: dict[str, Any] = dict(
    source_addr_ton=5,
    source_addr_npi=0,
    source_addr="Sender",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="447700900123",
    registered_delivery=0,  # no receipts: the simulator would send one deliver_sm per submit
    short_message=TEXT_60,
)
SYSTEM_ID = "bench"
PASSWORD = "secret"
POOL = 4096
_perf = time.perf_counter


# ------------------------------------------------------------------------------------------------
# C tools, built once per process into a temporary directory
# ------------------------------------------------------------------------------------------------
_tools_dir: Optional[str] = None
_tools_error: Optional[str] = None


def c_tools() -> Optional[str]:
    """Compile sink.c and stopwait.c (gcc -O2) into a temp dir; return it, or None without gcc."""
    global _tools_dir, _tools_error
    if _tools_dir is not None or _tools_error is not None:
        return _tools_dir
    cc = shutil.which(os.environ.get("CC", "gcc"))
    if cc is None:
        _tools_error = "gcc not found"
        return None
    d = tempfile.mkdtemp(prefix="smppfast-bench-")
    atexit.register(shutil.rmtree, d, True)
    for name in ("sink", "stopwait"):
        r = subprocess.run([cc, "-O2", "-o", os.path.join(d, name), os.path.join(HERE, name + ".c")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            _tools_error = f"{name}.c does not compile: {r.stderr.strip()}"
            return None
    _tools_dir = d
    return d


def tools_error() -> Optional[str]:
    c_tools()
    return _tools_error


# ------------------------------------------------------------------------------------------------
# Servers
# ------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    name = ""
    proc: Optional[subprocess.Popen] = None
    port = 0

    def __enter__(self) -> "_Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin:
            proc.stdin.close()
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


class Sink(_Server):
    """The C sink on a free loopback port (hold > 0: responses held until that many are in flight)."""

    name = "sink"

    def __init__(self, hold: int = 0, lifetime: int = 3600) -> None:
        tools = c_tools()
        if tools is None:
            raise RuntimeError(f"cannot build the C sink: {_tools_error}")
        for _ in range(10):
            port = _free_port()
            proc = subprocess.Popen([os.path.join(tools, "sink"), str(port), str(lifetime), str(hold)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            line = proc.stdout.readline() if proc.stdout else ""
            if "listening" in line:
                self.proc, self.port = proc, port
                atexit.register(self.stop)
                return
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
        raise RuntimeError("the C sink did not start")


_SIM_CODE = """
import os, sys
import smppfast
from smppfast.simulator import Simulator
sim = Simulator(record=0).start()
print(sim.port, os.path.dirname(os.path.abspath(smppfast.__file__)), flush=True)
sys.stdin.read()
sim.stop()
"""


class SimServer(_Server):
    """smppfast's Simulator in a child interpreter (stopped by closing its stdin)."""

    name = "sim"

    def __init__(self) -> None:
        # stderr is inherited: if the child fails, its traceback is printed just above our error.
        self.proc = subprocess.Popen([sys.executable, "-c", _SIM_CODE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=child_env())
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        port, _, location = line.strip().partition(" ")
        if not port.isdigit():
            self.stop()
            raise RuntimeError(f"the simulator did not start ({sys.executable}; its stderr is above)")
        self.port = int(port)
        atexit.register(self.stop)
        try:
            check_same_smppfast(location, "the simulator child")
        except RuntimeError:
            self.stop()
            raise


SERVERS: dict[str, Callable[[], _Server]] = {"sink": Sink, "sim": SimServer}


# ------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------
@dataclass
class Result:
    submits: int
    seconds: float
    p50_us: Optional[float] = None
    p99_us: Optional[float] = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.submits / self.seconds


def _percentiles(samples: list[float]) -> tuple[Optional[float], Optional[float]]:
    if not samples:
        return None, None
    s = sorted(samples)
    return s[int(0.5 * len(s))] * 1e6, s[min(len(s) - 1, int(0.99 * len(s)))] * 1e6


# ------------------------------------------------------------------------------------------------
# smppfast
# ------------------------------------------------------------------------------------------------
def _smppfast_client(port: int, window: int) -> Any:
    from smppfast import Client

    return Client("127.0.0.1", port, system_id=SYSTEM_ID, password=PASSWORD, window=window,
                  window_timeout=60.0, response_timeout=60.0)


def _pool(n: int = POOL) -> list[Any]:
    from smppfast import SubmitSm

    return [SubmitSm(**SUBMIT_FIELDS) for _ in range(n)]


def _pipelined(submit: Callable[[Any], Any], pdus: Any) -> int:
    """The user's loop: submit, then read the results that are done, oldest first."""
    pending: collections.deque = collections.deque()
    append = pending.append
    popleft = pending.popleft
    n = 0
    for pdu in pdus:
        append(submit(pdu))
        while pending[0].done():
            popleft().result()
            n += 1
            if not pending:
                break
    for fut in pending:
        fut.result(60)
        n += 1
    return n


def _constructing(submit: Callable[[Any], Any], count: int) -> int:
    """As ``_pipelined``, building a new SubmitSm for every submit."""
    from smppfast import SubmitSm

    pending: collections.deque = collections.deque()
    append = pending.append
    popleft = pending.popleft
    fields = SUBMIT_FIELDS
    n = 0
    for _ in range(count):
        append(submit(SubmitSm(**fields)))
        while pending[0].done():
            popleft().result()
            n += 1
            if not pending:
                break
    for fut in pending:
        fut.result(60)
        n += 1
    return n


def _bulk(client: Any, batches: list[list[Any]], count: int) -> int:
    """submit_many in batches; keep only the batches not yet answered, read every result."""
    pending: collections.deque = collections.deque()
    submit_many = client.submit_many
    n = 0
    for batch in itertools.islice(itertools.cycle(batches), count // len(batches[0])):
        pending.append(submit_many(batch))
        while pending and pending[0][-1].done():
            for fut in pending.popleft():
                fut.result(60)
                n += 1
    for futs in pending:
        for fut in futs:
            fut.result(60)
            n += 1
    return n


def _blocking(submit: Callable[[Any], Any], pdus: Any) -> int:
    n = 0
    for pdu in pdus:
        submit(pdu).result()
        n += 1
    return n


def _run_threads(targets: list[Callable[[], int]]) -> tuple[int, float]:
    """Start every target together; return (sum of their counts, seconds until the last ends)."""
    if len(targets) == 1:
        t0 = _perf()
        n = targets[0]()
        return n, _perf() - t0
    counts = [0] * len(targets)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets) + 1)

    def run(i: int) -> None:
        barrier.wait()
        try:
            counts[i] = targets[i]()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(targets))]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = _perf()
    for t in threads:
        t.join()
    dt = _perf() - t0
    if errors:
        raise errors[0]
    return sum(counts), dt


def smppfast_case(port: int, mode: str, window: int, count: int, threads: int = 1, warmup: int = 2000) -> Result:
    """mode: 'pipelined', 'construct', 'bulk' (submit_many, batches of 1000) or 'blocking'.

    Latency comes from the public ``client.stats.latency_samples()``: the samples taken after the
    timed part, minus those already there after the warm-up (see ``_timed_samples``).
    """
    pool = _pool()
    with _smppfast_client(port, window) as client:
        submit = client.submit
        _pipelined(submit, pool[: min(warmup, POOL)])  # connection, caches, threads all warm
        stats = client.stats
        ok_before = stats.responses[0]
        warm_samples = stats.latency_samples()
        per = count // threads
        count = per * threads
        if mode == "pipelined":
            targets = [lambda: _pipelined(submit, itertools.islice(itertools.cycle(pool), per))] * threads
        elif mode == "construct":
            targets = [lambda: _constructing(submit, per)] * threads
        elif mode == "bulk":
            batches = [pool[i : i + 1000] for i in range(0, 4000, 1000)]
            count = count // 1000 * 1000
            targets = [lambda: _bulk(client, batches, count)]
        elif mode == "blocking":
            slices = [pool[i::threads] for i in range(threads)]
            targets = [
                (lambda s=s: _blocking(submit, itertools.islice(itertools.cycle(s), per))) for s in slices
            ]
        else:
            raise ValueError(mode)
        gc.collect()
        n, dt = _run_threads(targets)
        stats_ok = stats.responses[0] - ok_before
        samples = _timed_samples(warm_samples, stats.latency_samples())
    if n != count:  # result() raised for anything but an ESME_ROK response
        raise AssertionError(f"{n} results read for {count} submits")
    p50, p99 = _percentiles(samples)
    if p50 is None or p99 is None or not (math.isfinite(p50) and math.isfinite(p99)):
        raise AssertionError(f"client.stats.latency_samples() holds no latency for the {count} timed submits "
                             f"({len(samples)} new samples)")
    return Result(count, dt, p50, p99, extra={"stats_responses_ok": stats_ok, "latency_samples": len(samples)})


def smppfast_sender_case(port: int, window: int, count: int, *, binds: int = 1, store: Optional[str] = None,
                         threads: int = 1, warmup: int = 2000) -> Result:
    """Issue 11's cases, pipelined from one thread: a ``Pool`` of ``binds`` binds (each with
    ``window``), or one ``Client`` whose submits carry ``ref=`` into a store ("memory" or
    "sqlite"; the sink sends no receipts, so this is what a bind pays per submit to keep refs).
    """
    import functools
    import tempfile

    from smppfast import Client, MemoryStore, Pool, SqliteStore

    pool = _pool()
    tmp = tempfile.TemporaryDirectory()
    options: dict[str, Any] = dict(system_id=SYSTEM_ID, password=PASSWORD, window=window,
                                   window_timeout=60.0, response_timeout=60.0)
    if store == "sqlite":
        options["store"] = SqliteStore(os.path.join(tmp.name, "refs.sqlite"))
    elif store == "memory":
        options["store"] = MemoryStore()
    sender: Any = Pool([("127.0.0.1", port)], binds=binds, **options) if binds > 1 else Client("127.0.0.1", port, **options)
    try:
        with sender:
            submit = functools.partial(sender.submit, ref="bench-ref") if store else sender.submit
            _pipelined(submit, pool[: min(warmup, POOL)])
            members = sender.members if binds > 1 else [sender]
            warm = [m.stats.latency_samples() for m in members]
            gc.collect()
            per = count // threads
            count = per * threads
            n, dt = _run_threads([lambda: _pipelined(submit, itertools.islice(itertools.cycle(pool), per))] * threads)
            samples = [x for m, w in zip(members, warm) for x in _timed_samples(w, m.stats.latency_samples())]
            spread = [m.stats.submitted for m in members]
    finally:
        if store:
            options["store"].close()
        tmp.cleanup()
    if n != count:
        raise AssertionError(f"{n} results read for {count} submits")
    return Result(count, dt, *_percentiles(samples), extra={"binds": binds, "store": store, "per_bind": spread})


def _timed_samples(before: list[float], after: list[float]) -> list[float]:
    """The latencies recorded between two ``latency_samples()`` copies.

    The client keeps a rolling window of recent samples (older ones are overwritten once it is
    full), so the new samples are ``after`` minus the ones ``before`` already held, as multisets.
    Two samples of exactly the same value (nanosecond clock) are rare, and dropping one of them
    changes no percentile that matters.
    """
    if len(after) > len(before) and after[: len(before)] == before:
        return after[len(before):]  # the window has not wrapped: the new samples are appended
    return list((collections.Counter(after) - collections.Counter(before)).elements())


# ------------------------------------------------------------------------------------------------
# Memory per request in flight (a fresh child process per measurement)
# ------------------------------------------------------------------------------------------------
def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _memory_child(port: int, n: int, pdus_counted: bool, use_tracemalloc: bool) -> dict[str, Any]:
    import tracemalloc

    from smppfast import SubmitSm

    client = _smppfast_client(port, n + 10)
    client.connect()
    futures: list[Any] = [None] * n
    pdus = None if pdus_counted else [SubmitSm(**SUBMIT_FIELDS) for _ in range(n)]
    fields = SUBMIT_FIELDS
    gc.collect()
    if use_tracemalloc:
        tracemalloc.start()
        t_before = tracemalloc.get_traced_memory()[0]
    rss_before = _rss()
    submit = client.submit
    for i in range(n):
        futures[i] = submit(SubmitSm(**fields) if pdus is None else pdus[i])
    # Let the writer send everything (public API only): wait until RSS has been still for 0.3 s.
    _settled_rss()
    in_flight = client.in_flight
    gc.collect()
    rss_after = _rss()
    if use_tracemalloc:
        t_after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    answered = sum(1 for f in futures if f.done())
    # one more submit reaches the sink's HOLD count: it releases every response
    futures.append(submit(SubmitSm(**fields)))
    for f in futures:
        f.result(60)
    client.close()
    out: dict[str, Any] = {"n": n, "in_flight": in_flight, "answered_while_held": answered,
                           "rss_per_request": (rss_after - rss_before) / n, "smppfast": smppfast_location()}
    if use_tracemalloc:
        out["traced_per_request"] = (t_after - t_before) / n
    return out


def _settled_rss(deadline_s: float = 10.0) -> int:
    """RSS once it has been still for 0.3 s (the writer has sent everything), at most ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    last, still_since = _rss(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - still_since < 0.3:
        time.sleep(0.02)
        now_rss = _rss()
        if now_rss != last:
            last, still_since = now_rss, time.monotonic()
    return last


def _memory_child_async(port: int, n: int, pdus_counted: bool, use_tracemalloc: bool) -> dict[str, Any]:
    """As _memory_child, through AsyncClient.submit_many: what n requests in flight cost an asyncio
    sender (futures, window entries, encoded bytes), not the tasks a caller may keep awaiting them."""
    import asyncio
    import tracemalloc

    from smppfast import AsyncClient, SubmitSm

    fields = SUBMIT_FIELDS

    async def main() -> dict[str, Any]:
        client = AsyncClient("127.0.0.1", port, system_id=SYSTEM_ID, password=PASSWORD, window=n + 10,
                             window_timeout=60.0, response_timeout=60.0)
        await client.connect()
        pdus = None if pdus_counted else [SubmitSm(**fields) for _ in range(n)]
        gc.collect()
        if use_tracemalloc:
            tracemalloc.start()
            t_before = tracemalloc.get_traced_memory()[0]
        rss_before = _rss()
        futures = await client.submit_many([SubmitSm(**fields) for _ in range(n)] if pdus is None else pdus)
        # Let the loop write everything: RSS is polled from a thread while the loop runs on.
        await asyncio.get_running_loop().run_in_executor(None, _settled_rss)
        in_flight = client.in_flight
        gc.collect()
        rss_after = _rss()
        if use_tracemalloc:
            t_after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        answered = sum(1 for f in futures if f.done())
        last_one = await client.submit(SubmitSm(**fields))  # reaches the HOLD count: all are released
        await asyncio.gather(*futures)
        await client.close()
        out: dict[str, Any] = {"n": n, "in_flight": in_flight, "answered_while_held": answered,
                               "rss_per_request": (rss_after - rss_before) / n, "smppfast": smppfast_location(),
                               "last": last_one.command_status}
        if use_tracemalloc:
            out["traced_per_request"] = (t_after - t_before) / n
        return out

    return asyncio.run(main())


def memory_case(n: int = 20_000, pdus_counted: bool = True, use_tracemalloc: bool = False,
                driver: str = "threads") -> dict[str, Any]:
    """Bytes per request in flight with n in flight (sink HOLD mode), measured in a fresh process.

    pdus_counted: each SubmitSm is built inside the measurement (what a request costs a user who
    builds it to submit it); otherwise the PDUs exist before and only the client's share is counted.
    """
    child = "_memory_child_async" if driver == "asyncio" else "_memory_child"
    with Sink(hold=n + 1) as sink:
        env = child_env()
        code = (f"import sys, json; sys.path.insert(0, {HERE!r}); import client_peers as c; "
                f"print(json.dumps(c.{child}({sink.port}, {n}, {pdus_counted}, {use_tracemalloc})))")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"memory child failed: {r.stderr[-2000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    check_same_smppfast(out["smppfast"], "the memory child")
    if out["in_flight"] != n or out["answered_while_held"]:
        raise AssertionError(f"expected {n} in flight and none answered: {out}")
    return out


# ------------------------------------------------------------------------------------------------
# C client
# ------------------------------------------------------------------------------------------------
def c_case(port: int, window: int, count: int) -> Result:
    tools = c_tools()
    if tools is None:
        raise RuntimeError(_tools_error)
    r = subprocess.run([os.path.join(tools, "stopwait"), str(port), str(count), str(window)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"stopwait failed: {r.stderr}")
    vals = dict(kv.split("=") for kv in r.stdout.split())
    return Result(int(vals["submits"]), float(vals["seconds"]))


# ------------------------------------------------------------------------------------------------
# smpplib 2.2.4
# ------------------------------------------------------------------------------------------------
def smpplib_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        import smpplib.client  # noqa: F401

        return version("smpplib")
    except Exception:
        return None


def _smpplib_client(port: int) -> Any:
    import logging

    import smpplib.client

    logging.getLogger("smpp").setLevel(logging.ERROR)
    client = smpplib.client.Client("127.0.0.1", port, timeout=30, allow_unknown_opt_params=True)
    client.connect()
    client.bind_transmitter(system_id=SYSTEM_ID, password=PASSWORD)
    return client


def _smpplib_unbind(client: Any) -> None:
    try:
        client.unbind()
    except Exception:
        pass
    client.disconnect()


def smpplib_stop_and_wait(port: int, count: int, warmup: int = 200) -> Result:
    """One thread: send_message, then read_once for its response."""
    client = _smpplib_client(port)
    done = [0]

    def sent(pdu: Any, **kw: Any) -> None:
        if pdu.status:
            raise AssertionError(f"status {pdu.status}")
        done[0] += 1

    client.set_message_sent_handler(sent)
    send, read = client.send_message, client.read_once
    kwargs = SUBMIT_FIELDS
    lat: list[float] = []
    for _ in range(warmup):
        send(**kwargs)
        read()
    done[0] = 0
    t0 = _perf()
    for _ in range(count):
        t = _perf()
        send(**kwargs)
        read()
        lat.append(_perf() - t)
    dt = _perf() - t0
    _smpplib_unbind(client)
    if done[0] != count:
        raise AssertionError(f"{done[0]} responses for {count} submits")
    return Result(count, dt, *_percentiles(lat))


def smpplib_reader_thread(port: int, count: int, window: int = 100, warmup: int = 200) -> Result:
    """A sender thread bounded by a semaphore of `window`, and ``listen()`` in a reader thread."""
    import smpplib.smpp

    client = _smpplib_client(port)
    slots = threading.BoundedSemaphore(window)
    done = [0]
    target = [warmup]
    finished = threading.Event()
    sent_at: collections.deque = collections.deque()
    lat: list[float] = []

    def sent(pdu: Any, **kw: Any) -> None:
        if pdu.status:
            raise AssertionError(f"status {pdu.status}")
        lat.append(_perf() - sent_at.popleft())  # the sink answers in order
        done[0] += 1
        slots.release()
        if done[0] == target[0]:
            finished.set()

    def reader() -> None:
        try:
            client.listen()
        except Exception:  # the connection closes after unbind
            pass

    client.set_message_sent_handler(sent)
    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    send = client.send_message
    kwargs = SUBMIT_FIELDS

    def burst(n: int) -> float:
        t0 = _perf()
        for _ in range(n):
            slots.acquire()
            sent_at.append(_perf())
            send(**kwargs)
        if not finished.wait(60):
            raise AssertionError(f"only {done[0]} responses of {target[0]}")
        return _perf() - t0

    burst(warmup)
    finished.clear()
    done[0] = 0
    del lat[:]
    target[0] = count
    dt = burst(count)
    client.send_pdu(smpplib.smpp.make_pdu("unbind", client=client))
    rt.join(5)
    client.disconnect()
    return Result(count, dt, *_percentiles(lat), extra={"window": window})


# ------------------------------------------------------------------------------------------------
# smpp34 1.5.0
# ------------------------------------------------------------------------------------------------
def smpp34_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        import smpp34  # noqa: F401

        return version("smpp34")
    except Exception:
        return None


def smpp34_case(port: int, count: int, window: int = 100, warmup: int = 2000) -> Result:
    """smpp34's asyncio client, window_size=window, with `window` tasks awaiting submit_sm in a loop."""
    import smpp34

    f = dict(SUBMIT_FIELDS)
    dest = f.pop("destination_addr")
    text = f.pop("short_message")

    async def main() -> Result:
        client = smpp34.Client("127.0.0.1", port, SYSTEM_ID, PASSWORD, window_size=window)
        smsc = await client.connect()
        submit_sm = smsc.submit_sm

        async def worker(n: int, lat: list[float]) -> int:
            ok = 0
            for _ in range(n):
                t = _perf()
                r = await submit_sm(dest, text, **f)
                lat.append(_perf() - t)
                if r.command_status == 0:
                    ok += 1
            return ok

        await asyncio.gather(*(worker(warmup // window, []) for _ in range(window)))
        per = count // window
        lat: list[float] = []
        t0 = _perf()
        oks = await asyncio.gather(*(worker(per, lat) for _ in range(window)))
        dt = _perf() - t0
        try:
            await asyncio.wait_for(smsc.unbind(), 5)
        except Exception:
            pass
        await client.stop()
        if sum(oks) != per * window:
            raise AssertionError(f"{sum(oks)} ESME_ROK of {per * window}")
        return Result(per * window, dt, *_percentiles(lat), extra={"window": window})

    return asyncio.run(main())


def smppfast_async_case(port: int, mode: str, window: int, count: int, *, uvloop: bool = False,
                        warmup: int = 2000) -> Result:
    """smppfast.AsyncClient. mode: 'tasks' (``window`` tasks each awaiting submit in a loop),
    'bulk' (submit_many batches of 1,000) or 'stopwait' (one task, window 1)."""
    from smppfast import AsyncClient
    from smppfast.aio import wait_all

    pool = _pool()

    async def main() -> Result:
        async with AsyncClient("127.0.0.1", port, system_id=SYSTEM_ID, password=PASSWORD, window=window,
                               window_timeout=60.0, response_timeout=60.0) as client:
            submit = client.submit

            async def worker(pdus: list[Any]) -> int:
                ok = 0
                for pdu in pdus:
                    await submit(pdu)
                    ok += 1
                return ok

            async def run(n: int) -> int:
                if mode == "bulk":
                    done = 0
                    pending: collections.deque[list[Any]] = collections.deque()
                    for k in range(n // 1000):
                        pending.append(await client.submit_many(pool[(k % 4) * 1000:(k % 4 + 1) * 1000]))
                        while len(pending) > 1:
                            done += len(await wait_all(pending.popleft()))
                    while pending:
                        done += len(await wait_all(pending.popleft()))
                    return done
                tasks = 1 if mode == "stopwait" else window
                per = n // tasks
                return sum(await asyncio.gather(*(worker([pool[(t * per + i) % POOL] for i in range(per)])
                                                  for t in range(tasks))))

            await run(max(warmup, 1000))
            before = client.stats.latency_samples()
            t0 = _perf()
            n = await run(count)
            dt = _perf() - t0
            samples = _timed_samples(before, client.stats.latency_samples())
        if not samples:
            raise AssertionError("client.stats.latency_samples() holds no latency for the timed submits")
        return Result(n, dt, *_percentiles(samples), extra={"loop": "uvloop" if uvloop else "asyncio"})

    if uvloop:
        import uvloop as _uvloop

        loop = _uvloop.new_event_loop()
        try:
            return loop.run_until_complete(main())
        finally:
            loop.close()
    return asyncio.run(main())


def _uvloop_missing() -> Optional[str]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "uvloop is not installed (pip install 'smppfast[uvloop]')"
    return None


# ------------------------------------------------------------------------------------------------
# The cases, as the table lists them
# ------------------------------------------------------------------------------------------------
@dataclass
class Case:
    id: str
    label: str
    lib: str
    group: str  # the scenario: pytest-benchmark group, and rows compared in the table
    run: Callable[[int], Result]  # port -> Result
    servers: tuple[str, ...] = ("sink", "sim")
    available: Callable[[], Optional[str]] = lambda: None  # a reason to skip, or None


def _need(version: Callable[[], Optional[str]], name: str) -> Callable[[], Optional[str]]:
    return lambda: None if version() else f"{name} is not installed"


G1, G10, G100, G1000, GBLOCK = ("window 1", "window 10", "window 100", "window 1000", "16 blocking threads")
GROUP_ORDER = [G1, G10, G100, G1000, GBLOCK]


def cases(scale: float = 1.0) -> list[Case]:
    """Every throughput case; scale multiplies the number of submits (1.0: about 1-3 s per case here)."""

    def n(x: int) -> int:
        return max(1000, int(x * scale) // 1000 * 1000)

    has_smpplib = _need(smpplib_version, "smpplib")
    has_smpp34 = _need(smpp34_version, "smpp34")
    sink_only = ("sink",)
    return [
        Case("w1", "smppfast, window 1, 1 thread", "smppfast", G1,
             lambda p: smppfast_case(p, "pipelined", 1, n(20_000))),
        Case("c_w1", "C client, stop-and-wait", "c", G1, lambda p: c_case(p, 1, n(20_000)),
             servers=sink_only, available=tools_error),
        Case("smpplib_sw", "smpplib, 1 thread, stop-and-wait", "smpplib", G1,
             lambda p: smpplib_stop_and_wait(p, n(10_000)), available=has_smpplib),
        Case("w10", "smppfast, window 10, 1 thread", "smppfast", G10,
             lambda p: smppfast_case(p, "pipelined", 10, n(100_000))),
        Case("c_w10", "C client, window 10", "c", G10, lambda p: c_case(p, 10, n(200_000)),
             servers=sink_only, available=tools_error),
        Case("w100", "smppfast, window 100, 1 thread", "smppfast", G100,
             lambda p: smppfast_case(p, "pipelined", 100, n(300_000))),
        Case("w100x4", "smppfast, window 100, 4 threads", "smppfast", G100,
             lambda p: smppfast_case(p, "pipelined", 100, n(300_000), threads=4)),
        Case("w100c", "smppfast, window 100, 1 thread, SubmitSm built per submit", "smppfast", G100,
             lambda p: smppfast_case(p, "construct", 100, n(200_000))),
        Case("smpp34", "smpp34 asyncio, window 100", "smpp34", G100,
             lambda p: smpp34_case(p, n(40_000)), available=has_smpp34),
        Case("smpplib_rt", "smpplib, sender + reader thread, window 100", "smpplib", G100,
             lambda p: smpplib_reader_thread(p, n(20_000)), available=has_smpplib),
        Case("c_w100", "C client, window 100 (against sim: how fast the simulator answers)", "c", G100,
             lambda p: c_case(p, 100, n(1_000_000)), available=tools_error),
        Case("w1000", "smppfast, window 1000, 1 thread", "smppfast", G1000,
             lambda p: smppfast_case(p, "pipelined", 1000, n(300_000))),
        Case("bulk", "smppfast, submit_many x1000, window 1000", "smppfast", G1000,
             lambda p: smppfast_case(p, "bulk", 1000, n(600_000))),
        Case("block16", "smppfast, 16 threads submit(p).result(), window 100", "smppfast", GBLOCK,
             lambda p: smppfast_case(p, "blocking", 100, n(64_000), threads=16)),
        Case("pool4_w10", "smppfast Pool, 4 binds x window 10, 1 thread", "smppfast", G10,
             lambda p: smppfast_sender_case(p, 10, n(200_000), binds=4)),
        Case("w100_ref_mem", "smppfast, window 100, ref= kept in a MemoryStore", "smppfast", G100,
             lambda p: smppfast_sender_case(p, 100, n(300_000), store="memory")),
        Case("w100_ref_sqlite", "smppfast, window 100, ref= kept in a SqliteStore", "smppfast", G100,
             lambda p: smppfast_sender_case(p, 100, n(300_000), store="sqlite")),
        Case("aio_w1", "smppfast AsyncClient, window 1", "smppfast", G1,
             lambda p: smppfast_async_case(p, "stopwait", 1, n(20_000))),
        Case("aio_w100", "smppfast AsyncClient, window 100, 100 tasks", "smppfast", G100,
             lambda p: smppfast_async_case(p, "tasks", 100, n(200_000))),
        Case("aio_bulk", "smppfast AsyncClient, submit_many x1000, window 1000", "smppfast", G1000,
             lambda p: smppfast_async_case(p, "bulk", 1000, n(400_000))),
        Case("uv_w1", "smppfast AsyncClient on uvloop, window 1", "smppfast", G1,
             lambda p: smppfast_async_case(p, "stopwait", 1, n(20_000), uvloop=True), available=_uvloop_missing),
        Case("uv_w100", "smppfast AsyncClient on uvloop, window 100, 100 tasks", "smppfast", G100,
             lambda p: smppfast_async_case(p, "tasks", 100, n(200_000), uvloop=True), available=_uvloop_missing),
        Case("uv_bulk", "smppfast AsyncClient on uvloop, submit_many x1000, window 1000", "smppfast", G1000,
             lambda p: smppfast_async_case(p, "bulk", 1000, n(400_000), uvloop=True), available=_uvloop_missing),
    ]


# The memory cases behind a target, measured in every round (the others once).
MEMORY_TARGET_CASES = frozenset({"mem", "mem_async"})


def memory_cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(id, label, memory_case kwargs)."""
    return [
        ("mem", "RSS per request in flight, SubmitSm built per request", {"pdus_counted": True}),
        ("mem_client", "RSS per request in flight, PDUs built beforehand (the client's share)",
         {"pdus_counted": False}),
        ("mem_traced", "tracemalloc per request in flight, SubmitSm built per request",
         {"pdus_counted": True, "use_tracemalloc": True}),
        ("mem_async", "AsyncClient: RSS per request in flight (submit_many), SubmitSm built per request",
         {"pdus_counted": True, "driver": "asyncio"}),
        ("mem_async_client", "AsyncClient: RSS per request in flight, PDUs built beforehand",
         {"pdus_counted": False, "driver": "asyncio"}),
    ]


def targets(rate: Callable[[str, str], Optional[float]], memory: Callable[[str], Optional[float]]) -> list[dict[str, Any]]:
    """Issue 4's and issue 10's targets, against the sink, from ``rate(case_id, server)`` (submits/s) and
    ``memory(case_id)`` (bytes per request in flight)."""
    out = []

    def add(name: str, value: Optional[float], goal: Optional[float], ratio_of: str, unit: str, le: bool = False) -> None:
        if value is None or goal is None:
            out.append({"target": name, "status": "not measured"})
            return
        met = value <= goal if le else value >= goal
        out.append({"target": name, "measured": value, "goal": goal, "ratio": value / goal,
                    "met": met, "of": ratio_of, "unit": unit})

    smpp34 = rate("smpp34", "sink")
    c1 = rate("c_w1", "sink")
    add("window 100, 1 thread >= 15x smpp34", rate("w100", "sink"), smpp34 and 15 * smpp34, "15 x smpp34", "/s")
    add("window 100, 4 threads >= 15x smpp34", rate("w100x4", "sink"), smpp34 and 15 * smpp34, "15 x smpp34", "/s")
    add("window 100, 1 thread >= 300,000/s", rate("w100", "sink"), 300_000, "300k/s", "/s")
    add("window 100, 4 threads >= 300,000/s", rate("w100x4", "sink"), 300_000, "300k/s", "/s")
    add("submit_many >= 1,000,000/s", rate("bulk", "sink"), 1_000_000, "1M/s", "/s")
    add("window 1 >= 80% of C stop-and-wait", rate("w1", "sink"), c1 and 0.8 * c1, "0.8 x C", "/s")
    add("16 blocking threads >= 40,000/s", rate("block16", "sink"), 40_000, "40k/s", "/s")
    add("<= 1 KB per request in flight (20,000)", memory("mem"), 1024, "1024 B", "B", le=True)
    # Issue 10: AsyncClient, on asyncio's default loop and on uvloop.
    for prefix, loop in (("aio", "asyncio"), ("uv", "uvloop")):
        add(f"{loop}: window 100, 100 tasks >= 12x smpp34", rate(f"{prefix}_w100", "sink"),
            smpp34 and 12 * smpp34, "12 x smpp34", "/s")
        add(f"{loop}: submit_many >= 500,000/s", rate(f"{prefix}_bulk", "sink"), 500_000, "500k/s", "/s")
        add(f"{loop}: window 1 >= 80% of C stop-and-wait", rate(f"{prefix}_w1", "sink"), c1 and 0.8 * c1,
            "0.8 x C", "/s")
    add("AsyncClient <= 1 KB per request in flight (20,000)", memory("mem_async"), 1024, "1024 B", "B", le=True)
    # Issue 11: many binds as one sender, and what keeping refs costs a bind.
    w10, w100 = rate("w10", "sink"), rate("w100", "sink")
    add("Pool of 4 binds, window 10 >= 3x one bind", rate("pool4_w10", "sink"), w10 and 3 * w10, "3 x window 10", "/s")
    add("ref= in a MemoryStore >= 85% of no store", rate("w100_ref_mem", "sink"), w100 and 0.85 * w100,
        "0.85 x window 100", "/s")
    add("ref= in a SqliteStore >= 50% of no store", rate("w100_ref_sqlite", "sink"), w100 and 0.5 * w100,
        "0.5 x window 100", "/s")
    return out


def summarize(rates: list[float]) -> tuple[float, float]:
    """(best, median) of the repeated runs."""
    return max(rates), statistics.median(rates)
