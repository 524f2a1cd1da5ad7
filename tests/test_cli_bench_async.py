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
