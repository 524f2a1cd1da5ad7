"""The simulator over loopback, driven by a tiny raw-socket ESME (encode/decode + a socket)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Iterator, Optional

import pytest

import smppfast
from smppfast import Command, Status, Tlv
from smppfast._text import decode_text
from smppfast.receipt import receipt_from_pdu
from smppfast.simulator import Faults, Simulator

TIMEOUT = 5.0


class RawClient:
    """Just enough ESME to poke the simulator: no session, no threads."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.decoder = smppfast.Decoder()
        self.inbox: list[smppfast.Pdu] = []
        self.raw = bytearray()  # every octet received, for the mid-PDU tests
        self.seq = 0
        self.eof = False

    def send(self, pdu: smppfast.Pdu) -> int:
        if not pdu.sequence_number:
            self.seq += 1
            pdu.sequence_number = self.seq
        self.sock.sendall(smppfast.encode(pdu))
        return pdu.sequence_number

    def _read(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.raw += data
        self.inbox += self.decoder.feed(data)
        return True

    def recv(self, timeout: float = TIMEOUT, command_id: Optional[int] = None) -> smppfast.Pdu:
        """The next PDU received (of ``command_id`` if given)."""
        end = time.monotonic() + timeout
        while True:
            for i, pdu in enumerate(self.inbox):
                if command_id is None or pdu.command_id == command_id:
                    return self.inbox.pop(i)
            left = end - time.monotonic()
            if left <= 0 or self.eof:
                raise AssertionError(f"no PDU {command_id!r} received (eof={self.eof})")
            self._read(left)

    def request(self, pdu: smppfast.Pdu, timeout: float = TIMEOUT) -> smppfast.Pdu:
        seq = self.send(pdu)
        end = time.monotonic() + timeout
        while True:
            for i, got in enumerate(self.inbox):
                if got.sequence_number == seq and got.is_response:
                    return self.inbox.pop(i)
            if self.eof or time.monotonic() > end:
                raise AssertionError(f"no response to {pdu!r}")
            self._read(end - time.monotonic())

    def bind(self, bind_type: str = "transceiver", system_id: str = "esme", password: str = "pw") -> smppfast.Pdu:
        cls = {
            "transmitter": smppfast.BindTransmitter,
            "receiver": smppfast.BindReceiver,
            "transceiver": smppfast.BindTransceiver,
        }[bind_type]
        return self.request(cls(system_id=system_id, password=password, interface_version=0x34))

    def read_until_eof(self, timeout: float = TIMEOUT) -> None:
        end = time.monotonic() + timeout
        while not self.eof:
            assert time.monotonic() < end, "the simulator did not close the connection"
            self._read(end - time.monotonic())

    def quiet_for(self, seconds: float) -> bool:
        """True when nothing arrives for ``seconds``."""
        return not self._read(seconds)

    def close(self) -> None:
        self.sock.close()


def submit(**fields: object) -> smppfast.SubmitSm:
    base: dict[str, object] = {"source_addr": "12345", "destination_addr": "67890", "short_message": b"hello"}
    base.update(fields)
    return smppfast.SubmitSm(**base)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


@pytest.fixture
def client(sim: Simulator) -> Iterator[RawClient]:
    c = RawClient(sim.port)
    yield c
    c.close()


def bound(sim: Simulator, bind_type: str = "transceiver", system_id: str = "esme") -> RawClient:
    c = RawClient(sim.port)
    resp = c.bind(bind_type, system_id=system_id)
    assert resp.command_status == 0
    return c


# -- bind -------------------------------------------------------------------------------


@pytest.mark.parametrize("bind_type", ["transmitter", "receiver", "transceiver"])
def test_bind_each_type(sim: Simulator, client: RawClient, bind_type: str) -> None:
    resp = client.bind(bind_type)
    assert resp.command_status == 0
    assert resp.command_id == {"transmitter": 0x80000002, "receiver": 0x80000001, "transceiver": 0x80000009}[bind_type]
    assert resp.system_id == "smppfast-sim"
    assert sim.wait_for(lambda: sim.bound == 1)
    assert sim.binds == 1


@pytest.mark.parametrize(
    "system_id, password, status",
    [("alice", "wrong", Status.ESME_RINVPASWD), ("mallory", "pw", Status.ESME_RINVSYSID), ("alice", "pw", 0)],
)
def test_bind_credentials(system_id: str, password: str, status: int) -> None:
    with Simulator(credentials={"alice": "pw"}) as sim:
        c = RawClient(sim.port)
        resp = c.bind("transmitter", system_id=system_id, password=password)
        assert resp.command_status == status
        c.close()
        assert sim.binds_refused == (1 if status else 0)


def test_bind_refused_by_fault_and_retry_after_clearing(sim: Simulator, client: RawClient) -> None:
    sim.set_faults(refuse_binds=Status.ESME_RBINDFAIL)
    assert client.bind().command_status == Status.ESME_RBINDFAIL
    sim.clear_faults()
    assert client.bind().command_status == 0  # refused binds leave the connection open


def test_second_bind_already_bound(sim: Simulator, client: RawClient) -> None:
    client.bind()
    assert client.bind("transmitter").command_status == Status.ESME_RALYBND


def test_submit_before_bind_refused(client: RawClient) -> None:
    assert client.request(submit()).command_status == Status.ESME_RINVBNDSTS


# -- submits and other requests ---------------------------------------------------------


def test_submits_get_unique_ids(sim: Simulator, client: RawClient) -> None:
    client.bind("transmitter")
    seqs = [client.send(submit(short_message=b"m%d" % i)) for i in range(200)]
    responses = [client.recv(command_id=Command.SUBMIT_SM_RESP) for _ in seqs]
    assert sorted(r.sequence_number for r in responses) == seqs
    assert all(r.command_status == 0 for r in responses)
    ids = [r.message_id for r in responses]
    assert len(set(ids)) == 200 and all(ids)
    assert sim.submits == 200
    assert [p.short_message for p in sim.received if p.command_id == Command.SUBMIT_SM][:2] == [b"m0", b"m1"]


@pytest.mark.parametrize("enquire_link_interval", [None, 60.0])
def test_submits_answered_with_and_without_fast_path(enquire_link_interval: Optional[float]) -> None:
    # A session timer turns the fast path off; the answers must not change.
    with Simulator(enquire_link_interval=enquire_link_interval) as sim:
        c = bound(sim, "transmitter")
        resp = c.request(submit())
        assert resp.command_status == 0 and resp.message_id
        c.close()


def test_fast_path_keeps_order_with_session_pdus(sim: Simulator, client: RawClient) -> None:
    """Submits (fast path) and session PDUs in one segment: each answered in turn, none after unbind."""
    client.bind("transmitter")
    pdus = [submit(), smppfast.EnquireLink(), submit(), smppfast.Unbind(), submit()]
    for seq, pdu in enumerate(pdus, start=10):
        pdu.sequence_number = seq
    client.sock.sendall(b"".join(smppfast.encode(p) for p in pdus))
    client.read_until_eof()
    got = [(p.command_id, p.sequence_number) for p in client.inbox]
    assert got == [
        (Command.SUBMIT_SM_RESP, 10),
        (Command.ENQUIRE_LINK_RESP, 11),
        (Command.SUBMIT_SM_RESP, 12),
        (Command.UNBIND_RESP, 13),
    ]


def test_submit_split_across_segments(client: RawClient) -> None:
    client.bind()
    data = smppfast.encode(submit(sequence_number=5)) + smppfast.encode(submit(sequence_number=6))
    for i in range(0, len(data), 7):
        client.sock.sendall(data[i : i + 7])
        time.sleep(0.001)
    assert {client.recv().sequence_number, client.recv().sequence_number} == {5, 6}


def test_data_sm_and_submit_multi(client: RawClient) -> None:
    client.bind()
    resp = client.request(smppfast.DataSm(source_addr="1", destination_addr="2"))
    assert resp.command_id == Command.DATA_SM_RESP and resp.command_status == 0 and resp.message_id
    multi = smppfast.SubmitMulti(
        source_addr="1", dest_address=[smppfast.SmeAddress(1, 1, "2"), smppfast.SmeAddress(1, 1, "3")], short_message=b"x"
    )
    resp2 = client.request(multi)
    assert resp2.command_id == Command.SUBMIT_MULTI_RESP and resp2.command_status == 0
    assert resp2.message_id and resp2.message_id != resp.message_id


def test_query_cancel_replace(client: RawClient) -> None:
    client.bind()
    mid = client.request(submit()).message_id
    q = client.request(smppfast.QuerySm(message_id=mid, source_addr="12345"))
    assert q.command_status == 0 and q.message_id == mid and q.message_state == 2  # DELIVERED
    assert client.request(smppfast.QuerySm(message_id="nope")).command_status == Status.ESME_RQUERYFAIL
    assert client.request(smppfast.QuerySm(message_id="ffffffff")).command_status == Status.ESME_RQUERYFAIL
    assert client.request(smppfast.ReplaceSm(message_id=mid, short_message=b"new")).command_status == 0
    assert client.request(smppfast.ReplaceSm(message_id="zz")).command_status == Status.ESME_RREPLACEFAIL
    assert client.request(smppfast.CancelSm(message_id=mid)).command_status == 0
    assert client.request(smppfast.QuerySm(message_id=mid)).message_state == 4  # DELETED
    assert client.request(smppfast.CancelSm(message_id="zz")).command_status == Status.ESME_RCANCELFAIL


def test_enquire_link_and_unbind(sim: Simulator, client: RawClient) -> None:
    client.bind()
    assert client.request(smppfast.EnquireLink()).command_id == Command.ENQUIRE_LINK_RESP
    assert client.request(smppfast.Unbind()).command_id == Command.UNBIND_RESP
    client.read_until_eof()
    client.close()  # the simulator waits for our side to close (or lingers 2 s)
    assert sim.wait_for(lambda: sim.connections == 0)


def test_malformed_pdu_nacked_and_connection_goes_on(client: RawClient) -> None:
    client.bind()
    bad = struct.pack(">IIII", 26, Command.SUBMIT_SM, 0, 99) + b"ABCDEFGHIJ"  # service_type never ends
    client.sock.sendall(bad)
    nack = client.recv(command_id=Command.GENERIC_NACK)
    assert nack.sequence_number == 99 and nack.command_status == Status.ESME_RINVSERTYP
    client.sock.sendall(struct.pack(">IIII", 16, 0x0000_0077, 0, 100))
    nack = client.recv(command_id=Command.GENERIC_NACK)
    assert nack.sequence_number == 100 and nack.command_status == Status.ESME_RINVCMDID
    assert client.request(submit()).command_status == 0


def test_broken_framing_closes(sim: Simulator, client: RawClient) -> None:
    client.bind()
    client.sock.sendall(struct.pack(">IIII", 5, 4, 0, 1))
    client.read_until_eof()
    client.close()  # the simulator waits for our side to close (or lingers 2 s)
    assert sim.wait_for(lambda: sim.connections == 0)


# -- receipts and MO --------------------------------------------------------------------


def test_receipt_on_transceiver(sim: Simulator, client: RawClient) -> None:
    client.bind("transceiver")
    resp = client.request(submit(registered_delivery=1, short_message=b"the text of it all, longer than 20"))
    deliver = client.recv(command_id=Command.DELIVER_SM)
    assert deliver.esm_class == 0x04
    assert deliver.source_addr == "67890" and deliver.destination_addr == "12345"
    assert deliver.tlvs[Tlv.RECEIPTED_MESSAGE_ID] == resp.message_id
    assert deliver.tlvs[Tlv.MESSAGE_STATE] == 2
    text = deliver.short_message.decode("latin-1")
    assert text.startswith(f"id:{resp.message_id} sub:001 dlvrd:001 submit date:")
    assert " stat:DELIVRD err:000 text:the text of it all, " in text
    receipt = receipt_from_pdu(deliver)
    assert receipt is not None and receipt.message_id == resp.message_id and receipt.delivered
    client.send(deliver.response())
    assert sim.wait_for(lambda: sim.deliver_responses == 1)
    assert sim.receipts_sent == 1


def test_no_receipt_unless_asked(client: RawClient) -> None:
    client.bind("transceiver")
    client.request(submit(registered_delivery=0))
    client.request(submit(registered_delivery=2))  # failure only: this one is delivered
    assert client.quiet_for(0.2)


def test_receipt_goes_to_receiver_of_same_system_id(sim: Simulator) -> None:
    tx = bound(sim, "transmitter", system_id="acme")
    other = bound(sim, "receiver", system_id="someone-else")
    rx = bound(sim, "receiver", system_id="acme")
    mid = tx.request(submit(registered_delivery=1)).message_id
    deliver = rx.recv(command_id=Command.DELIVER_SM)
    assert deliver.tlvs[Tlv.RECEIPTED_MESSAGE_ID] == mid
    assert other.quiet_for(0.1)
    for c in (tx, other, rx):
        c.close()


def test_receipts_wait_for_a_free_window_slot() -> None:
    # The SMSC's own window for deliver_sm is 2: the rest queue until the ESME answers.
    with Simulator(window=2) as sim:
        c = bound(sim)
        ids = {c.request(submit(registered_delivery=1)).message_id for _ in range(6)}
        assert len(ids) == 6
        seen = set()
        for _ in range(6):
            deliver = c.recv(command_id=Command.DELIVER_SM)
            seen.add(deliver.tlvs[Tlv.RECEIPTED_MESSAGE_ID])
            c.send(deliver.response())
        assert seen == ids
        assert sim.wait_for(lambda: sim.deliver_responses == 6)
        c.close()


def test_receipt_delay() -> None:
    with Simulator(receipt_delay=0.3) as sim:
        c = bound(sim)
        c.request(submit(registered_delivery=1))
        t0 = time.monotonic()
        c.recv(command_id=Command.DELIVER_SM)
        assert time.monotonic() - t0 >= 0.25
        c.close()


def test_send_mo(sim: Simulator) -> None:
    rx = bound(sim, "receiver")
    tx = bound(sim, "transmitter")
    sim.send_mo("447700900123", "1234", "hello €")  # € needs the GSM extension table
    mo = rx.recv(command_id=Command.DELIVER_SM)
    assert mo.source_addr == "447700900123" and mo.destination_addr == "1234"
    assert mo.esm_class == 0 and mo.data_coding == 0
    assert decode_text(mo.short_message, 0) == "hello €"
    sim.send_mo("1", "2", b"\x00\x01", data_coding=4)
    raw = rx.recv(command_id=Command.DELIVER_SM)
    assert raw.short_message == b"\x00\x01" and raw.data_coding == 4
    assert tx.quiet_for(0.1)  # a transmitter gets no MO
    rx.send(mo.response())
    assert sim.wait_for(lambda: sim.deliver_responses == 1 and sim.mo_sent == 2)
    rx.close()
    tx.close()


# -- faults -----------------------------------------------------------------------------


def statuses(c: RawClient, n: int) -> list[int]:
    return [int(c.request(submit()).command_status) for _ in range(n)]


def test_throttle_every_nth(sim: Simulator, client: RawClient) -> None:
    client.bind()
    sim.set_faults(throttle_every=3)
    assert statuses(client, 6) == [0, 0, 0x58, 0, 0, 0x58]
    assert sim.counters["throttled"] == 2


def test_answer_with_status(sim: Simulator, client: RawClient) -> None:
    client.bind()
    sim.set_faults(status=Status.ESME_RMSGQFUL)
    assert statuses(client, 2) == [Status.ESME_RMSGQFUL] * 2
    sim.set_faults(status=0)  # at run time, both ways
    assert statuses(client, 1) == [0]


def test_delay_responses() -> None:
    with Simulator(faults=Faults(delay=0.3)) as sim:
        c = bound(sim)
        t0 = time.monotonic()
        assert c.request(submit()).command_status == 0
        assert time.monotonic() - t0 >= 0.25
        c.close()


def test_drop_every_nth(sim: Simulator, client: RawClient) -> None:
    client.bind()
    sim.set_faults(drop_every=2)
    seqs = [client.send(submit()) for _ in range(4)]
    got = [client.recv(command_id=Command.SUBMIT_SM_RESP).sequence_number for _ in range(2)]
    assert sorted(got) == [seqs[0], seqs[2]]
    assert client.quiet_for(0.2)
    assert sim.counters["dropped"] == 2


def test_generic_nack_instead_of_response(sim: Simulator, client: RawClient) -> None:
    client.bind()
    sim.set_faults(nack_every=1)
    resp = client.request(submit())
    assert resp.command_id == Command.GENERIC_NACK and resp.command_status == Status.ESME_RSYSERR


def test_close_mid_pdu(sim: Simulator, client: RawClient) -> None:
    client.bind()
    sim.set_faults(close_mid_pdu_after=2)
    assert client.request(submit()).command_status == 0
    before = len(client.raw)
    client.send(submit())
    client.read_until_eof()
    tail = bytes(client.raw[before:])
    (length,) = struct.unpack(">I", tail[:4])
    assert 0 < len(tail) < length  # half a submit_sm_resp, then the end of the stream
    assert client.decoder.buffered == len(tail)


def test_close_after_n_submits(sim: Simulator, client: RawClient) -> None:
    client.bind()
    sim.set_faults(close_after=3)
    seqs = [client.send(submit()) for _ in range(5)]
    client.read_until_eof()
    answered = sorted(p.sequence_number for p in client.inbox if p.command_id == Command.SUBMIT_SM_RESP)
    assert answered == seqs[:2]
    client.close()
    assert sim.wait_for(lambda: sim.connections == 0)


def test_skip_unbind_resp(sim: Simulator, client: RawClient) -> None:
    client.bind()
    sim.set_faults(skip_unbind_resp=True)
    client.send(smppfast.Unbind())
    client.read_until_eof()
    assert [p for p in client.inbox if p.command_id == Command.UNBIND_RESP] == []


def test_faults_changed_from_another_thread_while_submitting(sim: Simulator, client: RawClient) -> None:
    client.bind()
    flip = threading.Thread(target=sim.set_faults, kwargs={"status": Status.ESME_RSYSERR})
    assert statuses(client, 1) == [0]
    flip.start()
    flip.join()
    assert statuses(client, 1) == [Status.ESME_RSYSERR]


def test_disconnect_all(sim: Simulator) -> None:
    a, b = bound(sim), bound(sim)
    sim.disconnect_all()
    a.read_until_eof()
    b.read_until_eof()
    assert sim.connections == 0
    a.close()
    b.close()


# -- scale and shutdown -----------------------------------------------------------------


def test_many_connections_at_once(sim: Simulator) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def esme(i: int) -> None:
        try:
            c = bound(sim, "transceiver" if i % 2 else "transmitter", system_id=f"e{i}")
            seqs = [c.send(submit()) for _ in range(50)]
            got = [c.recv(command_id=Command.SUBMIT_SM_RESP) for _ in seqs]
            assert sorted(r.sequence_number for r in got) == seqs
            with lock:
                ids.extend(r.message_id for r in got)
            c.request(smppfast.Unbind())
            c.close()
        except BaseException as err:  # surfaced below: a thread's assert is otherwise lost
            errors.append(err)

    threads = [threading.Thread(target=esme, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert sim.connections_total == 20


def test_stop_leaves_no_threads() -> None:
    before = set(threading.enumerate())
    sim = Simulator().start()
    clients = [bound(sim) for _ in range(3)]
    clients[0].request(submit(registered_delivery=1))
    sim.stop()
    assert set(threading.enumerate()) == before
    for c in clients:
        c.read_until_eof()
        c.close()
    sim.stop()  # twice is fine
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=1).close()


def test_context_manager_and_restart() -> None:
    sim = Simulator()
    with sim:
        port = sim.port
        assert port > 0
        with pytest.raises(RuntimeError):
            sim.start()
    with sim:  # a stopped simulator starts again (on the same port)
        assert sim.port == port
        c = bound(sim)
        c.close()


# -- the trace hook ----------------------------------------------------------------------


@pytest.mark.parametrize("enquire_link_interval", [None, 60.0])  # with and without the fast path
def test_trace_hook_sees_every_pdu_in_order(enquire_link_interval: Optional[float]) -> None:
    seen: list[tuple[str, str, int, object]] = []
    pdus: list[smppfast.Pdu] = []

    def trace(direction: str, pdu: smppfast.Pdu, peer: object) -> None:
        seen.append((direction, Command(pdu.command_id).name, pdu.sequence_number, peer))
        pdus.append(pdu)

    with Simulator(trace=trace, enquire_link_interval=enquire_link_interval) as sim:
        c = RawClient(sim.port)
        peer = c.sock.getsockname()
        assert c.bind().command_status == 0
        resp = c.request(submit(registered_delivery=1, short_message=b"traced"))
        deliver = c.recv(command_id=Command.DELIVER_SM)
        c.send(deliver.response())
        assert sim.wait_for(lambda: len(seen) == 6)
        c.close()
    assert [s[:3] for s in seen] == [
        ("in", "BIND_TRANSCEIVER", 1),
        ("out", "BIND_TRANSCEIVER_RESP", 1),
        ("in", "SUBMIT_SM", 2),
        ("out", "SUBMIT_SM_RESP", 2),
        ("out", "DELIVER_SM", deliver.sequence_number),
        ("in", "DELIVER_SM_RESP", deliver.sequence_number),
    ]
    assert {s[3] for s in seen} == {peer}
    # The hook gets decoded PDUs, the same as the ESME sent and received them.
    assert pdus[2].short_message == b"traced" and pdus[2].registered_delivery == 1
    assert pdus[3].message_id == resp.message_id
    assert smppfast.encode(pdus[4]) == smppfast.encode(deliver)


def test_trace_hook_sees_nacks_and_fault_answers() -> None:
    seen: list[tuple[str, int, int]] = []
    with Simulator(trace=lambda d, p, _: seen.append((d, p.command_id, p.command_status)),
                   faults=Faults(throttle_every=1)) as sim:
        c = RawClient(sim.port)
        c.bind()
        assert c.request(submit()).command_status == Status.ESME_RTHROTTLED
        c.sock.sendall(struct.pack(">IIII", 16, 0x0000_0077, 0, 100))  # unknown command_id
        c.recv(command_id=Command.GENERIC_NACK)
        c.close()
    assert ("out", Command.SUBMIT_SM_RESP, Status.ESME_RTHROTTLED) in seen
    assert seen[-1] == ("out", Command.GENERIC_NACK, Status.ESME_RINVCMDID)


def test_a_raising_trace_hook_never_breaks_the_simulator(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    def trace(direction: str, pdu: smppfast.Pdu, peer: object) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("broken hook")

    with caplog.at_level("ERROR", logger="smppfast.simulator"), Simulator(trace=trace) as sim:
        c = RawClient(sim.port)
        assert c.bind().command_status == 0
        ids = {c.request(submit()).message_id for _ in range(5)}
        assert len(ids) == 5
        assert c.request(smppfast.EnquireLink()).command_id == Command.ENQUIRE_LINK_RESP
        c.close()
        assert sim.wait_for(lambda: sim.connections == 0)
    assert calls == 14 and sim.tally["trace_errors"] == 14  # 7 requests in, 7 responses out
    errors = [r for r in caplog.records if "trace hook" in r.getMessage()]
    assert len(errors) == 1  # logged once, not once per PDU
    assert errors[0].exc_info is not None and "broken hook" in str(errors[0].exc_info[1])
