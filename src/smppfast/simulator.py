"""An SMSC simulator for tests, demos and benchmarks, built on the same codec and Session.

Theory of operation
-------------------
One I/O thread runs a ``selectors`` loop over non-blocking sockets: the listening socket,
every ESME connection and a wake-up socket pair that other threads use to hand it work
(``send_mo``, ``stop``). Each connection owns a sans-IO :class:`~smppfast.session.Session`
in the "smsc" role, which enforces the state table, answers enquire_link and unbind and
tracks the deliver_sm it sends; the simulator is the SMSC's *application*: it accepts or
refuses binds and answers what the ESME submits. Malformed input follows the session's
policy (generic_nack with the field's status when the header is readable, else close).

Speed: the loop reads up to 256 KiB per ``recv``, decodes it with the connection's own
``Decoder`` in one call and writes every answer with one ``send`` per read. While a
connection is bound to submit, no fault touches submits and the session runs no timer
that must see traffic, submit_sm takes a fast path that never reaches the session: its
response is packed straight into the output buffer (header + message_id) instead of
building and encoding a ``SubmitSmResp``. Every other PDU is handed to the session as the
decoded PDU (``Session.receive_pdus``), in order, so the session still owns binds,
state, keep-alive, unbind and the window of deliver_sm. Message ids are a counter in hex,
so "known id" for query_sm, cancel_sm and replace_sm is a comparison, not a table that
grows with every submit.

Fault injection lives in one dataclass, :class:`Faults`. The loop reads ``sim.faults`` once
per received buffer and replacing it is one attribute store, so ``set_faults`` from any
thread is safe and takes effect at the next buffer. "Every Nth" counters are per connection,
so one connection's faults do not depend on what other connections do.

Failure policy: the simulator must never die from its user. Arguments are checked where they
are given (the constructor, ``Faults``, ``set_faults``, ``send_mo``), on the caller's thread,
so nothing the user passes reaches the I/O thread unchecked. Whatever still raises while
serving one connection (reading, writing, a timer or command working for it, accepting it)
is logged with the peer and closes that connection; the listener and the other connections
go on. Only a bug outside any connection's handling ends the loop.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import logging
import math
import operator
import selectors
import socket
import ssl
import struct
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Deque, Mapping, Optional, Sized, Union

from . import _codec
from ._text import split_text
from ._tls import MemoryTls
from .constants import Command, MessageState, Status, Tlv
from .events import (
    BindRequested,
    Closed,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    Unbound,
)
from .errors import LocalProtocolError, PduError
from .session import Session, SessionState

if TYPE_CHECKING:
    from typing_extensions import Buffer, Self

__all__ = ["Faults", "Simulator", "StatusLike", "TraceHook"]

log = logging.getLogger("smppfast.simulator")

_HEADER = struct.Struct(">IIII")
_SUBMIT_SM = int(Command.SUBMIT_SM)
_SUBMIT_SM_RESP = int(Command.SUBMIT_SM_RESP)
_DATA_SM = int(Command.DATA_SM)
_SUBMIT_MULTI = int(Command.SUBMIT_MULTI)
_QUERY_SM = int(Command.QUERY_SM)
_CANCEL_SM = int(Command.CANCEL_SM)
_REPLACE_SM = int(Command.REPLACE_SM)
_UNBIND_RESP = int(Command.UNBIND_RESP)
_GENERIC_NACK = int(Command.GENERIC_NACK)
_SUBMITS = frozenset({_SUBMIT_SM, _DATA_SM, _SUBMIT_MULTI})
_FAST_STATES = frozenset({SessionState.BOUND_TX, SessionState.BOUND_TRX})
_RECV_SIZE = 256 * 1024
_MAX_SHORT_MESSAGE = 254
#: ``trace(direction, pdu, peer)``: direction "in" (read from the ESME) or "out" (queued to it).
TraceHook = Callable[[str, _codec.Pdu, Any], None]
# A connection told to close gets this long to read what we flushed before we hang up.
_LINGER = 2.0


StatusLike = Union[int, str]
"""A command_status as a number (``0x0B``, ``Status.ESME_RINVDSTADR``) or a name: ``"ESME_RINVDSTADR"``,
case-insensitive, with or without the ``ESME_`` / ``ESME_R`` prefix (``"invdstadr"``), or a
number in a string (``"0x0B"``)."""


def _int_arg(where: str, name: str, value: object, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``; TypeError / ValueError naming ``name`` otherwise."""
    if isinstance(value, bool):  # an int to Python, never a count or a size to a user
        raise TypeError(f"{where}: {name} must be an int, not the bool {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]  # TypeError handled below
    except TypeError:
        raise TypeError(f"{where}: {name} must be an int, not {type(value).__name__} {value!r}") from None
    if number < minimum:
        raise ValueError(f"{where}: {name} must be at least {minimum}, not {number!r}")
    return number


def _seconds_arg(where: str, name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as finite seconds, >= 0 (> 0 when ``positive``); TypeError / ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{where}: {name} must be a number of seconds, not {type(value).__name__} {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{where}: {name} must be a finite number of seconds {bound}, not {value!r}")
    return seconds


def _optional_seconds_arg(where: str, name: str, value: object) -> Optional[float]:
    if value is None:
        return None
    try:
        return _seconds_arg(where, name, value, positive=True)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err} (None turns it off)") from None


def _status_arg(where: str, name: str, value: object) -> int:
    """A command_status given as a number, a ``Status`` or a name, as an int (see :data:`StatusLike`)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text, 0)
        except ValueError:
            key = text.upper().replace("-", "_")
            for prefix in ("", "ESME_", "ESME_R"):
                member = Status.__members__.get(prefix + key)
                if member is not None:
                    return int(member)
            raise ValueError(
                f"{where}: {name} {text!r} is neither a command_status name (such as 'ESME_RTHROTTLED') nor a number"
            ) from None
    status = _int_arg(where, name, value, 0)
    if status > 0xFFFFFFFF:
        raise ValueError(f"{where}: {name} {status:#x} does not fit a command_status (32 bits)")
    return status


def _bool_arg(where: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, not {type(value).__name__} {value!r}")
    return value


def _count_field(name: str, value: object) -> int:
    return _int_arg("Faults", name, value, 0)


#: How each Faults field is checked and normalised, by name (in field order).
_FAULT_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "close_after": _count_field,
    "close_mid_pdu_after": _count_field,
    "drop_every": _count_field,
    "nack_every": _count_field,
    "throttle_every": _count_field,
    "status": lambda name, value: _status_arg("Faults", name, value),
    "delay": lambda name, value: _seconds_arg("Faults", name, value),
    "refuse_binds": lambda name, value: _status_arg("Faults", name, value),
    "skip_unbind_resp": lambda name, value: _bool_arg("Faults", name, value),
}
#: Old field names still accepted (with a DeprecationWarning): old -> new.
_FAULT_ALIASES = {"bind_status": "refuse_binds"}


def _fault_name(name: str, where: str) -> str:
    """The field ``name`` stands for (a deprecated alias warns); TypeError for an unknown one."""
    new = _FAULT_ALIASES.get(name)
    if new is not None:
        warnings.warn(f"Faults field {name!r} is now {new!r}", DeprecationWarning, stacklevel=3)
        return new
    if name not in _FAULT_CHECKS:
        raise TypeError(f"{where}: unknown Faults field {name!r}; the fields are {', '.join(_FAULT_CHECKS)}")
    return name


@dataclasses.dataclass(init=False)
class Faults:
    """What the simulator gets wrong on purpose. Zero / False means "behave".

    "Submit" means submit_sm, data_sm and submit_multi; counts are per connection and
    start at 1, so ``throttle_every=3`` throttles the 3rd, 6th, ... submit. When several
    apply to one submit the first in field order below wins.

    Each field is the ``smppfast simulator`` option of the same name (``refuse_binds`` is
    ``--refuse-binds``). Values are checked when given, at construction and on assignment:
    counts are ints >= 0, ``delay`` finite seconds >= 0, and the two statuses take a number,
    a :class:`~smppfast.Status` or a name (``"ESME_RINVDSTADR"``, see :data:`StatusLike`),
    kept as an int. A bad value raises TypeError or ValueError naming the field.
    ``bind_status`` is the deprecated old name of ``refuse_binds``.
    """

    #: Close the connection on receipt of the Nth submit, leaving it unanswered.
    close_after: int = 0
    #: Answer the Nth submit with half its response PDU, then close the connection.
    close_mid_pdu_after: int = 0
    #: Never answer every Nth submit.
    drop_every: int = 0
    #: Answer every Nth submit with generic_nack (ESME_RSYSERR) instead of its response.
    nack_every: int = 0
    #: Answer every Nth submit with ESME_RTHROTTLED.
    throttle_every: int = 0
    #: Answer every submit with this command_status (no message_id is issued).
    status: int = 0
    #: Seconds to hold every submit response before sending it.
    delay: float = 0.0
    #: Refuse every bind with this command_status.
    refuse_binds: int = 0
    #: On unbind, close the socket without sending unbind_resp (as some real SMSCs do).
    skip_unbind_resp: bool = False

    def __init__(
        self,
        close_after: int = 0,
        close_mid_pdu_after: int = 0,
        drop_every: int = 0,
        nack_every: int = 0,
        throttle_every: int = 0,
        status: StatusLike = 0,
        delay: float = 0.0,
        refuse_binds: StatusLike = 0,
        skip_unbind_resp: bool = False,
        *,
        bind_status: Optional[StatusLike] = None,
    ) -> None:
        if bind_status is not None:
            warnings.warn("Faults(bind_status=...) is now Faults(refuse_binds=...)", DeprecationWarning, stacklevel=2)
            if refuse_binds:
                raise TypeError("Faults: give refuse_binds or its deprecated name bind_status, not both")
            refuse_binds = bind_status
        self.close_after = close_after
        self.close_mid_pdu_after = close_mid_pdu_after
        self.drop_every = drop_every
        self.nack_every = nack_every
        self.throttle_every = throttle_every
        self.status = status  # type: ignore[assignment]  # __setattr__ makes it an int
        self.delay = delay
        self.refuse_binds = refuse_binds  # type: ignore[assignment]
        self.skip_unbind_resp = skip_unbind_resp

    def __setattr__(self, name: str, value: Any) -> None:
        name = _fault_name(name, "Faults")
        object.__setattr__(self, name, _FAULT_CHECKS[name](name, value))

    @property
    def bind_status(self) -> int:
        """Deprecated: the old name of :attr:`refuse_binds`."""
        warnings.warn("Faults.bind_status is now Faults.refuse_binds", DeprecationWarning, stacklevel=2)
        return self.refuse_binds

    def touches_submits(self) -> bool:
        return bool(
            self.close_after
            or self.close_mid_pdu_after
            or self.drop_every
            or self.nack_every
            or self.throttle_every
            or self.status
            or self.delay
        )


class _Conn:
    __slots__ = (
        "sock", "session", "decoder", "out", "submits", "peer", "writing", "closing", "hung_up", "deadline", "backlog",
        "tls", "raw_out",
    )

    def __init__(self, sock: socket.socket, session: Session, peer: Any) -> None:
        self.sock = sock
        self.session = session
        self.decoder = _codec.Decoder()
        self.out = bytearray()
        self.submits = 0
        self.peer = peer
        self.writing = False
        # Set once we decided to hang up: flush, shut down our side, discard what arrives.
        self.closing = False
        self.hung_up = False
        # The session deadline last put on the timer heap (to avoid pushing duplicates).
        self.deadline: Optional[float] = None
        # deliver_sm waiting for a free window slot.
        self.backlog: Deque[_codec.Pdu] = collections.deque()
        # TLS over memory buffers (sans-IO), so the non-blocking loop drives it like any
        # other protocol. ``out`` stays plaintext; ``raw_out`` holds the records to send.
        self.tls: Optional[MemoryTls] = None
        self.raw_out = bytearray()


class _TracedOut(bytearray):
    """``conn.out`` when a trace hook is set: decodes each PDU as it is queued, for the hook.

    Every answer, nack, receipt and MO reaches the socket through ``conn.out += ...``, so
    this one place sees them all, whole or in pieces (the decoder frames them). Without a
    hook ``conn.out`` is a plain bytearray and nothing is decoded twice.
    """

    __slots__ = ("_decoder", "_emit", "_peer")

    def __init__(self, emit: TraceHook, peer: Any) -> None:
        super().__init__()
        self._emit = emit
        self._peer = peer
        self._decoder = _codec.Decoder()

    def __iadd__(self, data: Buffer) -> Self:  # type: ignore[override]  # as typeshed's own bytearray
        super().__iadd__(data)
        try:
            pdus = self._decoder.feed(memoryview(data))
        except PduError:  # only a fault (e.g. half a PDU) gets here: trace what follows
            self._decoder.reset()
            return self
        for pdu in pdus:
            self._emit("out", pdu, self._peer)
        return self


def _short_repr(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut to about ``limit`` characters (with the length when cut)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} long)" if isinstance(value, Sized) else ""
    return f"{text[:limit]}...{size}"


def _now_yymmddhhmm() -> str:
    return time.strftime("%y%m%d%H%M", time.gmtime())


class Simulator:
    """An SMSC on ``host:port`` (port 0 picks a free one; read ``.port``).

    ``credentials`` maps system_id to password; ``None`` accepts any. Use it as a context
    manager or call ``start()`` / ``stop()``. Everything public is safe to call from any
    thread; the counters and ``received`` are written by the I/O thread only.

    ``trace(direction, pdu, peer)``, if given, is called on the I/O thread for every PDU
    read from an ESME (``"in"``) and every PDU queued to one (``"out"``), in order per
    direction; ``peer`` is the ESME's socket address. It must not block; an exception from
    it is logged (the first one) and counted in ``tally["trace_errors"]``, never fatal.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        system_id: str = "smppfast-sim",
        credentials: Optional[Mapping[str, str]] = None,
        faults: Optional[Faults] = None,
        receipt_delay: float = 0.0,
        receipts_elsewhere: bool = False,
        record: int = 10_000,
        window: int = 1000,
        response_timeout: Optional[float] = 30.0,
        enquire_link_interval: Optional[float] = None,
        inactivity_timeout: Optional[float] = None,
        backlog: int = 128,
        ssl_context: Optional[ssl.SSLContext] = None,
        trace: Optional[TraceHook] = None,
    ) -> None:
        where = "Simulator"
        if not isinstance(host, str):
            raise TypeError(f"{where}: host must be a str, not {type(host).__name__} {host!r}")
        port = _int_arg(where, "port", port, 0)
        if port > 65535:
            raise ValueError(f"{where}: port must be in 0..65535 (0 picks a free one), not {port!r}")
        if not isinstance(system_id, str):
            raise TypeError(f"{where}: system_id must be a str, not {type(system_id).__name__} {system_id!r}")
        try:  # the bind response carries it: let the codec say what it allows
            _codec.encode(_codec.BindTransceiverResp(system_id=system_id))
        except PduError as err:
            raise ValueError(f"{where}: system_id {system_id!r}: {err}") from None
        if credentials is not None:
            if not isinstance(credentials, Mapping):
                raise TypeError(
                    f"{where}: credentials must map system_id to password (or be None), not {type(credentials).__name__}"
                )
            for user, password in credentials.items():
                if not isinstance(user, str) or not isinstance(password, str):
                    raise TypeError(f"{where}: credentials must map str to str, not {user!r} to {type(password).__name__}")
            credentials = dict(credentials)
        if faults is not None and not isinstance(faults, Faults):
            raise TypeError(f"{where}: faults must be a Faults (or None), not {type(faults).__name__} {faults!r}")
        receipt_delay = _seconds_arg(where, "receipt_delay", receipt_delay)
        if not isinstance(receipts_elsewhere, bool):
            raise TypeError(f"{where}: receipts_elsewhere must be a bool, not {receipts_elsewhere!r}")
        record = _int_arg(where, "record", record, 0)
        window = _int_arg(where, "window", window, 1)
        response_timeout = _optional_seconds_arg(where, "response_timeout", response_timeout)
        enquire_link_interval = _optional_seconds_arg(where, "enquire_link_interval", enquire_link_interval)
        inactivity_timeout = _optional_seconds_arg(where, "inactivity_timeout", inactivity_timeout)
        backlog = _int_arg(where, "backlog", backlog, 0)
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError(f"{where}: ssl_context must be an ssl.SSLContext (or None), not {type(ssl_context).__name__}")
        if trace is not None and not callable(trace):
            raise TypeError(f"{where}: trace must be a callable (direction, pdu, peer) or None, not {trace!r}")
        self.host = host
        self.ssl_context = ssl_context  # a server-side context: ESMEs connect over TLS
        self.port = port
        self.system_id = system_id
        self.credentials = credentials
        self._faults = faults if faults is not None else Faults()
        self._receipt_delay = receipt_delay
        self.receipts_elsewhere = receipts_elsewhere
        self._receipt_turn = 0
        self.received: Deque[_codec.Pdu] = collections.deque(maxlen=record or None)
        self._record = record > 0
        self._session_args: dict[str, Any] = {
            "window": window,
            "response_timeout": response_timeout,
            "enquire_link_interval": enquire_link_interval,
            "inactivity_timeout": inactivity_timeout,
        }
        self._backlog = backlog
        self._trace = trace
        self._fast_timers = enquire_link_interval is None and inactivity_timeout is None
        self._next_id = 1
        self._cancelled: set[int] = set()
        # Counters (read them through ``counters``).
        self.binds = 0
        self.binds_refused = 0
        self.submits = 0
        self.requests = 0
        self.receipts_sent = 0
        self.mo_sent = 0
        self.deliver_responses = 0
        self.deliver_failed = 0
        self.connections_total = 0
        # Faults applied and oddities seen, by name ("throttled", "dropped", ...).
        self.tally: collections.Counter[str] = collections.Counter()
        self._faults_lock = threading.Lock()
        # Connections with output queued outside a read (receipts, MO, delayed responses):
        # flushed once per loop turn, so a burst of them costs one send() per connection.
        self._dirty: set[_Conn] = set()

        self._conns: dict[int, _Conn] = {}
        # (when, tie-break, fn, the connection it works for or None): an exception from fn
        # closes that connection only.
        self._timers: list[tuple[float, int, Callable[[], None], Optional[_Conn]]] = []
        self._timer_seq = itertools.count()
        self._commands: Deque[tuple[Callable[[], None], Optional[_Conn]]] = collections.deque()
        self._selector: Optional[selectors.BaseSelector] = None
        self._listener: Optional[socket.socket] = None
        self._wake_r: Optional[socket.socket] = None
        self._wake_w: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = False

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> "Simulator":
        """Bind the listening socket and start the I/O thread (returns self)."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(self._backlog)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"smppfast-sim:{self.port}", daemon=True)
        self._thread.start()
        log.info("simulator listening on %s:%d", self.host, self.port)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection and the listener, and join the I/O thread."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._wake()
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError("the simulator's I/O thread did not stop")
        self._thread = None

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    # -- control from any thread -----------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The faults in force (a :class:`Faults`); assign a new one, or use :meth:`set_faults`."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        if not isinstance(faults, Faults):
            raise TypeError(f"Simulator.faults must be a Faults, not {type(faults).__name__} {faults!r}")
        self._faults = faults

    @property
    def receipt_delay(self) -> float:
        """Seconds between a submit's response and its delivery receipt (checked on assignment)."""
        return self._receipt_delay

    @receipt_delay.setter
    def receipt_delay(self, seconds: float) -> None:
        self._receipt_delay = _seconds_arg("Simulator", "receipt_delay", seconds)

    def set_faults(self, **changes: Any) -> Faults:
        """Change some fault knobs (``sim.set_faults(throttle_every=5)``); returns the new Faults.

        Names and values are checked as :class:`Faults` checks them (TypeError for an
        unknown name, TypeError / ValueError for a bad value), and nothing changes then.
        """
        changes = {_fault_name(name, "set_faults"): value for name, value in changes.items()}
        # A fresh object swapped in with one store: the loop never sees half an update.
        with self._faults_lock:  # two threads changing different knobs both win
            new = dataclasses.replace(self._faults, **changes)
            self._faults = new
        return new

    def clear_faults(self) -> None:
        self._faults = Faults()

    def send_mo(
        self,
        source_addr: str,
        destination_addr: str,
        message: Union[str, bytes],
        *,
        system_id: Optional[str] = None,
        data_coding: Optional[int] = None,
        method: str = "udh",
        languages: Any = (),
        **fields: Any,
    ) -> int:
        """Send a mobile-originated message to every bound receiver (of ``system_id`` if given).

        A ``str`` is encoded (GSM 03.38 when it fits, else UCS-2, unless ``data_coding``
        says otherwise) and split by :func:`smppfast.split_text` with ``method`` ("udh",
        the default, "sar" or "payload") and ``languages`` (national language tables, as
        for split_text): each receiver gets one deliver_sm per part, in order. ``bytes`` go as they are in one deliver_sm (``data_coding`` 0 unless given);
        more than 254 octets do not fit a short_message and raise ValueError (split them
        yourself, or send ``b""`` with ``tlvs={Tlv.MESSAGE_PAYLOAD: data}``). ``fields`` go
        on every deliver_sm; a part's esm_class bits (UDHI) and TLVs (SAR, payload) are
        added to the ``esm_class`` and ``tlvs`` given.

        Everything is checked here, on the caller's thread: a bad argument raises
        TypeError or ValueError naming it, and nothing is sent. Returns the number of
        parts (deliver_sm per receiver).
        """
        where = "send_mo"
        if system_id is not None and not isinstance(system_id, str):
            raise TypeError(f"{where}: system_id must be a str or None, not {type(system_id).__name__} {system_id!r}")
        for name in ("short_message", "sequence_number"):
            if name in fields:
                raise TypeError(f"{where}: {name} is not given as a field (the message is the third argument)")
        if data_coding is not None:
            data_coding = _int_arg(where, "data_coding", data_coding, 0)
            if data_coding > 0xFF:
                raise ValueError(f"{where}: data_coding must be in 0..255, not {data_coding!r}")
        chunks: list[tuple[int, bytes, int, dict[int, Any]]]  # data_coding, short_message, esm_class, tlvs
        if isinstance(message, str):
            try:
                parts = split_text(message, data_coding=data_coding, method=method,  # type: ignore[arg-type]
                                   languages=languages)
            except ValueError as err:  # TextError: no such coding, method, too many parts
                raise ValueError(f"{where}: message {_short_repr(message)}: {err}") from err
            chunks = [(p.data_coding, p.short_message, p.esm_class, dict(p.tlvs)) for p in parts]
        elif isinstance(message, (bytes, bytearray, memoryview)):
            octets = bytes(message)
            if len(octets) > _MAX_SHORT_MESSAGE:
                raise ValueError(
                    f"{where}: message is {len(octets)} octets; a short_message holds at most {_MAX_SHORT_MESSAGE} "
                    "(give a str to have it split, or b'' with tlvs={Tlv.MESSAGE_PAYLOAD: data})"
                )
            chunks = [(data_coding or 0, octets, 0, {})]
        else:
            raise TypeError(f"{where}: message must be a str or bytes, not {type(message).__name__} {message!r}")
        esm_class = _int_arg(where, "esm_class", fields.pop("esm_class", 0), 0)
        tlvs = fields.pop("tlvs", None)
        if tlvs is not None and not isinstance(tlvs, Mapping):
            raise TypeError(f"{where}: tlvs must be a dict of tag to value, not {type(tlvs).__name__} {tlvs!r}")
        user_tlvs = dict(tlvs or {})
        pdus: list[dict[str, Any]] = []
        for dc, short_message, part_esm_class, part_tlvs in chunks:
            kwargs = dict(
                fields,
                source_addr=source_addr,
                destination_addr=destination_addr,
                data_coding=dc,
                short_message=short_message,
                esm_class=esm_class | part_esm_class,
                tlvs={**user_tlvs, **part_tlvs},
            )
            try:  # what the I/O thread would find out too late: the codec's own checks
                _codec.encode(_codec.DeliverSm(**kwargs))
            except PduError as err:
                value = kwargs.get(err.field or "")
                shown = f" (got {_short_repr(value)})" if value is not None else ""
                raise ValueError(f"{where}: {err}{shown}") from err
            except TypeError as err:
                raise TypeError(f"{where}: {err}") from err
            pdus.append(kwargs)

        def deliver() -> None:
            for conn in self._receivers(system_id):
                try:
                    for kwargs in pdus:
                        self._deliver(conn, _codec.DeliverSm(**dict(kwargs, tlvs=dict(kwargs["tlvs"]))))
                        self.mo_sent += 1
                except Exception:
                    self._conn_failed(conn, "sending an MO message")

        self._call_soon(deliver)
        return len(pdus)

    def disconnect_all(self) -> None:
        """Drop every ESME connection at once (no unbind), as a crashed SMSC would."""
        def drop() -> None:
            for conn in list(self._conns.values()):
                self._close(conn)

        self._call_soon(drop)

    def call(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run ``fn`` on the I/O thread and return its result (for tests that inspect state).

        An exception from ``fn`` is raised here, in the caller's thread; the simulator goes on.
        """
        done = threading.Event()
        box: list[Any] = []
        error: list[BaseException] = []

        def run() -> None:
            try:
                box.append(fn())
            except BaseException as exc:  # the caller's problem, raised in the caller's thread
                error.append(exc)
            finally:
                done.set()

        self._call_soon(run)
        if not done.wait(timeout):
            raise TimeoutError("the simulator did not run the call in time")
        if error:
            raise error[0]
        return box[0] if box else None

    @property
    def connections(self) -> int:
        """ESME connections open now."""
        return len(self._conns)

    @property
    def bound(self) -> int:
        """Connections bound now."""
        return sum(1 for c in list(self._conns.values()) if c.session.is_bound)

    @property
    def counters(self) -> dict[str, int]:
        out = {
            "connections": self.connections,
            "connections_total": self.connections_total,
            "binds": self.binds,
            "binds_refused": self.binds_refused,
            "submits": self.submits,
            "requests": self.requests,
            "receipts_sent": self.receipts_sent,
            "mo_sent": self.mo_sent,
            "deliver_responses": self.deliver_responses,
            "deliver_failed": self.deliver_failed,
        }
        out.update(self.tally)
        return out

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate`` until true or ``timeout`` (a helper for tests and demos)."""
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= end:
                return False
            time.sleep(0.002)
        return True

    # -- the I/O thread --------------------------------------------------------------

    def _call_soon(self, fn: Callable[[], None]) -> None:
        if self._thread is None:
            raise RuntimeError("the simulator is not running")
        self._commands.append((fn, None))
        self._wake()

    def _wake(self) -> None:
        try:
            if self._wake_w is not None:
                self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already awake (buffer full) or shutting down

    def _at(self, when: float, fn: Callable[[], None], conn: Optional[_Conn] = None) -> None:
        heapq.heappush(self._timers, (when, next(self._timer_seq), fn, conn))

    def _conn_failed(self, conn: _Conn, doing: str) -> None:
        """An exception escaped while ``doing`` something for ``conn``: log it and close that one connection.

        Called from an ``except`` block. Whatever went wrong (a bug, a hook, a value no
        check foresaw) costs one connection; the listener and every other connection go on.
        """
        self.tally["connection_errors"] += 1
        log.exception("simulator: error %s with %s; closing that connection", doing, conn.peer)
        conn.closing = True
        try:
            self._close(conn)
        except Exception:
            log.exception("simulator: error closing the connection with %s", conn.peer)
            self._conns = {fd: c for fd, c in self._conns.items() if c is not conn}
            try:
                assert self._selector is not None
                self._selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.sock.close()

    def _run(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while not self._stopping:
                timeout = None
                if self._timers:
                    timeout = max(0.0, self._timers[0][0] - time.monotonic())
                for key, mask in selector.select(timeout):
                    conn = key.data
                    if conn is None:
                        if key.fileobj is self._listener:
                            self._accept()
                        else:
                            self._drain_wakeups()
                        continue
                    try:
                        if mask & selectors.EVENT_READ:
                            self._on_readable(conn)
                        if mask & selectors.EVENT_WRITE and conn.sock.fileno() >= 0:
                            self._flush(conn)
                    except Exception:
                        self._conn_failed(conn, "handling input or output")
                commands = self._commands
                while commands:
                    fn, owner = commands.popleft()
                    try:
                        fn()
                    except Exception:
                        if owner is None:
                            log.exception("simulator: a command failed (the simulator goes on)")
                        else:
                            self._conn_failed(owner, "running a command")
                self._run_timers()
                if self._dirty:
                    dirty = self._dirty
                    self._dirty = set()
                    for conn in dirty:
                        if conn.sock.fileno() >= 0:
                            try:
                                self._after_activity(conn)
                            except Exception:
                                self._conn_failed(conn, "writing")
        except Exception:  # a bug outside any one connection's handling: nothing left to save
            log.exception("simulator I/O loop crashed")
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        for conn in list(self._conns.values()):
            try:
                self._close(conn)
            except Exception:
                log.exception("simulator: error closing the connection with %s", conn.peer)
                conn.sock.close()
        assert self._selector is not None
        self._selector.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._listener = self._wake_r = self._wake_w = None
        self._timers.clear()
        self._commands.clear()
        log.info("simulator on port %d stopped", self.port)

    def _drain_wakeups(self) -> None:
        assert self._wake_r is not None
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _run_timers(self) -> None:
        timers = self._timers
        if not timers:
            return
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            _, _, fn, conn = heapq.heappop(timers)
            try:
                fn()
            except Exception:
                if conn is None:
                    log.exception("simulator: a timer failed (the simulator goes on)")
                else:
                    self._conn_failed(conn, "running a timer")

    def _accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        while True:
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # e.g. EMFILE: keep serving the connections we have
                log.warning("accept failed: %s", err)
                return
            try:
                self._add_connection(sock, peer)
            except Exception:  # e.g. the peer reset before setsockopt: that one socket only
                self.tally["connection_errors"] += 1
                log.exception("simulator: error accepting the connection from %s; closing it", peer)
                self._conns.pop(sock.fileno(), None)
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
                sock.close()

    def _add_connection(self, sock: socket.socket, peer: Any) -> None:
        assert self._selector is not None
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(sock, Session("smsc", now=time.monotonic(), **self._session_args), peer)
        if self.ssl_context is not None:
            conn.tls = MemoryTls(self.ssl_context, server_side=True)
        if self._trace is not None:
            conn.out = _TracedOut(self._call_trace, peer)
        self._conns[sock.fileno()] = conn
        self._selector.register(sock, selectors.EVENT_READ, conn)
        self.connections_total += 1
        log.debug("connection from %s", peer)

    def _on_readable(self, conn: _Conn) -> None:
        if conn.sock.fileno() < 0:
            return
        try:
            data = conn.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if conn.tls is not None and data:
            plain = self._decrypt(conn, data)
            if plain is None:
                return
            data = plain
        if conn.closing:
            # We are hanging up: discard what arrives until the peer closes too.
            if not data:
                self._close(conn)
            return
        now = time.monotonic()
        if not data:
            self._handle_events(conn, conn.session.connection_lost(now), now)
        else:
            self._on_data(conn, data, now)
        self._after_activity(conn)

    def _feed_session(self, conn: _Conn, pdus: list[_codec.Pdu], now: float) -> None:
        events = conn.session.receive_pdus(pdus, now)
        if events:
            self._handle_events(conn, events, now)
        # Take the session's answers now, so they leave in the order of the requests
        # between the fast path's own answers.
        out = conn.session.data_to_send()
        if out:
            conn.out += out

    def _fast_ok(self, conn: _Conn) -> bool:
        # The fast path answers submit_sm without the session seeing it, which is only
        # right when the session would do nothing but hand it over: bound to submit, no
        # timer that needs to see traffic, no fault that changes the answer.
        return (
            self._fast_timers
            and conn.session.state in _FAST_STATES
            and not conn.closing
            and not self._faults.touches_submits()
        )

    def _on_data(self, conn: _Conn, data: bytes, now: float) -> None:
        """Decode ``data``; answer submit_sm on the fast path, hand every other PDU to the session.

        The connection's own Decoder frames the stream (in C, one call per read), so the
        session's decoder only ever sees whole PDUs and either path can take the next one.
        """
        pdus: list[_codec.Pdu] = []
        framing: Optional[PduError] = None
        feed = conn.decoder.feed
        while True:
            try:
                pdus += feed(data)
                break
            except PduError as err:
                # The same policy as the session's: nack what has a readable header and go
                # on (the good PDUs around it come out of the next feed), close otherwise.
                data = b""
                if not err.recoverable:
                    framing = err
                    try:
                        pdus += feed(b"")
                    except PduError:
                        pass
                    break
                self._reject(conn, err)
        if self._trace is not None:
            for pdu in pdus:
                self._call_trace("in", pdu, conn.peer)
        fast = self._fast_ok(conn)
        run: list[_codec.Pdu] = []  # PDUs for the session, kept in order
        out = conn.out
        record = self._record
        received = self.received
        pack = _HEADER.pack
        for pdu in pdus:
            if conn.closing:
                # A fault or the session hung up: what followed is never answered.
                run = []
                break
            if fast and pdu.command_id == _SUBMIT_SM:
                if run:
                    self._feed_session(conn, run, now)
                    run = []
                    fast = self._fast_ok(conn)
                    if not fast:
                        run.append(pdu)
                        continue
                if record:
                    received.append(pdu)
                mid = b"%x\0" % self._next_id  # the id and its C-string NUL in one object
                self._next_id += 1
                out += pack(16 + len(mid), _SUBMIT_SM_RESP, 0, pdu.sequence_number)
                out += mid
                conn.submits += 1
                self.submits += 1
                if pdu.registered_delivery & 3 == 1:  # type: ignore[attr-defined]
                    self._schedule_receipt(conn, pdu, mid[:-1].decode(), now)
            else:
                run.append(pdu)
        if run and not conn.closing:
            self._feed_session(conn, run, now)
        if framing is not None and not conn.closing:
            log.warning("framing lost with %s: %s", conn.peer, framing)
            events = conn.session.close(f"framing lost: {framing}")
            self._handle_events(conn, events, now)

    def _call_trace(self, direction: str, pdu: _codec.Pdu, peer: Any) -> None:
        assert self._trace is not None
        try:
            self._trace(direction, pdu, peer)
        except Exception:
            self.tally["trace_errors"] += 1
            if self.tally["trace_errors"] == 1:
                log.exception("the trace hook raised (logged once; the simulator goes on)")

    def _reject(self, conn: _Conn, err: PduError) -> None:
        log.warning("malformed PDU from %s: %s", conn.peer, err)
        self.tally["malformed_received"] += 1
        cid = err.command_id or 0
        if not cid & 0x80000000:  # never answer a response
            conn.out += _HEADER.pack(16, _GENERIC_NACK, err.status or Status.ESME_RSYSERR, err.sequence_number or 0)

    def _handle_events(self, conn: _Conn, events: list[Any], now: float) -> None:
        faults = self._faults
        record = self._record
        received = self.received
        session = conn.session
        for event in events:
            if type(event) is RequestReceived:
                req = event.request
                if record:
                    received.append(req)
                cid = req.command_id
                if cid in _SUBMITS:
                    self._on_submit(conn, req, faults, now)
                else:
                    self._on_other_request(conn, req)
            elif type(event) is ResponseReceived:
                self.deliver_responses += 1
            elif type(event) is BindRequested:
                self._on_bind(conn, event.request, faults)
            elif type(event) is RequestTimedOut or type(event) is RequestFailed:
                self.deliver_failed += 1
            elif type(event) is Unbound:
                if event.by_peer and faults.skip_unbind_resp:
                    self._strip_unbind_resp(conn)
            elif type(event) is Closed:
                log.debug("session with %s closed: %s", conn.peer, event.reason)
                conn.closing = True
            if conn.closing:
                # Hanging up (a fault or the session ended): nothing after this is answered.
                break
        if conn.backlog and session.window_free and not conn.closing:
            self._pump_backlog(conn, now)

    def _after_activity(self, conn: _Conn) -> None:
        """Collect the session's output, write what the socket takes, re-arm its timer."""
        session = conn.session
        data = session.data_to_send()
        if data:
            conn.out += data
        if conn.out:
            self._flush(conn)
        elif conn.closing:
            self._hang_up(conn)
        deadline = session.next_deadline()
        # Arm a timer only when the deadline moved earlier; a timer that fires early just
        # re-arms, so at most a few are pending per connection whatever the traffic.
        if deadline is not None and (conn.deadline is None or deadline < conn.deadline):
            conn.deadline = deadline
            self._at(deadline, lambda: self._session_timer(conn), conn)

    def _session_timer(self, conn: _Conn) -> None:
        if conn.sock.fileno() < 0 or conn.closing:
            return
        deadline = conn.session.next_deadline()
        now = time.monotonic()
        conn.deadline = None
        if deadline is not None and deadline <= now:
            events = conn.session.handle_deadline(now)
            if events:
                self._handle_events(conn, events, now)
        self._after_activity(conn)

    def _decrypt(self, conn: _Conn, raw: bytes) -> Optional[bytes]:
        """Feed TLS records in; the plaintext they held (b"" at close_notify), or None for none yet."""
        assert conn.tls is not None
        conn.tls.feed(raw)
        chunks = []
        try:
            while (chunk := conn.tls.read(_RECV_SIZE)) is not None:
                if not chunk:  # close_notify
                    return b""
                chunks.append(chunk)
        except ssl.SSLError as err:
            log.warning("TLS with %s failed: %s", conn.peer, err)
            self._move_records(conn)
            return b""
        self._move_records(conn)
        if conn.raw_out:
            self._flush(conn)
        data = b"".join(chunks)
        return data or None

    def _move_records(self, conn: _Conn) -> None:
        assert conn.tls is not None
        if conn.out and conn.tls.handshake_done:
            conn.raw_out += conn.tls.encrypt(bytes(conn.out))
            del conn.out[:]
        conn.raw_out += conn.tls.take_records()

    def _flush(self, conn: _Conn) -> None:
        if conn.tls is not None:
            self._move_records(conn)
            out = conn.raw_out
        else:
            out = conn.out
        if out:
            try:
                sent = conn.sock.send(out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as err:
                log.debug("send to %s failed: %s", conn.peer, err)
                self._close(conn)
                return
            if sent:
                del out[:sent]
        want_write = bool(out)
        if want_write != conn.writing:
            conn.writing = want_write
            assert self._selector is not None
            events = selectors.EVENT_READ | selectors.EVENT_WRITE if want_write else selectors.EVENT_READ
            self._selector.modify(conn.sock, events, conn)
        if not out and conn.closing:
            self._hang_up(conn)

    def _hang_up(self, conn: _Conn) -> None:
        # Shut down our side after the last byte so the peer reads everything we wrote
        # (closing with unread input would send RST and could discard it), then give the
        # peer a moment to close its side.
        if conn.hung_up or conn.sock.fileno() < 0:
            return
        conn.hung_up = True
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        self._at(time.monotonic() + _LINGER, lambda: self._close(conn), conn)

    def _close(self, conn: _Conn) -> None:
        sock = conn.sock
        fd = sock.fileno()
        if fd < 0:
            return
        self._conns.pop(fd, None)
        assert self._selector is not None
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()
        # Whatever was still waiting for a response from this ESME is lost.
        for event in conn.session.connection_lost(time.monotonic()):
            if type(event) is RequestFailed:
                self.deliver_failed += 1
        conn.backlog.clear()

    # -- the SMSC's application logic --------------------------------------------------

    def _on_bind(self, conn: _Conn, request: _codec.Pdu, faults: Faults) -> None:
        if self._record:
            self.received.append(request)
        status = faults.refuse_binds
        if not status and self.credentials is not None:
            password = self.credentials.get(request.system_id)  # type: ignore[attr-defined]
            if password is None:
                status = Status.ESME_RINVSYSID
            elif password != request.password:  # type: ignore[attr-defined]
                status = Status.ESME_RINVPASWD
        if status:
            self.binds_refused += 1
            conn.session.refuse_bind(request, status)
            log.info("bind from %s refused: 0x%08X", conn.peer, int(status))
            return
        conn.session.accept_bind(request, system_id=self.system_id)
        self.binds += 1
        log.info("%s bound as %s (%s)", request.system_id, conn.session.bind_type, conn.peer)  # type: ignore[attr-defined]

    def _new_message_id(self) -> str:
        n = self._next_id
        self._next_id = n + 1
        return "%x" % n

    def _on_submit(self, conn: _Conn, req: _codec.Pdu, faults: Faults, now: float) -> None:
        conn.submits += 1
        self.submits += 1
        n = conn.submits
        if faults.close_after and n >= faults.close_after:
            self.tally["closed_after"] += 1
            conn.closing = True
            return
        session = conn.session
        if faults.close_mid_pdu_after and n >= faults.close_mid_pdu_after:
            self.tally["closed_mid_pdu"] += 1
            data = _codec.encode(req.response(message_id=self._new_message_id()))
            conn.out += session.data_to_send()
            conn.out += data[: len(data) // 2]
            conn.closing = True
            return
        if faults.drop_every and n % faults.drop_every == 0:
            self.tally["dropped"] += 1
            return
        if faults.nack_every and n % faults.nack_every == 0:
            self.tally["nacked"] += 1
            data = _HEADER.pack(16, _GENERIC_NACK, Status.ESME_RSYSERR, req.sequence_number)
        elif faults.throttle_every and n % faults.throttle_every == 0:
            self.tally["throttled"] += 1
            data = _codec.encode(req.response(command_status=Status.ESME_RTHROTTLED))
        elif faults.status:
            self.tally["status"] += 1
            data = _codec.encode(req.response(command_status=faults.status))
        else:
            mid = self._new_message_id()
            data = _codec.encode(req.response(message_id=mid))
            if req.command_id != _SUBMIT_MULTI and req.registered_delivery & 3 == 1:  # type: ignore[attr-defined]
                self._schedule_receipt(conn, req, mid, now)
        if faults.delay > 0:
            self.tally["delayed"] += 1
            self._at(now + faults.delay, lambda: self._write_later(conn, data), conn)
        else:
            conn.out += data

    def _write_later(self, conn: _Conn, data: bytes) -> None:
        if conn.sock.fileno() < 0 or conn.closing:
            return
        conn.out += data
        self._dirty.add(conn)

    def _known_id(self, message_id: str) -> Optional[int]:
        try:
            n = int(message_id, 16)
        except ValueError:
            return None
        return n if 0 < n < self._next_id else None

    def _on_other_request(self, conn: _Conn, req: _codec.Pdu) -> None:
        self.requests += 1
        session = conn.session
        cid = req.command_id
        if cid == _QUERY_SM:
            n = self._known_id(req.message_id)  # type: ignore[attr-defined]
            if n is None:
                session.respond(req, status=Status.ESME_RQUERYFAIL)
            else:
                # Every message "delivers" at once unless it was cancelled.
                state = MessageState.DELETED if n in self._cancelled else MessageState.DELIVERED
                session.respond(req, message_id=req.message_id, final_date="", message_state=state, error_code=0)  # type: ignore[attr-defined]
        elif cid == _CANCEL_SM:
            mid = req.message_id  # type: ignore[attr-defined]
            n = self._known_id(mid) if mid else 0
            if n is None:
                session.respond(req, status=Status.ESME_RCANCELFAIL)
            else:
                if n:
                    self._cancelled.add(n)
                session.respond(req)
        elif cid == _REPLACE_SM:
            if self._known_id(req.message_id) is None:  # type: ignore[attr-defined]
                session.respond(req, status=Status.ESME_RREPLACEFAIL)
            else:
                session.respond(req)
        else:
            # Anything else the state table let through still gets an answer.
            if req.has_response:
                session.respond(req, status=Status.ESME_RINVCMDID)
            else:
                conn.out += _HEADER.pack(16, _GENERIC_NACK, Status.ESME_RINVCMDID, req.sequence_number)

    def _strip_unbind_resp(self, conn: _Conn) -> None:
        # The session answered the unbind as its last act; take that answer back.
        data = conn.session.data_to_send()
        if len(data) >= 16 and _HEADER.unpack_from(data, len(data) - 16)[1] == _UNBIND_RESP:
            data = data[:-16]
        conn.out += data
        self.tally["unbind_resp_skipped"] += 1

    # -- delivering (receipts and MO) --------------------------------------------------

    def _receivers(self, system_id: Optional[str]) -> list[_Conn]:
        return [
            c
            for c in self._conns.values()
            if not c.closing
            and c.session.bind_type in ("receiver", "transceiver")
            and (system_id is None or c.session.peer_system_id == system_id)
        ]

    def _schedule_receipt(self, conn: _Conn, req: _codec.Pdu, message_id: str, now: float) -> None:
        submit_date = _now_yymmddhhmm()
        delay = self._receipt_delay
        if delay > 0:
            self._at(now + delay, lambda: self._send_receipt(conn, req, message_id, submit_date), conn)
        else:
            # After the response: the ESME should know the id before its receipt arrives.
            self._commands.append((lambda: self._send_receipt(conn, req, message_id, submit_date), conn))

    def _send_receipt(self, conn: _Conn, req: Any, message_id: str, submit_date: str) -> None:
        # The submitting connection if it can receive, else a receiver of the same system_id;
        # with receipts_elsewhere, another of its receivers in turn (as SMSCs that spread
        # receipts over an account's binds do).
        elsewhere = self.receipts_elsewhere and [
            c for c in self._receivers(conn.session.peer_system_id) if c is not conn
        ]
        if elsewhere:
            self._receipt_turn += 1
            conn = elsewhere[self._receipt_turn % len(elsewhere)]
        elif conn.session.bind_type != "transceiver" or conn.closing or conn.sock.fileno() < 0:
            targets = self._receivers(conn.session.peer_system_id)
            if not targets:
                self.tally["receipts_undeliverable"] += 1
                return
            conn = targets[0]
        sm = req.short_message if req.command_id == _SUBMIT_SM else b""
        text = (
            f"id:{message_id} sub:001 dlvrd:001 submit date:{submit_date} done date:{_now_yymmddhhmm()} "
            f"stat:DELIVRD err:000 text:"
        ).encode("ascii") + sm[:20]
        pdu = _codec.DeliverSm(
            source_addr_ton=req.dest_addr_ton,
            source_addr_npi=req.dest_addr_npi,
            source_addr=req.destination_addr,
            dest_addr_ton=req.source_addr_ton,
            dest_addr_npi=req.source_addr_npi,
            destination_addr=req.source_addr,
            esm_class=0x04,
            short_message=text,
            tlvs={Tlv.RECEIPTED_MESSAGE_ID: message_id, Tlv.MESSAGE_STATE: int(MessageState.DELIVERED)},
        )
        self._deliver(conn, pdu)
        self.receipts_sent += 1

    def _deliver(self, conn: _Conn, pdu: _codec.Pdu) -> None:
        session = conn.session
        if conn.backlog or not session.window_free:
            conn.backlog.append(pdu)
            return
        try:
            session.send(pdu, time.monotonic())
        except LocalProtocolError as err:  # unbinding or closed meanwhile
            log.debug("deliver_sm to %s not sent: %s", conn.peer, err)
            return
        self._dirty.add(conn)

    def _pump_backlog(self, conn: _Conn, now: float) -> None:
        session = conn.session
        while conn.backlog and session.window_free and session.is_bound:
            session.send(conn.backlog.popleft(), now)
