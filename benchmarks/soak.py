"""A long soak of the threaded client against a faulty SMSC: every submit ends exactly once,
and memory stays flat.

    python benchmarks/soak.py [--submits 2000000] [--window 1000] [--batch 1000]

The simulator (in a child process, so its memory is not the client's) throttles, nacks and
drops some submits and closes the connection now and then; the client reconnects. The script
counts how every submit ended and checks that the counts add up to the number submitted,
and reports the client process's RSS at the start, after a warm-up and at the end.
A benchmark script, not a test: it takes minutes and nothing in CI runs it.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import os
import subprocess
import sys
import time
from typing import Any


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


SIMULATOR = """
import sys, time
from smppfast.simulator import Faults, Simulator
faults = Faults(throttle_every=9973, nack_every=1009, drop_every=5003, close_after=250_000)
with Simulator(port=0, faults=faults, window=1000, record=0) as sim:
    print(sim.port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=2_000_000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    from smppfast import Client, SubmitSm

    child = subprocess.Popen([sys.executable, "-c", SIMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout is not None and child.stdin is not None
    port = int(child.stdout.readline())
    counts: collections.Counter[str] = collections.Counter()
    rss: dict[str, float] = {"start": rss_mb()}
    pdus = [SubmitSm(source_addr="soak", destination_addr="447700900%03d" % (i % 1000), short_message=b"soak %d" % i)
            for i in range(args.batch)]
    submitted = 0
    t0 = time.monotonic()
    try:
        with Client("127.0.0.1", port, system_id="soak", password="soak", window=args.window,
                    response_timeout=1.0, window_timeout=30.0, reconnect=True, throttle_backoff=0.01,
                    throttle_max_backoff=0.2, enquire_link_interval=5.0) as client:
            pending: collections.deque[list[Any]] = collections.deque()

            def settle(keep: int) -> None:
                while len(pending) > keep:
                    for fut in pending.popleft():
                        exc = fut.exception(60)
                        counts["ok" if exc is None else type(exc).__name__] += 1

            while submitted < args.submits:
                try:
                    futures = client.submit_many(pdus)
                except Exception as exc:  # the client as a whole refused: counted per PDU
                    counts[f"raised {type(exc).__name__}"] += len(pdus)
                    submitted += len(pdus)
                    continue
                submitted += len(futures)
                pending.append(futures)
                settle(keep=4)
                if submitted == args.batch * 50:
                    rss["after warm-up"] = rss_mb()
                if submitted % 200_000 == 0:
                    print(f"{submitted:>9,} submitted, {sum(counts.values()):>9,} ended, "
                          f"RSS {rss_mb():.1f} MB, {dict(counts)}", file=sys.stderr)
            settle(keep=0)
            stats = client.stats
    finally:
        child.stdin.close()
        child.wait(10)
    elapsed = time.monotonic() - t0
    rss["end"] = rss_mb()
    total = sum(counts.values())
    print(f"submitted {submitted:,} in {elapsed:.0f} s ({submitted / elapsed:,.0f}/s)")
    print(f"outcomes  {dict(counts)}  (sum {total:,})")
    print(f"client stats: {stats!r}")
    print("RSS MB:   " + ", ".join(f"{k} {v:.1f}" for k, v in rss.items()))
    if total != submitted:
        print(f"MISMATCH: {submitted - total:,} submits have no outcome")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
