"""``smppfast bench --asyncio`` / ``--uvloop``: AsyncClient measured as a user measures it."""

from __future__ import annotations

import json

import pytest

import smppfast
from smppfast.simulator import Faults, Simulator

from .test_cli import assert_clean_error, run


@pytest.mark.parametrize("loop", ["--asyncio", "--uvloop"])
def test_bench_through_async_client_awaits_submit_from_window_tasks(loop: str) -> None:
    result = run("bench", "-n", "3000", "--window", "40", loop, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["driver"] == loop[2:]
    assert data["tasks"] == 40  # one task per slot of the window, by default
    assert "threads" not in data
    assert data["submits"] == data["completed"] == 3000
    assert data["statuses"] == {"ESME_ROK": 3000}
    assert data["errors"] == {} and data["not_sent"] == 0
    assert 0 < data["latency_ms"]["p50"] <= data["latency_ms"]["p99.9"]


def test_bench_async_batches_over_two_binds_and_the_table_names_the_loop() -> None:
    data = json.loads(run("bench", "-n", "5000", "--uvloop", "--binds", "2", "--batch", "250",
                          "--window", "300", "--json").stdout)
    assert (data["binds"], data["tasks"], data["batch"]) == (2, 2, 250)
    assert data["statuses"] == {"ESME_ROK": 5000}
    table = run("bench", "-n", "500", "--asyncio", "--tasks", "7")
    assert table.returncode == 0, table.stderr
    assert "window 100, 1 bind(s), 7 task(s) on asyncio" in table.stdout


def test_bench_async_counts_refusals_and_nacks_and_exits_1() -> None:
    with Simulator(faults=Faults(nack_every=10)) as sim:
        result = run("bench", "--host", "127.0.0.1", "--port", str(sim.port), "-n", "100", "--asyncio", "--json")
    assert result.returncode == 1, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data["statuses"]["ESME_ROK"] == 90
    assert sum(data["failed"].values()) + sum(data["errors"].values()) == 10, data
    assert result.stderr.startswith("smppfast: 10 of 100 submits failed: ")
    with Simulator(faults=Faults(status=smppfast.Status.ESME_RSUBMITFAIL)) as sim:
        refused = run("bench", "--host", "127.0.0.1", "--port", str(sim.port), "-n", "64", "--uvloop",
                      "--batch", "16", "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["failed"] == {"ESME_RSUBMITFAIL": 64}


def test_bench_async_bind_refused_is_one_line_exit_3() -> None:
    with Simulator(credentials={"app": "right"}) as sim:
        result = run("bench", "--host", "127.0.0.1", "--port", str(sim.port), "--system-id", "app",
                     "-n", "10", "--asyncio", SMPP_PASSWORD="wrong")
    assert_clean_error(result, 3, "bind refused", "ESME_RINVPASWD")
    assert "wrong" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--asyncio", "--threads", "2"], "--threads is for the threaded client"),
        (["--tasks", "5"], "--tasks needs --asyncio or --uvloop"),
        (["--asyncio", "--uvloop"], "not allowed with argument"),
        (["--asyncio", "--tasks", "0"], "--tasks"),
    ],
)
def test_bench_async_option_mistakes_are_one_line_exit_2(args: list[str], needle: str) -> None:
    assert_clean_error(run("bench", "-n", "10", *args), 2, needle)


# -- several binds: the pool, from the command line ---------------------------------------------


def test_bench_over_several_binds_runs_a_pool_and_prints_per_bind_figures() -> None:
    with Simulator() as a, Simulator() as b:
        smscs = ["--smsc", f"127.0.0.1:{a.port}", "--smsc", f"127.0.0.1:{b.port}"]
        data = json.loads(run("bench", *smscs, "--binds", "2", "-n", "4000", "--json").stdout)
        table = run("bench", *smscs, "-n", "1000", "--asyncio")
    assert data["binds"] == 4 and data["threads"] == 4
    assert data["statuses"] == {"ESME_ROK": 4000}
    labels = [b_["bind"] for b_ in data["per_bind"]]
    assert labels == [f"127.0.0.1:{a.port}#1", f"127.0.0.1:{a.port}#2", f"127.0.0.1:{b.port}#1", f"127.0.0.1:{b.port}#2"]
    assert sum(b_["accepted"] for b_ in data["per_bind"]) == 4000
    assert all(b_["submitted"] > 0 for b_ in data["per_bind"]), data["per_bind"]
    assert table.returncode == 0, table.stderr
    assert "  per bind:" in table.stdout
    assert f"127.0.0.1:{b.port}#1" in table.stdout and "accepted" in table.stdout


def test_send_through_a_pool_of_binds_on_two_smscs() -> None:
    with Simulator() as a, Simulator() as b:
        result = run("send", "--smsc", f"127.0.0.1:{a.port}", "--smsc", f"127.0.0.1:{b.port}", "--binds", "2",
                     "--wait-receipts", "10", "15551234", "a long text " * 30)
        seen = (a.counters["submits"], b.counters["submits"])
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("part ")] == \
        ["part 1/3", "part 2/3", "part 3/3"]
    assert sorted(seen) == [0, 3]  # every part through one bind
    assert result.stdout.count("stat:DELIVRD") == 3 or result.stdout.count("DELIVRD") == 3, result.stdout


@pytest.mark.parametrize("value", ["nohost", ":2775", "h:0", "h:99999", "h:port"])
def test_a_bad_smsc_address_is_one_line_exit_2(value: str) -> None:
    assert_clean_error(run("send", "--smsc", value, "15551234", "hi"), 2, "--smsc")


@pytest.mark.parametrize("extra", [[], ["--asyncio"]], ids=["threads", "asyncio"])
def test_bench_on_a_link_that_drops_ends_with_exit_1_and_says_why_once(extra: list[str]) -> None:
    with Simulator(faults=Faults(close_after=50)) as sim:
        result = run("bench", "--host", "127.0.0.1", "--port", str(sim.port), "-n", "500", "--timeout", "5",
                     "--json", *extra)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert data["errors"].get("ConnectionClosedError", 0) > 0
    assert data["completed"] + data["not_sent"] == 500  # every submit counted once
    assert len(data["aborted"]) == 1 and data["aborted"][0].startswith("ConnectionClosedError")
