"""Events that :class:`smppfast.session.Session` hands to its driver.

Plain slotted classes rather than dataclasses: one is built per response on the
throughput path, and a frozen dataclass costs several times more to construct.
Do not subclass them; drivers dispatch on the exact type.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from . import _window


__all__ = [
    "Event",
    "AnyEvent",
    "Bound",
    "BindRefused",
    "BindRequested",
    "OutbindReceived",
    "ResponseReceived",
    "RequestReceived",
    "ReceiptReceived",
    "ReceiptMalformed",
    "MessageReceived",
    "MessageIncomplete",
    "AlertReceived",
    "GenericNackReceived",
    "RequestTimedOut",
    "RequestFailed",
    "PduRejected",
    "Unbound",
    "Closed",
]


class Event:
    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


class Bound(Event):
    """The bind succeeded. ``bind_type`` is "transmitter", "receiver" or "transceiver"."""

    __slots__ = ("bind_type", "system_id", "response")

    def __init__(self, bind_type: str, system_id: str, response: Any) -> None:
        self.bind_type = bind_type
        self.system_id = system_id
        self.response = response


class BindRefused(Event):
    """The SMSC answered the bind with a non-zero ``status`` (or a generic_nack)."""

    __slots__ = ("status", "response")

    def __init__(self, status: int, response: Any) -> None:
        self.status = status
        self.response = response


class BindRequested(Event):
    """SMSC role: an ESME asks to bind; answer with ``accept_bind`` or ``refuse_bind``."""

    __slots__ = ("request",)

    def __init__(self, request: Any) -> None:
        self.request = request


class OutbindReceived(Event):
    """ESME role: the SMSC sent outbind; the ESME should now bind as a receiver."""

    __slots__ = ("request",)

    def __init__(self, request: Any) -> None:
        self.request = request


# A response matched a request in flight: built in C, once per response (see _window.pyx).
ResponseReceived = _window.ResponseReceived

#: What a session's methods return a list of: any event above, or a ``ResponseReceived``
#: (a compiled class, so not an ``Event`` subclass).
AnyEvent = Union[Event, ResponseReceived]


class RequestReceived(Event):
    """The peer sent a request the application answers (deliver_sm, data_sm, submit_sm, ...).

    Answer it with ``Session.respond``; until then the peer waits for the response.
    """

    __slots__ = ("request",)

    def __init__(self, request: Any) -> None:
        self.request = request


class ReceiptReceived(Event):
    """ESME role: a delivery receipt (a deliver_sm or data_sm), parsed.

    Answer ``request`` with ``Session.respond`` once the receipt is handled.
    """

    __slots__ = ("request", "receipt")

    def __init__(self, request: Any, receipt: Any) -> None:
        self.request = request
        self.receipt = receipt


class ReceiptMalformed(Event):
    """ESME role: a deliver_sm or data_sm flagged as a delivery receipt whose receipt could
    not be read (``error`` says why). The session answered it ESME_ROK: it arrived intact,
    and refusing it would only make the SMSC send it again."""

    __slots__ = ("request", "error")

    def __init__(self, request: Any, error: BaseException) -> None:
        self.request = request
        self.error = error


class MessageReceived(Event):
    """ESME role: a whole short message: a single deliver_sm / data_sm, or the last part
    of a multipart one, reassembled (``message`` is a ``CompleteMessage``).

    Answer ``request`` (the PDU that completed it) with ``Session.respond``; the session
    already answered the earlier parts.
    """

    __slots__ = ("request", "message")

    def __init__(self, request: Any, message: Any) -> None:
        self.request = request
        self.message = message


class MessageIncomplete(Event):
    """ESME role: a multipart message left reassembly unfinished (it expired, was evicted
    to keep memory bounded, or the session closed); ``message`` is an ``IncompleteMessage``
    holding the parts that did arrive."""

    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message


class AlertReceived(Event):
    """An alert_notification (it has no response)."""

    __slots__ = ("pdu",)

    def __init__(self, pdu: Any) -> None:
        self.pdu = pdu


class GenericNackReceived(Event):
    """A generic_nack that matched no request in flight (sequence number unknown or 0)."""

    __slots__ = ("pdu",)

    def __init__(self, pdu: Any) -> None:
        self.pdu = pdu


class RequestTimedOut(Event):
    """A request got no response within the response timeout; its window slot is freed."""

    __slots__ = ("request", "token")

    def __init__(self, request: Any, token: Any) -> None:
        self.request = request
        self.token = token


class RequestFailed(Event):
    """A request in flight can no longer get a response (the session closed)."""

    __slots__ = ("request", "token", "error")

    def __init__(self, request: Any, token: Any, error: BaseException) -> None:
        self.request = request
        self.token = token
        self.error = error


class PduRejected(Event):
    """The peer sent a malformed PDU; it was answered with generic_nack (``error`` says why)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Unbound(Event):
    """The session unbound cleanly; ``by_peer`` tells who asked."""

    __slots__ = ("by_peer",)

    def __init__(self, by_peer: bool) -> None:
        self.by_peer = by_peer


class Closed(Event):
    """The session is over: flush ``data_to_send()`` and close the socket.

    ``error`` is None after a clean unbind, else what ended it.
    """

    __slots__ = ("reason", "error")

    def __init__(self, reason: str, error: Optional[BaseException] = None) -> None:
        self.reason = reason
        self.error = error
