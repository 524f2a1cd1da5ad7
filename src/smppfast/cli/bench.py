"""``smppfast bench``: submit -n messages as fast as the window allows and report throughput,
latency percentiles and statuses, against an SMSC or a simulator it starts in a child process."""

from __future__ import annotations

import argparse
import collections
import copy
import json
import math
import os
import platform
import queue
import re
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from typing import IO, Any, Optional, Sequence

import smppfast

from .. import __version__
from .._codec import Pdu, SubmitSm
from .._text import split_text
from ..aio import AsyncClient
from ..client import Client
from ..pool import Pool
from ..constants import Status, Ton, format_status
from ..errors import CommandStatusError, TextError
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CliError,
    Subparsers,
    _add_link_options,
    _check_bind_options,
    _check_cstr,
    _check_destination,
    bind_errors,
    endpoints,
    _data_coding_arg,
    _out,
    _password,
    _positive_float,
    _positive_int,
    _ssl_context,
    _status_name,
)

_LISTENING = re.compile(r"listening on (\S+):(\d+)")


def _spawn_simulator(startup_timeout: float = 20.0) -> tuple[subprocess.Popen[str], str, int]:
    """Start ``python -m smppfast simulator --port 0`` and read the port it prints.

    A separate process, because a simulator in this one would share the GIL with the
    client under test and halve what the benchmark can show.
    """
    env = dict(os.environ)
    # Make the child import this very copy of smppfast, e.g. when running from a source
    # tree through PYTHONPATH or sys.path edits. An installed copy needs nothing: the child
    # runs the same interpreter, and putting site-packages on PYTHONPATH would put it
    # ahead of the standard library.
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(smppfast.__file__)))
    installed = {os.path.normcase(os.path.abspath(p)) for p in _site_dirs()}
    if os.path.normcase(package_root) not in installed:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    stderr: IO[bytes] = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smppfast", "simulator", "--host", "127.0.0.1", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read_first_line() -> None:
        assert proc.stdout is not None
        lines.put(proc.stdout.readline())

    # A thread, because select() does not work on pipes on Windows.
    threading.Thread(target=read_first_line, name="smppfast-sim-port", daemon=True).start()
    try:
        line = lines.get(timeout=startup_timeout)
    except queue.Empty:
        line = ""
    match = _LISTENING.search(line)
    if match is None:
        _stop_process(proc)
        stderr.seek(0)
        tail = stderr.read().decode(errors="replace").strip().splitlines()
        stderr.close()
        raise CliError("the built-in simulator did not start" + (f": {tail[-1]}" if tail else ""))
    stderr.close()
    return proc, match.group(1), int(match.group(2))


def _site_dirs() -> list[str]:
    dirs = [sysconfig.get_paths()[key] for key in ("purelib", "platlib")]
    try:
        dirs += site.getsitepackages()
    except AttributeError:  # pragma: no cover - some virtualenv versions lack it
        pass
    dirs.append(site.getusersitepackages())
    return dirs


def _stop_process(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()  # SIGTERM: the simulator stops cleanly
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class Tally:
    """What one submitter saw: how many it sent and settled, by status and by error."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sent = 0
        self.done = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.aborted: Optional[str] = None
        #: Set on Ctrl-C: submit no more, wait for nothing.
        self.stopping = False

    def record(self, exc: Optional[BaseException]) -> None:
        """Count one settled submit: ``exc`` is its future's exception (``None``: accepted)."""
        self.done += 1
        if exc is None:
            self.statuses[0] += 1
        elif isinstance(exc, CommandStatusError):
            self.statuses[int(exc.status)] += 1
        else:
            self.errors[type(exc).__name__] += 1

    def abort(self, err: Exception) -> None:
        """The link dropped or the window never freed: this submitter stops."""
        if not self.stopping:  # after Ctrl-C, a failure is the interrupt's doing, not the SMSC's
            self.errors[type(err).__name__] += 1
            self.aborted = f"{type(err).__name__}: {err}"


class _Worker(threading.Thread, Tally):
    """Submits ``count`` PDUs through one client, keeping a bounded FIFO of pending futures.

    Responses come back nearly in order, so settling from the head of a deque costs O(1)
    per submit, where ``concurrent.futures.wait`` over the whole set would cost O(pending).
    """

    def __init__(self, client: Client | Pool, templates: Sequence[Pdu], count: int, limit: int, batch: int) -> None:
        threading.Thread.__init__(self, name="smppfast-bench", daemon=True)
        Tally.__init__(self, count)
        self.client = client
        self.templates = templates
        self.limit = limit
        self.batch = batch

    def run(self) -> None:
        pending: collections.deque[Any] = collections.deque()
        templates = self.templates
        k = len(templates)
        limit = self.limit
        try:
            if self.batch > 1:
                submit_many = self.client.submit_many
                while self.sent < self.count and not self.stopping:
                    n = min(self.batch, self.count - self.sent)
                    base = self.sent
                    pending.extend(submit_many([copy.copy(templates[(base + j) % k]) for j in range(n)]))
                    self.sent += n
                    if len(pending) >= limit:
                        self._settle(pending, limit - self.batch)
            else:
                submit = self.client.submit
                for i in range(self.count):
                    if self.stopping:
                        break
                    pending.append(submit(copy.copy(templates[i % k])))
                    self.sent += 1
                    if len(pending) >= limit:
                        self._settle(pending, limit - 1)
        except Exception as err:
            self.abort(err)
        self._settle(pending, 0)

    def _settle(self, pending: collections.deque[Any], keep: int) -> None:
        """Read every finished future at the head; block on the head until at most ``keep`` remain."""
        while pending and not self.stopping:
            fut = pending[0]
            if len(pending) <= keep and not fut.done():
                return
            exc = fut.exception()  # blocks until this one is done
            if self.stopping:  # Ctrl-C came while waiting: the summary is being taken
                return
            pending.popleft()
            self.record(exc)


def _percentiles(clients: Sequence[Client | AsyncClient], quantiles: Sequence[float]) -> list[float]:
    if len(clients) == 1:
        return clients[0].stats.latency_percentiles(*quantiles)
    # Percentiles do not combine; pool the recent samples of every connection instead.
    samples = sorted(s for c in clients for s in c.stats.latency_samples())
    if not samples:
        return [float("nan")] * len(quantiles)
    return [samples[min(len(samples) - 1, int(q * len(samples)))] for q in quantiles]


def _progress_line(done: int, total: int, elapsed: float) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    pct = 100.0 * done / total if total else 100.0
    width = 30
    filled = int(width * done / total) if total else width
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} {pct:5.1f}%  {rate:,.0f} submits/s "


def cmd_bench(args: argparse.Namespace) -> int:
    _check_bind_options(args)
    # bench sends with dest_addr_ton 0 (unknown): a destination must be a number.
    _check_destination("--dest", args.dest, Ton.UNKNOWN, ton_option=None)
    _check_cstr("--source-addr", args.source_addr, "SubmitSm", "source_addr")
    proc: Optional[subprocess.Popen[str]] = None
    if args.host is None and not args.smsc:
        proc, host, port = _spawn_simulator()
        password = ""
        where = [(host, port)]
        target = f"{host}:{port} (built-in simulator, separate process)"
    else:
        where = endpoints(args)
        password = _password(args)
        target = ", ".join(f"{h}:{p}" for h, p in where)
    try:
        return _run_bench(args, where, password, target)
    finally:
        if proc is not None:
            _stop_process(proc)


def _report(args: argparse.Namespace, result: dict[str, Any]) -> int:
    """Print the summary (stdout) and what failed (one line on stderr); return the exit code."""
    if args.json:
        _out(json.dumps(result, sort_keys=False))
    else:
        _print_bench(result)
    sys.stdout.flush()
    failures = [f"{n:,} {_describe(status)}" for status, n in result["failed"].items()]
    failures += [f"{n:,} {name}" for name, n in result["errors"].items()]
    if failures:
        failed = sum(result["failed"].values()) + sum(result["errors"].values())
        sys.stderr.write(f"smppfast: {failed:,} of {result['submits']:,} submits failed: {'; '.join(failures)}\n")
    if result["interrupted"]:
        sys.stderr.write("smppfast: interrupted; the summary shows what was measured until then\n")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failures or result["not_sent"] else EXIT_OK


def _describe(name: str) -> str:
    """A status as the summary names it (``status_name``), in plain words (``format_status``)."""
    return format_status(Status[name]) if name in Status.__members__ else name


def sender_options(args: argparse.Namespace, password: str, binds: int) -> dict[str, Any]:
    """What every one of the benchmark's ``binds`` is built with (either driver, one bind or a pool)."""
    return dict(
        system_id=args.system_id,
        password=password,
        system_type=args.system_type,
        bind_type=args.bind,
        window=args.window,
        response_timeout=args.timeout,
        rate_limit=args.rate / binds if args.rate is not None else None,
        ssl_context=_ssl_context(args),
    )


def bind_figures(members: Sequence[Client | AsyncClient]) -> list[dict[str, Any]]:
    """Per bind of a pool: what it carried and how fast it was answered."""
    out = []
    for m in members:
        p50, p99 = m.stats.latency_percentiles(0.5, 0.99)
        out.append({
            "bind": m.label,
            "submitted": m.stats.submitted,
            "accepted": m.stats.responses.get(0, 0),
            "reconnects": m.stats.reconnects,
            "latency_ms": {"p50": None if math.isnan(p50) else round(p50 * 1000.0, 3),
                           "p99": None if math.isnan(p99) else round(p99 * 1000.0, 3)},
        })
    return out


def _run_bench(args: argparse.Namespace, where: list[tuple[str, int]], password: str, target: str) -> int:
    try:
        parts = split_text(args.text, data_coding=args.data_coding)
    except (TextError, ValueError) as err:
        raise CliError(f"cannot encode the text: {err}") from None
    templates = [
        SubmitSm(
            source_addr=args.source_addr,
            destination_addr=args.dest,
            esm_class=part.esm_class,
            data_coding=part.data_coding,
            short_message=part.short_message,
            tlvs=dict(part.tlvs),
        )
        for part in parts
    ]
    if args.asyncio or args.uvloop:
        if args.threads is not None:
            raise CliError("--threads is for the threaded client; with --asyncio or --uvloop use --tasks")
        from ._bench_async import run_async_bench

        return run_async_bench(args, where, password, target, templates)
    if args.tasks is not None:
        raise CliError("--tasks needs --asyncio or --uvloop")
    binds = len(where) * args.binds
    threads = args.threads or binds
    options = sender_options(args, password, binds)
    sender: Client | Pool
    if binds == 1:  # one bind: the client itself, as a user with one bind has it
        sender = Client(*where[0], **options)
        members: list[Client] = [sender]
    else:  # a bench of several binds runs as one sender would: a pool (no reconnect: failures show)
        sender = Pool(where, binds=args.binds, reconnect=False, **options)
        members = sender.members
    opened: Optional[Client | Pool] = None
    try:
        with bind_errors(target):
            sender.connect()
        opened = sender
        # Each thread may hold twice its share of the windows: enough that it never starves
        # them while it reads results, bounded so memory stays flat for any -n.
        limit = max(2 * args.window * binds // threads, 2, args.batch + 1)
        counts = [args.n // threads + (1 if i < args.n % threads else 0) for i in range(threads)]
        workers = [_Worker(sender, templates, counts[i], limit, args.batch) for i in range(threads)]
        show = sys.stderr.isatty() and not args.json and not args.no_progress
        interrupted = False
        start = time.perf_counter()
        try:
            for w in workers:
                w.start()
            for w in workers:
                while w.is_alive():
                    w.join(0.2)
                    if show:
                        done = sum(x.done for x in workers)
                        sys.stderr.write(_progress_line(done, args.n, time.perf_counter() - start))
                        sys.stderr.flush()
        except KeyboardInterrupt:
            # Ctrl-C: keep what was measured. The workers stop at their next step and count
            # nothing more; one blocked on a response or a window slot is left behind (a
            # daemon). In a terminal the built-in simulator gets the same Ctrl-C and drops
            # the link: what fails from then on is not counted, it is "in flight".
            interrupted = True
            for w in workers:
                w.stopping = True
        elapsed = time.perf_counter() - start
        if interrupted:
            grace = time.monotonic() + 0.5
            for w in workers:
                if w.ident is not None:  # Ctrl-C may come before every worker started
                    w.join(max(0.0, grace - time.monotonic()))
        if show:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
        result = _result(args, workers, members, elapsed, interrupted, target, len(templates))
        # Printed before the unbind: a second Ctrl-C while closing loses nothing measured.
        return _report(args, result)
    finally:
        if opened is not None:
            opened.close()


def _result(
    args: argparse.Namespace,
    workers: Sequence[Tally],
    clients: Sequence[Client | AsyncClient],
    elapsed: float,
    interrupted: bool,
    target: str,
    parts: int,
    driver: str = "threads",
) -> dict[str, Any]:
    quantiles = (0.5, 0.9, 0.99, 0.999)
    latencies = _percentiles(clients, quantiles)
    throttled = sum(c.stats.throttled for c in clients)
    statuses: collections.Counter[int] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    for w in workers:
        # dict() copies in one step, so a worker left running cannot change it mid-copy.
        statuses.update(dict(w.statuses))
        errors.update(dict(w.errors))
    completed = sum(w.done for w in workers)
    sent = sum(w.sent for w in workers)
    # One line per reason: a hundred tasks stopped by the same dropped link say so once.
    aborted = list(dict.fromkeys(w.aborted for w in workers if w.aborted))
    return {
        "target": target,
        "interrupted": interrupted,
        "submits": args.n,
        "completed": completed,
        "in_flight": max(0, sent - completed) if interrupted else 0,
        "not_sent": args.n - sent,
        "elapsed_s": round(elapsed, 6),
        "throughput": round(completed / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": {
            name: (None if math.isnan(v) else round(v * 1000.0, 3))
            for name, v in zip(("p50", "p90", "p99", "p99.9"), latencies)
        },
        "statuses": {_status_name(s): n for s, n in sorted(statuses.items())},
        # Every refused submit by status, in plain words: what made the exit status 1.
        "failed": {_status_name(s): n for s, n in sorted(statuses.items()) if s != 0},
        "errors": dict(errors),
        "aborted": aborted,
        "throttled_retries": throttled,
        "window": args.window,
        "binds": len(clients),
        "per_bind": bind_figures(clients) if len(clients) > 1 else [],
        "driver": driver,
        # The submitters: OS threads for the threaded client, tasks for AsyncClient.
        ("threads" if driver == "threads" else "tasks"): len(workers),
        "rate": args.rate,
        "batch": args.batch,
        "parts_per_text": parts,
        "smppfast": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _print_bench(r: dict[str, Any]) -> None:
    if r["driver"] == "threads":
        setup = f"window {r['window']}, {r['binds']} bind(s), {r['threads']} thread(s)"
    else:
        setup = f"window {r['window']}, {r['binds']} bind(s), {r['tasks']} task(s) on {r['driver']}"
    if r["rate"]:
        setup += f", rate {r['rate']:g}/s"
    if r["batch"] > 1:
        setup += f", batches of {r['batch']}"
    rows = [
        ("target", r["target"]),
        ("setup", setup),
        ("submits", f"{r['completed']:,} of {r['submits']:,}"),
        ("elapsed", f"{r['elapsed_s']:.3f} s"),
        ("throughput", f"{r['throughput']:,.0f} submits/s"),
    ]
    for name, value in r["latency_ms"].items():
        rows.append((f"latency {name}", "n/a" if value is None else f"{value:.3f} ms"))
    for status, n in r["statuses"].items() or [("-", 0)]:
        rows.append(("status " + status, f"{n:,}"))
    refused = sum(r["failed"].values())
    if refused:
        rows.append(("refused", f"{refused:,} ({'; '.join(f'{_describe(k)}: {v:,}' for k, v in r['failed'].items())})"))
    if r["throttled_retries"]:
        rows.append(("throttled (retried)", f"{r['throttled_retries']:,}"))
    errors = sum(r["errors"].values())
    rows.append(("errors", f"{errors:,}" + (f" ({', '.join(f'{k} {v}' for k, v in r['errors'].items())})" if errors else "")))
    if r["in_flight"]:
        rows.append(("in flight", f"{r['in_flight']:,} (no response yet when interrupted)"))
    if r["not_sent"]:
        rows.append(("not sent", f"{r['not_sent']:,}"))
    width = max(len(k) for k, _ in rows)
    _out("smppfast bench (interrupted: what was measured until Ctrl-C)" if r["interrupted"] else "smppfast bench")
    for key, value in rows:
        _out(f"  {key:<{width}}  {value}")
    for reason in r["aborted"]:
        _out(f"  stopped early: {reason}")
    if r["per_bind"]:
        _out("  per bind:")
        width = max(len(b["bind"]) for b in r["per_bind"])
        for b in r["per_bind"]:
            lat = b["latency_ms"]
            p50 = "n/a" if lat["p50"] is None else f"{lat['p50']:.3f} ms"
            p99 = "n/a" if lat["p99"] is None else f"{lat['p99']:.3f} ms"
            extra = f", {b['reconnects']} reconnect(s)" if b["reconnects"] else ""
            _out(f"    {b['bind']:<{width}}  {b['submitted']:,} submitted, {b['accepted']:,} accepted, "
                 f"p50 {p50}, p99 {p99}{extra}")


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        parents=parents,
        help="measure submit throughput and latency (starts its own simulator without --host)",
        description="Submit -n messages as fast as the window allows and report throughput, latency "
        "percentiles and statuses. Without --host it starts the built-in simulator in a separate process.",
    )
    _add_link_options(p, host_default=None)
    p.add_argument("-n", type=_positive_int, default=100_000, help="submit_sm PDUs to send (default: %(default)s)")
    p.add_argument("--window", type=_positive_int, default=100, help="requests in flight per bind (default: %(default)s)")
    p.add_argument("--rate", type=_positive_float, default=None, metavar="R", help="cap at R submits per second in total")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="T", help="submitting threads (default: one per bind)")
    p.add_argument("--tasks", type=_positive_int, default=None, metavar="T",
                   help="with --asyncio: tasks awaiting submit (default: the window, per bind)")
    loops = p.add_mutually_exclusive_group()
    loops.add_argument("--asyncio", action="store_true", help="submit through AsyncClient on asyncio's default loop")
    loops.add_argument("--uvloop", action="store_true", help="submit through AsyncClient on uvloop (smppfast[uvloop])")
    p.add_argument("--batch", type=_positive_int, default=1, metavar="B", help="submit with submit_many in batches of B")
    p.add_argument("--text", default="Hello from smppfast bench", help="message text (default: %(default)r)")
    p.add_argument("--data-coding", type=_data_coding_arg, default=None, metavar="DC", help="data_coding of the text")
    p.add_argument("--source-addr", default="smppfast", help="source address (default: %(default)s)")
    p.add_argument("--dest", default="15550000001", help="destination address (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--no-progress", action="store_true", help="no live progress line even on a terminal")
    p.set_defaults(func=cmd_bench)
