"""What the per-PDU debug log (``smppfast.pdu``) costs while it is off.

    python -m pytest benchmarks/test_bench_pdulog.py --benchmark-only -q

The session checks ``isEnabledFor(DEBUG)`` once per buffer read or written, never per PDU, so
with the ``smppfast.pdu`` logger at WARNING a client should run as fast as with logging
switched off altogether (``logging.disable``). Each round runs the same client case (one bind
against the C sink, or the simulator when gcc is missing) under both settings, in alternating
order, so load from other processes hits both alike. ``extra_info`` holds the submits/s of
each setting and ``ratio_warning_to_disabled`` (the median of each round's ratio): 1.0 means free. For scale, the
same case with the log on (DEBUG, into a handler that drops every line) is measured too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import sys
from typing import Any, Iterator

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # works under any pytest import mode
    sys.path.insert(0, _HERE)

import client_peers as cp  # noqa: E402

ROUNDS = int(os.environ.get("SMPPFAST_BENCH_ROUNDS", "3"))
SCALE = float(os.environ.get("SMPPFAST_BENCH_SCALE", "1.0"))
SETTINGS = ("warning", "disabled", "debug")


@contextlib.contextmanager
def pdu_logging(setting: str) -> Iterator[None]:
    """``warning``: the logger at WARNING (DEBUG off, as in production); ``disabled``:
    ``logging.disable(CRITICAL)``, nothing logs at all; ``debug``: every PDU formatted
    into a handler that drops it."""
    logger = logging.getLogger("smppfast.pdu")
    saved = (logger.level, logger.propagate, list(logger.handlers), logging.root.manager.disable)
    try:
        if setting == "disabled":
            logging.disable(logging.CRITICAL)
        elif setting == "warning":
            logging.disable(logging.NOTSET)
            logger.setLevel(logging.WARNING)
        elif setting == "debug":
            logging.disable(logging.NOTSET)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
            logger.handlers = [_Drop()]
        else:
            raise ValueError(setting)
        yield
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers = saved[2]
        logging.disable(saved[3])


class _Drop(logging.Handler):
    """Formats each record (what a real handler would pay) and keeps nothing."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    srv = cp.SERVERS["sim" if cp.tools_error() else "sink"]()
    yield srv
    srv.stop()


@pytest.mark.parametrize("window", [1, 100], ids=["window1", "window100"])
def test_pdu_log_off_costs_nothing(benchmark: Any, server: Any, window: int) -> None:
    count = max(1000, int((20_000 if window == 1 else 200_000) * SCALE) // 1000 * 1000)
    benchmark.group = f"smppfast.pdu logger off / {server.name}"
    rates: dict[str, list[float]] = {s: [] for s in SETTINGS}
    rounds = [0]

    def once() -> None:
        # Alternate which setting goes first: a slow start or a burst of load favours neither.
        order = ("warning", "disabled") if rounds[0] % 2 == 0 else ("disabled", "warning")
        rounds[0] += 1
        for setting in (*order, "debug"):
            with pdu_logging(setting):
                n = count if setting != "debug" else max(1000, count // 10)
                rates[setting].append(cp.smppfast_case(server.port, "pipelined", window, n).rate)

    benchmark.pedantic(once, rounds=ROUNDS, iterations=1)
    med = {s: statistics.median(r) for s, r in rates.items()}
    best = {s: max(r) for s, r in rates.items()}
    # Each round's two runs are neighbours in time: the median of their ratios is the figure
    # least moved by load that comes and goes; the best rounds' ratio is a second opinion.
    ratio = statistics.median(w / d for w, d in zip(rates["warning"], rates["disabled"]))
    benchmark.extra_info.update(
        server=server.name, window=window, submits=count,
        **{f"submits_per_s_{s}": med[s] for s in SETTINGS},
        **{f"rounds_submits_per_s_{s}": rates[s] for s in SETTINGS},
        ratio_warning_to_disabled=ratio, ratio_best_warning_to_disabled=best["warning"] / best["disabled"],
        ratio_debug_to_disabled=med["debug"] / med["disabled"],
    )
    print(
        f"\nsmppfast.pdu, window {window} vs {server.name}, {ROUNDS} rounds: WARNING {med['warning']:,.0f}/s "
        f"(best {best['warning']:,.0f}), logging disabled {med['disabled']:,.0f}/s (best {best['disabled']:,.0f}); "
        f"ratio WARNING/disabled: median of rounds {ratio:.3f}, best rounds {best['warning'] / best['disabled']:.3f}; "
        f"DEBUG on (lines dropped) {med['debug']:,.0f}/s"
    )
    assert all(r > 0 for rs in rates.values() for r in rs)


# -- the same question without sockets or threads: one session round trip ---------------------

_session_min: dict[str, float] = {}


def _session_pair() -> Any:
    from smppfast.events import BindRequested
    from smppfast.session import Session

    quiet = dict(response_timeout=None, enquire_link_interval=None, inactivity_timeout=None)
    esme, smsc = Session("esme", now=0.0, **quiet), Session("smsc", now=0.0, **quiet)
    esme.bind("transceiver", system_id=cp.SYSTEM_ID, password=cp.PASSWORD, now=0.0)
    (requested,) = smsc.receive_data(esme.data_to_send(), 0.0)
    assert isinstance(requested, BindRequested)
    smsc.accept_bind(requested.request, system_id="smsc")
    esme.receive_data(smsc.data_to_send(), 0.0)
    assert esme.is_bound
    return esme, smsc


@pytest.mark.parametrize("setting", ["warning", "disabled"])
def test_pdu_log_off_session_round_trip(benchmark: Any, setting: str) -> None:
    """100 submit_sm -> submit_sm_resp round trips through an ESME and an SMSC session, one at a
    time (4 buffers, so 4 ``isEnabledFor`` checks, per submit): CPU only, so the min is steady."""
    from smppfast import SubmitSm

    benchmark.group = "smppfast.pdu logger off / session round trip x100"
    esme, smsc = _session_pair()
    pdu = SubmitSm(**cp.SUBMIT_FIELDS)
    send, esme_out, esme_in = esme.send, esme.data_to_send, esme.receive_data
    smsc_out, smsc_in, respond = smsc.data_to_send, smsc.receive_data, smsc.respond

    def round_trips() -> None:
        for _ in range(100):
            send(pdu, 0.0, None)
            (request,) = smsc_in(esme_out(), 0.0)
            respond(request.request, message_id="1")
            esme_in(smsc_out(), 0.0)

    with pdu_logging(setting):
        benchmark(round_trips)
    _session_min[setting] = benchmark.stats.stats.min
    if len(_session_min) == 2:
        ratio = _session_min["disabled"] / _session_min["warning"]
        benchmark.extra_info["ratio_warning_to_disabled"] = ratio
        print(f"\nsession round trip x100, min: WARNING {_session_min['warning'] * 1e6:.1f} µs, "
              f"disabled {_session_min['disabled'] * 1e6:.1f} µs, speed ratio WARNING/disabled {ratio:.3f}")
