"""The simulator never dies from its user (issue 9, item 7).

Bad arguments raise where they are given, naming the argument and the value; long MO texts
are split; and an exception while serving one connection closes that connection only, never
the listener or the other connections.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import re
import socket
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest

import smppfast
from smppfast import Command, Status, Tlv
from smppfast._text import decode_text
from smppfast.cli import build_parser
from smppfast.simulator import Faults, Simulator

from .test_simulator import RawClient, submit
from .test_simulator import bound as _bound

README = Path(__file__).resolve().parent.parent / "README.md"


_open: list[RawClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def bound(sim: Simulator, bind_type: str = "transceiver") -> RawClient:
    c = _bound(sim, bind_type)
    _open.append(c)
    return c


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


def assert_serving(sim: Simulator) -> None:
    """A fresh connection binds and gets a submit answered: the listener and the loop are alive."""
    c = RawClient(sim.port)
    try:
        assert c.bind().command_status == 0
        resp = c.request(submit())
        assert resp.command_id == Command.SUBMIT_SM_RESP and resp.command_status == 0 and resp.message_id
    finally:
        c.close()


def deliver_sms(c: RawClient, n: int) -> list[smppfast.Pdu]:
    got = []
    for _ in range(n):
        pdu = c.recv(command_id=Command.DELIVER_SM)
        c.send(pdu.response())
        got.append(pdu)
    return got


# -- send_mo ------------------------------------------------------------------------------


def test_send_mo_splits_a_long_text_with_udh(sim: Simulator) -> None:
    c = bound(sim)
    text = "x" * 300
    assert sim.send_mo("447700900123", "1234", text) == 2
    parts = deliver_sms(c, 2)
    assert [p.esm_class & 0x40 for p in parts] == [0x40, 0x40]
    udhs = [p.short_message[:6] for p in parts]
    assert udhs[0][:3] == udhs[1][:3] == b"\x05\x00\x03"
    assert udhs[0][3] == udhs[1][3]  # one reference
    assert [u[4:] for u in udhs] == [b"\x02\x01", b"\x02\x02"]
    assert "".join(decode_text(p.short_message[6:], p.data_coding) for p in parts) == text
    assert all(p.source_addr == "447700900123" and p.destination_addr == "1234" for p in parts)
    assert sim.wait_for(lambda: sim.deliver_responses == 2)
    assert sim.mo_sent == 2
    assert c.quiet_for(0.1)  # nothing more than the two parts
    c.close()
    assert_serving(sim)


def test_send_mo_long_ucs2_text_keeps_the_callers_fields(sim: Simulator) -> None:
    c = bound(sim)
    text = "Привет с телефона, " * 8  # 152 UCS-2 units: 3 parts of at most 67
    assert sim.send_mo("1", "2", text, method="sar", priority_flag=1, tlvs={Tlv.USER_MESSAGE_REFERENCE: 7}) == 3
    parts = deliver_sms(c, 3)
    assert [p.tlvs[Tlv.SAR_SEGMENT_SEQNUM] for p in parts] == [1, 2, 3]
    assert {p.tlvs[Tlv.SAR_TOTAL_SEGMENTS] for p in parts} == {3}
    assert all(p.tlvs[Tlv.USER_MESSAGE_REFERENCE] == 7 and p.priority_flag == 1 for p in parts)
    assert all(p.data_coding == 8 and p.esm_class == 0 for p in parts)
    assert "".join(decode_text(p.short_message, 8) for p in parts) == text


def test_send_mo_payload_method_sends_one_pdu(sim: Simulator) -> None:
    c = bound(sim)
    assert sim.send_mo("1", "2", "y" * 500, method="payload") == 1
    (pdu,) = deliver_sms(c, 1)
    assert pdu.short_message == b"" and pdu.tlvs[Tlv.MESSAGE_PAYLOAD] == b"y" * 500


def test_send_mo_bytes_too_long_for_a_short_message_raise(sim: Simulator) -> None:
    c = bound(sim)
    with pytest.raises(ValueError, match=r"send_mo: message is 300 octets; a short_message holds at most 254"):
        sim.send_mo("1", "2", b"\x01" * 300, data_coding=4)
    # 254 octets still go, as they are; the payload TLV is the way for more.
    assert sim.send_mo("1", "2", b"\x01" * 254, data_coding=4) == 1
    assert sim.send_mo("1", "2", b"", data_coding=4, tlvs={Tlv.MESSAGE_PAYLOAD: b"\x02" * 300}) == 1
    first, second = deliver_sms(c, 2)
    assert first.short_message == b"\x01" * 254 and first.data_coding == 4
    assert second.tlvs[Tlv.MESSAGE_PAYLOAD] == b"\x02" * 300
    assert_serving(sim)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (("1" * 30, "2", "hi"), {}, ValueError, r"send_mo: source_addr is 30 characters.*'1111"),
        (("1", "2" * 25, "hi"), {}, ValueError, r"send_mo: destination_addr is 25 characters"),
        (("1", 2, "hi"), {}, TypeError, r"send_mo: destination_addr must be a str, not int"),
        (("1", "2", 42), {}, TypeError, r"send_mo: message must be a str or bytes, not int 42"),
        (("1", "2", "hi"), {"colour": "red"}, TypeError, r"send_mo: .*unexpected keyword argument 'colour'"),
        (("1", "2", "hi"), {"esm_class": "udhi"}, TypeError, r"send_mo: esm_class must be an int, not str 'udhi'"),
        (("1", "2", "hi"), {"esm_class": 256}, ValueError, r"send_mo: esm_class 256 is out of range"),
        (("1", "2", "hi"), {"data_coding": 300}, ValueError, r"send_mo: data_coding must be in 0\.\.255, not 300"),
        (("1", "2", "hi"), {"data_coding": 4}, ValueError, r"send_mo: message 'hi': data_coding 4 is 8-bit binary"),
        (("1", "2", "hi"), {"method": "smoke"}, ValueError, r"send_mo: message 'hi': method must be .*'smoke'"),
        (("1", "2", "hi"), {"system_id": 7}, TypeError, r"send_mo: system_id must be a str or None, not int 7"),
        (("1", "2", "hi"), {"tlvs": [1, 2]}, TypeError, r"send_mo: tlvs must be a dict"),
        (("1", "2", "hi"), {"short_message": b"x"}, TypeError, r"send_mo: short_message is not given as a field"),
        (("1", "2", "x" * 40_000), {}, ValueError, r"send_mo: message 'xxx.*\(40000 long\):.*255 parts"),
    ],
)
def test_send_mo_checks_its_arguments_on_the_callers_thread(
    sim: Simulator, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    c = bound(sim)
    with pytest.raises(error, match=message):
        sim.send_mo(*args, **kwargs)
    assert c.quiet_for(0.1)  # nothing was sent
    assert sim.mo_sent == 0
    assert_serving(sim)


# -- Faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given", ["ESME_RINVDSTADR", "esme_rinvdstadr", "RINVDSTADR", "invdstadr", "0x0B", "11", 0x0B, Status.ESME_RINVDSTADR]
)
def test_faults_status_takes_names_and_numbers(sim: Simulator, given: Any) -> None:
    faults = Faults(status=given)
    assert faults.status == 0x0B and type(faults.status) is int
    sim.faults = faults
    c = bound(sim)
    resp = c.request(submit())
    assert resp.command_status == Status.ESME_RINVDSTADR
    assert_serving_with_status(sim, Status.ESME_RINVDSTADR)


def assert_serving_with_status(sim: Simulator, status: int) -> None:
    c = RawClient(sim.port)
    try:
        assert c.bind().command_status == 0
        assert c.request(submit()).command_status == status
    finally:
        c.close()


def test_faults_status_name_at_run_time_does_not_kill_the_loop(sim: Simulator) -> None:
    c = bound(sim)
    sim.set_faults(status="ESME_RMSGQFUL")
    assert sim.faults.status == Status.ESME_RMSGQFUL
    assert c.request(submit()).command_status == Status.ESME_RMSGQFUL
    sim.set_faults(status="ESME_ROK")
    assert c.request(submit()).command_status == 0
    assert_serving(sim)


def test_refuse_binds_takes_a_status_name() -> None:
    with Simulator(faults=Faults(refuse_binds="ESME_RBINDFAIL")) as sim:
        c = RawClient(sim.port)
        assert c.bind().command_status == Status.ESME_RBINDFAIL
        c.close()
        sim.set_faults(refuse_binds=0)
        assert_serving(sim)
        assert sim.binds_refused == 1


def test_bind_status_is_a_deprecated_alias_of_refuse_binds(sim: Simulator) -> None:
    with pytest.warns(DeprecationWarning, match="refuse_binds"):
        faults = Faults(bind_status=Status.ESME_RALYBND)
    assert faults.refuse_binds == Status.ESME_RALYBND
    with pytest.warns(DeprecationWarning, match="refuse_binds"):
        assert faults.bind_status == Status.ESME_RALYBND
    with pytest.warns(DeprecationWarning, match="refuse_binds"):
        sim.set_faults(bind_status="ESME_RBINDFAIL")
    assert sim.faults.refuse_binds == Status.ESME_RBINDFAIL
    with pytest.raises(TypeError, match="not both"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        Faults(refuse_binds=1, bind_status=2)


BAD_FAULTS = [
    ("throttle_every", -1, ValueError, "throttle_every must be at least 0, not -1"),
    ("drop_every", -3, ValueError, "drop_every must be at least 0, not -3"),
    ("nack_every", 1.5, TypeError, "nack_every must be an int, not float 1.5"),
    ("close_after", "3", TypeError, "close_after must be an int, not str '3'"),
    ("close_mid_pdu_after", True, TypeError, "close_mid_pdu_after must be an int, not the bool True"),
    ("delay", -0.5, ValueError, "delay must be a finite number of seconds >= 0, not -0.5"),
    ("delay", math.inf, ValueError, "delay must be a finite number of seconds >= 0, not inf"),
    ("delay", math.nan, ValueError, "delay must be a finite number of seconds >= 0, not nan"),
    ("delay", "1", TypeError, "delay must be a number of seconds, not str '1'"),
    ("status", "ESME_RNOSUCH", ValueError, "status 'ESME_RNOSUCH' is neither a command_status name"),
    ("status", -1, ValueError, "status must be at least 0, not -1"),
    ("status", 1 << 32, ValueError, "status 0x100000000 does not fit a command_status"),
    ("status", 2.0, TypeError, "status must be an int, not float 2.0"),
    ("refuse_binds", "nope", ValueError, "refuse_binds 'nope' is neither a command_status name"),
    ("skip_unbind_resp", 1, TypeError, "skip_unbind_resp must be True or False, not int 1"),
]


@pytest.mark.parametrize("name, value, error, message", BAD_FAULTS)
def test_faults_refuse_bad_values_at_construction(name: str, value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match="^Faults: " + re.escape(message)):
        Faults(**{name: value})


@pytest.mark.parametrize("name, value, error, message", BAD_FAULTS)
def test_set_faults_refuses_bad_values_and_changes_nothing(
    sim: Simulator, name: str, value: Any, error: type[Exception], message: str
) -> None:
    sim.set_faults(drop_every=5)
    before = sim.faults
    with pytest.raises(error, match=re.escape(message)):
        sim.set_faults(**{name: value})
    assert sim.faults is before
    with pytest.raises(error, match=re.escape(message)):
        setattr(sim.faults, name, value)  # assigning a field is checked too
    assert sim.faults == Faults(drop_every=5)
    assert_serving(sim)


def test_set_faults_names_an_unknown_field(sim: Simulator) -> None:
    with pytest.raises(TypeError, match=r"set_faults: unknown Faults field 'throttle_evry'; the fields are close_after"):
        sim.set_faults(throttle_evry=2)
    with pytest.raises(TypeError, match=r"Faults\.__init__\(\) got an unexpected keyword argument 'throttle_evry'"):
        Faults(throttle_evry=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"Simulator\.faults must be a Faults, not dict"):
        sim.faults = {"throttle_every": 2}  # type: ignore[assignment]


def test_every_fault_flag_of_the_cli_is_a_faults_field_of_the_same_name() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    simulator = sub.choices["simulator"]
    group = next(g for g in simulator._action_groups if g.title and g.title.startswith("faults"))
    fields = {f.name for f in dataclasses.fields(Faults)}
    flags = {}
    for action in group._group_actions:
        (flag,) = action.option_strings
        flags[flag] = action.dest
        assert flag == "--" + action.dest.replace("_", "-")
    assert set(flags.values()) <= fields, f"flags without a Faults field of their name: {set(flags.values()) - fields}"
    assert "refuse_binds" in flags.values()
    args = parser.parse_args(["simulator", "--refuse-binds", "ESME_RBINDFAIL", "--status", "invdstadr"])
    faults = Faults(**{dest: getattr(args, dest) for dest in flags.values()})
    assert faults.refuse_binds == Status.ESME_RBINDFAIL and faults.status == Status.ESME_RINVDSTADR


def test_readme_lists_every_faults_field() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The simulator and the pytest fixture"):]
    section = section[: section.index("\n## ", 1)]
    rows = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert rows == [f.name for f in dataclasses.fields(Faults)]


# -- the Simulator's own arguments ---------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"port": -1}, ValueError, "port must be at least 0, not -1"),
        ({"port": 70000}, ValueError, "port must be in 0..65535 (0 picks a free one), not 70000"),
        ({"port": "2775"}, TypeError, "port must be an int, not str '2775'"),
        ({"host": None}, TypeError, "host must be a str, not NoneType None"),
        ({"window": 0}, ValueError, "window must be at least 1, not 0"),
        ({"record": -1}, ValueError, "record must be at least 0, not -1"),
        ({"backlog": -5}, ValueError, "backlog must be at least 0, not -5"),
        ({"receipt_delay": -1}, ValueError, "receipt_delay must be a finite number of seconds >= 0, not -1"),
        ({"response_timeout": 0}, ValueError, "response_timeout must be a finite number of seconds > 0, not 0"),
        ({"enquire_link_interval": -2.0}, ValueError, "enquire_link_interval must be a finite number of seconds > 0"),
        ({"inactivity_timeout": "5"}, TypeError, "inactivity_timeout must be a number of seconds, not str '5'"),
        ({"system_id": "x" * 16}, ValueError, "system_id 'xxxxxxxxxxxxxxxx': system_id is 16 characters long"),
        ({"system_id": 5}, TypeError, "system_id must be a str, not int 5"),
        ({"credentials": {"app": 1}}, TypeError, "credentials must map str to str, not 'app' to int"),
        ({"credentials": ["app"]}, TypeError, "credentials must map system_id to password"),
        ({"faults": {"throttle_every": 2}}, TypeError, "faults must be a Faults (or None), not dict"),
        ({"ssl_context": "tls"}, TypeError, "ssl_context must be an ssl.SSLContext (or None), not str"),
        ({"trace": "print"}, TypeError, "trace must be a callable (direction, pdu, peer) or None, not 'print'"),
    ],
)
def test_simulator_checks_its_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match="^Simulator: " + re.escape(message)):
        Simulator(**kwargs)


def test_receipt_delay_is_checked_on_assignment(sim: Simulator) -> None:
    with pytest.raises(ValueError, match=r"^Simulator: receipt_delay must be a finite number of seconds >= 0, not -1$"):
        sim.receipt_delay = -1
    with pytest.raises(TypeError, match=r"^Simulator: receipt_delay must be a number of seconds, not str 'soon'$"):
        sim.receipt_delay = "soon"  # type: ignore[assignment]
    assert sim.receipt_delay == 0.0
    sim.receipt_delay = 0.01
    c = bound(sim)
    assert c.request(submit(registered_delivery=1)).command_status == 0
    (receipt,) = deliver_sms(c, 1)
    assert receipt.esm_class == 0x04


def test_a_window_of_zero_no_longer_kills_the_first_connection() -> None:
    # It used to be accepted and then fail in the I/O thread, at the first accept.
    with pytest.raises(ValueError, match="window"):
        Simulator(window=0)
    with Simulator(window=1, response_timeout=None) as sim:
        assert_serving(sim)


# -- an exception in the I/O loop costs one connection --------------------------------------


def test_an_exception_while_serving_one_connection_closes_only_that_one(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    other = bound(sim)
    victim = bound(sim)
    victim_addr = victim.sock.getsockname()
    real = sim._on_other_request

    def explode(conn: Any, req: smppfast.Pdu) -> None:
        if conn.peer == victim_addr:
            raise RuntimeError("boom in the handler")
        real(conn, req)

    monkeypatch.setattr(sim, "_on_other_request", explode)
    with caplog.at_level(logging.ERROR, logger="smppfast.simulator"):
        victim.send(smppfast.QuerySm(message_id="1"))
        victim.read_until_eof()
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.name == "smppfast.simulator"
    assert str(victim_addr) in record.getMessage()
    assert record.exc_info is not None and "boom in the handler" in str(record.exc_info[1])
    assert sim.counters["connection_errors"] == 1
    # The other connection, already open, is still served ...
    assert other.request(submit()).command_status == 0
    assert other.request(smppfast.QuerySm(message_id="1")).command_status == 0
    # ... and new ones are accepted.
    assert_serving(sim)
    assert sim.wait_for(lambda: sim.connections == 1)


def test_an_exception_in_a_timer_closes_only_its_connection(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    sim.receipt_delay = 0.05
    other = bound(sim)
    victim = bound(sim)

    def explode(*args: Any) -> None:
        raise RuntimeError("boom in a receipt")

    monkeypatch.setattr(sim, "_send_receipt", explode)
    assert victim.request(submit(registered_delivery=1)).command_status == 0
    victim.read_until_eof()  # the receipt's timer failed: that connection is closed
    assert sim.counters["connection_errors"] == 1
    assert other.request(submit()).command_status == 0
    assert_serving(sim)


def test_an_exception_delivering_an_mo_to_one_receiver_spares_the_others(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = bound(sim, "receiver")
    other = bound(sim, "receiver")
    victim_addr = victim.sock.getsockname()
    real = sim._deliver

    def explode(conn: Any, pdu: smppfast.Pdu) -> None:
        if conn.peer == victim_addr:
            raise RuntimeError("boom delivering")
        real(conn, pdu)

    monkeypatch.setattr(sim, "_deliver", explode)
    sim.send_mo("1", "2", "to everyone")
    (pdu,) = deliver_sms(other, 1)
    assert pdu.short_message == b"to everyone"
    victim.read_until_eof()
    assert_serving(sim)


def test_call_raises_in_the_callers_thread_and_the_simulator_goes_on(sim: Simulator) -> None:
    with pytest.raises(ZeroDivisionError):
        sim.call(lambda: 1 / 0)
    assert sim.call(lambda: 42) == 42
    assert_serving(sim)


def test_a_connection_reset_during_accept_does_not_stop_the_listener(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sim._add_connection
    calls = []

    def flaky(sock: socket.socket, peer: Any) -> None:
        calls.append(peer)
        if len(calls) == 1:
            raise OSError(22, "Invalid argument (the peer reset first)")
        real(sock, peer)

    monkeypatch.setattr(sim, "_add_connection", flaky)
    first = RawClient(sim.port)
    _open.append(first)
    first.read_until_eof()
    assert_serving(sim)
    assert sim.counters["connection_errors"] == 1
