"""Prometheus export of a client's or a pool's stats: ``register(client_or_pool)``.

The collector reads ``stats`` when Prometheus scrapes, and only then, so a message costs
nothing more than the counters the drivers keep anyway. Every series carries a ``bind``
label: the member's ``label`` in a pool, or ``host:port`` for a client that has none.

Needs the optional dependency ``prometheus_client`` (``pip install 'smppfast[prometheus]'``),
imported only when ``register`` is called.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Optional

from .constants import status_name

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

__all__ = ["SmppCollector", "register"]

_EXTRA_HINT = "smppfast.prometheus needs prometheus_client: pip install 'smppfast[prometheus]'"

# name (without _total), stats attribute, help
_COUNTERS = (
    ("smppfast_submits", "submitted", "Requests sent to the SMSC (a resend after a throttle counts once)."),
    ("smppfast_throttled", "throttled", "Responses that asked us to slow down (ESME_RTHROTTLED, ESME_RMSGQFUL)."),
    ("smppfast_reconnects", "reconnects", "Binds after the first, following a lost link."),
    ("smppfast_failed", "failed", "Requests dropped unanswered: the link went down or they could not be sent."),
    ("smppfast_timeouts", "timeouts", "Requests that got no response within response_timeout."),
    ("smppfast_received", "received", "Inbound short messages (deliver_sm / data_sm that are not receipts)."),
    ("smppfast_receipts_malformed", "receipts_malformed", "Delivery receipts that could not be parsed."),
)


def _members(target: Any) -> list[Any]:
    """The clients behind ``target``: a pool's members, a client itself, or those of a list."""
    if isinstance(target, (list, tuple)):
        return [m for t in target for m in _members(t)]
    members = getattr(target, "members", None)
    if members is not None:
        return list(members)
    if not hasattr(target, "stats"):
        raise TypeError(
            f"smppfast.prometheus: expected a Client, AsyncClient, Pool or a list of them, not {type(target).__name__}"
        )
    return [target]


def _labels(members: list[Any]) -> list[str]:
    """One distinct ``bind`` label per member (two series with one label would be invalid)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for m in members:
        label = getattr(m, "label", None) or f"{m.host}:{m.port}"
        n = seen.get(label, 0) + 1
        seen[label] = n
        out.append(label if n == 1 else f"{label}#{n}")
    return out


def _bound(member: Any) -> bool:
    return bool(member.bound)


class SmppCollector:
    """A Prometheus collector over one or more smppfast clients (see :func:`register`)."""

    def __init__(self, target: Any) -> None:
        _members(target)  # a wrong target fails here, not at the first scrape
        self.target = target

    def describe(self) -> list["Metric"]:
        # The family names, without samples: a registry refuses a second collector with the
        # same names (two would make an invalid exposition) when it is registered.
        return list(self._families([], []))

    def collect(self) -> Iterator["Metric"]:
        members = _members(self.target)
        return iter(list(self._families(members, _labels(members))))

    def _families(self, members: list[Any], labels: list[str]) -> Iterable["Metric"]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        stats = [m.stats for m in members]
        for name, attr, doc in _COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["bind"])
            for label, st in zip(labels, stats):
                family.add_metric([label], getattr(st, attr))
            yield family

        responses = CounterMetricFamily(
            "smppfast_responses", "Responses from the SMSC by command_status.", labels=["bind", "status"]
        )
        receipts = CounterMetricFamily(
            "smppfast_receipts", "Delivery receipts by state (DELIVRD, UNDELIV, ..., OTHER).", labels=["bind", "state"]
        )
        for label, st in zip(labels, stats):
            for status, n in sorted(dict(st.responses).items()):
                responses.add_metric([label, status_name(int(status))], n)
            for state, n in sorted(dict(st.receipts_by_state).items()):
                receipts.add_metric([label, state], n)
        yield responses
        yield receipts

        in_flight = GaugeMetricFamily("smppfast_in_flight", "Requests awaiting their response.", labels=["bind"])
        bound = GaugeMetricFamily("smppfast_bound", "1 while the bind is bound, else 0.", labels=["bind"])
        flags = [_bound(m) for m in members]
        for label, member, flag in zip(labels, members, flags):
            in_flight.add_metric([label], member.in_flight)
            bound.add_metric([label], 1 if flag else 0)
        yield in_flight
        yield bound
        bound_members = GaugeMetricFamily("smppfast_bound_members", "Binds bound now (of a pool, or of one client).")
        if members:
            bound_members.add_metric([], sum(flags))
        yield bound_members

        histogram = HistogramMetricFamily(
            "smppfast_response_seconds", "Submit-to-response time of successful responses.", labels=["bind"]
        )
        for label, st in zip(labels, stats):
            hist = st.histogram()
            buckets = [(_le(bound_), count) for bound_, count in hist.cumulative()]
            histogram.add_metric([label], buckets, hist.sum)
        yield histogram


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def register(client_or_pool: Any, registry: Optional["CollectorRegistry"] = None) -> SmppCollector:
    """Export ``client_or_pool``'s stats to Prometheus, read at each scrape.

    ``client_or_pool`` is a ``Client``, ``AsyncClient``, ``Pool`` / ``AsyncPool`` (one series per
    member), or a list of them. ``registry`` defaults to prometheus_client's global
    ``REGISTRY``. One registry takes one smppfast collector (the metric names would clash):
    give several clients as one list. Returns the collector, for ``registry.unregister``.
    """
    try:
        import prometheus_client
    except ImportError as err:
        raise ImportError(_EXTRA_HINT) from err
    collector = SmppCollector(client_or_pool)
    if registry is None:
        registry = prometheus_client.REGISTRY
    try:
        registry.register(collector)
    except ValueError as err:
        raise ValueError(
            f"smppfast.prometheus.register: {err} (a registry takes one smppfast collector: "
            "register several clients as one list, or unregister the old collector first)"
        ) from err
    return collector
