"""The ``smppfast`` command, run as a user runs it: a subprocess, checked by exit code and output."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Optional

import pytest

import smppfast
from smppfast.simulator import Faults, Simulator

from .conftest import load_jsonl

VECTORS = {v["id"]: v for v in load_jsonl("pdus.jsonl")}


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # From a source checkout the package is not installed: point the child at the same copy.
    # An installed package is found by the same interpreter without help.
    root = os.path.dirname(os.path.dirname(os.path.abspath(smppfast.__file__)))
    installed = {os.path.abspath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("SMPP_PASSWORD", None)
    env.update(extra)
    return env


def run(*args: str, input: Optional[bytes] = None, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "smppfast", *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        env=_env(**env),
    )
    # Decode here rather than with text=True, so binary stdin input is possible.
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smppfast: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- bench ---------------------------------------------------------------------------------


def test_bench_against_its_own_simulator() -> None:
    result = run("bench", "-n", "2000")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+throughput\s+[\d,]+ submits/s$", result.stdout, re.M), result.stdout
    assert re.search(r"^\s+submits\s+2,000 of 2,000$", result.stdout, re.M)
    assert re.search(r"^\s+status ESME_ROK\s+2,000$", result.stdout, re.M)
    for p in ("p50", "p90", "p99", "p99.9"):
        assert re.search(rf"^\s+latency {re.escape(p)}\s+[\d.]+ ms$", result.stdout, re.M)
    assert re.search(r"^\s+errors\s+0$", result.stdout, re.M)


def test_bench_json_with_binds_threads_and_batches() -> None:
    result = run("bench", "-n", "3000", "--binds", "2", "--threads", "3", "--batch", "20", "--window", "50", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["submits"] == data["completed"] == 3000
    assert data["statuses"] == {"ESME_ROK": 3000}
    assert data["errors"] == {} and data["not_sent"] == 0
    assert data["throughput"] > 0
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "p99.9"}
    assert 0 < data["latency_ms"]["p50"] <= data["latency_ms"]["p99.9"]
    assert (data["binds"], data["threads"], data["batch"]) == (2, 3, 20)


def test_bench_against_an_external_smsc_counts_statuses_and_exits_1_when_refused() -> None:
    # Every submit refused is a failed benchmark: exit 1, and stderr says how many, by status.
    with Simulator(faults=Faults(status=smppfast.Status.ESME_RSUBMITFAIL)) as sim:
        result = run("bench", "--host", "127.0.0.1", "--port", str(sim.port), "-n", "200", "--json")
        table = run("bench", "--host", "127.0.0.1", "--port", str(sim.port), "-n", "50")
    assert result.returncode == 1, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data["statuses"] == {"ESME_RSUBMITFAIL": 200}
    assert data["failed"] == {"ESME_RSUBMITFAIL": 200}
    assert data["interrupted"] is False
    assert str(sim.port) in data["target"]
    described = smppfast.constants.format_status(smppfast.Status.ESME_RSUBMITFAIL)
    assert result.stderr == f"smppfast: 200 of 200 submits failed: 200 {described}\n"
    assert table.returncode == 1, (table.stdout, table.stderr)
    assert re.search(rf"^\s+refused\s+50 \({re.escape(described)}: 50\)$", table.stdout, re.M), table.stdout


def test_bench_exits_1_when_some_submits_are_refused() -> None:
    with Simulator(faults=Faults(throttle_every=3)) as sim:
        # throttle_retries is the client's default (5): with --window 1 every throttled
        # submit is retried and lands, so this bench succeeds ...
        ok = run("bench", "--host", "127.0.0.1", "--port", str(sim.port), "-n", "30", "--window", "1", "--json")
    assert ok.returncode == 0, (ok.stdout, ok.stderr)
    with Simulator(faults=Faults(nack_every=10)) as sim:
        # ... while a generic_nack for every 10th fails that one submit.
        result = run("bench", "--host", "127.0.0.1", "--port", str(sim.port), "-n", "100", "--json")
    assert result.returncode == 1, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert sum(data["failed"].values()) + sum(data["errors"].values()) == 10, data
    assert data["statuses"]["ESME_ROK"] == 90
    assert result.stderr.startswith("smppfast: 10 of 100 submits failed: ")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and a pty")
@pytest.mark.parametrize("json_output", [False, True])
@pytest.mark.parametrize("driver", [[], ["--asyncio"]], ids=["threads", "asyncio"])
def test_bench_ctrl_c_prints_what_was_measured_and_exits_130(json_output: bool, driver: list[str]) -> None:
    import pty
    import select
    import threading

    # stderr on a pseudo-terminal, so bench shows its progress line as it does for a user;
    # --rate keeps it running for minutes unless interrupted.
    master, slave = pty.openpty()
    extra = (["--json"] if json_output else []) + driver
    proc = subprocess.Popen(
        [sys.executable, "-m", "smppfast", "bench", "-n", "1000000", "--rate", "2000", *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=_env(),
    )
    os.close(slave)
    chunks: list[bytes] = []
    started = threading.Event()

    def drain() -> None:  # keep reading, so bench never blocks on a full pty
        while True:
            try:
                ready, _, _ = select.select([master], [], [], 60)
                data = os.read(master, 4096) if ready else b""
            except OSError:  # EIO: bench closed its end
                data = b""
            if not data:
                break
            chunks.append(data)
            if json_output or b"submits/s" in b"".join(chunks):
                started.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        if json_output:  # --json shows no progress line: give it time to bind and send
            import time

            time.sleep(3.0)
        else:
            assert started.wait(30), b"".join(chunks)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        reader.join(10)
        os.close(master)
    err = b"".join(chunks).decode("utf-8", "replace")
    stdout = out.decode()
    assert proc.returncode == 130, (stdout, err)
    assert "Traceback" not in err
    assert "smppfast: interrupted; the summary shows what was measured until then" in err
    if json_output:
        data = json.loads(stdout)
        assert data["interrupted"] is True
        completed = data["completed"]
        assert data["statuses"] == {"ESME_ROK": completed}
        assert data["not_sent"] + completed + data["in_flight"] == 1_000_000
    else:
        assert stdout.startswith("smppfast bench (interrupted: what was measured until Ctrl-C)\n"), stdout
        match = re.search(r"^\s+submits\s+([\d,]+) of 1,000,000$", stdout, re.M)
        assert match, stdout
        completed = int(match.group(1).replace(",", ""))
        assert re.search(rf"^\s+status ESME_ROK\s+{match.group(1)}$", stdout, re.M), stdout
        assert re.search(r"^\s+throughput\s+[\d,]+ submits/s$", stdout, re.M), stdout
        assert re.search(r"^\s+not sent\s+[\d,]+$", stdout, re.M), stdout
    assert 0 < completed < 1_000_000


def test_bench_spawns_this_copy_of_smppfast_from_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No PYTHONPATH and another working directory: the child finds smppfast only through the
    # path _spawn_simulator works out from the package (or because it is installed).
    from smppfast.cli import bench

    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.chdir(tmp_path)
    proc, host, port = bench._spawn_simulator()
    try:
        with smppfast.Client(host, port, system_id="b", password="", enquire_link_interval=None) as client:
            assert client.submit(smppfast.SubmitSm(destination_addr="1", short_message=b"x")).result(10).message_id
    finally:
        bench._stop_process(proc)
    assert proc.returncode == 0


def test_python_dash_m_smppfast_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "smppfast.cli", "decode", VECTORS["node-bind_receiver-basic"]["pdu_hex"]],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "'esme01'" in proc.stdout


# -- send ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bind", ["transceiver", "transmitter"])
def test_send_prints_message_ids_and_receipts(bind: str) -> None:
    text = "smppfast " * 30  # 270 GSM characters: two parts
    with Simulator(credentials={"app": "s3cret"}) as sim:
        result = run(
            "send", "--port", str(sim.port), "--system-id", "app", "--bind", bind,
            "--source-addr", "Shop", "--source-ton", "alphanumeric", "--wait-receipts", "10",
            "15551234", text,
            SMPP_PASSWORD="s3cret",
        )
        submits = [p for p in sim.received if type(p) is smppfast.SubmitSm]
    assert result.returncode == 0, result.stderr
    ids = re.findall(r"^part (\d)/2: message_id=(\S+) status=ESME_ROK$", result.stdout, re.M)
    assert [n for n, _ in ids] == ["1", "2"]
    receipts = re.findall(r"^receipt: message_id=(\S+) stat=DELIVRD state=DELIVERED", result.stdout, re.M)
    assert sorted(receipts) == sorted(m for _, m in ids)
    assert "s3cret" not in result.stdout + result.stderr
    assert len(submits) == 2
    assert {p.source_addr for p in submits} == {"Shop"}
    assert {p.source_addr_ton for p in submits} == {5}
    assert all(p.esm_class & 0x40 and p.registered_delivery == 1 for p in submits)


def test_send_ucs2_payload_method() -> None:
    with Simulator() as sim:
        result = run("send", "--port", str(sim.port), "--method", "payload", "--data-coding", "ucs2", "15551234", "héllo ☃")
        pdu = sim.received[-1]
    assert result.returncode == 0, result.stderr
    assert re.search(r"^part 1/1: message_id=\S+ status=ESME_ROK$", result.stdout, re.M)
    assert pdu.data_coding == 8
    assert pdu.tlvs[smppfast.Tlv.MESSAGE_PAYLOAD] == "héllo ☃".encode("utf-16-be")


def test_send_with_languages_uses_the_national_tables() -> None:
    text = "ğ" * 200  # UCS-2: 3 parts; the Turkish locking table: 2 parts of septets
    with Simulator() as sim:
        result = run("send", "--port", str(sim.port), "--languages", "tr,es", "15551234", text)
        submits = [p for p in sim.received if type(p) is smppfast.SubmitSm]
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^part \d/2: message_id=\S+ status=ESME_ROK$", result.stdout, re.M)) == 2
    assert [p.data_coding for p in submits] == [0, 0]
    assert all(p.short_message[6:9] == bytes([0x25, 1, 1]) for p in submits)


def test_send_unknown_language_is_a_clean_usage_error() -> None:
    result = run("send", "--port", "1", "--languages", "tr,xx", "15551234", "hi")
    assert_clean_error(result, 2, "--languages", "unknown national language 'xx'", "1 turkish (tr)")


def test_count_prints_encoding_tables_parts_and_units() -> None:
    result = run("count", "Merhaba dünya, ğüşıöç", "--languages", "tr,es")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "encoding       GSM 03.38 (data_coding 0)",
        "locking shift  none",
        "single shift   turkish (1)",
        "parts          1",
        "units          25 septets",  # 21 characters, 4 of them escape pairs
    ]
    result = run("count", "ğ" * 200, "--languages", "turkish")
    assert "locking shift  turkish (1)" in result.stdout and "parts          2" in result.stdout
    result = run("count", "ğ" * 200)
    assert result.stdout.splitlines()[0] == "encoding       UCS-2 (data_coding 8)"
    assert "parts          3" in result.stdout and "units          200 UTF-16 units" in result.stdout
    result = run("count", "中", "--languages", "tr", "--data-coding", "gsm")
    assert_clean_error(result, 2, "'中'", "cannot be encoded in GSM 03.38")


def test_send_rejected_part_exits_1_with_the_status_name() -> None:
    with Simulator(faults=Faults(status=smppfast.Status.ESME_RINVDSTADR)) as sim:
        result = run("send", "--port", str(sim.port), "15551234", "hi")
    assert result.returncode == 1
    assert "part 1/1: status=ESME_RINVDSTADR (0x0000000B): Invalid Dest Addr" in result.stdout


def test_send_wrong_password_exits_3_with_the_status_name() -> None:
    with Simulator(credentials={"app": "right"}) as sim:
        result = run("send", "--port", str(sim.port), "--system-id", "app", "15551234", "hi", SMPP_PASSWORD="wrong")
    assert_clean_error(result, 3, "bind refused", "ESME_RINVPASWD")
    assert "wrong" not in result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args, env, needles",
    [
        (["123456789012345678901234567890", "hi"], {}, ["DEST is 30 characters long", "at most 20", "destination_addr"]),
        (["--source-addr", "S" * 25, "15551234", "hi"], {}, ["--source-addr is 25 characters long", "at most 20"]),
        (["--system-id", "i" * 16, "15551234", "hi"], {}, ["--system-id is 16 characters long", "at most 15"]),
        (["--system-type", "t" * 13, "15551234", "hi"], {}, ["--system-type is 13 characters long", "at most 12"]),
        (["15551234", "hi"], {"SMPP_PASSWORD": "Zq9xK2vW7yR"}, ["$SMPP_PASSWORD", "longer than 8 characters", "at most 8"]),
        (["--password-env", "PW", "15551234", "hi"], {"PW": "Jx7é☃"}, ["$PW has a character that", "password"]),
        (["--source-addr", "Shop☃", "15551234", "hi"], {}, ["--source-addr has a character '☃'", "Latin-1"]),
    ],
)
def test_send_refuses_a_value_too_long_for_its_field_in_one_line(
    args: list[str], env: dict[str, str], needles: list[str]
) -> None:
    with Simulator() as sim:
        result = run("send", "--port", str(sim.port), *args, **env)
        received = list(sim.received)
    assert_clean_error(result, 2, *needles)
    assert received == []  # refused before the connection, so before the bind
    for secret in env.values():
        # Not the password, nor a part of it, nor the one character that does not fit.
        assert secret not in result.stderr and secret[:3] not in result.stderr and "☃" not in result.stderr


@pytest.mark.parametrize(
    "dest, needle",
    [
        ("", "DEST is empty"),
        ("abc", "DEST 'abc' is not a number (digits only; an alphanumeric address needs --dest-ton 5)"),
        ("+4477009001", "DEST '+4477009001' is not a number (without the '+'"),
        ("0044 7700", "DEST '0044 7700' is not a number"),
    ],
)
def test_send_refuses_an_empty_or_non_numeric_destination(dest: str, needle: str) -> None:
    with Simulator() as sim:
        result = run("send", "--port", str(sim.port), dest, "Hello")
        submits = [p for p in sim.received if type(p) is smppfast.SubmitSm]
    assert_clean_error(result, 2, needle)
    assert submits == []


def test_send_alphanumeric_destination_with_dest_ton_5() -> None:
    with Simulator() as sim:
        result = run("send", "--port", str(sim.port), "--dest-ton", "5", "Support", "Hello")
        submits = [p for p in sim.received if type(p) is smppfast.SubmitSm]
    assert result.returncode == 0, result.stderr
    assert [(p.destination_addr, p.dest_addr_ton) for p in submits] == [("Support", 5)]


def test_bench_refuses_bad_values_before_it_starts() -> None:
    assert_clean_error(run("bench", "--dest", "x1"), 2, "--dest 'x1' is not a number (digits only)")
    assert_clean_error(run("bench", "--source-addr", "s" * 21), 2, "--source-addr is 21 characters long", "at most 20")
    assert_clean_error(run("bench", "--system-id", "i" * 16), 2, "--system-id is 16 characters long", "at most 15")
    result = run("bench", "--host", "127.0.0.1", "--port", str(free_port()), SMPP_PASSWORD="sekrit-password")
    assert_clean_error(result, 2, "$SMPP_PASSWORD is longer than 8 characters")
    assert "sekrit" not in result.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["simulator", "--port", "70000"], "argument --port: 70000 is not a port: 0 to 65535"),
        (["simulator", "--throttle-every", "-1"], "argument --throttle-every: -1 must not be negative"),
        (["bench", "--rate", "-5"], "argument --rate: -5 must be a number above 0"),
        (["send", "--dest-ton", "300", "1", "hi"], "argument --dest-ton: '300' is out of range"),
        (["send", "--data-coding", "256", "1", "hi"], "argument --data-coding: '256' is out of range"),
        (["send", "--port", "0", "1", "hi"], "argument --port: 0 is not a port: 1 to 65535"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    result = run(*args, timeout=20)
    assert_clean_error(result, 2, needle, f"(see 'smppfast {args[0]} --help')")


def test_an_unexpected_library_error_is_one_line_with_the_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The backstop in main(): an SmppError that no command expected is still one line, exit 2,
    # with the status in plain words.
    from smppfast.cli import main

    def refuse(self: smppfast.Client) -> None:
        raise smppfast.CommandStatusError(smppfast.Status.ESME_RTHROTTLED, message="the SMSC said no")

    monkeypatch.setattr(smppfast.Client, "connect", refuse)
    monkeypatch.delenv("SMPP_PASSWORD", raising=False)
    # main() sets up the "smppfast" logger for a process of its own; give it back afterwards,
    # or later tests' caplog sees nothing.
    logger = logging.getLogger("smppfast")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    try:
        assert main(["send", "--port", "2775", "15551234", "hi"]) == 2
    finally:
        logger.handlers[:], logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
    err = capsys.readouterr().err
    assert err == (
        "smppfast: error: the SMSC said no: ESME_RTHROTTLED (0x00000058): "
        "Throttling error (ESME has exceeded allowed message limits)\n"
    )


def test_send_password_from_another_variable() -> None:
    with Simulator(credentials={"app": "right"}) as sim:
        result = run(
            "send", "--port", str(sim.port), "--system-id", "app", "--password-env", "MY_PW", "15551234", "hi",
            MY_PW="right",
        )
    assert result.returncode == 0, result.stderr


def test_send_to_unreachable_host_exits_2() -> None:
    result = run("send", "--port", str(free_port()), "15551234", "hi", timeout=30)
    assert_clean_error(result, 2, "cannot connect to 127.0.0.1:")


# -- decode --------------------------------------------------------------------------------


def _line(output: str, name: str) -> str:
    match = re.search(rf"^  {re.escape(name)} +(.*)$", output, re.M)
    assert match, f"no line for {name} in:\n{output}"
    return match.group(1)


def check_fields(vector: dict[str, Any], output: str) -> None:
    header = output.splitlines()[0]
    assert header.startswith(f"{vector['command']} (command_id 0x{vector['command_id']:08X}")
    status = smppfast.Status(vector["command_status"]).name
    assert _line(output, "command_status") == f"0x{vector['command_status']:08X} {status}"
    assert _line(output, "sequence_number") == str(vector["sequence_number"])
    for name, value in vector["fields"].items():
        if name in ("dest_address", "unsuccess_sme"):
            assert _line(output, name).startswith(f"{len(value)} ")
            continue
        shown = _line(output, name)
        if isinstance(value, dict):  # octet string
            assert shown.startswith(value["hex"] or "(empty)")
        elif isinstance(value, str):
            assert shown == repr(value)
        else:
            assert int(shown.split()[0], 0) == value, (name, shown)
    for tlv in vector["tlvs"]:
        assert re.search(rf"^    0x{tlv['tag']:04X} {re.escape(tlv['name'])}\s", output, re.M), tlv


@pytest.mark.parametrize(
    "vector_id",
    [
        "node-bind_receiver-basic",
        "node-deliver_sm-mo-udh-part",
        "node-deliver_sm-mo-ucs2",
        "node-deliver_sm-receipt",
        "node-data_sm-receipt",
        "node-submit_sm-many-tlvs",
        "node-submit_sm-payload-small",
        "node-submit_multi_resp-unsuccess",
        "node-submit_multi-dl-only",
    ],
)
def test_decode_vector(vector_id: str) -> None:
    vector = VECTORS[vector_id]
    result = run("decode", "--show-password", vector["pdu_hex"])
    assert result.returncode == 0, result.stderr
    check_fields(vector, result.stdout)


def test_decode_names_text_udh_and_receipts() -> None:
    out = run("decode", VECTORS["node-deliver_sm-mo-udh-part"]["pdu_hex"]).stdout
    assert "esm_class               0x40 (UDHI)" in out
    assert "udh   050003110302  (concatenated: ref 17, part 2 of 3)" in out
    assert "text  'second part'" in out
    out = run("decode", VECTORS["node-deliver_sm-mo-ucs2"]["pdu_hex"]).stdout
    assert "data_coding             0x08 (UCS2)" in out
    assert "text  'Hi текст'" in out
    out = run("decode", VECTORS["node-data_sm-receipt"]["pdu_hex"]).stdout
    assert re.search(r"0x0427 message_state\s+2 \(DELIVERED\)", out)
    assert "receipt: message_id=m-1 stat=DELIVRD state=DELIVERED" in out
    out = run("decode", VECTORS["node-submit_sm-payload-small"]["pdu_hex"]).stdout
    assert "text  'Payload text in a TLV'" in out


def decode_lines(**fields: Any) -> list[str]:
    """``smppfast decode`` of a deliver_sm with these fields: the lines under short_message."""
    pdu = smppfast.DeliverSm(source_addr="447700900123", destination_addr="1234", **fields)
    result = run("decode", smppfast.encode(pdu).hex())
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines() if line.startswith("      ")]


def test_decode_udh_concat_part_with_an_8_bit_reference() -> None:
    lines = decode_lines(esm_class=0x40, short_message=bytes.fromhex("050003A70302") + b"part two")
    assert lines == ["udh   050003a70302  (concatenated: ref 167, part 2 of 3)", "text  'part two'"]


def test_decode_udh_concat_part_with_a_16_bit_reference() -> None:
    udh = bytes.fromhex("060804BEEF0201")
    lines = decode_lines(esm_class=0x40, data_coding=8, short_message=udh + "часть ☃".encode("utf-16-be"))
    assert lines == ["udh   060804beef0201  (concatenated: 16-bit ref 48879, part 1 of 2)", "text  'часть ☃'"]


def test_decode_udh_names_other_elements_and_reports_a_malformed_one() -> None:
    udh = bytes.fromhex("0B0003010201240101250101")  # concat, then the 23.038 shift elements
    lines = decode_lines(esm_class=0x40, short_message=udh + b"x")
    assert lines[0] == (
        "udh   0b0003010201240101250101  (concatenated: ref 1, part 1 of 2; "
        "national language single shift: 1 (turkish); national language locking shift: 1 (turkish))"
    )
    # UDHL 9 but only 5 octets follow: the library's parser says what is wrong.
    lines = decode_lines(esm_class=0x40, short_message=bytes.fromhex("0900030102") + b"x")
    assert lines[0] == "udh   090003010278  (malformed: UDHL 9 runs past the 6-octet user data)"


@pytest.mark.parametrize(
    "data_coding, text",
    [
        (8, "Hi текст 😀"),  # UCS-2 as UTF-16BE: a surrogate pair survives
        (0x18, "class 0 ☃"),  # the GSM 03.38 general group: UCS-2, message class 0
    ],
)
def test_decode_ucs2_text(data_coding: int, text: str) -> None:
    assert decode_lines(data_coding=data_coding, short_message=text.encode("utf-16-be")) == [f"text  {text!r}"]


def test_decode_text_that_does_not_decode() -> None:
    assert decode_lines(data_coding=4, short_message=b"\x01\x02") == ["binary 0102"]
    lines = decode_lines(data_coding=8, short_message=b"\x00A\x00")
    assert lines == ["note  not valid 0x08 (UCS2) text: UCS-2 data has an odd length (3 octets)"]
    lines = decode_lines(data_coding=0, short_message=b"ok\x80")
    assert lines[0].startswith("note  not valid 0x00 (DEFAULT) text: octet 0x80 at position 2")
    assert lines[1] == "text  'ok\ufffd'"


def test_decode_masks_the_password_unless_asked() -> None:
    vector = VECTORS["node-bind_receiver-basic"]
    out = run("decode", vector["pdu_hex"]).stdout
    assert "password                '***'" in out and "secret" not in out


def test_decode_hex_with_spaces_and_newlines() -> None:
    hexed = VECTORS["node-bind_receiver-basic"]["pdu_hex"]
    spaced = " ".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))
    result = run("decode", spaced[:30], spaced[30:])  # several arguments, as a shell splits them
    assert result.returncode == 0 and "'esme01'" in result.stdout
    result = run("decode", "-", input=(spaced[:40] + "\n" + spaced[40:] + "\n").encode())
    assert result.returncode == 0 and "'esme01'" in result.stdout


def test_decode_every_vector_from_stdin_and_file(tmp_path: Any) -> None:
    vectors = list(VECTORS.values())
    raw = b"".join(bytes.fromhex(v["pdu_hex"]) for v in vectors)
    result = run("decode", "-", input=raw)
    assert result.returncode == 0, result.stderr
    headers = re.findall(r"^#(\d+) at offset (\d+): (\w+) ", result.stdout, re.M)
    assert [name for _, _, name in headers] == [v["command"] for v in vectors]
    path = tmp_path / "pdus.hex"
    path.write_text("\n".join(v["pdu_hex"] for v in vectors[:20]) + "\n")
    result = run("decode", "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^#\d+ at offset", result.stdout, re.M)) == 20


@pytest.mark.parametrize(
    "args, needle",
    [
        (["00zz"], "bad hex: 'z' is not a hex digit"),
        (["0000001"], "bad hex: odd number of hex digits"),
        ([" "], "bad hex: no hex digits"),
        ([], "nothing to decode"),
    ],
)
def test_decode_bad_hex_exits_2(args: list[str], needle: str) -> None:
    assert_clean_error(run("decode", *args), 2, needle)


@pytest.mark.parametrize(
    "hexed, needle",
    [
        ("000000100000000400", "malformed PDU: "),
        ("0000001100000015000000000000000100", "malformed PDU"),
        ("00000010000000990000000000000001", "unknown command_id"),
    ],
)
def test_decode_malformed_pdu_exits_2_with_the_pdu_error(hexed: str, needle: str) -> None:
    data = bytes.fromhex(hexed)
    try:
        smppfast.decode(data)
    except smppfast.PduError as err:
        message = str(err)
    else:  # pragma: no cover - the vectors above are malformed by construction
        raise AssertionError("expected a PduError")
    result = run("decode", hexed)
    assert_clean_error(result, 2, needle, message)


def test_decode_reports_the_bad_pdu_after_printing_the_good_ones() -> None:
    good = VECTORS["node-bind_receiver-basic"]["pdu_hex"]
    result = run("decode", good + "0000001000000099000000000000000a")
    assert result.returncode == 2
    assert "'esme01'" in result.stdout
    assert_clean_error(result, 2, "PDU #2 at offset 44", "unknown command_id")


# -- simulator -----------------------------------------------------------------------------


def start_simulator(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "smppfast", "simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.fullmatch(r"smppfast simulator listening on 127\.0\.0\.1:(\d+)\n", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"unexpected first line {line!r}; stderr: {proc.communicate()[1]}")
    return proc, int(match.group(1))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_simulator_prints_its_port_accepts_a_bind_and_stops_on_signal(signum: int) -> None:
    proc, port = start_simulator("-v", "--credentials", "app:pw")
    try:
        with smppfast.Client("127.0.0.1", port, system_id="app", password="pw", enquire_link_interval=None) as client:
            response = client.submit(smppfast.SubmitSm(destination_addr="15551234", short_message=b"hi")).result(10)
            assert response.message_id
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "app bound as transceiver" in err  # -v logs binds
    assert "stopped" in err


def stop_simulator(proc: subprocess.Popen[str]) -> str:
    """SIGINT, then the simulator must exit 0; returns its stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the simulator did not stop on SIGINT; stderr: {err}") from None
    assert proc.returncode == 0, err
    return err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_simulator_vv_logs_every_pdu_through_the_trace_hook() -> None:
    proc, port = start_simulator("-vv", "--credentials", "app:s3cret")
    try:
        result = run("send", "--port", str(port), "--system-id", "app", "15551234", "traced", SMPP_PASSWORD="s3cret")
    finally:
        err = stop_simulator(proc)
    assert result.returncode == 0, (result.stdout, result.stderr, err)
    arrows = re.findall(r"smppfast\.cli: \('127\.0\.0\.1', \d+\) (->|<-) (\w+)\(", err)
    assert arrows == [
        ("->", "BindTransceiver"),
        ("<-", "BindTransceiverResp"),
        ("->", "SubmitSm"),
        ("<-", "SubmitSmResp"),
        ("->", "Unbind"),
        ("<-", "UnbindResp"),
    ], err
    assert "short_message=b'traced'" in err
    assert "s3cret" not in err  # the bind is logged with its password masked



@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_simulator_refuses_binds_from_the_command_line() -> None:
    proc, port = start_simulator("--refuse-binds", "ESME_RBINDFAIL")
    try:
        result = run("send", "--port", str(port), "15551234", "hi")
    finally:
        err = stop_simulator(proc)
    assert_clean_error(result, 3, "ESME_RBINDFAIL")
    assert "Traceback" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_simulator_submit_faults_from_the_command_line() -> None:
    proc, port = start_simulator("--throttle-every", "2", "--status", "0x45")
    try:
        result = run("send", "--port", str(port), "15551234", "hi")
    finally:
        err = stop_simulator(proc)
    assert result.returncode == 1, (result.stdout, result.stderr, err)
    assert "part 1/1: status=ESME_RSUBMITFAIL" in result.stdout


def test_simulator_rejects_a_bad_status_name() -> None:
    result = run("simulator", "--status", "NOT_A_STATUS")
    assert result.returncode == 2
    assert "NOT_A_STATUS" in result.stderr


def test_vv_promises_only_what_it_shows() -> None:
    def verbose_help(command: str) -> str:
        result = run(command, "--help")
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.split())
        match = re.search(r"-v, --verbose (-v: .*?\))", text)
        assert match, text
        return match.group(1)

    for command in ("simulator", "send", "bench"):
        assert "every PDU in and out" in verbose_help(command)
    assert "--verbose" not in run("decode", "--help").stdout  # decoding exchanges no PDU


def test_send_vv_logs_every_pdu_in_and_out_without_the_password() -> None:
    with Simulator(credentials={"app": "s3cret"}) as sim:
        result = run("send", "-vv", "--port", str(sim.port), "--system-id", "app", "15551234", "hi",
                     SMPP_PASSWORD="s3cret")
    assert result.returncode == 0, result.stderr
    for needle in ("-> BindTransceiver ", "<- BindTransceiverResp ", "-> SubmitSm ", "<- SubmitSmResp ",
                   "-> Unbind ", "<- UnbindResp "):
        assert needle in result.stderr, (needle, result.stderr)
    assert "s3cret" not in result.stdout + result.stderr


def test_no_command_shows_usage() -> None:
    result = run()
    assert result.returncode == 2
    assert "usage: smppfast" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_simulator_serves_tls_and_send_uses_it() -> None:
    certs = Path(__file__).parent / "certs"
    proc, port = start_simulator("--tls-cert", str(certs / "localhost.crt"), "--tls-key", str(certs / "localhost.key"))
    try:
        # The test certificate is self-signed, hence --tls-insecure.
        result = run("send", "--port", str(port), "--tls", "--tls-insecure", "15551234", "over TLS")
        plain = run("send", "--port", str(port), "--timeout", "2", "15551234", "not TLS")
    finally:
        err = stop_simulator(proc)
    assert result.returncode == 0, (result.stdout, result.stderr, err)
    assert re.search(r"^part 1/1: message_id=\S+ status=ESME_ROK$", result.stdout, re.M)
    assert plain.returncode == 2  # a plain client gets no bind answer from a TLS server


def test_simulator_tls_key_without_cert_is_a_usage_error() -> None:
    assert_clean_error(run("simulator", "--tls-key", "k.pem"), 2, "--tls-key needs --tls-cert")
