"""``smppfast worker`` end to end: entries per second from the stream to the outcome records, for 1, 2
and 4 workers against the C sink, and what Redis is asked per entry.

A script, not a test (nothing asserts a time). Per case: a fresh redis-server (tests/redis_server.py,
no persistence) holding N entries already in the stream, with the consumer group placed at the
stream's end so nothing is delivered yet; the C sink (``client_peers.Sink``); W worker processes
started as a user starts them (``python -m smppfast worker ...``), each with its own binds. Once
every worker is bound, the group is moved back to the stream's start (``XGROUP SETID ... 0``) and
the clock runs until the results stream holds N records. Every record must be ``ESME_ROK`` and the
sink must have answered N submits, or the case fails.

Redis's ``INFO commandstats`` before and after gives the commands per entry (each command the
workers send is one round trip: none is pipelined here), and ``used_cpu_user + used_cpu_sys`` the
Redis CPU time per entry.

    python benchmarks/worker_throughput.py                      # 1, 2, 4 workers, 200,000 entries each
    python benchmarks/worker_throughput.py --workers 1 -n 100000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import client_peers as cp  # noqa: E402

from tests.redis_server import RedisServer  # noqa: E402

TEXT = "Your code is 482913. It expires in 10 minutes. Do not share!"


def _commands(client: Any) -> dict[str, int]:
    return {name: int(stats["calls"]) for name, stats in client.info("commandstats").items()}


def _redis_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _fill(client: Any, stream: str, n: int) -> None:
    # A script writes the entries inside Redis: a Python producer would take longer than the run.
    client.eval("""
for i = 1, tonumber(ARGV[1]) do
    redis.call('XADD', KEYS[1], '*', 'to', string.format('4477009%05d', i % 100000), 'text', ARGV[2])
end
""", 1, stream, n, TEXT)


def case(workers: int, n: int, binds: int, window: int, batch: int) -> dict[str, Any]:
    import redis

    sink = cp.Sink()
    procs: list[subprocess.Popen[str]] = []
    try:
        with RedisServer() as server:
            client = redis.Redis.from_url(server.url)
            stream = "bench"
            _fill(client, stream, n)
            client.xgroup_create(stream, "g", id="$")  # nothing delivered until SETID below
            ready = threading.Semaphore(0)
            logs: list[list[str]] = []
            for i in range(workers):
                proc = subprocess.Popen(
                    [sys.executable, "-m", "smppfast", "worker", "--redis", server.url, "--stream", stream,
                     "--group", "g", "--consumer", f"w{i}", "--port", str(sink.port), "--binds", str(binds),
                     "--window", str(window), "--batch", str(batch), "--progress", "3600"],
                    stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=cp.child_env())
                procs.append(proc)
                lines: list[str] = []
                logs.append(lines)

                def watch(p: subprocess.Popen[str] = proc, lines: list[str] = lines) -> None:
                    assert p.stderr is not None
                    for line in p.stderr:
                        lines.append(line)
                        if "serving stream" in line:
                            ready.release()

                threading.Thread(target=watch, daemon=True).start()
            for i in range(workers):
                if not ready.acquire(timeout=60):
                    raise RuntimeError("a worker did not start:\n" + "".join(sum(logs, [])))
            commands = _commands(client)
            cpu = _redis_cpu(client)
            start = time.perf_counter()
            client.xgroup_setid(stream, "g", "0")
            deadline = start + 600
            while client.xlen(f"{stream}:results") < n:
                if time.perf_counter() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"only {client.xlen(f'{stream}:results')} of {n} outcomes:\n"
                                       + "".join(sum(logs, [])))
                time.sleep(0.005)
            elapsed = time.perf_counter() - start
            cpu = _redis_cpu(client) - cpu
            after = _commands(client)
            counts = {k.decode(): int(v) for k, v in client.hgetall(f"{stream}:results:counts").items()}
            if counts != {"ESME_ROK": n}:
                raise RuntimeError(f"outcomes {counts}, expected {n} ESME_ROK")
            per_command = {name.removeprefix("cmdstat_"): (calls - commands.get(name, 0)) / n
                           for name, calls in after.items() if calls - commands.get(name, 0) > 0}
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(60)
            time.sleep(0.2)  # the watcher threads read the last lines
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        sink.stop()
    # Each worker says how many round trips it made (its last log line): its startup, progress
    # and shutdown calls included.
    trips = 0
    for lines in logs:
        found = [int(m.group(1)) for line in lines if (m := re.search(r"(\d+) Redis round trips", line))]
        if not found:
            raise RuntimeError("a worker did not report its round trips:\n" + "".join(lines))
        trips += found[-1]
    # What Redis executes per entry inside the scripts (not round trips); the harness's own
    # polling and setup are left out.
    harness = {"xlen", "hgetall", "info", "xgroup|setid", "xgroup|create", "ping", "hello", "client|setinfo",
               "eval", "evalsha", "script|load"}
    inside = {k: v for k, v in per_command.items() if k not in harness}
    return {
        "workers": workers, "entries": n, "binds_per_worker": binds, "window": window, "batch": batch,
        "seconds": round(elapsed, 3), "entries_per_s": round(n / elapsed),
        "redis_round_trips_per_entry": round(trips / n, 4),
        "redis_commands_per_entry": {k: round(v, 4) for k, v in sorted(inside.items())},
        "redis_cpu_us_per_entry": round(cpu / n * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("-n", type=int, default=200_000, help="entries per case")
    parser.add_argument("--binds", type=int, default=1, help="binds per worker")
    parser.add_argument("--window", type=int, default=1000, help="window per bind")
    parser.add_argument("--batch", type=int, default=1000, help="most entries a worker reads at once")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if cp.c_tools() is None:
        raise SystemExit(f"cannot build the C sink: {cp._tools_error}")
    results = []
    for w in args.workers:
        r = case(w, args.n, args.binds, args.window, args.batch)
        results.append(r)
        if not args.json:
            print(f"{w} worker(s): {r['entries_per_s']:>8,} entries/s ({r['entries']:,} in {r['seconds']} s); "
                  f"Redis per entry: {r['redis_round_trips_per_entry']} round trips, {r['redis_cpu_us_per_entry']} us "
                  f"of its CPU, commands {r['redis_commands_per_entry']}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
