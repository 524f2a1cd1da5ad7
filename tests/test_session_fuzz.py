"""Whatever bytes a peer sends, a Session answers with events and bytes, never an exception.

Streams are built from every golden vector, then cut, mutated and reordered; both roles, bound
and unbound, take them. Every request still in flight ends exactly once (response, timeout or
failure), and the session ends closed or still usable.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smppfast
from smppfast.events import RequestFailed, RequestTimedOut, ResponseReceived
from smppfast.session import Session, SessionState

from .conftest import load_jsonl

PDUS = [bytes.fromhex(v["pdu_hex"]) for v in load_jsonl("pdus.jsonl") if len(v["pdu_hex"]) < 2000]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(0, 4)):
        kind = rng.randrange(4)
        if kind == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 1 and b:
            del b[rng.randrange(len(b)) :]
        elif kind == 2:
            b[rng.randrange(len(b) + 1) : 0] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 3 and len(b) >= 4:
            b[0:4] = rng.randrange(0, 80).to_bytes(4, "big")
    return bytes(b)


def _session(role: str, state: SessionState) -> Session:
    session = Session(role, window=50, response_timeout=5.0, enquire_link_interval=10.0, inactivity_timeout=60.0)
    session.state = state
    return session


@pytest.mark.parametrize("role", ["esme", "smsc"])
@pytest.mark.parametrize("state", [SessionState.OPEN, SessionState.BOUND_TRX, SessionState.BOUND_RX])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_hostile_streams_never_raise(role: str, state: SessionState, seed: int) -> None:
    rng = random.Random(seed)
    session = _session(role, state)
    tokens = []
    if state is SessionState.BOUND_TRX and role == "esme":
        for i in range(10):
            token = object()
            session.send(smppfast.SubmitSm(destination_addr=str(i), short_message=b"x"), 0.0, token)
            tokens.append(token)
    session.data_to_send()
    stream = b"".join(_mutate(rng, rng.choice(PDUS)) if rng.random() < 0.5 else rng.choice(PDUS)
                      for _ in range(rng.randint(1, 12)))
    ended: list[object] = []
    now = 0.0
    pos = 0
    while pos < len(stream):
        step = rng.randint(1, 200)
        for ev in session.receive_data(stream[pos : pos + step], now):
            if isinstance(ev, (ResponseReceived, RequestTimedOut, RequestFailed)):
                ended.append(ev.token)
        session.data_to_send()
        pos += step
        now += 0.5
    # Let every timer fire, then the peer hangs up: whatever was in flight must have ended.
    for t in (6.0, 11.0, 30.0, 61.0):
        for ev in session.handle_deadline(t):
            if isinstance(ev, (ResponseReceived, RequestTimedOut, RequestFailed)):
                ended.append(ev.token)
    for ev in session.receive_data(b"", 70.0):
        if isinstance(ev, (ResponseReceived, RequestTimedOut, RequestFailed)):
            ended.append(ev.token)
    assert session.state is SessionState.CLOSED
    assert sorted(map(id, ended)) == sorted(map(id, tokens)), "a request ended twice or never"
    assert session.in_flight == 0
