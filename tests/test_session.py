"""Sans-IO tests of smppfast.session: two Sessions wired in memory, an integer clock, no sockets."""

from __future__ import annotations

import itertools
import logging
import random
import struct

import pytest

import smppfast
from smppfast import Command, Status, decode
from smppfast.errors import (
    ConnectionClosedError,
    LocalProtocolError,
    PduError,
    RemoteProtocolError,
    SmppTimeoutError,
    WindowFull,
)
from smppfast.events import (
    AlertReceived,
    BindRefused,
    BindRequested,
    Bound,
    Closed,
    GenericNackReceived,
    MessageReceived,
    OutbindReceived,
    PduRejected,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Unbound,
)
from smppfast.session import BOUND_STATES, SENDABLE, Role, SequenceGenerator, Session, SessionState

from .helpers import SessionPair, of_type


def decode_all(data: bytes) -> list[smppfast.Pdu]:
    return smppfast.Decoder().feed(data)


def raw_pdu(command_id: int, seq: int, body: bytes = b"", status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def types(events: list) -> list[type]:
    return [type(e) for e in events]


# -- bind -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bind_type, state",
    [("transmitter", SessionState.BOUND_TX), ("receiver", SessionState.BOUND_RX), ("transceiver", SessionState.BOUND_TRX)],
)
def test_bind_each_type(bind_type: str, state: SessionState) -> None:
    pair = SessionPair()
    bind = pair.esme.bind(bind_type, system_id="acme", password="pw", system_type="t", now=0)
    assert pair.esme.state is SessionState.BINDING
    assert bind.interface_version == 0x34
    (requested,) = pair.esme_to_smsc()
    assert isinstance(requested, BindRequested)
    assert requested.request.system_id == "acme" and requested.request.password == "pw"
    pair.smsc.accept_bind(requested.request, system_id="smsc-x")
    (bound,) = pair.smsc_to_esme()
    assert bound == Bound(bind_type, "smsc-x", bound.response)
    assert pair.esme.state is state and pair.smsc.state is state
    assert pair.esme.bind_type == pair.smsc.bind_type == bind_type
    assert pair.smsc.peer_system_id == "acme" and pair.esme.peer_system_id == "smsc-x"
    # What each side may now send is the SENDABLE table for its role and state.
    assert pair.esme._sendable[state] == SENDABLE[Role.ESME][state]
    assert (Command.SUBMIT_SM in SENDABLE[Role.ESME][state]) == (bind_type != "receiver")
    assert (Command.DELIVER_SM in SENDABLE[Role.SMSC][state]) == (bind_type != "transmitter")


@pytest.mark.parametrize("status", [Status.ESME_RINVPASWD, Status.ESME_RALYBND, Status.ESME_RINVSYSID])
def test_bind_refused_surfaces_status(status: Status) -> None:
    pair = SessionPair()
    pair.esme.bind("transceiver", system_id="acme", password="wrong", now=0)
    (requested,) = pair.esme_to_smsc()
    pair.smsc.refuse_bind(requested.request, status)
    (refused,) = pair.smsc_to_esme()
    assert isinstance(refused, BindRefused)
    assert refused.status == status
    assert refused.response.command_status == status
    assert pair.esme.state is SessionState.OPEN and pair.smsc.state is SessionState.OPEN
    # Refused, the ESME may try again on the same connection.
    pair.esme.bind("transceiver", system_id="acme", password="right", now=0)
    (again,) = pair.esme_to_smsc()
    assert isinstance(again, BindRequested)


def test_bind_answered_with_generic_nack_is_refused() -> None:
    pair = SessionPair()
    bind = pair.esme.bind("transmitter", system_id="a", password="b", now=0)
    pair.esme.data_to_send()
    events = pair.esme.receive_data(raw_pdu(Command.GENERIC_NACK, bind.sequence_number, status=Status.ESME_RINVCMDID), 0)
    assert types(events) == [BindRefused]
    assert events[0].status == Status.ESME_RINVCMDID
    assert pair.esme.state is SessionState.OPEN


def test_bind_timeout_closes() -> None:
    pair = SessionPair(esme={"bind_timeout": 5})
    pair.esme.bind("transceiver", system_id="a", password="b", now=0)
    pair.esme.data_to_send()  # lost in the network
    assert pair.esme.next_deadline() == 5
    assert pair.esme.handle_deadline(4) == []
    (closed,) = pair.esme.handle_deadline(5)
    assert isinstance(closed, Closed) and isinstance(closed.error, SmppTimeoutError)
    assert pair.esme.state is SessionState.CLOSED
    assert pair.esme.next_deadline() is None


def test_second_bind_refused_with_already_bound() -> None:
    pair = SessionPair()
    pair.bind("transceiver")
    # The ESME's own session will not send it...
    with pytest.raises(LocalProtocolError):
        pair.esme.bind("transmitter", system_id="a", password="b", now=0)
    # ...and an SMSC session answers one from a peer with ESME_RALYBND, staying bound.
    events = pair.smsc.receive_data(smppfast.encode(smppfast.BindTransmitter(sequence_number=77, system_id="x")), 0)
    assert events == []
    (resp,) = decode_all(pair.smsc.data_to_send())
    assert resp.command_id == Command.BIND_TRANSMITTER_RESP and resp.sequence_number == 77
    assert resp.command_status == Status.ESME_RALYBND
    assert pair.smsc.state is SessionState.BOUND_TRX


def test_only_an_esme_binds_and_only_an_smsc_accepts() -> None:
    pair = SessionPair()
    with pytest.raises(LocalProtocolError):
        pair.smsc.bind("transceiver", system_id="a", password="b", now=0)
    with pytest.raises(LocalProtocolError):
        pair.esme.accept_bind(smppfast.BindTransceiver())
    with pytest.raises(ValueError):
        pair.esme.bind("sideways", system_id="a", password="b", now=0)


# -- what each state allows -------------------------------------------------------------


def test_requests_not_allowed_in_state_raise_locally() -> None:
    pair = SessionPair()
    with pytest.raises(LocalProtocolError):
        pair.send()  # not bound yet
    pair.bind("receiver")
    with pytest.raises(LocalProtocolError):
        pair.send()  # a receiver does not submit
    with pytest.raises(LocalProtocolError):
        pair.smsc.send(smppfast.SubmitSm(), 0)  # an SMSC never submits
    with pytest.raises(LocalProtocolError):
        pair.esme.send(smppfast.EnquireLink(), 0)  # the session's own business
    assert pair.esme.in_flight == 0 and pair.esme.data_to_send() == b""


def test_smsc_may_not_deliver_to_a_transmitter() -> None:
    pair = SessionPair()
    pair.bind("transmitter")
    with pytest.raises(LocalProtocolError):
        pair.smsc.send(smppfast.DeliverSm(), 0)


def test_inbound_request_not_allowed_answered_invbndsts() -> None:
    pair = SessionPair()
    # A submit before bind:
    events = pair.smsc.receive_data(smppfast.encode(smppfast.SubmitSm(sequence_number=5)), 0)
    assert events == []
    (resp,) = decode_all(pair.smsc.data_to_send())
    assert resp.command_id == Command.SUBMIT_SM_RESP and resp.sequence_number == 5
    assert resp.command_status == Status.ESME_RINVBNDSTS
    # A deliver_sm to a transmitter:
    pair.bind("transmitter")
    events = pair.esme.receive_data(smppfast.encode(smppfast.DeliverSm(sequence_number=9)), 0)
    assert events == []
    (resp,) = decode_all(pair.esme.data_to_send())
    assert resp.command_id == Command.DELIVER_SM_RESP and resp.command_status == Status.ESME_RINVBNDSTS
    assert pair.esme.is_bound


def test_inbound_alert_without_response_pdu_refused_with_generic_nack() -> None:
    pair = SessionPair()
    pair.bind("transmitter")  # alert_notification goes only to receivers
    pair.esme.receive_data(smppfast.encode(smppfast.AlertNotification(sequence_number=3)), 0)
    (nack,) = decode_all(pair.esme.data_to_send())
    assert nack.command_id == Command.GENERIC_NACK and nack.sequence_number == 3
    assert nack.command_status == Status.ESME_RINVBNDSTS


def test_inbound_deliver_alert_outbind_become_events() -> None:
    pair = SessionPair()
    (outbind,) = pair.esme.receive_data(smppfast.encode(smppfast.Outbind(sequence_number=1, system_id="s")), 0)
    assert isinstance(outbind, OutbindReceived)
    pair.bind("transceiver")
    pair.smsc.send(smppfast.DeliverSm(short_message=b"mo"), 0, token="d")
    pair.smsc.send(smppfast.AlertNotification(), 0)
    events = pair.smsc_to_esme()
    assert types(events) == [MessageReceived, AlertReceived]
    assert events[0].message.payload == b"mo"
    pair.esme.respond(events[0].request)
    (resp,) = pair.esme_to_smsc()
    assert isinstance(resp, ResponseReceived) and resp.token == "d"
    assert resp.response.command_id == Command.DELIVER_SM_RESP


# -- the window -------------------------------------------------------------------------


def test_window_full() -> None:
    pair = SessionPair(esme={"window": 3})
    pair.bind()
    seqs = [pair.send(token=i) for i in range(3)]
    assert pair.esme.window_free == 0
    with pytest.raises(WindowFull):
        pair.send()
    (req,) = of_type(pair.esme_to_smsc(), RequestReceived)[:1]
    assert req.request.sequence_number == seqs[0]
    pair.smsc.respond(req.request, message_id="m0")
    (resp,) = pair.smsc_to_esme()
    assert resp.token == 0
    assert pair.esme.window_free == 1
    pair.send(token=3)
    with pytest.raises(WindowFull):
        pair.send()


def test_send_batch_stops_at_window_full() -> None:
    pair = SessionPair(esme={"window": 2})
    pair.bind()
    pdus = [smppfast.SubmitSm() for _ in range(3)]
    assert pair.esme.send_batch(pdus, 0, ["a", "b", "c"], 0) == 2
    assert pair.esme.in_flight == 2
    assert types(pair.esme_to_smsc()) == [RequestReceived, RequestReceived]
    with pytest.raises(WindowFull):
        pair.esme.send(pdus[2], 0, "c")


def test_send_batch_raises_after_sending_what_came_before_a_bad_pdu() -> None:
    pair = SessionPair(esme={"window": 10})
    pair.bind()
    pdus = [smppfast.SubmitSm(), smppfast.SubmitSm(destination_addr="x" * 30), smppfast.SubmitSm()]
    with pytest.raises(PduError) as info:
        pair.esme.send_batch(pdus, 0, ["a", "b", "c"], 0)
    assert info.value.field == "destination_addr"
    assert pair.esme.in_flight == 1
    # The bad PDU left nothing half-written behind: the SMSC sees exactly one whole submit.
    (event,) = pair.esme_to_smsc()
    assert isinstance(event, RequestReceived) and event.request.command_id == Command.SUBMIT_SM


def test_responses_matched_in_any_order() -> None:
    pair = SessionPair(esme={"window": 10})
    pair.bind()
    for i in range(6):
        pair.send(token=f"t{i}")
    requests = [e.request for e in pair.esme_to_smsc()]
    order = [3, 0, 5, 1, 4, 2]
    for i in order:
        pair.smsc.respond(requests[i], message_id=f"id{i}")
    events = pair.smsc_to_esme()
    assert [(e.token, e.response.message_id) for e in events] == [(f"t{i}", f"id{i}") for i in order]
    assert [e.request.sequence_number for e in events] == [requests[i].sequence_number for i in order]
    assert pair.esme.in_flight == 0


def test_response_for_unknown_sequence_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    pair = SessionPair()
    pair.bind()
    seq = pair.send(token="x")
    with caplog.at_level(logging.WARNING, logger="smppfast.session"):
        events = pair.esme.receive_data(smppfast.encode(smppfast.SubmitSmResp(sequence_number=seq + 100, message_id="?")), 0)
    assert events == []
    assert "unknown sequence number" in caplog.text
    assert pair.esme.is_bound and pair.esme.in_flight == 1


def test_generic_nack_matched_to_request() -> None:
    pair = SessionPair()
    pair.bind()
    seq = pair.send(token="t")
    pair.esme.data_to_send()
    (event,) = pair.esme.receive_data(raw_pdu(Command.GENERIC_NACK, seq, status=Status.ESME_RSYSERR), 0)
    assert isinstance(event, ResponseReceived) and event.token == "t"
    assert event.response.command_id == Command.GENERIC_NACK
    assert event.response.command_status == Status.ESME_RSYSERR
    assert pair.esme.in_flight == 0


def test_generic_nack_unmatched_reported() -> None:
    pair = SessionPair()
    pair.bind()
    (event,) = pair.esme.receive_data(raw_pdu(Command.GENERIC_NACK, 0, status=Status.ESME_RINVCMDLEN), 0)
    assert isinstance(event, GenericNackReceived)
    assert event.pdu.command_status == Status.ESME_RINVCMDLEN
    assert pair.esme.is_bound


# -- timers -----------------------------------------------------------------------------


def test_response_timeout_in_order_and_late_response_dropped() -> None:
    pair = SessionPair(esme={"response_timeout": 10})
    pair.bind()
    for t in (0, 1, 2):
        pair.now = t
        pair.send(token=t)
    requests = [e.request for e in pair.esme_to_smsc()]
    assert pair.esme.next_deadline() == 10
    assert pair.esme.handle_deadline(9.5) == []
    events = pair.esme.handle_deadline(11)
    assert events == [RequestTimedOut(requests[0], 0), RequestTimedOut(requests[1], 1)]
    assert pair.esme.next_deadline() == 12 and pair.esme.in_flight == 1
    # The late response for a timed-out request is dropped, the live one still matches.
    pair.smsc.respond(requests[0], message_id="late")
    pair.smsc.respond(requests[2], message_id="ok")
    (event,) = pair.smsc_to_esme()
    assert event.token == 2 and pair.esme.in_flight == 0


def test_enquire_link_after_silence_and_answered() -> None:
    pair = SessionPair(esme={"enquire_link_interval": 30, "response_timeout": 10})
    pair.bind()
    assert pair.esme.next_deadline() == 30
    pair.now = 20
    pair.smsc.send(smppfast.DeliverSm(), 20)  # traffic pushes the timer back
    pair.esme.respond(pair.smsc_to_esme()[0].request)
    pair.esme_to_smsc()
    assert pair.esme.next_deadline() == 50
    assert pair.tick(49) == ([], [])
    assert pair.tick(50) == ([], [])
    (enquire,) = decode_all(pair.esme.data_to_send())
    assert enquire.command_id == Command.ENQUIRE_LINK
    assert pair.esme.next_deadline() == 60  # its response deadline
    # The SMSC session answers enquire_link by itself: no event on either side.
    assert pair.smsc.receive_data(smppfast.encode(enquire), 50) == []
    assert pair.smsc_to_esme() == []
    assert pair.esme.next_deadline() == 80
    assert pair.esme.is_bound


def test_enquire_link_unanswered_closes_and_fails_in_flight() -> None:
    pair = SessionPair(esme={"enquire_link_interval": 30, "response_timeout": 10})
    pair.bind()
    pair.tick(30)
    pair.esme.data_to_send()  # the enquire_link vanishes
    pair.now = 31
    pair.send(token="a")
    pair.send(token="b")
    assert pair.esme.next_deadline() == 40
    events, _ = pair.tick(40)
    assert types(events) == [RequestFailed, RequestFailed, Closed]
    assert [e.token for e in events[:2]] == ["a", "b"]
    assert all(isinstance(e.error, ConnectionClosedError) and e.error.maybe_accepted for e in events[:2])
    assert isinstance(events[2].error, SmppTimeoutError)
    assert pair.esme.state is SessionState.CLOSED


def test_inactivity_unbinds() -> None:
    pair = SessionPair(esme={"inactivity_timeout": 60})
    pair.bind()
    pair.now = 50
    pair.send()
    (req,) = pair.esme_to_smsc()  # a submit counts as a message
    pair.smsc.respond(req.request, message_id="m")
    pair.smsc_to_esme()
    assert pair.esme.next_deadline() == 110
    assert pair.tick(109) == ([], [])
    assert pair.tick(110) == ([], [])
    assert pair.esme.state is SessionState.UNBINDING
    esme_events, smsc_events = pair.pump()
    assert smsc_events == [Unbound(by_peer=True), Closed("unbound by peer", None)]
    assert types(esme_events) == [Unbound, Closed]
    assert esme_events[1].error is None


def test_inactivity_counts_from_bind_not_from_session_creation() -> None:
    pair = SessionPair(esme={"inactivity_timeout": 60})
    pair.now = 100  # connected at 0, bound only at 100
    pair.bind()
    assert pair.esme.next_deadline() == 160
    assert pair.tick(100) == ([], [])
    assert pair.esme.is_bound


def test_smsc_inactivity_counts_from_bind() -> None:
    pair = SessionPair(smsc={"inactivity_timeout": 60})
    pair.now = 100
    pair.bind()
    assert pair.smsc.next_deadline() == 160
    assert pair.smsc.handle_deadline(100) == [] and pair.smsc.is_bound


def test_timers_off_means_no_deadline() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send()
    assert pair.esme.next_deadline() is None


# -- sequence numbers -------------------------------------------------------------------


def test_sequence_generator_wraps_to_one() -> None:
    gen = SequenceGenerator(0x7FFFFFFE)
    assert [gen(), gen(), gen()] == [0x7FFFFFFE, 0x7FFFFFFF, 1]
    with pytest.raises(ValueError):
        SequenceGenerator(0)
    with pytest.raises(ValueError):
        SequenceGenerator(0x80000000)


def test_session_sequence_wraps() -> None:
    pair = SessionPair(esme={"sequence": SequenceGenerator(0x7FFFFFFE)})
    pair.bind()  # takes 0x7FFFFFFE
    assert [pair.send(), pair.send(), pair.send()] == [0x7FFFFFFF, 1, 2]


def test_wrapped_sequence_skips_numbers_in_flight() -> None:
    pair = SessionPair(esme={"sequence": itertools.cycle([1, 2, 3]).__next__})
    pair.bind()  # takes 1, free again once bound
    assert [pair.send(token="a"), pair.send(token="b"), pair.send(token="c")] == [2, 3, 1]
    requests = [e.request for e in pair.esme_to_smsc()]
    pair.smsc.respond(requests[1])  # seq 3 is free again
    pair.smsc_to_esme()
    assert pair.send(token="d") == 3  # 2 is still in flight, skipped


def test_pluggable_sequence_generator() -> None:
    pair = SessionPair(esme={"sequence": itertools.count(1000).__next__})
    pair.bind()
    assert pair.send() == 1001


# -- unbind and connection loss ---------------------------------------------------------


def test_unbind_by_esme() -> None:
    pair = SessionPair()
    pair.bind()
    assert pair.esme.unbind(0) == []
    assert pair.esme.state is SessionState.UNBINDING
    with pytest.raises(LocalProtocolError):
        pair.send()
    esme_events, smsc_events = pair.pump()
    assert smsc_events == [Unbound(by_peer=True), Closed("unbound by peer", None)]
    assert esme_events == [Unbound(by_peer=False), Closed("unbound", None)]
    assert pair.esme.state is pair.smsc.state is SessionState.CLOSED
    assert pair.esme.unbind(0) == []  # idempotent


def test_unbind_by_smsc() -> None:
    pair = SessionPair()
    pair.bind()
    pair.smsc.unbind(0)
    esme_events, smsc_events = pair.pump()
    assert esme_events == [Unbound(by_peer=True), Closed("unbound by peer", None)]
    assert smsc_events == [Unbound(by_peer=False), Closed("unbound", None)]


def test_unbind_timeout_still_clean() -> None:
    pair = SessionPair(esme={"unbind_timeout": 5})
    pair.bind()
    pair.esme.unbind(0)
    pair.esme.data_to_send()
    events, _ = pair.tick(5)
    assert types(events) == [Unbound, Closed] and events[1].error is None


def test_unbind_before_bind_closes_at_once() -> None:
    session = Session("esme")
    (closed,) = session.unbind(0)
    assert isinstance(closed, Closed) and session.state is SessionState.CLOSED


def test_connection_lost_while_unbinding_is_clean() -> None:
    # smpp34's server (and some real SMSCs) close the socket instead of sending unbind_resp.
    pair = SessionPair()
    pair.bind()
    pair.esme.unbind(0)
    pair.esme.data_to_send()
    events = pair.esme.receive_data(b"", 0)
    assert events == [Unbound(by_peer=False), Closed("connection closed after unbind", None)]


def test_connection_lost_while_bound_fails_every_request() -> None:
    pair = SessionPair()
    pair.bind()
    for i in range(3):
        pair.send(token=i)
    pair.esme.data_to_send()
    events = pair.esme.connection_lost(0)
    assert types(events) == [RequestFailed] * 3 + [Closed]
    assert [e.token for e in events[:3]] == [0, 1, 2]
    for e in events[:3]:
        assert isinstance(e.error, ConnectionClosedError) and e.error.maybe_accepted
    assert isinstance(events[3].error, ConnectionClosedError)
    assert pair.esme.in_flight == 0
    assert pair.esme.connection_lost(0) == []  # once only
    assert pair.esme.receive_data(b"more", 0) == []
    with pytest.raises(LocalProtocolError):
        pair.send()


def test_local_close_fails_in_flight() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(token="x")
    events = pair.esme.close("shutting down")
    assert types(events) == [RequestFailed, Closed]
    with pytest.raises(LocalProtocolError):
        pair.esme.respond(smppfast.DeliverSm())


@pytest.mark.parametrize("seed", range(5))
def test_every_send_ends_exactly_once(seed: int) -> None:
    """Responses, nacks, timeouts and a lost link: each token comes back exactly once."""
    rng = random.Random(seed)
    pair = SessionPair(esme={"window": 50, "response_timeout": 10})
    pair.bind()
    outcomes: list = []
    sent = 0
    for step in range(200):
        pair.now = step * 0.5
        while pair.esme.window_free and rng.random() < 0.7:
            pair.send(token=sent)
            sent += 1
        for event in pair.esme_to_smsc():
            r = rng.random()
            if r < 0.6:
                pair.smsc.respond(event.request, message_id="m")
            elif r < 0.7:
                pair.smsc.respond(event.request, status=Status.ESME_RTHROTTLED)
            elif r < 0.8:
                pair.smsc.queue_bytes(raw_pdu(Command.GENERIC_NACK, event.request.sequence_number, status=8))
            # else: never answered, so it times out
        outcomes += pair.smsc_to_esme()
        outcomes += pair.esme.handle_deadline(pair.now)
    outcomes += pair.esme.connection_lost(pair.now)
    tokens = [e.token for e in outcomes if isinstance(e, (ResponseReceived, RequestTimedOut, RequestFailed))]
    assert sorted(tokens) == list(range(sent))
    assert sent > 100


# -- malformed input --------------------------------------------------------------------


def test_malformed_request_nacked_and_session_continues() -> None:
    pair = SessionPair()
    pair.bind()
    # A submit_sm whose service_type never ends: header readable, body not.
    bad = raw_pdu(Command.SUBMIT_SM, 7, b"ABCDEFGHIJ")
    good = smppfast.encode(smppfast.SubmitSm(sequence_number=8, short_message=b"ok"))
    events = pair.smsc.receive_data(bad + good, 0)
    assert types(events) == [PduRejected, RequestReceived]
    assert isinstance(events[0].error, PduError) and events[0].error.field == "service_type"
    assert events[1].request.sequence_number == 8
    (nack,) = decode_all(pair.smsc.data_to_send())
    assert nack.command_id == Command.GENERIC_NACK and nack.sequence_number == 7
    assert nack.command_status == Status.ESME_RINVSERTYP
    assert pair.smsc.is_bound


def test_malformed_between_good_pdus_keeps_both() -> None:
    pair = SessionPair()
    pair.bind()
    first = smppfast.encode(smppfast.SubmitSm(sequence_number=1))
    bad = raw_pdu(Command.SUBMIT_SM, 2, b"XX")
    last = smppfast.encode(smppfast.SubmitSm(sequence_number=3))
    events = pair.smsc.receive_data(first + bad + last, 0)
    assert sorted(e.request.sequence_number for e in of_type(events, RequestReceived)) == [1, 3]
    assert len(of_type(events, PduRejected)) == 1


def test_unknown_command_id_nacked_invcmdid() -> None:
    pair = SessionPair()
    pair.bind()
    events = pair.esme.receive_data(raw_pdu(0x00000099, 12) + smppfast.encode(smppfast.DeliverSm(sequence_number=13)), 0)
    assert types(events) == [PduRejected, MessageReceived]
    (nack,) = decode_all(pair.esme.data_to_send())
    assert nack.command_id == Command.GENERIC_NACK and nack.sequence_number == 12
    assert nack.command_status == Status.ESME_RINVCMDID


def test_broken_framing_closes_and_fails_in_flight() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(token="t")
    pair.esme.data_to_send()
    events = pair.esme.receive_data(struct.pack(">IIII", 5, 4, 0, 1), 0)
    assert types(events) == [RequestFailed, Closed]
    assert isinstance(events[1].error, RemoteProtocolError)
    assert pair.esme.state is SessionState.CLOSED
    assert pair.esme.data_to_send() == b""  # no nack for a stream that cannot be framed


def test_response_before_broken_framing_still_matched() -> None:
    pair = SessionPair()
    pair.bind()
    seq = pair.send(token="answered")
    pair.send(token="lost")
    pair.esme.data_to_send()
    data = smppfast.encode(smppfast.SubmitSmResp(sequence_number=seq, message_id="m1")) + struct.pack(">I", 3)
    events = pair.esme.receive_data(data, 0)
    assert types(events) == [ResponseReceived, RequestFailed, Closed]
    assert events[0].token == "answered" and events[1].token == "lost"


def test_malformed_response_fails_its_request_without_nack() -> None:
    pair = SessionPair()
    pair.bind()
    seq = pair.send(token="t")
    other = pair.send(token="u")
    pair.esme.data_to_send()
    # A submit_sm_resp whose message_id is not terminated.
    events = pair.esme.receive_data(raw_pdu(Command.SUBMIT_SM_RESP, seq, b"abc"), 0)
    assert types(events) == [RequestFailed, PduRejected]
    assert events[0].token == "t" and isinstance(events[0].error, PduError)
    assert pair.esme.data_to_send() == b""
    assert pair.esme.in_flight == 1 and pair.esme.is_bound
    # The other request is still waiting for its own response.
    (late,) = pair.esme.receive_data(smppfast.encode(smppfast.SubmitSmResp(sequence_number=other, message_id="m")), 0)
    assert isinstance(late, ResponseReceived) and late.token == "u"


def test_malformed_bind_resp_refuses_bind() -> None:
    pair = SessionPair(esme={"bind_timeout": 30})
    bind = pair.esme.bind("transceiver", system_id="a", password="b", now=0)
    pair.esme.data_to_send()
    events = pair.esme.receive_data(raw_pdu(Command.BIND_TRANSCEIVER_RESP, bind.sequence_number, b"no-nul"), 0)
    assert types(events) == [BindRefused, PduRejected]
    assert events[0].status != 0
    assert pair.esme.state is SessionState.OPEN
    assert pair.esme.data_to_send() == b""


# -- output -----------------------------------------------------------------------------


def test_data_to_send_coalesces() -> None:
    pair = SessionPair(esme={"window": 100})
    pair.bind()
    seqs = [pair.send() for _ in range(50)]
    data = pair.esme.data_to_send()
    assert isinstance(data, bytes)
    assert [p.sequence_number for p in decode_all(data)] == seqs
    assert pair.esme.data_to_send() == b""


def test_peer_enquire_link_answered_automatically() -> None:
    pair = SessionPair()
    pair.bind("receiver")
    events = pair.esme.receive_data(smppfast.encode(smppfast.EnquireLink(sequence_number=42)), 0)
    assert events == []
    (resp,) = decode_all(pair.esme.data_to_send())
    assert resp.command_id == Command.ENQUIRE_LINK_RESP and resp.sequence_number == 42
    # Before bind too (SMPP 3.4 allows enquire_link in every state).
    fresh = Session("esme")
    assert fresh.receive_data(smppfast.encode(smppfast.EnquireLink(sequence_number=1)), 0) == []
    assert decode(fresh.data_to_send()).command_id == Command.ENQUIRE_LINK_RESP


def test_bound_states_constant() -> None:
    assert BOUND_STATES == {SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX}


def test_everything_sent_leaves_through_one_ordered_buffer() -> None:
    # Requests, automatic answers, responses and pre-encoded octets queue in one buffer, in
    # the order they were queued; output_size says how much waits.
    pair = SessionPair(esme={"window": 5})
    pair.bind()
    assert pair.esme.output_size == 0 and pair.esme.data_to_send() == b""
    first = pair.send(token="a")
    raw = smppfast.encode(smppfast.EnquireLinkResp(sequence_number=77))
    pair.esme.queue_bytes(raw)
    second = pair.send(token="b")
    size = pair.esme.output_size
    data = pair.esme.data_to_send()
    assert len(data) == size and pair.esme.output_size == 0
    pdus = decode_all(data)
    assert [p.sequence_number for p in pdus] == [first, 77, second]
    assert [p.command_id for p in pdus] == [Command.SUBMIT_SM, Command.ENQUIRE_LINK_RESP, Command.SUBMIT_SM]


def test_a_pdu_that_fails_to_encode_leaves_nothing_in_the_buffer() -> None:
    pair = SessionPair()
    pair.bind()
    pair.send(token="a")
    before = pair.esme.output_size
    with pytest.raises(PduError):
        pair.send(smppfast.SubmitSm(short_message=b"x" * 300), token="b")
    assert pair.esme.output_size == before and pair.esme.in_flight == 1


# -- hostile peers: wrong answers, dripped bytes, silence -----------------------------------


def test_generic_nack_with_status_0_fails_the_request_as_a_protocol_error() -> None:
    pair = SessionPair()
    pair.bind()
    seq = pair.send(token="t")
    pair.esme.data_to_send()
    (event,) = pair.esme.receive_data(raw_pdu(Command.GENERIC_NACK, seq, status=0), 0)
    assert isinstance(event, RequestFailed) and event.token == "t"
    assert isinstance(event.error, RemoteProtocolError) and "generic_nack" in str(event.error)
    assert pair.esme.in_flight == 0


def test_a_response_of_the_wrong_command_fails_the_request_naming_it() -> None:
    pair = SessionPair()
    pair.bind()
    seq = pair.send(token="t")
    pair.esme.data_to_send()
    wrong = smppfast.encode(smppfast.DeliverSmResp(sequence_number=seq))
    (event,) = pair.esme.receive_data(wrong, 0)
    assert isinstance(event, RequestFailed) and event.token == "t"
    assert isinstance(event.error, RemoteProtocolError)
    assert "SubmitSm" in str(event.error) and "DeliverSmResp" in str(event.error)


def test_dripped_octets_of_an_unfinished_pdu_are_not_traffic() -> None:
    pair = SessionPair(esme={"enquire_link_interval": 10, "response_timeout": 5})
    pair.bind()
    pdu = smppfast.encode(smppfast.DeliverSm(sequence_number=9, short_message=b"x" * 100))
    for t in range(1, 10):  # one octet a second never completes the PDU
        pair.esme.receive_data(pdu[t : t + 1], t)
    pair.tick(10)
    (probe,) = decode_all(pair.esme.data_to_send())
    assert probe.command_id == Command.ENQUIRE_LINK
    esme_events, _ = pair.tick(15)
    assert any(isinstance(e, Closed) for e in esme_events) and not pair.esme.is_bound


def test_a_timeout_after_silence_probes_the_link_and_a_dead_link_closes() -> None:
    pair = SessionPair(esme={"response_timeout": 5})  # no enquire_link timer of its own
    pair.bind()
    pair.send(token="t")
    pair.esme.data_to_send()
    esme_events, _ = pair.tick(5)
    assert types(esme_events) == [RequestTimedOut]
    (probe,) = decode_all(pair.esme.data_to_send())
    assert probe.command_id == Command.ENQUIRE_LINK
    esme_events, _ = pair.tick(10)
    (closed,) = of_type(esme_events, Closed)
    assert isinstance(closed.error, SmppTimeoutError) and pair.esme.is_closed


def test_a_timeout_while_the_peer_talks_sends_no_probe() -> None:
    pair = SessionPair(esme={"response_timeout": 5})
    pair.bind()
    pair.send(token="t")
    pair.esme.data_to_send()
    pair.now = 3
    pair.esme.receive_data(smppfast.encode(smppfast.EnquireLink(sequence_number=50)), 3)
    pair.esme.data_to_send()  # its enquire_link_resp
    esme_events, _ = pair.tick(5)
    assert types(esme_events) == [RequestTimedOut]
    assert pair.esme.data_to_send() == b""


def test_stray_responses_are_logged_once_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    pair = SessionPair()
    pair.bind()
    stray = b"".join(smppfast.encode(smppfast.SubmitSmResp(sequence_number=1000 + i, message_id="x")) for i in range(500))
    with caplog.at_level(logging.WARNING, logger="smppfast.session"):
        pair.esme.receive_data(stray, 0)
        pair.esme.receive_data(stray[:100], 11)
    lines = [r.getMessage() for r in caplog.records if "unknown sequence number" in r.getMessage()]
    assert len(lines) == 2
    assert "499 more" in lines[1]


def test_queue_bytes_takes_only_contiguous_octets() -> None:
    pair = SessionPair()
    with pytest.raises((ValueError, BufferError, TypeError)):
        pair.esme.queue_bytes(memoryview(b"0123456789abcdef")[::2])  # type: ignore[arg-type]
    assert pair.esme.output_size == 0


def test_receive_pdus_refuses_what_is_not_a_pdu() -> None:
    pair = SessionPair()
    pair.bind()
    with pytest.raises(TypeError):
        pair.esme.receive_pdus([b"not a pdu"], 0)  # type: ignore[list-item]


def test_a_request_that_fails_to_encode_keeps_its_sequence_number() -> None:
    pair = SessionPair()
    pair.bind()
    bad = smppfast.SubmitSm(sequence_number=42, short_message=b"x" * 300)
    with pytest.raises(PduError):
        pair.send(bad)
    assert bad.sequence_number == 42


def test_every_pdu_in_and_out_is_one_debug_line_without_the_password(caplog: pytest.LogCaptureFixture) -> None:
    pair = SessionPair()
    pair.esme.label = "smsc-a "
    with caplog.at_level(logging.DEBUG, logger="smppfast.pdu"):
        pair.bind(password="hunter2")
        pair.send(smppfast.SubmitSm(source_addr="me", destination_addr="447700900123", short_message=b"hi"))
        (request,) = pair.esme_to_smsc()
        pair.smsc.respond(request.request, message_id="m1")
        pair.smsc_to_esme()
    lines = [r.getMessage() for r in caplog.records if r.name == "smppfast.pdu"]
    esme = [line for line in lines if line.startswith("smsc-a ")]
    assert [line.split()[1:3] for line in esme] == [
        ["->", "BindTransceiver"], ["<-", "BindTransceiverResp"], ["->", "SubmitSm"], ["<-", "SubmitSmResp"],
    ]
    assert "destination_addr='447700900123'" in esme[2] and "sm=2B" in esme[2] and "status=ESME_ROK" in esme[3]
    assert not any("hunter2" in line for line in lines)


def test_pdu_lines_cost_nothing_when_debug_is_off(caplog: pytest.LogCaptureFixture) -> None:
    pair = SessionPair()
    with caplog.at_level(logging.INFO, logger="smppfast.pdu"):
        pair.bind()
        pair.pump()
    assert pair.esme._trace_out is None  # no outbound decoder was even made
    assert not [r for r in caplog.records if r.name == "smppfast.pdu"]
