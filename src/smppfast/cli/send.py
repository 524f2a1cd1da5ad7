"""``smppfast send``: bind, send one message (split as needed), print each part's message id,
optionally wait for its delivery receipts, unbind."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from ..client import Client
from ..pool import Pool
from ..constants import format_status
from ..errors import (
    CommandStatusError,
    ConnectionClosedError,
    SmppTimeoutError,
    TextError,
)
from ..receipt import DeliveryReceipt, message_ids_match
from ._common import (
    EXIT_FAILED,
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
    _format_receipt,
    _languages_arg,
    _non_negative_float,
    _npi_arg,
    _out,
    _password,
    _ssl_context,
    _status_name,
    _ton_arg,
    log,
)


def cmd_send(args: argparse.Namespace) -> int:
    # Everything the user typed is checked before the password prompt and the connection.
    _check_bind_options(args)
    _check_destination("DEST", args.dest, args.dest_ton)
    _check_cstr("--source-addr", args.source_addr, "SubmitSm", "source_addr")
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
    where = endpoints(args)
    client: Client | Pool
    if len(where) * args.binds > 1:  # several binds: one pool, every part through one of them
        client = Pool(where, binds=args.binds, bind_type=args.bind, **common)
    else:
        client = Client(*where[0], bind_type=args.bind, **common)
    # A transmitter cannot receive: receipts come to a receiver bind of the same system_id.
    receivers = [Client(host, port, bind_type="receiver", **common) for host, port in where] if (
        wait_receipts and args.bind == "transmitter"
    ) else []
    opened: list[Client | Pool] = []
    try:
        for c in [*receivers, client]:
            with bind_errors(_where(c)):
                c.connect()
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
            futures = client.send_message(args.dest, args.text, data_coding=args.data_coding, method=args.method,
                                          languages=args.languages, **fields)
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
                _out(f"part {i}/{total}: status={format_status(err.status)}")
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


def _where(sender: Client | Pool) -> str:
    if isinstance(sender, Pool):
        return ", ".join(sorted({f"{m.host}:{m.port}" for m in sender.members}))
    return f"{sender.host}:{sender.port}"


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


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "send",
        parents=parents,
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
        "--languages",
        type=_languages_arg,
        default=(),
        metavar="LANGS",
        help="national language tables the text may use, comma-separated (e.g. tr,es; names, ISO 639-1 codes or "
        "3GPP TS 23.038 ids); the cheapest encoding wins (default: none)",
    )
    m.add_argument(
        "--wait-receipts", type=_non_negative_float, metavar="S", help="request delivery receipts and wait up to S seconds for them"
    )
    p.add_argument("dest", metavar="DEST", help="destination number, digits only (any text with --dest-ton 5)")
    p.add_argument("text", metavar="TEXT", help="message text")
    p.set_defaults(func=cmd_send)
