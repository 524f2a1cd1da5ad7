"""The exception tree of smppfast.

Every error the library raises derives from :class:`SmppError`. Errors that
resemble a builtin also inherit it (``PduError`` is a ``ValueError``, timeouts
are ``TimeoutError``, lost links ``ConnectionError``) so generic handlers work.
This module imports nothing from the package: the compiled core raises these.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "SmppError",
    "PduError",
    "FieldTypeError",
    "TextError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "CommandStatusError",
    "BindError",
    "SmppTimeoutError",
    "WindowFull",
    "ConnectionClosedError",
    "StoreError",
]


class SmppError(Exception):
    """Root of every exception raised by smppfast."""


class PduError(SmppError, ValueError):
    """A PDU could not be decoded or encoded.

    ``field`` names the offending field (or ``"command_length"`` etc. for the
    header), ``offset`` is the byte offset inside the PDU where the problem was
    found (``None`` on encode). ``recoverable`` is true when the header was
    readable, so a session can answer ``generic_nack`` for ``sequence_number``
    and go on; false when framing is broken and the connection must close.
    """

    def __init__(
        self,
        message: str,
        *,
        field: Optional[str] = None,
        offset: Optional[int] = None,
        command_id: Optional[int] = None,
        sequence_number: Optional[int] = None,
        recoverable: bool = True,
        status: int = 0,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.offset = offset
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.recoverable = recoverable
        # The command_status a session should answer with (generic_nack or *_resp).
        self.status = status

    def __reduce__(self) -> Any:
        return (_rebuild_pdu_error, (self.args[0] if self.args else "", self.__dict__))


def _rebuild_pdu_error(message: str, state: dict[str, Any]) -> PduError:
    err = PduError(message)
    err.__dict__.update(state)
    return err


class FieldTypeError(SmppError, TypeError):
    """A PDU field was given a value of the wrong type (a ``TypeError``).

    Raised where the value is given: on construction (``SubmitSm(destination_addr=123)``)
    and on attribute assignment. ``field`` names the field. Types are checked there;
    lengths and ranges of strings are checked on encode (:class:`PduError`).
    """

    def __init__(self, message: str, *, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> Any:
        return (_rebuild_field_type_error, (self.args[0] if self.args else "", self.__dict__))


def _rebuild_field_type_error(message: str, state: dict[str, Any]) -> FieldTypeError:
    err = FieldTypeError(message)
    err.__dict__.update(state)
    return err


class TextError(SmppError, ValueError):
    """Text that cannot be encoded or decoded with the requested data_coding."""

    def __init__(self, message: str, *, char: Optional[str] = None, position: Optional[int] = None) -> None:
        super().__init__(message)
        self.char = char
        self.position = position


class ProtocolError(SmppError):
    """The SMPP session rules were broken (by us or by the peer)."""


class LocalProtocolError(ProtocolError):
    """We tried to do something the session state does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the session state does not allow."""


class CommandStatusError(SmppError):
    """A response arrived with a non-zero ``command_status``.

    ``status`` is the integer status (a :class:`smppfast.Status` member when
    known) and ``response`` the response PDU itself.
    """

    #: The default message starts with this, then ``format_status(status)``.
    _what_failed = "command failed with status"

    def __init__(self, status: int, response: Any = None, message: Optional[str] = None) -> None:
        self.status = status
        self.response = response
        if message is None:
            message = f"{self._what_failed} {_format_status(status)}"
        super().__init__(message)

    def __reduce__(self) -> Any:
        return (type(self), (self.status, self.response, str(self)))


class BindError(CommandStatusError):
    """The SMSC refused the bind (wrong password, already bound, ...)."""

    _what_failed = "bind refused with status"


class SmppTimeoutError(SmppError, TimeoutError):
    """A request got no response in time, or the link went silent.

    ``maybe_accepted`` is true when the request's bytes were sent: the SMSC may have
    accepted it and only its answer is missing, so resending may duplicate it.
    """

    def __init__(self, message: str = "timed out", *, maybe_accepted: bool = False) -> None:
        super().__init__(message)
        self.maybe_accepted = maybe_accepted


class WindowFull(SmppError):
    """The window of requests in flight is full."""


class ConnectionClosedError(SmppError, ConnectionError):
    """The connection to the peer was lost or closed.

    ``maybe_accepted`` is true for a request whose bytes left before the link
    dropped: the SMSC may have accepted it, so resending may duplicate it.
    """

    def __init__(self, message: str = "connection closed", *, maybe_accepted: bool = False) -> None:
        super().__init__(message)
        self.maybe_accepted = maybe_accepted


class StoreError(SmppError, RuntimeError):
    """A message-reference store (:mod:`smppfast.stores`) cannot do what was asked: it is closed,
    or its database or server failed (the backend's own exception is the ``__cause__``)."""


def _format_status(status: int) -> str:
    from .constants import format_status  # local import: errors.py stays a leaf module

    return format_status(status)
