"""The ``smppfast`` command: ``simulator``, ``send``, ``bench`` and ``decode``.

Run ``smppfast <command> --help`` for the options. Exit codes are part of the interface, so
scripts can tell failures apart:

* 0 - success;
* 1 - the command ran but something it did failed (a part was rejected, a receipt never
  came, a bench submit got no response);
* 2 - bad input or no link: bad options, bad hex, a malformed PDU, an unreachable host,
  a TLS or bind-timeout failure;
* 3 - the SMSC refused the bind (the status name is printed);
* 130 - interrupted (Ctrl-C).

Errors are one line on stderr (``smppfast: error: ...``), never a traceback. The command's
own results go to stdout; logs (``-v``/``-vv``) and the bench progress line go to stderr so
stdout stays parseable.
"""

from __future__ import annotations

import argparse
import collections
import copy
import getpass
import json
import logging
import os
import platform
import queue
import re
import signal
import site
import ssl
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from typing import IO, Any, Callable, Optional, Sequence, TypeVar

from . import __version__, _codec
from ._codec import Decoder, Pdu, SubmitSm, decode
from ._text import decode_text, split_text
from .client import Client
from .constants import Command, DataCoding, MessageState, Npi, Status, Tlv, Ton
from .errors import (
    BindError,
    CommandStatusError,
    ConnectionClosedError,
    PduError,
    SmppTimeoutError,
    TextError,
)
from .receipt import DeliveryReceipt, message_ids_match, receipt_from_pdu
from .simulator import Faults, Simulator

__all__ = ["main", "build_parser"]

log = logging.getLogger("smppfast.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BIND_REFUSED = 3
EXIT_INTERRUPTED = 130

_E = TypeVar("_E", Status, Ton, Npi, DataCoding)


class CliError(Exception):
    """A failure reported as one line on stderr, with the exit code to return."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# -- small helpers ------------------------------------------------------------------------


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _status_name(status: int) -> str:
    try:
        return Status(status).name
    except ValueError:
        kind = "vendor-specific" if 0x400 <= status <= 0x4FF else "unknown"
        return f"0x{status:08X} ({kind})"


def _enum_arg(enum: type[_E], aliases: Optional[dict[str, int]] = None) -> Callable[[str], int]:
    """An argparse type: an integer (decimal or 0x hex) or a member name of ``enum``."""

    def parse(text: str) -> int:
        value = text.strip()
        try:
            return int(value, 0)
        except ValueError:
            pass
        key = value.upper().replace("-", "_")
        if aliases and key in aliases:
            return aliases[key]
        for candidate in (key, "ESME_" + key, "ESME_R" + key):
            if candidate in enum.__members__:
                return int(enum[candidate])
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number nor a {enum.__name__} name")

    parse.__name__ = enum.__name__  # argparse shows this in "invalid <name> value"
    return parse


_status_arg = _enum_arg(Status)
_ton_arg = _enum_arg(Ton)
_npi_arg = _enum_arg(Npi)
# Users say "gsm" or "ucs2" rather than SMPP's "DEFAULT"; both work.
_data_coding_arg = _enum_arg(
    DataCoding, {"GSM": 0, "GSM7": 0, "GSM0338": 0, "ASCII": 1, "LATIN_1": 3, "ISO_8859_1": 3, "UTF_16BE": 8}
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return value


def _credential(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, got {text!r}")
    return user, password


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger("smppfast")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _password(args: argparse.Namespace) -> str:
    """From the environment variable, else a prompt on a terminal, else empty.

    Never an option: a password on the command line leaks through ps and shell history.
    """
    value = os.environ.get(args.password_env)
    if value is not None:
        return value
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            return getpass.getpass(f"password for {args.system_id}@{args.host}:{args.port}: ")
        except EOFError:
            return ""
    log.info("$%s is not set and stdin is not a terminal; binding with an empty password", args.password_env)
    return ""


def _ssl_context(args: argparse.Namespace) -> Optional[ssl.SSLContext]:
    if not args.tls:
        return None
    context = ssl.create_default_context()
    if args.tls_insecure:
        # For test SMSCs with self-signed certificates; still encrypted, but not authenticated.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _connect(client: Client) -> None:
    """Bind, turning each way it can fail into a one-line CliError with its exit code."""
    where = f"{client.host}:{client.port}"
    try:
        client.connect()
    except BindError as err:
        raise CliError(f"bind refused by {where}: {_status_name(err.status)}", EXIT_BIND_REFUSED) from None
    except SmppTimeoutError:
        raise CliError(f"{where} accepted the connection but never answered the bind") from None
    except ConnectionClosedError as err:
        raise CliError(f"{where} closed the connection during the bind ({err})") from None
    except ssl.SSLError as err:
        raise CliError(f"TLS handshake with {where} failed: {err.reason or err}") from None
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise CliError(f"cannot connect to {where}: {reason}") from None


# -- simulator ----------------------------------------------------------------------------


class _TracingSimulator(Simulator):
    """The simulator plus a debug log line for every PDU it reads and writes (``-vv``).

    It hooks the I/O thread where bytes are read (``_on_data``) and where output is
    collected before being written (``_after_activity``), decoding a copy with its own
    Decoder per connection, so the simulator's fast path is untouched. Tracing never
    raises into the I/O loop: a decoding problem only resets the trace.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per connection: inbound decoder, outbound decoder, bytes of conn.out already traced.
        self._trace: dict[Any, list[Any]] = {}

    def _trace_state(self, conn: Any) -> list[Any]:
        state = self._trace.get(conn)
        if state is None:
            state = self._trace[conn] = [Decoder(), Decoder(), 0]
        return state

    @staticmethod
    def _log_pdus(decoder: Decoder, data: bytes, peer: Any, arrow: str) -> None:
        try:
            pdus = decoder.feed(data)
        except PduError:
            decoder.reset()  # the simulator itself logs malformed input
            return
        for pdu in pdus:
            log.debug("%s %s %r", peer, arrow, pdu)

    def _on_data(self, conn: Any, data: bytes, now: float) -> None:
        self._log_pdus(self._trace_state(conn)[0], data, conn.peer, "->")
        super()._on_data(conn, data, now)

    def _after_activity(self, conn: Any) -> None:
        if conn.sock.fileno() < 0:  # closed while handling its input: nothing more to trace
            super()._after_activity(conn)
            return
        state = self._trace_state(conn)
        try:
            # Take the session's output first so everything about to be written is in conn.out.
            conn.out += conn.session.data_to_send()
            new = bytes(conn.out[state[2]:])
        except Exception:  # pragma: no cover - tracing must never break the simulator
            new = b""
        if new:
            self._log_pdus(state[1], new, conn.peer, "<-")
        super()._after_activity(conn)
        state[2] = len(conn.out)

    def _flush(self, conn: Any) -> None:
        super()._flush(conn)
        state = self._trace.get(conn)
        if state is not None:
            state[2] = min(state[2], len(conn.out))

    def _close(self, conn: Any) -> None:
        super()._close(conn)
        self._trace.pop(conn, None)


def cmd_simulator(args: argparse.Namespace) -> int:
    faults = Faults(
        close_after=args.close_after,
        drop_every=args.drop_every,
        nack_every=args.nack_every,
        throttle_every=args.throttle_every,
        status=args.status,
        delay=args.delay,
        bind_status=args.refuse_binds,
        skip_unbind_resp=args.skip_unbind_resp,
    )
    credentials = dict(args.credentials) if args.credentials else None
    ssl_context = None
    if args.tls_cert:
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as err:
            raise CliError(f"cannot load the TLS certificate: {err}", 2) from None
    elif args.tls_key:
        raise CliError("--tls-key needs --tls-cert", 2)
    cls = _TracingSimulator if args.verbose >= 2 else Simulator
    sim = cls(
        args.host,
        args.port,
        system_id=args.system_id,
        credentials=credentials,
        faults=faults,
        receipt_delay=args.receipt_delay,
        record=0,  # nobody can read sim.received from another process; don't pay for it
        ssl_context=ssl_context,
    )

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, on_signal)
    try:
        try:
            sim.start()
        except OSError as err:
            raise CliError(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}") from None
        # Scripts (and `smppfast bench`) read the port from this line: keep its shape.
        _out(f"smppfast simulator listening on {sim.host}:{sim.port}")
        sys.stdout.flush()
        log.info(
            "system_id %s, %s, faults: %s",
            args.system_id,
            f"{len(credentials)} credential(s)" if credentials else "any credentials accepted",
            ", ".join(f"{k}={v}" for k, v in vars(faults).items() if v) or "none",
        )
        # A timed wait, so the signal handler gets to run promptly on every platform.
        while not stop.wait(0.2):
            pass
        log.info("stopping")
        sim.stop()
        counters = {k: v for k, v in sim.counters.items() if v}
        log.info("stopped: %s", ", ".join(f"{k} {v}" for k, v in counters.items()) or "no traffic")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_OK


# -- send ---------------------------------------------------------------------------------


def cmd_send(args: argparse.Namespace) -> int:
    password = _password(args)
    receipts: list[DeliveryReceipt] = []
    receipts_arrived = threading.Condition()

    def on_receipt(receipt: DeliveryReceipt) -> None:
        with receipts_arrived:
            receipts.append(receipt)
            receipts_arrived.notify_all()

    wait_receipts = args.wait_receipts is not None
    common: dict[str, Any] = dict(
        system_id=args.system_id,
        password=password,
        system_type=args.system_type,
        ssl_context=_ssl_context(args),
        response_timeout=args.timeout,
        on_receipt=on_receipt,
    )
    client = Client(args.host, args.port, bind_type=args.bind, **common)
    # A transmitter cannot receive: receipts come to a receiver bind of the same system_id.
    receiver = Client(args.host, args.port, bind_type="receiver", **common) if (
        wait_receipts and args.bind == "transmitter"
    ) else None
    opened: list[Client] = []
    try:
        for c in (receiver, client):
            if c is not None:
                _connect(c)
                opened.append(c)
        fields: dict[str, Any] = dict(
            source_addr=args.source_addr,
            source_addr_ton=args.source_ton,
            source_addr_npi=args.source_npi,
            dest_addr_ton=args.dest_ton,
            dest_addr_npi=args.dest_npi,
            registered_delivery=1 if wait_receipts else 0,
        )
        try:
            futures = client.send_message(args.dest, args.text, data_coding=args.data_coding, method=args.method, **fields)
        except (TextError, ValueError) as err:
            raise CliError(f"cannot encode the text: {err}") from None
        except ConnectionClosedError as err:
            raise CliError(f"the connection dropped before sending: {err}") from None
        failed = False
        message_ids: list[str] = []
        total = len(futures)
        for i, fut in enumerate(futures, 1):
            try:
                response = fut.result()
            except CommandStatusError as err:
                failed = True
                _out(f"part {i}/{total}: status={_status_name(err.status)}")
                continue
            except SmppTimeoutError:
                failed = True
                _out(f"part {i}/{total}: no response within {args.timeout} s")
                continue
            except ConnectionClosedError as err:
                failed = True
                maybe = " (the SMSC may have accepted it)" if err.maybe_accepted else ""
                _out(f"part {i}/{total}: connection lost{maybe}")
                continue
            message_id = response.message_id
            message_ids.append(message_id)
            _out(f"part {i}/{total}: message_id={message_id} status={_status_name(response.command_status)}")
        sys.stdout.flush()
        if wait_receipts and message_ids:
            if not _wait_for_receipts(message_ids, receipts, receipts_arrived, args.wait_receipts):
                failed = True
    finally:
        for c in reversed(opened):
            c.close()
    return EXIT_FAILED if failed else EXIT_OK


def _wait_for_receipts(
    message_ids: list[str], receipts: list[DeliveryReceipt], arrived: threading.Condition, timeout: float
) -> bool:
    """Print each receipt for ``message_ids`` as it arrives; False if some never did."""
    deadline = time.monotonic() + timeout
    waiting = list(message_ids)
    seen = 0
    with arrived:
        while waiting:
            for receipt in receipts[seen:]:
                match = next((m for m in waiting if message_ids_match(m, receipt.message_id)), None)
                if match is None:
                    log.info("receipt for another message: %s", receipt.message_id)
                    continue
                waiting.remove(match)
                _out(_format_receipt(receipt))
                sys.stdout.flush()
            seen = len(receipts)
            left = deadline - time.monotonic()
            if not waiting or left <= 0:
                break
            arrived.wait(left)
    if waiting:
        sys.stderr.write(f"smppfast: no receipt within {timeout:g} s for: {', '.join(waiting)}\n")
        return False
    return True


def _format_receipt(receipt: DeliveryReceipt) -> str:
    parts = [f"receipt: message_id={receipt.message_id}", f"stat={receipt.stat or '-'}"]
    if receipt.state is not None:
        parts.append(f"state={receipt.state.name}")
    if receipt.err is not None:
        parts.append(f"err={receipt.err}")
    if receipt.done_date is not None:
        parts.append(f"done={receipt.done_date.isoformat(sep=' ')}")
    return " ".join(parts)


# -- bench --------------------------------------------------------------------------------


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
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


class _Worker(threading.Thread):
    """Submits ``count`` PDUs through one client, keeping a bounded FIFO of pending futures.

    Responses come back nearly in order, so settling from the head of a deque costs O(1)
    per submit, where ``concurrent.futures.wait`` over the whole set would cost O(pending).
    """

    def __init__(self, client: Client, templates: Sequence[Pdu], count: int, limit: int, batch: int) -> None:
        super().__init__(name="smppfast-bench", daemon=True)
        self.client = client
        self.templates = templates
        self.count = count
        self.limit = limit
        self.batch = batch
        self.sent = 0
        self.done = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.aborted: Optional[str] = None

    def run(self) -> None:
        pending: collections.deque[Any] = collections.deque()
        templates = self.templates
        k = len(templates)
        limit = self.limit
        try:
            if self.batch > 1:
                submit_many = self.client.submit_many
                while self.sent < self.count:
                    n = min(self.batch, self.count - self.sent)
                    base = self.sent
                    pending.extend(submit_many([copy.copy(templates[(base + j) % k]) for j in range(n)]))
                    self.sent += n
                    if len(pending) >= limit:
                        self._settle(pending, limit - self.batch)
            else:
                submit = self.client.submit
                for i in range(self.count):
                    pending.append(submit(copy.copy(templates[i % k])))
                    self.sent += 1
                    if len(pending) >= limit:
                        self._settle(pending, limit - 1)
        except Exception as err:  # the link dropped or the window never freed: stop this worker
            self.errors[type(err).__name__] += 1
            self.aborted = f"{type(err).__name__}: {err}"
        self._settle(pending, 0)

    def _settle(self, pending: collections.deque[Any], keep: int) -> None:
        """Read every finished future at the head; block on the head until at most ``keep`` remain."""
        statuses = self.statuses
        while pending:
            fut = pending[0]
            if len(pending) <= keep and not fut.done():
                return
            exc = fut.exception()  # blocks until this one is done
            pending.popleft()
            self.done += 1
            if exc is None:
                statuses[0] += 1
            elif isinstance(exc, CommandStatusError):
                statuses[int(exc.status)] += 1
            else:
                self.errors[type(exc).__name__] += 1


def _percentiles(clients: Sequence[Client], quantiles: Sequence[float]) -> list[float]:
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
    proc: Optional[subprocess.Popen[str]] = None
    if args.host is None:
        proc, host, port = _spawn_simulator()
        password = ""
        target = f"{host}:{port} (built-in simulator, separate process)"
    else:
        host, port = args.host, args.port
        password = _password(args)
        target = f"{host}:{port}"
    try:
        result = _run_bench(args, host, port, password)
    finally:
        if proc is not None:
            _stop_process(proc)
    result["target"] = target
    if args.json:
        _out(json.dumps(result, sort_keys=False))
    else:
        _print_bench(result)
    return EXIT_FAILED if result["errors"] or result["not_sent"] else EXIT_OK


def _run_bench(args: argparse.Namespace, host: str, port: int, password: str) -> dict[str, Any]:
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
    threads = args.threads or args.binds
    clients = [
        Client(
            host,
            port,
            system_id=args.system_id,
            password=password,
            system_type=args.system_type,
            bind_type=args.bind,
            window=args.window,
            response_timeout=args.timeout,
            rate_limit=args.rate / args.binds if args.rate else None,
            ssl_context=_ssl_context(args),
        )
        for _ in range(args.binds)
    ]
    opened: list[Client] = []
    try:
        for c in clients:
            _connect(c)
            opened.append(c)
        # Each thread may hold twice its share of its client's window: enough that it never
        # starves the window while it reads results, bounded so memory stays flat for any -n.
        per_client = -(-threads // args.binds)
        limit = max(2 * args.window // per_client, 2, args.batch + 1)
        counts = [args.n // threads + (1 if i < args.n % threads else 0) for i in range(threads)]
        workers = [_Worker(clients[i % args.binds], templates, counts[i], limit, args.batch) for i in range(threads)]
        show = sys.stderr.isatty() and not args.json and not args.no_progress
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            while w.is_alive():
                w.join(0.2)
                if show:
                    done = sum(x.done for x in workers)
                    sys.stderr.write(_progress_line(done, args.n, time.perf_counter() - start))
                    sys.stderr.flush()
        elapsed = time.perf_counter() - start
        if show:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()
        quantiles = (0.5, 0.9, 0.99, 0.999)
        latencies = _percentiles(opened, quantiles)
        throttled = sum(c.stats.throttled for c in opened)
    finally:
        for c in reversed(opened):
            c.close()
    statuses: collections.Counter[int] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    for w in workers:
        statuses.update(w.statuses)
        errors.update(w.errors)
    completed = sum(w.done for w in workers)
    aborted = [w.aborted for w in workers if w.aborted]
    return {
        "submits": args.n,
        "completed": completed,
        "not_sent": args.n - sum(w.sent for w in workers),
        "elapsed_s": round(elapsed, 6),
        "throughput": round(completed / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": {
            name: (round(v * 1000.0, 3) if v == v else None)
            for name, v in zip(("p50", "p90", "p99", "p99.9"), latencies)
        },
        "statuses": {_status_name(s): n for s, n in sorted(statuses.items())},
        "errors": dict(errors),
        "aborted": aborted,
        "throttled_retries": throttled,
        "window": args.window,
        "binds": args.binds,
        "threads": threads,
        "rate": args.rate,
        "batch": args.batch,
        "parts_per_text": len(templates),
        "smppfast": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _print_bench(r: dict[str, Any]) -> None:
    setup = f"window {r['window']}, {r['binds']} bind(s), {r['threads']} thread(s)"
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
    if r["throttled_retries"]:
        rows.append(("throttled (retried)", f"{r['throttled_retries']:,}"))
    errors = sum(r["errors"].values())
    rows.append(("errors", f"{errors:,}" + (f" ({', '.join(f'{k} {v}' for k, v in r['errors'].items())})" if errors else "")))
    if r["not_sent"]:
        rows.append(("not sent", f"{r['not_sent']:,}"))
    width = max(len(k) for k, _ in rows)
    _out("smppfast bench")
    for key, value in rows:
        _out(f"  {key:<{width}}  {value}")
    for reason in r["aborted"]:
        _out(f"  stopped early: {reason}")


# -- decode -------------------------------------------------------------------------------

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_HEX_TEXT = _HEX_DIGITS | frozenset(b" \t\r\n:xX")
_TEXT_CODINGS = frozenset({0, 1, 3, 8})
_ESM_MODE = {1: "datagram mode", 2: "forward mode", 3: "store and forward mode"}
_ESM_TYPE = {0x04: "delivery receipt", 0x08: "SME ack", 0x10: "SME manual ack", 0x18: "conversation abort",
             0x20: "intermediate notification"}


def _parse_hex(text: str) -> bytes:
    """Hex digits with optional whitespace, ``:`` separators and ``0x`` prefixes."""
    digits = []
    for token in text.replace(":", " ").split():
        if token[:2] in ("0x", "0X"):
            token = token[2:]
        digits.append(token)
    joined = "".join(digits)
    if not joined:
        raise CliError("bad hex: no hex digits in the input")
    for i, ch in enumerate(joined):
        if ch not in "0123456789abcdefABCDEF":
            raise CliError(f"bad hex: {ch!r} is not a hex digit (digit {i + 1})")
    if len(joined) % 2:
        raise CliError(f"bad hex: odd number of hex digits ({len(joined)})")
    return bytes.fromhex(joined)


def _looks_like_hex(data: bytes) -> bool:
    # A raw PDU starts with command_length's high octet, 0x00 for any PDU under 16 MiB,
    # which is never a hex digit: so hex text and raw bytes cannot be confused.
    return bool(data) and data[:1] in b"0123456789abcdefABCDEF \t\r\n" and all(b in _HEX_TEXT for b in data)


def _read_decode_input(args: argparse.Namespace) -> bytes:
    if args.file is not None:
        if args.hex:
            raise CliError("give either HEX or --file, not both")
        try:
            with open(args.file, "rb") as fh:
                data = fh.read()
        except OSError as err:
            raise CliError(f"cannot read {args.file}: {err.strerror or err}") from None
    elif args.hex == ["-"]:
        data = sys.stdin.buffer.read()
    elif args.hex:
        return _parse_hex(" ".join(args.hex))
    else:
        raise CliError("nothing to decode: give HEX, - (stdin) or --file PATH")
    if _looks_like_hex(data):
        return _parse_hex(data.decode("ascii"))
    if not data:
        raise CliError("nothing to decode: the input is empty")
    return data


def cmd_decode(args: argparse.Namespace) -> int:
    data = _read_decode_input(args)
    view = memoryview(data)
    offset = 0
    index = 0
    several = len(data) >= 4 and int.from_bytes(data[:4], "big") < len(data)
    while offset < len(data):
        remaining = len(data) - offset
        length = int.from_bytes(view[offset : offset + 4], "big") if remaining >= 4 else 0
        # A sane length frames one PDU; anything else goes whole to decode(), which names the problem.
        end = offset + length if 16 <= length <= remaining else len(data)
        index += 1
        try:
            pdu = decode(view[offset:end])
        except PduError as err:
            where = f"PDU #{index} at offset {offset}" if several or index > 1 else "PDU"
            detail = []
            if err.field:
                detail.append(f"field {err.field}")
            if err.offset is not None:
                detail.append(f"offset {err.offset}")
            if err.command_id is not None:
                detail.append(_command_name(err.command_id))
            raise CliError(f"malformed {where}: {err}" + (f" ({', '.join(detail)})" if detail else "")) from None
        if index > 1:
            _out()
        for line in _format_pdu(pdu, end - offset, offset if several else None, index, args.show_password):
            _out(line)
        offset = end
    return EXIT_OK


def _command_name(command_id: int) -> str:
    try:
        return Command(command_id).name.lower()
    except ValueError:
        return f"command 0x{command_id:08X}"


def _enum_label(enum: Any, value: int) -> str:
    try:
        return f"{value} ({enum(value).name})"
    except ValueError:
        return str(value)


def _esm_label(value: int) -> str:
    names = []
    if value & 0x03:
        names.append(_ESM_MODE[value & 0x03])
    if value & 0x3C:
        names.append(_ESM_TYPE.get(value & 0x3C, f"type 0x{value & 0x3C:02X}"))
    if value & 0x40:
        names.append("UDHI")
    if value & 0x80:
        names.append("reply path")
    return f"0x{value:02X}" + (f" ({', '.join(names)})" if names else "")


def _data_coding_label(value: int) -> str:
    try:
        return f"0x{value:02X} ({DataCoding(value).name})"
    except ValueError:
        if value & 0xF0 == 0xF0:
            return f"0x{value:02X} (message class {value & 3}, {'8-bit data' if value & 4 else 'GSM 03.38'})"
        return f"0x{value:02X}"


def _registered_delivery_label(value: int) -> str:
    names = []
    receipt = value & 0x03
    if receipt == 1:
        names.append("SMSC receipt")
    elif receipt == 2:
        names.append("SMSC receipt on failure")
    elif receipt == 3:
        names.append("SMSC receipt bits 11")
    if value & 0x0C:
        names.append("SME ack requested")
    if value & 0x10:
        names.append("intermediate notification")
    return str(value) + (f" ({', '.join(names)})" if names else "")


def _text_coding(data_coding: int) -> Optional[int]:
    """The decode_text coding for a data_coding, or None for binary and unknown codings."""
    if data_coding in _TEXT_CODINGS:
        return data_coding
    if data_coding & 0xF0 == 0xF0:  # GSM 03.38 "data coding/message class" group
        return None if data_coding & 0x04 else 0
    return None


def _udh_description(udh: bytes) -> str:
    """Name the information elements a decoder is most often asked about."""
    items = []
    pos = 1
    while pos + 1 < len(udh):
        iei, size = udh[pos], udh[pos + 1]
        body = udh[pos + 2 : pos + 2 + size]
        if iei == 0x00 and size == 3 and len(body) == 3:
            items.append(f"concatenated: ref {body[0]}, part {body[2]} of {body[1]}")
        elif iei == 0x08 and size == 4 and len(body) == 4:
            items.append(f"concatenated: ref {int.from_bytes(body[:2], 'big')}, part {body[3]} of {body[2]}")
        elif iei == 0x05 and size == 4 and len(body) == 4:
            items.append(f"ports: dest {int.from_bytes(body[:2], 'big')}, src {int.from_bytes(body[2:], 'big')}")
        elif iei == 0x04 and size == 2 and len(body) == 2:
            items.append(f"ports: dest {body[0]}, src {body[1]}")
        else:
            items.append(f"IE 0x{iei:02X} ({size} octets)")
        pos += 2 + size
    return "; ".join(items)


def _content_lines(data: bytes, data_coding: int, udhi: bool, indent: str) -> list[str]:
    """The UDH (if any) and the text or binary content of short_message / message_payload."""
    lines = []
    if udhi and data:
        size = data[0] + 1
        udh, data = data[:size], data[size:]
        lines.append(f"{indent}udh   {udh.hex()}" + (f"  ({_udh_description(udh)})" if len(udh) > 1 else ""))
    coding = _text_coding(data_coding)
    if coding is None:
        lines.append(f"{indent}binary {data.hex()}")
        return lines
    text: Optional[str]
    try:
        text = decode_text(data, coding)
    except TextError as err:
        # Show what can be read and say why the rest could not.
        text = decode_text(data, coding, errors="replace") if coding != 8 or len(data) % 2 == 0 else None
        lines.append(f"{indent}note  not valid {_data_coding_label(coding)} text: {err}")
        if text is None:
            return lines
    lines.append(f"{indent}text  {text!r}")
    return lines


def _tlv_name(tag: int) -> str:
    try:
        return Tlv(tag).name.lower()
    except ValueError:
        return "vendor-specific" if 0x1400 <= tag <= 0x3FFF else "unknown"


def _tlv_value(tag: int, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str, bytes)):
        return repr(value)
    if isinstance(value, int):
        if tag == Tlv.MESSAGE_STATE:
            return _enum_label(MessageState, value)
        return f"{value} (0x{value:X})"
    if isinstance(value, str):
        return repr(value)
    return f"{value.hex() or '(empty)'}  [{len(value)} octets]"


def _field_value(name: str, value: Any, show_password: bool) -> str:
    if name == "password" and not show_password:
        return "'***'" if value else "''"
    if name.endswith("_ton") and isinstance(value, int):
        return _enum_label(Ton, value)
    if name.endswith("_npi") and isinstance(value, int):
        return _enum_label(Npi, value)
    if name == "esm_class":
        return _esm_label(value)
    if name == "data_coding":
        return _data_coding_label(value)
    if name == "registered_delivery":
        return _registered_delivery_label(value)
    if name == "message_state":
        return _enum_label(MessageState, value)
    if name == "interface_version":
        return f"0x{value:02X} ({value >> 4}.{value & 0x0F})"
    if isinstance(value, (bytes, bytearray)):
        return f"{bytes(value).hex() or '(empty)'}  [{len(value)} octets]"
    return repr(value)


def _format_pdu(pdu: Pdu, length: int, offset: Optional[int], index: int, show_password: bool) -> list[str]:
    cid = int(type(pdu).command_id)
    head = f"{_command_name(cid)} (command_id 0x{cid:08X}, {length} octets)"
    if offset is not None:
        head = f"#{index} at offset {offset}: " + head
    status = int(pdu.command_status)
    lines = [
        head,
        f"  {'command_status':<24}0x{status:08X} {_status_name(status)}",
        f"  {'sequence_number':<24}{pdu.sequence_number}",
    ]
    fields = pdu.as_dict()
    esm_class = int(fields.get("esm_class", 0) or 0)
    data_coding = int(fields.get("data_coding", 0) or 0)
    for name, value in fields.items():
        if name == "dest_address":
            lines.append(f"  {name:<24}{len(value)} destination(s)")
            for i, dest in enumerate(value):
                if isinstance(dest, _codec.DistributionList):
                    lines.append(f"    [{i}] distribution list {dest.dl_name!r}")
                else:
                    lines.append(
                        f"    [{i}] {dest.destination_addr!r} ton {_enum_label(Ton, dest.dest_addr_ton)}, "
                        f"npi {_enum_label(Npi, dest.dest_addr_npi)}"
                    )
            continue
        if name == "unsuccess_sme":
            lines.append(f"  {name:<24}{len(value)} address(es)")
            for i, sme in enumerate(value):
                lines.append(
                    f"    [{i}] {sme.destination_addr!r} ton {sme.dest_addr_ton}, npi {sme.dest_addr_npi}: "
                    f"{_status_name(sme.error_status_code)}"
                )
            continue
        lines.append(f"  {name:<24}{_field_value(name, value, show_password)}")
        if name == "short_message" and value:
            lines.extend(_content_lines(bytes(value), data_coding, bool(esm_class & 0x40), "      "))
    tlvs = pdu.tlvs
    if tlvs:
        lines.append(f"  tlvs ({sum(len(v) if isinstance(v, list) else 1 for v in tlvs.values())})")
        for tag, values in tlvs.items():
            for value in values if isinstance(values, list) else [values]:
                tag = int(tag)
                lines.append(f"    0x{tag:04X} {_tlv_name(tag):<26}{_tlv_value(tag, value)}")
                if tag == Tlv.MESSAGE_PAYLOAD and isinstance(value, bytes) and value:
                    lines.extend(_content_lines(value, data_coding, bool(esm_class & 0x40), "        "))
    if cid in (Command.DELIVER_SM, Command.DATA_SM) and esm_class & 0x3C in (0x04, 0x20):
        try:
            receipt = receipt_from_pdu(pdu)
        except Exception as err:  # a malformed receipt text is worth showing, not fatal
            lines.append(f"  receipt: not parseable ({err})")
        else:
            if receipt is not None:
                lines.append("  " + _format_receipt(receipt))
    return lines


# -- the parser ---------------------------------------------------------------------------


def _add_link_options(p: argparse.ArgumentParser, *, host_default: Optional[str]) -> None:
    g = p.add_argument_group("connection")
    if host_default is None:
        g.add_argument("--host", help="the SMSC to benchmark (default: start the built-in simulator)")
    else:
        g.add_argument("--host", default=host_default, help="SMSC host (default: %(default)s)")
    g.add_argument("--port", type=int, default=2775, help="SMSC port (default: %(default)s)")
    g.add_argument("--system-id", default="smppfast", help="bind system_id (default: %(default)s)")
    g.add_argument(
        "--password-env",
        default="SMPP_PASSWORD",
        metavar="VAR",
        help="environment variable holding the password (default: %(default)s); when unset, "
        "a terminal prompts for it, otherwise the password is empty",
    )
    g.add_argument("--system-type", default="", help="bind system_type (default: empty)")
    g.add_argument(
        "--bind", choices=("transmitter", "transceiver"), default="transceiver", help="bind type (default: %(default)s)"
    )
    g.add_argument("--tls", action="store_true", help="connect over TLS")
    g.add_argument("--tls-insecure", action="store_true", help="with --tls: do not verify the certificate")
    g.add_argument(
        "--timeout", type=_non_negative_float, default=30.0, metavar="S", help="response timeout (default: %(default)s s)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smppfast",
        description="SMPP 3.4 tools: a test SMSC, a sender, a benchmark and a PDU decoder.",
        epilog="Exit codes: 0 ok, 1 something failed, 2 bad input or no connection, 3 bind refused.",
    )
    parser.add_argument("--version", action="version", version=f"smppfast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="count", default=0, help="-v: info log, -vv: debug log (every PDU)")

    # simulator
    p = sub.add_parser(
        "simulator",
        parents=[verbose],
        help="run the SMSC simulator in the foreground",
        description="Run an SMSC simulator until Ctrl-C or SIGTERM. The first line on stdout is "
        "'smppfast simulator listening on HOST:PORT', so --port 0 works from scripts.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=2775, help="port to listen on, 0 for any free one (default: %(default)s)")
    p.add_argument("--system-id", default="smppfast-sim", help="the SMSC's system_id in bind responses")
    p.add_argument(
        "--credentials",
        type=_credential,
        action="append",
        metavar="USER:PASS",
        help="accept only these system_id:password pairs (repeatable; default: accept any)",
    )
    f = p.add_argument_group("faults (\"submit\" = submit_sm, data_sm, submit_multi; counted per connection)")
    f.add_argument("--throttle-every", type=int, default=0, metavar="N", help="answer every Nth submit ESME_RTHROTTLED")
    f.add_argument("--drop-every", type=int, default=0, metavar="N", help="never answer every Nth submit")
    f.add_argument("--nack-every", type=int, default=0, metavar="N", help="answer every Nth submit with generic_nack")
    f.add_argument("--delay", type=_non_negative_float, default=0.0, metavar="S", help="hold every submit response S seconds")
    f.add_argument("--status", type=_status_arg, default=0, metavar="STATUS", help="answer every submit with this status (name or number)")
    f.add_argument("--close-after", type=int, default=0, metavar="N", help="drop the connection on the Nth submit")
    f.add_argument("--refuse-binds", type=_status_arg, default=0, metavar="STATUS", help="refuse every bind with this status")
    f.add_argument("--skip-unbind-resp", action="store_true", help="close on unbind without sending unbind_resp")
    p.add_argument("--receipt-delay", type=_non_negative_float, default=0.0, metavar="S", help="send delivery receipts after S seconds")
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="the private key for --tls-cert (if not in the same file)")
    p.set_defaults(func=cmd_simulator)

    # send
    p = sub.add_parser(
        "send",
        parents=[verbose],
        help="send one message (split as needed) and print each part's message id",
        description="Bind, send TEXT to DEST (split into parts as needed), print each part's "
        "message_id and status, optionally wait for delivery receipts, unbind.",
    )
    _add_link_options(p, host_default="127.0.0.1")
    m = p.add_argument_group("message")
    m.add_argument("--source-addr", default="", help="source address (default: empty, the SMSC's default)")
    m.add_argument("--source-ton", type=_ton_arg, default=0, metavar="TON", help="source TON, number or name (default: 0)")
    m.add_argument("--source-npi", type=_npi_arg, default=0, metavar="NPI", help="source NPI, number or name (default: 0)")
    m.add_argument("--dest-ton", type=_ton_arg, default=1, metavar="TON", help="destination TON (default: 1, international)")
    m.add_argument("--dest-npi", type=_npi_arg, default=1, metavar="NPI", help="destination NPI (default: 1, ISDN)")
    m.add_argument(
        "--data-coding",
        type=_data_coding_arg,
        default=None,
        metavar="DC",
        help="data_coding: number or name (gsm, ia5, latin1, ucs2, ...); default: GSM 03.38 if the text fits, else UCS-2",
    )
    m.add_argument("--method", choices=("udh", "sar", "payload"), default="udh", help="how to split long texts (default: udh)")
    m.add_argument(
        "--wait-receipts", type=_non_negative_float, metavar="S", help="request delivery receipts and wait up to S seconds for them"
    )
    p.add_argument("dest", metavar="DEST", help="destination address")
    p.add_argument("text", metavar="TEXT", help="message text")
    p.set_defaults(func=cmd_send)

    # bench
    p = sub.add_parser(
        "bench",
        parents=[verbose],
        help="measure submit throughput and latency (starts its own simulator without --host)",
        description="Submit -n messages as fast as the window allows and report throughput, latency "
        "percentiles and statuses. Without --host it starts the built-in simulator in a separate process.",
    )
    _add_link_options(p, host_default=None)
    p.add_argument("-n", type=_positive_int, default=100_000, help="submit_sm PDUs to send (default: %(default)s)")
    p.add_argument("--window", type=_positive_int, default=100, help="requests in flight per bind (default: %(default)s)")
    p.add_argument("--rate", type=float, default=None, metavar="R", help="cap at R submits per second in total")
    p.add_argument("--binds", type=_positive_int, default=1, metavar="N", help="connections (default: %(default)s)")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="T", help="submitting threads (default: one per bind)")
    p.add_argument("--batch", type=_positive_int, default=1, metavar="B", help="submit with submit_many in batches of B")
    p.add_argument("--text", default="Hello from smppfast bench", help="message text (default: %(default)r)")
    p.add_argument("--data-coding", type=_data_coding_arg, default=None, metavar="DC", help="data_coding of the text")
    p.add_argument("--source-addr", default="smppfast", help="source address (default: %(default)s)")
    p.add_argument("--dest", default="15550000001", help="destination address (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--no-progress", action="store_true", help="no live progress line even on a terminal")
    p.set_defaults(func=cmd_bench)

    # decode
    p = sub.add_parser(
        "decode",
        help="print PDUs field by field",
        description="Decode one or more concatenated PDUs and print every field, with names for "
        "commands, statuses, TLVs and data codings and the decoded text. Input is HEX (spaces, "
        "newlines, ':' and 0x prefixes allowed), '-' for stdin, or --file PATH; stdin and files may "
        "hold raw PDU bytes or hex text (told apart by the first octet).",
    )
    p.add_argument("hex", nargs="*", metavar="HEX", help="hex of the PDU(s), or - to read stdin")
    p.add_argument("--file", metavar="PATH", help="read concatenated PDUs from a file")
    p.add_argument("--show-password", action="store_true", help="print bind passwords instead of '***'")
    p.set_defaults(func=cmd_decode, verbose=0)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``smppfast`` command; returns the exit code."""
    for stream in (sys.stdout, sys.stderr):
        # Decoded texts can hold any character; a console that cannot show one should get
        # an escape, not a UnicodeEncodeError.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except CliError as err:
        sys.stdout.flush()
        sys.stderr.write(f"smppfast: error: {err}\n")
        return err.code
    except KeyboardInterrupt:
        sys.stderr.write("smppfast: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout went away (e.g. `| head`): exit quietly, and keep Python's shutdown
        # flush from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover - `python -m smppfast` goes through __main__.py
    raise SystemExit(main())
