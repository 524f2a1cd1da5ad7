"""``smppfast simulator``: run the SMSC simulator in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import ssl
import sys
import threading
from typing import Any, Optional

from .._codec import Pdu
from ..simulator import Faults, Simulator, TraceHook
from ._common import (
    EXIT_OK,
    CliError,
    Subparsers,
    _credential,
    _non_negative_float,
    _non_negative_int,
    _out,
    _port_arg,
    _status_arg,
    log,
)

_ARROWS = {"in": "->", "out": "<-"}


def _log_pdu(direction: str, pdu: Pdu, peer: Any) -> None:
    """The ``-vv`` trace: one debug line per PDU read (``->``) or written (``<-``)."""
    log.debug("%s %s %r", peer, _ARROWS.get(direction, direction), pdu)


def cmd_simulator(args: argparse.Namespace) -> int:
    faults = Faults(
        close_after=args.close_after,
        drop_every=args.drop_every,
        nack_every=args.nack_every,
        throttle_every=args.throttle_every,
        status=args.status,
        delay=args.delay,
        refuse_binds=args.refuse_binds,
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
    # Only -vv shows the PDUs; below that the hook would decode the output for nothing.
    trace: Optional[TraceHook] = _log_pdu if args.verbose >= 2 else None
    sim = Simulator(
        args.host,
        args.port,
        system_id=args.system_id,
        credentials=credentials,
        faults=faults,
        receipt_delay=args.receipt_delay,
        receipts_elsewhere=args.receipts_elsewhere,
        record=0,  # nobody can read sim.received from another process; don't pay for it
        ssl_context=ssl_context,
        trace=trace,
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


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulator",
        parents=parents,
        help="run the SMSC simulator in the foreground",
        description="Run an SMSC simulator until Ctrl-C or SIGTERM. The first line on stdout is "
        "'smppfast simulator listening on HOST:PORT', so --port 0 works from scripts.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_port_arg(0), default=2775, help="port to listen on, 0 for any free one (default: %(default)s)")
    p.add_argument("--system-id", default="smppfast-sim", help="the SMSC's system_id in bind responses")
    p.add_argument(
        "--credentials",
        type=_credential,
        action="append",
        metavar="USER:PASS",
        help="accept only these system_id:password pairs (repeatable; default: accept any)",
    )
    f = p.add_argument_group("faults (\"submit\" = submit_sm, data_sm, submit_multi; counted per connection)")
    f.add_argument("--throttle-every", type=_non_negative_int, default=0, metavar="N", help="answer every Nth submit ESME_RTHROTTLED")
    f.add_argument("--drop-every", type=_non_negative_int, default=0, metavar="N", help="never answer every Nth submit")
    f.add_argument("--nack-every", type=_non_negative_int, default=0, metavar="N", help="answer every Nth submit with generic_nack")
    f.add_argument("--delay", type=_non_negative_float, default=0.0, metavar="S", help="hold every submit response S seconds")
    f.add_argument("--status", type=_status_arg, default=0, metavar="STATUS", help="answer every submit with this status (name or number)")
    f.add_argument("--close-after", type=_non_negative_int, default=0, metavar="N", help="drop the connection on the Nth submit")
    f.add_argument("--refuse-binds", type=_status_arg, default=0, metavar="STATUS", help="refuse every bind with this status")
    f.add_argument("--skip-unbind-resp", action="store_true", help="close on unbind without sending unbind_resp")
    p.add_argument("--receipt-delay", type=_non_negative_float, default=0.0, metavar="S", help="send delivery receipts after S seconds")
    p.add_argument("--receipts-elsewhere", action="store_true",
                   help="send each receipt on another bind of the same system_id, in turn, when there is one")
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="the private key for --tls-cert (if not in the same file)")
    p.set_defaults(func=cmd_simulator)
