"""End-to-end client throughput: smppfast's Client, a C client, smpplib and smpp34, in one run.

    python benchmarks/client_throughput.py [--rounds 3] [--scale 1.0] [--json [FILE]]
        [--only w100,smpp34,...] [--servers sink,sim] [--no-memory]

Every case binds one connection over loopback, warms up, then times N submits from the first submit
until the response to the last one has been read (see ``client_peers.py`` for what each case does).
The servers run in their own processes: the C sink (``sink.c``, built with gcc into a temp dir; it
answers at once, so the client is measured alone) and smppfast's Simulator in a child interpreter.

Rounds are interleaved (round 1 of every case, then round 2, ...) so that noise from other processes
hits every case alike. The table gives the best round and the median round, p50/p99 latency from the
median round, then memory per request in flight and issue 4's targets with their ratios.
Not a test: nothing here runs in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_peers as cp  # noqa: E402


def _fmt(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def _us(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return f"{v / 1000:.1f} ms" if v >= 10_000 else f"{v:.0f} µs"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "-C", cp.ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", cp.ROOT, "status", "--porcelain", "src"], capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        rev, dirty = "", ""
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
        # What is measured is the smppfast this interpreter imports (normally the installed package);
        # the commit is the checkout's, which is what was installed when run as the README says.
        "commit": (rev + (" + uncommitted changes in src/" if dirty else "")) if not cp.SRC
        else f"the tree at SMPPFAST_SRC={cp.SRC}",
        "smppfast": cp.smppfast_location(),
        "smpplib": cp.smpplib_version(),
        "smpp34": cp.smpp34_version(),
    }


def run(rounds: int, scale: float, only: Optional[set[str]], servers: list[str], memory: bool,
        log: Any = sys.stderr) -> dict[str, Any]:
    all_cases = [c for c in cp.cases(scale) if not only or c.id in only]
    runs: dict[tuple[str, str], list[cp.Result]] = {}
    skipped: dict[str, str] = {}
    errors: dict[str, str] = {}
    for case in all_cases:
        why = case.available()
        if why:
            skipped[case.id] = why
    started = {name: cp.SERVERS[name]() for name in servers}
    try:
        for r in range(rounds):
            for server, srv in started.items():
                for case in all_cases:
                    key = (case.id, server)
                    if case.id in skipped or server not in case.servers or f"{case.id}@{server}" in errors:
                        continue
                    t = time.monotonic()
                    try:
                        res = case.run(srv.port)
                    except Exception as exc:  # keep going; the table says what failed
                        errors[f"{case.id}@{server}"] = f"{type(exc).__name__}: {exc}"
                        print(f"round {r + 1} {server:4} {case.id:11} FAILED {exc}", file=log, flush=True)
                        continue
                    runs.setdefault(key, []).append(res)
                    print(f"round {r + 1} {server:4} {case.id:11} {_fmt(res.rate):>7}/s "
                          f"({time.monotonic() - t:.1f} s)", file=log, flush=True)
    finally:
        for srv in started.values():
            srv.stop()

    rows = []
    for case in all_cases:
        for server in servers:
            res = runs.get((case.id, server))
            if not res:
                continue
            rates = [x.rate for x in res]
            by_rate = sorted(res, key=lambda x: x.rate)
            med = by_rate[len(by_rate) // 2]
            rows.append({
                "id": case.id, "label": case.label, "lib": case.lib, "group": case.group, "server": server,
                "submits": res[0].submits, "rates": rates, "best": max(rates), "median": statistics.median(rates),
                "p50_us": med.p50_us, "p99_us": med.p99_us,
            })

    mem_rows = []
    if (memory and not only) or (only and "mem" in only):
        for mid, label, kwargs in cp.memory_cases():
            vals = []
            for _ in range(rounds if mid in cp.MEMORY_TARGET_CASES else 1):
                try:
                    vals.append(cp.memory_case(20_000, **kwargs))
                except Exception as exc:
                    errors[mid] = f"{type(exc).__name__}: {exc}"
                    break
            if vals:
                key = "traced_per_request" if kwargs.get("use_tracemalloc") else "rss_per_request"
                per = [v[key] for v in vals]
                mem_rows.append({"id": mid, "label": label, "bytes": per, "best": min(per),
                                 "median": statistics.median(per)})
                print(f"{mid:11} {min(per):.0f} B per request", file=log, flush=True)

    def rate(kind: str) -> Any:
        def get(case_id: str, server: str) -> Optional[float]:
            row = next((x for x in rows if x["id"] == case_id and x["server"] == server), None)
            return row[kind] if row else None
        return get

    def memory_of(kind: str) -> Any:
        def get(case_id: str) -> Optional[float]:
            row = next((m for m in mem_rows if m["id"] == case_id), None)
            return row[kind] if row else None
        return get

    return {
        "machine": machine(),
        "rounds": rounds,
        "scale": scale,
        "results": rows,
        "memory": mem_rows,
        "targets_best": cp.targets(rate("best"), memory_of("best")),
        "targets_median": cp.targets(rate("median"), memory_of("median")),
        "skipped": skipped,
        "errors": errors,
    }


def print_table(data: dict[str, Any], out: Any = sys.stdout) -> None:
    w = lambda s="": print(s, file=out)  # noqa: E731
    m = data["machine"]
    w(f"# client throughput: {m['cpus']} CPU {m['cpu']}, Python {m['python']}, smppfast {m['commit']}, "
      f"{data['rounds']} rounds")
    w()
    w("| scenario | client | server | submits | best | median | p50 | p99 |")
    w("|---|---|---|---|---|---|---|---|")
    for r in sorted(data["results"], key=lambda r: (cp.GROUP_ORDER.index(r["group"]), r["server"] != "sink")):
        w(f"| {r['group']} | {r['label']} | {r['server']} | {r['submits']:,} | {_fmt(r['best'])}/s | "
          f"{_fmt(r['median'])}/s | {_us(r['p50_us'])} | {_us(r['p99_us'])} |")
    if data["memory"]:
        w()
        w("| memory, 20,000 requests in flight (sink HOLD) | best | median |")
        w("|---|---|---|")
        for mr in data["memory"]:
            w(f"| {mr['label']} | {mr['best']:.0f} B | {mr['median']:.0f} B |")
    w()
    w("| target (against the sink) | best round | ratio | median round | ratio |")
    w("|---|---|---|---|---|")
    for tb, tm in zip(data["targets_best"], data["targets_median"]):
        cells = []
        for t in (tb, tm):
            if "measured" not in t:
                cells += ["not measured", ""]
                continue
            val = f"{t['measured']:.0f} B" if t["unit"] == "B" else f"{_fmt(t['measured'])}/s"
            cells += [f"{val} {'met' if t['met'] else '**missed**'}", f"{t['ratio']:.2f} of {t['of']}"]
        w(f"| {tb['target']} | " + " | ".join(cells) + " |")
    for k, v in data["skipped"].items():
        w(f"skipped {k}: {v}")
    for k, v in data["errors"].items():
        w(f"FAILED {k}: {v}")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the number of submits per case")
    ap.add_argument("--only", default="", help="comma-separated case ids (w1,w100,smpp34,...,mem)")
    ap.add_argument("--servers", default="sink,sim")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", nargs="?", const="-", default=None, help="write JSON to FILE (or stdout)")
    args = ap.parse_args(argv)
    only = {x for x in args.only.split(",") if x} or None
    data = run(args.rounds, args.scale, only, [s for s in args.servers.split(",") if s], not args.no_memory)
    if args.json == "-":
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print_table(data)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(data, f, indent=2)
    return 1 if data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
