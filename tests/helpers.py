"""Shared test helpers: two sans-IO sessions wired together in memory with a fake clock, and
``wait_until`` for the tests that drive real sockets and threads.

The idea is h11's ``ConnectionPair``: no sockets, no threads, no sleeping. Bytes move
only when a test says so, and time moves only when a test sets ``pair.now``, so every
timer test is exact and takes microseconds.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from smppfast import _codec
from smppfast.events import BindRequested, Bound, Event
from smppfast.session import Session


class SessionPair:
    """An ESME ``Session`` and an SMSC ``Session`` joined by an in-memory "wire"."""

    def __init__(self, *, now: float = 0, esme: Optional[dict[str, Any]] = None, smsc: Optional[dict[str, Any]] = None) -> None:
        self.now: float = now
        # Timers off by default on both sides so a test only sees the timer it turns on.
        quiet = {"response_timeout": None, "enquire_link_interval": None, "inactivity_timeout": None}
        self.esme = Session("esme", now=now, **{**quiet, **(esme or {})})
        self.smsc = Session("smsc", now=now, **{**quiet, **(smsc or {})})

    # -- moving bytes ---------------------------------------------------------------

    def esme_to_smsc(self) -> list[Event]:
        """Deliver what the ESME queued; return the SMSC's events."""
        data = self.esme.data_to_send()
        return self.smsc.receive_data(data, self.now) if data else []

    def smsc_to_esme(self) -> list[Event]:
        """Deliver what the SMSC queued; return the ESME's events."""
        data = self.smsc.data_to_send()
        return self.esme.receive_data(data, self.now) if data else []

    def pump(self) -> tuple[list[Event], list[Event]]:
        """Move bytes both ways until neither side has anything queued.

        Returns (events the ESME saw, events the SMSC saw). Inbound requests are *not*
        answered here: the SMSC's application logic is the test's (or the simulator's) job.
        """
        esme_events: list[Event] = []
        smsc_events: list[Event] = []
        for _ in range(100):
            a = self.esme_to_smsc()
            b = self.smsc_to_esme()
            smsc_events += a
            esme_events += b
            if not self.esme.output_size and not self.smsc.output_size:
                return esme_events, smsc_events
        raise AssertionError("pump never went quiet")

    def tick(self, now: float) -> tuple[list[Event], list[Event]]:
        """Set the clock and fire both sides' due timers (bytes are not moved)."""
        self.now = now
        return self.esme.handle_deadline(now), self.smsc.handle_deadline(now)

    # -- binding --------------------------------------------------------------------

    def bind(self, bind_type: str = "transceiver", *, system_id: str = "test", password: str = "secret") -> Bound:
        """Bind the ESME, with the SMSC accepting; return the ESME's ``Bound`` event."""
        self.esme.bind(bind_type, system_id=system_id, password=password, now=self.now)
        smsc_events = self.esme_to_smsc()
        (requested,) = smsc_events
        assert isinstance(requested, BindRequested)
        self.smsc.accept_bind(requested.request, system_id="smsc")
        (bound,) = self.smsc_to_esme()
        assert isinstance(bound, Bound)
        return bound

    def send(self, pdu: Optional[_codec.Pdu] = None, token: Any = None) -> int:
        """ESME sends a request (a submit_sm by default); returns its sequence number."""
        if pdu is None:
            pdu = _codec.SubmitSm(destination_addr="123", short_message=b"hi")
        return self.esme.send(pdu, self.now, token)


def of_type(events: list[Event], cls: type) -> list[Any]:
    """The events of exactly ``cls`` (drivers dispatch on the exact type, so tests do too)."""
    return [e for e in events if type(e) is cls]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= end:
            return False
        time.sleep(0.005)
    return True
