"""The session classifies what an SMSC delivers: receipts, whole messages, unfinished ones.

Every driver gets the same events, so each behaviour is tested here once, on the sans-IO
session with a fake clock.
"""

from __future__ import annotations

import ast
import pathlib

import smppfast
from smppfast import Command, Status, split_text
from smppfast.events import (
    MessageIncomplete,
    MessageReceived,
    ReceiptMalformed,
    ReceiptReceived,
    RequestReceived,
    ResponseReceived,
)
from smppfast.reassembly import Reassembler
from smppfast.receipt import ReceiptError

from .helpers import SessionPair

RECEIPT_TEXT = b"id:1a2b3c sub:001 dlvrd:001 submit date:2611291200 done date:2611291201 stat:DELIVRD err:000 text:hi"


def deliver(pair: SessionPair, **fields: object) -> None:
    pair.smsc.send(smppfast.DeliverSm(source_addr="447700900001", destination_addr="100", **fields), pair.now)


def answers(pair: SessionPair) -> list[ResponseReceived]:
    """The SMSC's view of the ESME's answers to its deliver_sm."""
    return [e for e in pair.esme_to_smsc() if isinstance(e, ResponseReceived)]


def test_receipt_comes_out_parsed_and_waits_for_the_drivers_answer() -> None:
    pair = SessionPair()
    pair.bind()
    deliver(pair, esm_class=0x04, short_message=RECEIPT_TEXT)
    (event,) = pair.smsc_to_esme()
    assert isinstance(event, ReceiptReceived)
    assert event.receipt.message_id == "1a2b3c" and event.receipt.delivered
    assert answers(pair) == []  # the driver answers once its application saw it
    pair.esme.respond(event.request)
    (resp,) = answers(pair)
    assert resp.response.command_id == Command.DELIVER_SM_RESP and resp.response.command_status == 0


def test_malformed_receipt_is_reported_as_such_and_answered_ok() -> None:
    pair = SessionPair()
    pair.bind()
    deliver(pair, esm_class=0x04, short_message=b"this is no receipt at all")
    (event,) = pair.smsc_to_esme()
    assert isinstance(event, ReceiptMalformed)
    assert isinstance(event.error, ReceiptError) and "id:" in str(event.error)
    (resp,) = answers(pair)
    assert resp.response.command_status == Status.ESME_ROK


def test_single_message_comes_out_whole() -> None:
    pair = SessionPair()
    pair.bind()
    deliver(pair, short_message=b"hello")
    (event,) = pair.smsc_to_esme()
    assert isinstance(event, MessageReceived)
    assert event.message.text == "hello" and event.message.total == 1


def test_multipart_parts_answered_by_the_session_and_the_message_comes_out_once() -> None:
    pair = SessionPair()
    pair.bind()
    text = "x" * 400
    parts = split_text(text, reference=7)
    for part in parts:
        deliver(pair, short_message=part.short_message, esm_class=part.esm_class, data_coding=part.data_coding)
    events = pair.smsc_to_esme()
    (event,) = events
    assert isinstance(event, MessageReceived) and event.message.text == text
    # The parts before the last were answered by the session; the last is the driver's.
    assert len(answers(pair)) == len(parts) - 1
    pair.esme.respond(event.request, status=Status.ESME_RX_T_APPN)
    (last,) = answers(pair)
    assert last.response.command_status == Status.ESME_RX_T_APPN


def test_unfinished_multipart_expires_on_the_sessions_clock() -> None:
    pair = SessionPair(esme={"reassembler": Reassembler(max_age=60)})
    pair.bind()
    parts = split_text("y" * 400, reference=9)
    deliver(pair, short_message=parts[0].short_message, esm_class=parts[0].esm_class)
    assert pair.smsc_to_esme() == []
    assert pair.esme.next_deadline() == 60
    esme_events, _ = pair.tick(59.9)
    assert esme_events == []
    esme_events, _ = pair.tick(60)
    (event,) = esme_events
    assert isinstance(event, MessageIncomplete)
    assert event.message.received == (1,) and event.message.total == len(parts)


def test_evicted_multipart_comes_out_as_incomplete() -> None:
    pair = SessionPair(esme={"reassembler": Reassembler(max_pending=1)})
    pair.bind()
    for ref in (1, 2):
        part = split_text("z" * 400, reference=ref)[0]
        deliver(pair, short_message=part.short_message, esm_class=part.esm_class)
    events = pair.smsc_to_esme()
    (event,) = events
    assert isinstance(event, MessageIncomplete) and event.message.reference == 1


def test_smsc_role_still_sees_deliveries_as_plain_requests() -> None:
    # Classification is the ESME's: an SMSC session hands submits over untouched.
    pair = SessionPair()
    pair.bind()
    pair.send()
    (event,) = pair.esme_to_smsc()
    assert type(event) is RequestReceived


SANS_IO = ("session.py", "_window.pyx")
FORBIDDEN = {"socket", "threading", "asyncio", "time", "selectors", "ssl", "select", "concurrent"}


def test_the_sans_io_core_imports_no_io_thread_or_clock_module() -> None:
    src = pathlib.Path(smppfast.__file__).parent
    for name in SANS_IO:
        path = src / name
        if not path.exists():  # an installed wheel ships no .pyx: read the source tree's copy
            path = pathlib.Path(__file__).parents[1] / "src" / "smppfast" / name
        text = path.read_text()
        if name.endswith(".pyx"):
            # Cython's own statements (cimport, cdef) are not Python: keep the import lines.
            text = "\n".join(
                line for line in text.splitlines() if line.startswith(("import ", "from ")) and " cimport " not in line
            )
        imported: set[str] = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
        assert not imported & FORBIDDEN, f"{name} imports {sorted(imported & FORBIDDEN)}"
        assert "import" in text  # the check read real source, not an empty file


def test_the_codec_has_no_hooks_for_drivers() -> None:
    hooks = [name for name in dir(smppfast._codec) if name.startswith("_register") or name.startswith("_set_")]
    assert hooks == []
    assert not hasattr(smppfast._codec, "RequestWindow")


DRIVERS = ("client.py", "simulator.py", "aio.py", "pool.py")


def test_no_driver_touches_a_private_attribute_of_the_session() -> None:
    src = pathlib.Path(smppfast.__file__).parent
    checked = 0
    for name in DRIVERS:
        path = src / name
        if not path.exists():
            continue
        checked += 1
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                assert not owner_name.endswith("session"), (
                    f"{name}:{node.lineno} reads {owner_name}.{node.attr}, a private attribute of Session"
                )
    assert checked >= 2
