"""``smppfast worker``: serve a Redis Stream as one consumer of a consumer group, sending each entry
through a pool of binds (:class:`smppfast.worker.Worker`); ``--status`` prints the group's state."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

from ..worker import Worker, WorkerError, read_status
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CliError,
    Subparsers,
    _add_link_options,
    _check_bind_options,
    _check_cstr,
    _non_negative_int,
    _out,
    _password,
    _positive_float,
    _positive_int,
    _ssl_context,
    bind_errors,
    endpoints,
)

_DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _redis_errors() -> tuple[type[BaseException], ...]:
    try:
        import redis
    except ImportError:
        raise CliError("smppfast worker needs redis-py: pip install 'smppfast[redis]'") from None
    return (redis.RedisError,)


def cmd_status(args: argparse.Namespace) -> int:
    errors = _redis_errors()
    try:
        status = read_status(args.redis, args.stream, args.group, args.results, timeout=args.redis_timeout)
    except LookupError as err:
        raise CliError(str(err.args[0] if err.args else err)) from None
    except WorkerError as err:
        raise CliError(str(err)) from None
    except ValueError as err:
        raise CliError(str(err)) from None
    except errors as err:
        raise CliError(f"Redis refused the status query: {err}") from None
    lag = "unknown" if status.lag is None else str(status.lag)
    _out(f"stream {status.stream}: {status.length} entries; group {status.group}: lag {lag}, "
         f"pending {status.pending}, last delivered {status.last_delivered}")
    for c in status.consumers:
        _out(f"  consumer {c.name}: {c.pending} pending, idle {c.idle:.1f} s")
    counts = ", ".join(f"{name} {n}" for name, n in status.outcomes.items()) or "none yet"
    _out(f"outcomes ({status.results}, {status.results_length} records): {counts}")
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    if args.status:
        return cmd_status(args)
    _redis_errors()
    _check_bind_options(args)
    if args.source_addr:
        _check_cstr("--source-addr", args.source_addr, "SubmitSm", "source_addr")
    if args.marker_ttl <= args.claim_after:
        raise CliError(f"--marker-ttl ({args.marker_ttl:g} s) must be longer than --claim-after "
                       f"({args.claim_after:g} s)")
    if args.block >= args.redis_timeout:
        raise CliError(f"--block ({args.block:g} s) must be shorter than --redis-timeout ({args.redis_timeout:g} s)")
    if args.registered_delivery > 255:
        raise CliError(f"--registered-delivery {args.registered_delivery} is not 0 to 255")
    if not args.quiet and args.verbose == 0:
        # A worker is a service: its progress line is its output.
        logging.getLogger("smppfast").setLevel(logging.INFO)
    password = _password(args)
    where_list = endpoints(args)
    try:
        worker = Worker(
            args.redis, where_list, stream=args.stream, group=args.group, consumer=args.consumer,
            results=args.results, receipts=args.receipts, claim_after=args.claim_after,
            marker_ttl=args.marker_ttl, batch=args.batch, block=args.block, drain_timeout=args.drain_timeout,
            progress_interval=args.progress, source_addr=args.source_addr,
            registered_delivery=args.registered_delivery, redis_timeout=args.redis_timeout, binds=args.binds,
            system_id=args.system_id, password=password, system_type=args.system_type, bind_type=args.bind,
            ssl_context=_ssl_context(args), response_timeout=args.timeout, window=args.window,
            rate_limit=args.rate,
        )
    except (TypeError, ValueError) as err:
        raise CliError(str(err)) from None
    interrupted: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        worker.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with bind_errors(", ".join(sorted({f"{h}:{p}" for h, p in where_list}))):
            stats = worker.run()
    except WorkerError as err:
        raise CliError(str(err)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stats.unwritten:
        return EXIT_FAILED
    return EXIT_INTERRUPTED if signal.SIGINT in interrupted else EXIT_OK


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        parents=parents,
        help="serve a Redis Stream as one worker of a consumer group",
        description="Read entries (fields to, text, optional from, ref, registered_delivery) from a Redis Stream "
        "as one consumer of a consumer group, send each through a pool of binds, and write one outcome record "
        "per entry to the results stream (ref, status, message_ids, error) and the receipts to the receipts "
        "stream. Stops cleanly on SIGTERM or Ctrl-C: stops reading, waits for the responses in flight, writes "
        "their outcomes and unbinds. --status prints the group's state instead.",
    )
    _add_link_options(p, host_default="127.0.0.1")
    r = p.add_argument_group("the stream")
    r.add_argument("--redis", default=_DEFAULT_REDIS, metavar="URL",
                   help="Redis URL, redis:// rediss:// or unix:// (default: %(default)s)")
    r.add_argument("--stream", required=True, help="the stream of messages to send")
    r.add_argument("--group", default="smppfast", help="the consumer group, created if missing (default: %(default)s)")
    r.add_argument("--consumer", help="this worker's consumer name (default: host:pid)")
    r.add_argument("--results", help="the stream of outcome records (default: STREAM:results)")
    r.add_argument("--receipts", help="the stream of delivery receipts (default: STREAM:receipts)")
    r.add_argument("--claim-after", type=_positive_float, default=60.0, metavar="S",
                   help="claim another worker's entries idle this long (default: %(default)s s)")
    r.add_argument("--marker-ttl", type=_positive_float, default=7 * 86400.0, metavar="S",
                   help="how long the mark of an entry being sent outlives a worker that died (default: 7 days)")
    r.add_argument("--batch", type=_positive_int, default=1000, metavar="N",
                   help="most entries read at once (default: %(default)s)")
    r.add_argument("--block", type=_positive_float, default=1.0, metavar="S",
                   help="longest wait for new entries (default: %(default)s s)")
    r.add_argument("--redis-timeout", type=_positive_float, default=5.0, metavar="S",
                   help="bound on each Redis command (default: %(default)s s)")
    r.add_argument("--drain-timeout", type=_positive_float, default=60.0, metavar="S",
                   help="on stop, longest wait for responses and for Redis (default: %(default)s s)")
    r.add_argument("--progress", type=_positive_float, default=5.0, metavar="S",
                   help="log throughput and pending entries every S seconds (default: %(default)s)")
    r.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    r.add_argument("--status", action="store_true",
                   help="print the group's lag, pending entries per consumer and outcomes by status, then exit")
    m = p.add_argument_group("sending")
    m.add_argument("--window", type=_positive_int, default=10, metavar="N",
                   help="requests in flight per bind (default: %(default)s)")
    m.add_argument("--rate", type=_positive_float, metavar="R", help="submits per second per bind (default: no limit)")
    m.add_argument("--source-addr", default="", help="sender for entries without 'from' (default: the SMSC's)")
    m.add_argument("--registered-delivery", type=_non_negative_int, default=0, metavar="N",
                   help="registered_delivery for entries without one (default: 0; 1 asks for receipts)")
    p.set_defaults(func=cmd_worker)
