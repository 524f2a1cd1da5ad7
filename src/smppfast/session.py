"""The SMPP session as a sans-IO state machine: bytes and the time in, events and bytes out.

Theory of operation
-------------------
A :class:`Session` owns everything SMPP says about a connection and nothing about how
bytes travel. Its driver (``client.py`` for an ESME, ``simulator.py`` for an SMSC) does
four things in a loop:

* ``receive_data(data, now)`` with what the socket read, acting on the returned events;
* ``send(pdu, now, token)`` / ``respond(request, ...)`` to queue PDUs;
* ``data_to_send()`` to take the bytes to write (automatic answers included);
* ``handle_deadline(now)`` once ``now`` reaches ``next_deadline()``.

A driver that already holds decoded PDUs (the simulator frames its input itself) hands
them in with ``receive_pdus``; every byte that leaves goes through ``data_to_send``.

It reads no socket, thread or clock, so every rule below is tested with an integer clock.

States follow SMPP 3.4 section 2.2: OPEN (connected, not bound), BINDING (our bind is in
flight), BOUND_TX / BOUND_RX / BOUND_TRX, UNBINDING (our unbind is in flight), CLOSED.
Which requests each side may send in each bound state is one table, ``SENDABLE``, read for
both roles: what the ESME may send is what the SMSC may receive, and the other way round.

The window (``_window.pyx``) is a dict of sequence number -> (request, token, sent_at).
Every request gets the same response timeout, so insertion order is deadline order and the
first entry is the next to expire. Tokens are the driver's (its futures): the session hands
them back in events and never looks inside. A request is registered before its bytes are queued, so a fast response can
never arrive for an unknown request. A response for an unknown sequence number is logged and
dropped. enquire_link, bind and unbind are tracked outside the window, so keep-alive works
even when the user's window is full.

Timers (all in seconds; ``None`` turns one off):

* response_timeout: a request unanswered in time leaves the window as ``RequestTimedOut``;
* enquire_link_interval: after that long without any PDU either way an enquire_link goes
  out; if it stays unanswered for response_timeout the link is dead and the session closes;
* inactivity_timeout: after that long without a message (submit/deliver/data/...) either
  way the session unbinds.

Inbound messages (ESME role): a deliver_sm or data_sm comes out as ``ReceiptReceived``
(a delivery receipt, parsed), ``MessageReceived`` (a whole message, multipart ones
reassembled) or, for a receipt that cannot be read, ``ReceiptMalformed``. The driver
answers the first two with ``respond`` once its application has seen them; the session
answers the parts it keeps for reassembly itself. Reassembly's timeouts run on ``now``
like every other timer; a message that leaves it unfinished comes out as
``MessageIncomplete``.

Errors: a malformed inbound PDU whose header was readable is answered with generic_nack and
reported as ``PduRejected``; one that breaks framing closes the session. Any close fails
every request still in flight with ``RequestFailed``, so no request is ever lost silently.
Errors raised by ``send`` are local (``LocalProtocolError``, ``WindowFull``).
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any, Callable, Optional, Union

from . import _codec
from ._codec import Decoder, Pdu
from .constants import INTERFACE_VERSION, Command, Status, format_status
from ._window import RequestWindow
from .errors import (
    ConnectionClosedError,
    LocalProtocolError,
    PduError,
    RemoteProtocolError,
    SmppTimeoutError,
)
from .events import (
    AlertReceived,
    MessageIncomplete,
    MessageReceived,
    ReceiptMalformed,
    ReceiptReceived,
    BindRefused,
    BindRequested,
    Bound,
    Closed,
    AnyEvent,
    GenericNackReceived,
    OutbindReceived,
    PduRejected,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Unbound,
)
from ._pdulog import PDU_LOG, OutboundTrace, log_in
from ._ratelimit import LogLimiter
from .reassembly import Reassembler
from .receipt import ReceiptError, receipt_from_pdu

__all__ = ["Session", "SessionState", "Role", "SENDABLE", "SequenceGenerator", "BIND_TYPES"]

log = logging.getLogger("smppfast.session")


class Role(Enum):
    ESME = "esme"
    SMSC = "smsc"


class SessionState(Enum):
    OPEN = "open"
    BINDING = "binding"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"


OPEN, BINDING, BOUND_TX, BOUND_RX, BOUND_TRX, UNBINDING, CLOSED = SessionState
BOUND_STATES = frozenset({BOUND_TX, BOUND_RX, BOUND_TRX})

BIND_TYPES: dict[str, tuple[type[Pdu], SessionState]] = {
    "transmitter": (_codec.BindTransmitter, BOUND_TX),
    "receiver": (_codec.BindReceiver, BOUND_RX),
    "transceiver": (_codec.BindTransceiver, BOUND_TRX),
}
_BIND_STATE_BY_COMMAND = {cls.command_id: state for cls, state in BIND_TYPES.values()}
_BIND_TYPE_BY_STATE = {state: name for name, (_, state) in BIND_TYPES.items()}

C = Command
_ESME_SUBMITS = frozenset(
    {C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.QUERY_SM, C.CANCEL_SM, C.REPLACE_SM}
)
_SMSC_DELIVERS = frozenset({C.DELIVER_SM, C.DATA_SM, C.ALERT_NOTIFICATION})
_KEEPALIVE = frozenset({C.ENQUIRE_LINK, C.UNBIND})

#: The requests each role may send in each state (SMPP 3.4 section 2.3). The peer's
#: inbound rules are the same table read for the other role.
SENDABLE: dict[Role, dict[SessionState, frozenset[int]]] = {
    Role.ESME: {
        OPEN: frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER, C.ENQUIRE_LINK}),
        BINDING: frozenset({C.ENQUIRE_LINK}),
        BOUND_TX: _ESME_SUBMITS | _KEEPALIVE,
        BOUND_RX: _KEEPALIVE,
        BOUND_TRX: _ESME_SUBMITS | _KEEPALIVE,
        UNBINDING: frozenset({C.ENQUIRE_LINK}),
        CLOSED: frozenset(),
    },
    Role.SMSC: {
        OPEN: frozenset({C.OUTBIND, C.ENQUIRE_LINK}),
        BINDING: frozenset({C.ENQUIRE_LINK}),
        BOUND_TX: _KEEPALIVE,
        BOUND_RX: _SMSC_DELIVERS | _KEEPALIVE,
        BOUND_TRX: _SMSC_DELIVERS | _KEEPALIVE,
        UNBINDING: frozenset({C.ENQUIRE_LINK}),
        CLOSED: frozenset(),
    },
}

# Requests that count as traffic for the inactivity timer.
_MESSAGES = _ESME_SUBMITS | _SMSC_DELIVERS

_RESPONSE_BIT = 0x80000000
_MAX_SEQUENCE = 0x7FFFFFFF
# Plain ints for the hot paths: comparing with IntEnum members costs a Python-level hash.
_GENERIC_NACK = int(C.GENERIC_NACK)
_ENQUIRE_LINK = int(C.ENQUIRE_LINK)
_UNBIND = int(C.UNBIND)
_OUTBIND = int(C.OUTBIND)
_ALERT_NOTIFICATION = int(C.ALERT_NOTIFICATION)
_INBOUND_MESSAGES = frozenset({int(C.DELIVER_SM), int(C.DATA_SM)})
_SELF_SENT = frozenset({_ENQUIRE_LINK, _UNBIND})
_MESSAGE_IDS = frozenset(int(c) for c in _MESSAGES)
_PLAIN_SENDABLE = {
    role: {state: frozenset(int(c) for c in ids) for state, ids in table.items()}
    for role, table in SENDABLE.items()
}


class SequenceGenerator:
    """Sequence numbers 1..0x7FFFFFFF, then wrapping to 1 (SMPP 3.4 section 3.2)."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 1) -> None:
        if not 1 <= start <= _MAX_SEQUENCE:
            raise ValueError("sequence numbers run from 1 to 0x7FFFFFFF")
        self._next = start

    def __call__(self) -> int:
        seq = self._next
        self._next = 1 if seq >= _MAX_SEQUENCE else seq + 1
        return seq


_Deadline = Optional[float]


class Session:
    """One SMPP connection's protocol state, for either role. See the module docstring."""

    def __init__(
        self,
        role: Union[Role, str] = Role.ESME,
        *,
        window: int = 10,
        response_timeout: Optional[float] = 30.0,
        enquire_link_interval: Optional[float] = 30.0,
        inactivity_timeout: Optional[float] = None,
        bind_timeout: Optional[float] = 30.0,
        unbind_timeout: Optional[float] = 5.0,
        max_pdu_size: int = _codec.DEFAULT_MAX_PDU_SIZE,
        sequence: Optional[Callable[[], int]] = None,
        reassembler: Optional[Reassembler] = None,
        now: float = 0.0,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.role = Role(role)
        # Numbering, encoding, registering, response matching and the outgoing buffer run
        # in the compiled window; which requests a state allows is decided here
        # (set_allowed on each transition).
        self._window = RequestWindow(
            window, response_timeout, sequence,
            refuse=self._refuse_send, message_ids=_MESSAGE_IDS, now=now,
        )
        # The throughput path, bound once: a Python method in between would add a call per submit.
        self.send = self._window.send_request
        self.send_batch = self._window.send_batch
        #: Collects inbound multipart messages (ESME role). A driver that reconnects passes
        #: the same one to each new session, so parts that straddle a reconnect still meet.
        self.reassembler = reassembler if reassembler is not None else Reassembler()
        self.enquire_link_interval = enquire_link_interval
        self.inactivity_timeout = inactivity_timeout
        self.bind_timeout = bind_timeout
        self.unbind_timeout = unbind_timeout
        self._sendable = _PLAIN_SENDABLE[self.role]
        self._receivable = _PLAIN_SENDABLE[Role.SMSC if self.role is Role.ESME else Role.ESME]
        self.state = OPEN
        self.bind_type: Optional[str] = None
        self.peer_system_id: Optional[str] = None
        self._decoder = Decoder(max_pdu_size)
        # When the peer last sent a whole PDU (raw octets prove nothing: a peer can drip a
        # PDU that never ends). _last_traffic also counts what we send.
        self._last_received = now
        self._warn = LogLimiter(log)
        self._trace_out: Optional[OutboundTrace] = None  # made when smppfast.pdu logs at DEBUG
        #: Put before each line of the ``smppfast.pdu`` log: a driver names the peer here.
        self.label = ""
        self._in_flight: dict[int, tuple[Pdu, Any, float]] = self._window.entries
        # Control requests (bind, enquire_link, unbind) kept apart from the user's window.
        self._control: dict[int, tuple[Pdu, _Deadline]] = self._window.control

    #: Queue a request in the window and return its sequence number: ``send(pdu, now, token=None)``.
    #: Raises ``WindowFull`` when the window is full and ``LocalProtocolError`` when the state
    #: does not allow this request; ``token`` comes back in the request's outcome event.
    send: Callable[..., int]
    #: ``send_batch(pdus, start, tokens, now)``: ``send(pdus[start + j], now, tokens[j])`` for
    #: each token, stopping early when the window is full; returns how many went.
    send_batch: Callable[[list[Pdu], int, list[Any], float], int]

    # The timestamps live in the compiled window, which updates them on every send.
    @property
    def _last_traffic(self) -> float:
        return self._window.last_traffic

    @_last_traffic.setter
    def _last_traffic(self, now: float) -> None:
        self._window.last_traffic = now

    @property
    def _last_message(self) -> float:
        return self._window.last_message

    @_last_message.setter
    def _last_message(self, now: float) -> None:
        self._window.last_message = now

    @property
    def window(self) -> int:
        """Requests allowed in flight at once (the compiled window's limit)."""
        return self._window.limit

    @window.setter
    def window(self, size: int) -> None:
        if size < 1:
            raise ValueError("window must be at least 1")
        self._window.limit = size

    @property
    def response_timeout(self) -> Optional[float]:
        return self._window.timeout

    @response_timeout.setter
    def response_timeout(self, value: Optional[float]) -> None:
        self._window.timeout = value

    @property
    def state(self) -> SessionState:
        return self._state

    @state.setter
    def state(self, state: SessionState) -> None:
        # The allowed sets are looked up once per transition, not once per PDU.
        self._state = state
        self._can_send = self._sendable[state]
        self._window.set_allowed(self._can_send - _SELF_SENT)
        self._can_receive = self._receivable[state]
        self.is_bound = state in BOUND_STATES

    # -- introspection -------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Requests in the window awaiting their response."""
        return len(self._in_flight)

    @property
    def window_free(self) -> int:
        """Requests that may still be sent before the window is full."""
        return self._window.limit - len(self._in_flight)

    @property
    def is_closed(self) -> bool:
        return self._state is CLOSED

    @property
    def output_size(self) -> int:
        """Octets queued for the peer that ``data_to_send`` has not taken yet."""
        return self._window.output_size

    #: True while bound (any bind type); a plain attribute kept by the state setter.
    is_bound: bool = False

    # -- sending ------------------------------------------------------------------

    def bind(
        self,
        bind_type: str,
        *,
        system_id: str,
        password: str,
        system_type: str = "",
        addr_ton: int = 0,
        addr_npi: int = 0,
        address_range: str = "",
        now: float,
    ) -> Pdu:
        """Queue a bind request of ``bind_type`` ("transmitter", "receiver", "transceiver")."""
        if self.role is not Role.ESME:
            raise LocalProtocolError("only an ESME binds")
        if self.state is not OPEN:
            raise LocalProtocolError(f"cannot bind in state {self.state.name}")
        try:
            cls, _ = BIND_TYPES[bind_type]
        except KeyError:
            raise ValueError(f"bind_type must be one of {sorted(BIND_TYPES)}, not {bind_type!r}") from None
        pdu = cls(
            system_id=system_id,
            password=password,
            system_type=system_type,
            interface_version=INTERFACE_VERSION,
            addr_ton=addr_ton,
            addr_npi=addr_npi,
            address_range=address_range,
        )
        self._send_control(pdu, now, self.bind_timeout)
        self.state = BINDING
        return pdu

    def unbind(self, now: float) -> list[AnyEvent]:
        """Start a clean unbind; ``Unbound`` and ``Closed`` follow the unbind_resp (or its timeout).

        Not bound yet, there is nothing to unbind: the session closes at once (events returned).
        """
        events: list[AnyEvent] = []
        if self.state is UNBINDING or self.state is CLOSED:
            return events
        if self.state not in BOUND_STATES:
            self._close("closed before bind", None, events)
            return events
        self._send_control(_codec.Unbind(), now, self.unbind_timeout)
        self.state = UNBINDING
        return events

    def _refuse_send(self, pdu: Pdu) -> None:
        cid = pdu.command_id
        if cid in _SELF_SENT:
            raise LocalProtocolError("enquire_link and unbind are sent by the session itself")
        raise LocalProtocolError(
            f"{type(pdu).__name__} may not be sent by the {self.role.value} in state {self.state.name}"
        )

    def respond(self, request: Pdu, response: Optional[Pdu] = None, *, status: int = 0, **fields: Any) -> Pdu:
        """Queue the response to an inbound ``request`` (built from ``fields`` unless given)."""
        if self.state is CLOSED:
            raise LocalProtocolError("the session is closed")
        if response is None:
            response = request.response(**fields)
        response.sequence_number = request.sequence_number
        if status:
            response.command_status = status
        self._window.queue(response)
        return response

    def accept_bind(self, request: Pdu, *, system_id: str = "smppfast") -> None:
        """SMSC role: accept a bind request seen in ``BindRequested``."""
        if self.role is not Role.SMSC or self.state is not OPEN:
            raise LocalProtocolError(f"cannot accept a bind in state {self.state.name}")
        state = _BIND_STATE_BY_COMMAND[request.command_id]
        self.respond(request, system_id=system_id)
        self.state = state
        # Inactivity counts from the bind (the bind arrived with the latest received data).
        self._last_message = self._last_traffic
        self.bind_type = _BIND_TYPE_BY_STATE[state]
        self.peer_system_id = request.system_id  # type: ignore[attr-defined]

    def refuse_bind(self, request: Pdu, status: int = Status.ESME_RBINDFAIL) -> None:
        """SMSC role: refuse a bind request with ``status`` (the session stays OPEN)."""
        self.respond(request, status=status)

    def queue_bytes(self, data: bytes) -> None:
        """Queue octets that are already encoded, after everything queued so far (a peer
        that builds its own answers, or a test's deliberately broken PDU)."""
        self._window.queue_bytes(data)

    def data_to_send(self) -> bytes:
        """Take every byte queued so far (requests, responses, automatic answers)."""
        data = self._window.take_output()
        if data and PDU_LOG.isEnabledFor(logging.DEBUG):
            if self._trace_out is None:
                self._trace_out = OutboundTrace()
            self._trace_out.log(data, self.label)
        return data

    # -- receiving ----------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[AnyEvent]:
        """Feed octets read from the peer; return the events they produce.

        ``b""`` means the peer closed the connection.
        """
        events: list[AnyEvent] = []
        if self.state is CLOSED:
            return events
        if not data:
            self.connection_lost(now, events)
            return events
        framing_error: Optional[PduError] = None
        try:
            pdus = self._decoder.feed(data)
        except PduError as err:
            pdus = []
            # PDUs before the bad one, and what followed it, are still good: the decoder
            # hands them out on the next feed(), even after framing broke.
            while True:
                if err.recoverable:
                    self._reject(err, now, events)
                else:
                    framing_error = err
                try:
                    pdus.extend(self._decoder.feed(b""))
                    break
                except PduError as again:
                    if framing_error is not None:
                        break
                    err = again
        self._receive(pdus, now, events)
        if framing_error is not None:
            # Close only after the whole PDUs that came first: a response that arrived
            # intact is matched, not failed as "maybe accepted".
            self._reject(framing_error, now, events)
        return events

    def receive_pdus(self, pdus: list[Pdu], now: float) -> list[AnyEvent]:
        """``receive_data`` for PDUs the driver already decoded (in the order they arrived)."""
        events: list[AnyEvent] = []
        if self._state is CLOSED or not pdus:
            return events
        self._receive(pdus, now, events)
        return events

    def _receive(self, pdus: list[Pdu], now: float, events: list[AnyEvent]) -> None:
        if pdus:
            self._last_traffic = self._last_received = now
            if PDU_LOG.isEnabledFor(logging.DEBUG):
                log_in(pdus, self.label)
        # The throughput path: responses matched to their requests in one compiled loop,
        # up to the first PDU that needs the rules below.
        start = self._window.match(pdus, events, now) if pdus else 0
        for i in range(start, len(pdus)):
            if self._state is CLOSED:
                break
            self._dispatch(pdus[i], now, events)

    def connection_lost(self, now: float, events: Optional[list[AnyEvent]] = None) -> list[AnyEvent]:
        """Tell the session the transport is gone; fails every request in flight."""
        if events is None:
            events = []
        if self.state is UNBINDING:
            # Some SMSCs close the socket instead of sending unbind_resp: that is a clean unbind.
            events.append(Unbound(by_peer=False))
            self._close("connection closed after unbind", None, events)
        elif self.state is not CLOSED:
            self._close("connection lost", ConnectionClosedError("the peer closed the connection"), events)
        return events

    def close(self, reason: str = "closed locally") -> list[AnyEvent]:
        """Close at once (no unbind): every request in flight fails."""
        events: list[AnyEvent] = []
        self._close(reason, ConnectionClosedError(reason), events)
        return events

    def _dispatch(self, pdu: Pdu, now: float, events: list[AnyEvent]) -> None:
        cid = pdu.command_id
        if cid & _RESPONSE_BIT:
            self._on_response(pdu, now, events)
            return
        if cid in _MESSAGE_IDS:
            self._last_message = now
        if cid == _ENQUIRE_LINK:
            self.respond(pdu)
            return
        if cid == _UNBIND:
            self._on_unbind(pdu, events)
            return
        if self.role is Role.SMSC and cid in _BIND_STATE_BY_COMMAND:
            if self.state is OPEN:
                events.append(BindRequested(pdu))
            else:
                self.respond(pdu, status=Status.ESME_RALYBND)
            return
        if cid not in self._can_receive:
            # While unbinding this is routine (the SMSC had it in flight): no warning per PDU.
            level = logging.DEBUG if self._state is UNBINDING else logging.WARNING
            log.log(level, "%s not allowed in state %s; answered ESME_RINVBNDSTS", type(pdu).__name__, self.state.name)
            self._refuse_request(pdu, Status.ESME_RINVBNDSTS)
            return
        if cid == _OUTBIND:
            events.append(OutbindReceived(pdu))
        elif cid == _ALERT_NOTIFICATION:
            events.append(AlertReceived(pdu))
        elif cid in _INBOUND_MESSAGES and self.role is Role.ESME:
            self._on_inbound_message(pdu, now, events)
        else:
            events.append(RequestReceived(pdu))

    def _on_inbound_message(self, pdu: Pdu, now: float, events: list[AnyEvent]) -> None:
        """A deliver_sm / data_sm to the ESME: a receipt, or (part of) a message."""
        try:
            receipt = receipt_from_pdu(pdu)
        except ReceiptError as err:
            log.warning("malformed delivery receipt (seq %d): %s", pdu.sequence_number, err)
            self.respond(pdu)
            events.append(ReceiptMalformed(pdu, err))
            return
        if receipt is not None:
            events.append(ReceiptReceived(pdu, receipt))
            return
        message = self.reassembler.feed(pdu, now)
        if message is not None:
            events.append(MessageReceived(pdu, message))
        else:
            self.respond(pdu)  # a part kept for later, or a duplicate: received
        for lost in self.reassembler.pop_evicted():
            events.append(MessageIncomplete(lost))

    def _refuse_request(self, pdu: Pdu, status: int) -> None:
        if pdu.has_response:
            self.respond(pdu, status=status)
        else:  # outbind, alert_notification: a generic_nack is all that can say no
            self._window.queue(_codec.GenericNack(sequence_number=pdu.sequence_number, command_status=status))

    def _on_response(self, pdu: Pdu, now: float, events: list[AnyEvent]) -> None:
        seq = pdu.sequence_number
        entry = self._in_flight.pop(seq, None)
        if entry is not None:
            request, token, sent_at = entry
            cid = pdu.command_id
            name = type(request).__name__
            if cid == _GENERIC_NACK and pdu.command_status == 0:
                # A nack says the request was refused; one that names no error is no success.
                error = RemoteProtocolError(f"{name} seq {seq} was answered with generic_nack and command_status 0")
                events.append(RequestFailed(request, token, error))
            elif cid != _GENERIC_NACK and cid != (request.command_id | _RESPONSE_BIT):
                error = RemoteProtocolError(f"{name} seq {seq} was answered with {type(pdu).__name__}")
                self._warn.log(logging.WARNING, "mismatch", now, "%s", error)
                events.append(RequestFailed(request, token, error))
            else:
                events.append(ResponseReceived(request, pdu, token, sent_at))
            return
        control = self._control.pop(seq, None)
        if control is not None:
            self._on_control_response(control[0], pdu, now, events)
            return
        if pdu.command_id == _GENERIC_NACK:
            self._warn.log(logging.WARNING, "nack", now, "generic_nack for no request in flight: %s (seq %d)",
                           format_status(int(pdu.command_status)), seq)
            events.append(GenericNackReceived(pdu))
            return
        self._warn.log(logging.WARNING, "stray", now, "dropped %s for unknown sequence number %d", type(pdu).__name__, seq)

    def _on_control_response(self, request: Pdu, response: Pdu, now: float, events: list[AnyEvent]) -> None:
        cid = request.command_id
        status = int(response.command_status)
        if cid in _BIND_STATE_BY_COMMAND:
            if status == 0 and response.command_id != _GENERIC_NACK:
                self.state = _BIND_STATE_BY_COMMAND[cid]
                # Inactivity counts from the bind: time spent connecting is not idleness.
                self._last_message = now
                self.bind_type = _BIND_TYPE_BY_STATE[self.state]
                self.peer_system_id = getattr(response, "system_id", "")
                events.append(Bound(self.bind_type, self.peer_system_id or "", response))
            else:
                self.state = OPEN
                events.append(BindRefused(status or Status.ESME_RBINDFAIL, response))
        elif cid == C.UNBIND:
            events.append(Unbound(by_peer=False))
            self._close("unbound", None, events)
        # enquire_link_resp needs nothing more: any traffic already proves the link alive.

    def _on_unbind(self, pdu: Pdu, events: list[AnyEvent]) -> None:
        self.respond(pdu)
        events.append(Unbound(by_peer=True))
        self._close("unbound by peer", None, events)

    def _reject(self, err: PduError, now: float, events: list[AnyEvent]) -> None:
        if not err.recoverable:
            log.error("framing lost: %s", err)
            self._close(f"framing lost: {err}", RemoteProtocolError(str(err)), events)
            return
        self._warn.log(logging.WARNING, "malformed", now, "rejected malformed PDU: %s", err)
        self._last_traffic = self._last_received = now  # a whole PDU arrived, if a bad one
        seq = err.sequence_number or 0
        cid = err.command_id or 0
        if cid & _RESPONSE_BIT:
            # Never answer a response: fail the request it was meant for, if we know it.
            entry = self._in_flight.pop(seq, None)
            if entry is not None:
                events.append(RequestFailed(entry[0], entry[1], err))
            else:
                control = self._control.pop(seq, None)
                if control is not None:
                    # An unreadable bind_resp refuses the bind (an unbind_resp still ends the
                    # session) instead of leaving it to time out: treat it as a generic_nack.
                    nack = _codec.GenericNack(sequence_number=seq, command_status=err.status or Status.ESME_RSYSERR)
                    self._on_control_response(control[0], nack, now, events)
        else:
            status = err.status or Status.ESME_RSYSERR
            self._window.queue(_codec.GenericNack(sequence_number=seq, command_status=status))
        events.append(PduRejected(err))

    # -- timers -------------------------------------------------------------------

    def next_deadline(self) -> Optional[float]:
        """The earliest time ``handle_deadline`` has work to do, or None."""
        if self.state is CLOSED:
            return None
        best: Optional[float] = None
        timeout = self._window.timeout
        if timeout is not None:
            for entry in self._in_flight.values():
                best = entry[2] + timeout
                break
        pending = self.reassembler.next_deadline()
        if pending is not None and (best is None or pending < best):
            best = pending
        for _, deadline in self._control.values():
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        if self.enquire_link_interval is not None and not self._enquire_pending():
            t = self._last_traffic + self.enquire_link_interval
            if best is None or t < best:
                best = t
        if self.inactivity_timeout is not None and self.state in BOUND_STATES:
            t = self._last_message + self.inactivity_timeout
            if best is None or t < best:
                best = t
        return best

    def handle_deadline(self, now: float) -> list[AnyEvent]:
        """Fire every timer due at ``now``."""
        events: list[AnyEvent] = []
        if self.state is CLOSED:
            return events
        in_flight = self._in_flight
        timeout = self._window.timeout
        silent = False  # a request timed out and the peer has sent nothing since it left
        while in_flight and timeout is not None:
            seq = next(iter(in_flight))
            request, token, sent_at = in_flight[seq]
            if sent_at + timeout > now:
                break
            del in_flight[seq]
            events.append(RequestTimedOut(request, token))
            silent = silent or self._last_received <= sent_at
        for lost in self.reassembler.expire(now):
            events.append(MessageIncomplete(lost))
        for seq, (request, deadline) in list(self._control.items()):
            if deadline is None or deadline > now:
                continue
            del self._control[seq]
            cid = request.command_id
            if cid == C.ENQUIRE_LINK:
                self._close("enquire_link unanswered: link dead", SmppTimeoutError("enquire_link got no response"), events)
                return events
            if cid == C.UNBIND:
                events.append(Unbound(by_peer=False))
                self._close("unbind_resp not received in time", None, events)
                return events
            self.state = OPEN
            self._close("bind got no response", SmppTimeoutError("bind got no response"), events)
            return events
        if (
            self.inactivity_timeout is not None
            and self.state in BOUND_STATES
            and now - self._last_message >= self.inactivity_timeout
        ):
            log.info("no message for %.1f s: unbinding", self.inactivity_timeout)
            events.extend(self.unbind(now))
        if self.state is not CLOSED and not self._enquire_pending() and (
            silent
            or (self.enquire_link_interval is not None and now - self._last_traffic >= self.enquire_link_interval)
        ):
            # A silent peer after a timeout gets an enquire_link at once: unanswered, it
            # declares the link dead, so a dead link is found by the response timer too.
            self._send_control(_codec.EnquireLink(), now, self.response_timeout or self.enquire_link_interval)
        return events

    # -- internals ----------------------------------------------------------------

    def _enquire_pending(self) -> bool:
        return any(req.command_id == C.ENQUIRE_LINK for req, _ in self._control.values())

    def _send_control(self, pdu: Pdu, now: float, timeout: Optional[float]) -> None:
        self._window.send_control(pdu, now, None if timeout is None else now + timeout)

    def _close(self, reason: str, error: Optional[BaseException], events: list[AnyEvent]) -> None:
        if self.state is CLOSED:
            return
        self.state = CLOSED
        failure = error if isinstance(error, ConnectionClosedError) else ConnectionClosedError(
            f"session closed ({reason}) before the response arrived", maybe_accepted=True
        )
        failure.maybe_accepted = True
        for request, token, _ in self._in_flight.values():
            events.append(RequestFailed(request, token, failure))
        events.append(Closed(reason, error))
        self._in_flight.clear()
        self._control.clear()
