"""What a client (or a pool of them) has done: counters, gauges and a latency histogram.

The drivers write the counters (the threaded client under its lock, the asyncio client on
its loop); the submit-to-response latencies are recorded in C by ``_futures.settle`` into
a :class:`~smppfast._futures.LatencyRing`, which also counts them into fixed histogram
buckets, so the hot path gains no Python call. Readers (a user, the Prometheus collector)
read at any time: ints are read whole, and the Counters and the histogram are copied in
one C step each, so a read never sees half an update and never blocks the client.
"""

from __future__ import annotations

import collections
import weakref
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ._futures import LATENCY_BUCKETS, LatencyRing
from .receipt import STATE_TO_STAT, DeliveryReceipt

__all__ = ["ClientStats", "LatencyHistogram", "LATENCY_BUCKETS", "combined", "receipt_state"]

# How many recent latencies a client keeps for percentiles (the histogram counts them all).
LATENCY_SAMPLES = 65536

#: The ``receipts_by_state`` key of a receipt whose state is none of SMPP 3.4's (a ``stat:`` an
#: SMSC made up). Free text from the SMSC never becomes a key: that would let one SMSC grow
#: the counter, and a monitoring system's series, without bound.
OTHER_STATE = "OTHER"


def receipt_state(receipt: DeliveryReceipt) -> str:
    """The Appendix B code of a receipt's state (``"DELIVRD"``, ``"UNDELIV"``, ...), or ``OTHER``."""
    state = receipt.state
    return STATE_TO_STAT[state] if state is not None else OTHER_STATE


@dataclass(frozen=True)
class LatencyHistogram:
    """Submit-to-response latencies of successful responses, in fixed buckets.

    ``counts[i]`` is how many fell at or below ``bounds[i]`` and above the bound before (not
    cumulative); ``counts[-1]`` is how many were above every bound. ``sum`` is in seconds.
    """

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, count at or below it)`` per bucket, ending with ``(inf, count)``."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts):
            running += n
            out.append((bound, running))
        return out


class ClientStats:
    """Counters a user can read at any time (plain attributes).

    * ``submitted``: requests sent (a request sent again after a throttle counts once);
    * ``responses``: responses by ``command_status`` (a ``Counter`` of ints; 0 is ESME_ROK),
      throttled ones included;
    * ``throttled``: responses that asked us to slow down (and were sent again);
    * ``timeouts``: requests that got no response in ``response_timeout``;
    * ``failed``: requests dropped unanswered because the link went down or the request
      could not be sent;
    * ``reconnects``: binds after the first;
    * ``received``: inbound deliver_sm / data_sm that were messages (not receipts);
    * ``receipts`` and ``receipts_by_state`` (a ``Counter`` keyed by the Appendix B code,
      ``"DELIVRD"``, ``"UNDELIV"``, ..., or ``"OTHER"``); ``receipts_malformed``;
    * gauges ``in_flight`` (requests awaiting their response) and ``bound`` (1 or 0; for a
      pool, how many members are bound);
    * ``histogram()``: the latency histogram (every successful response), and
      ``latency_percentiles`` over the most recent ones.
    """

    def __init__(self, owner: Optional[Any] = None, *, samples: int = LATENCY_SAMPLES) -> None:
        """``owner`` is the client whose gauges ``in_flight`` and ``bound`` this reads (held
        weakly); without one they are the fixed values of a snapshot (see :func:`combined`).
        ``samples`` is how many recent latencies are kept for percentiles."""
        self.submitted = 0
        self.responses: collections.Counter[int] = collections.Counter()
        self.throttled = 0
        self.timeouts = 0
        self.failed = 0
        self.reconnects = 0
        self.received = 0
        self.receipts = 0
        self.receipts_by_state: collections.Counter[str] = collections.Counter()
        self.receipts_malformed = 0
        #: The latencies of successful responses: the most recent for percentiles, all of them
        #: in the histogram (one owner: the client's reader records into it, in C).
        self.latency = LatencyRing(samples)
        self._owner = weakref.ref(owner) if owner is not None else None
        self._in_flight = 0
        self._bound = 0

    # -- gauges ---------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered, now."""
        owner = self._owner() if self._owner is not None else None
        if owner is None:
            return self._in_flight
        return int(owner.in_flight)

    @property
    def bound(self) -> int:
        """1 while the client is bound (for combined stats: how many members were), else 0."""
        owner = self._owner() if self._owner is not None else None
        if owner is None:
            return self._bound
        return 1 if owner.bound else 0

    # -- updates (by the drivers) ---------------------------------------------------------

    def count_receipt(self, receipt: DeliveryReceipt) -> None:
        self.receipts += 1
        self.receipts_by_state[receipt_state(receipt)] += 1

    # -- reading --------------------------------------------------------------------

    def histogram(self) -> LatencyHistogram:
        """The latency histogram of every successful response so far."""
        counts, total = self.latency.histogram()
        return LatencyHistogram(LATENCY_BUCKETS, tuple(counts), total)

    def latency_samples(self) -> list[float]:
        """A copy of the recent submit-to-response latencies (seconds), for pooling across clients."""
        return self.latency.samples()

    def latency_percentiles(self, *quantiles: float) -> list[float]:
        """Submit-to-response latency (seconds) at each quantile in [0, 1], over recent responses."""
        data = sorted(self.latency.samples())
        if not data:
            return [float("nan")] * len(quantiles)
        return [data[min(len(data) - 1, int(q * len(data)))] for q in quantiles]

    def __repr__(self) -> str:
        return (
            f"ClientStats(submitted={self.submitted}, responses={dict(self.responses)}, "
            f"throttled={self.throttled}, timeouts={self.timeouts}, failed={self.failed}, "
            f"reconnects={self.reconnects}, received={self.received}, receipts={self.receipts}, "
            f"receipts_by_state={dict(self.receipts_by_state)}, in_flight={self.in_flight}, bound={self.bound})"
        )


_COUNTS = ("submitted", "throttled", "timeouts", "failed", "reconnects", "received", "receipts", "receipts_malformed")


def combined(stats: Iterable[ClientStats]) -> ClientStats:
    """One snapshot of many clients' stats (a pool's members): counters and the histogram
    summed, the recent latencies of all of them pooled, ``in_flight`` summed, and ``bound``
    the number of members bound, all as of now. Read it again for newer figures."""
    parts = list(stats)
    out = ClientStats(samples=max(1, sum(len(s.latency) for s in parts)))
    for s in parts:
        for name in _COUNTS:
            setattr(out, name, getattr(out, name) + getattr(s, name))
        # dict() of a Counter is one C copy under the GIL: never torn by a concurrent update.
        out.responses.update(dict(s.responses))
        out.receipts_by_state.update(dict(s.receipts_by_state))
        out.latency.merge(s.latency)
        out._in_flight += s.in_flight
        out._bound += s.bound
    return out
