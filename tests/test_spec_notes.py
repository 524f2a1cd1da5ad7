"""Where a golden vector and SMPP 3.4 (Issue 1.2) part ways, the spec wins for what we send.

The codec still decodes such vectors and re-encodes them byte for byte (a decoder must carry
what peers really send), but the session never produces those values itself.
"""

from __future__ import annotations

import smppfast
from smppfast.events import MessageReceived
from smppfast.session import Session, SessionState

from .conftest import load_jsonl
from .helpers import SessionPair

VECTORS = {v["id"]: v for v in load_jsonl("pdus.jsonl")}


def test_deliver_sm_resp_message_id_is_null_when_we_answer() -> None:
    # SMPP 3.4 section 4.6.2: deliver_sm_resp.message_id "is unused and is set to NULL".
    # node-smpp wrote "x1" there; we decode and round-trip it, but our own answers send NULL.
    vector = VECTORS["node-deliver_sm_resp-with-id"]
    data = bytes.fromhex(vector["pdu_hex"])
    pdu = smppfast.decode(data)
    assert pdu.message_id == "x1"
    assert smppfast.encode(pdu) == data

    pair = SessionPair()
    pair.bind("transceiver")
    pair.smsc.send(smppfast.DeliverSm(source_addr="1", destination_addr="2", short_message=b"hi"), pair.now)
    esme_events, _ = pair.pump()
    request = next(e.request for e in esme_events if isinstance(e, MessageReceived))
    pair.esme.respond(request)
    answer = smppfast.decode(pair.esme.data_to_send())
    assert isinstance(answer, smppfast.DeliverSmResp)
    assert answer.message_id == ""
    assert smppfast.encode(answer)[16:] == b"\0"


def test_sequence_number_zero_is_carried_but_never_sent() -> None:
    # SMPP 3.4 section 3.2: sequence numbers run from 0x00000001 to 0x7FFFFFFF. Two vectors
    # answer with generic_nack sequence 0 (a nack for an unreadable header); the codec keeps it,
    # and the session numbers its own requests from 1 and wraps to 1, never to 0.
    for vid in ("node-generic_nack-status-0x2", "smpplib-generic_nack-status-0x2"):
        data = bytes.fromhex(VECTORS[vid]["pdu_hex"])
        assert smppfast.decode(data).sequence_number == 0
        assert smppfast.encode(smppfast.decode(data)) == data
    session = Session("esme", window=3, sequence=iter([0x7FFFFFFF, 1, 2]).__next__)
    session.state = SessionState.BOUND_TRX
    seqs = [session.send(smppfast.QuerySm(message_id="a"), 0.0) for _ in range(3)]
    assert seqs == [0x7FFFFFFF, 1, 2]
    assert 0 not in seqs
