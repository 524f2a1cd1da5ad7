#!/usr/bin/env python
"""Memory per decoded PDU and the cost of the cyclic GC during bulk decoding (not part of any test suite).

    python benchmarks/memory_codec.py [--n 1000000] [--peers] [--json]

Each measurement runs in a fresh child process (this script re-invoked with ``--child``), so one cannot
disturb another. Reported:

* ``rss_bytes_per_pdu``: growth of the resident set (``/proc/self/statm``) while decoding N typical
  submit_sm into a list, divided by N, minus the list's own 8-byte slot. It counts everything the PDU
  keeps alive: the object, its str/bytes/int fields, the tlvs container, malloc'd C memory, and any
  input buffer the decoder might keep a reference to (every PDU is decoded from its own fresh bytes
  object, with its own sequence number, which is then dropped: a zero-copy decoder pays for what it
  pins). This is the headline figure.
* ``tracemalloc_bytes_per_pdu``: the same with tracemalloc (Python allocators only, exact, excludes
  memory obtained with plain C ``malloc``), for cross-checking.
* ``gc_ratio``: time to decode N PDUs into a list with the cyclic GC enabled, over the time with
  ``gc.disable()`` (best of ``--repeat`` each, alternating). Inputs are prepared outside the timing.

Targets (issue 2): <= 360 bytes per PDU; gc_ratio <= 1.3.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import struct
import subprocess
import sys
import time
from typing import Any, Callable

_HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_BYTES = 360
TARGET_GC_RATIO = 1.3


def _typical_submit_sm() -> bytes:
    if _HERE not in sys.path:
        sys.path.insert(0, _HERE)
    import conftest  # the canonical bytes (built by a neutral packer)

    return conftest.SUBMIT_BYTES


def _decoder(lib: str) -> Callable[[bytes], Any]:
    if lib == "smppfast":
        import smppfast

        return smppfast.decode
    if lib == "smpp34":
        import smpp34

        return smpp34.decode
    if lib == "smpplib":
        import smpplib.client
        import smpplib.smpp

        client = smpplib.client.Client("127.0.0.1", 2775, allow_unknown_opt_params=True)
        parse = smpplib.smpp.parse_pdu
        return lambda b: parse(b, client=client, allow_unknown_opt_params=True)
    raise SystemExit(f"unknown library {lib}")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child(mode: str, lib: str, n: int, repeat: int) -> dict:
    data = _typical_submit_sm()
    head, tail = data[:12], data[16:]
    pack = struct.Struct(">I").pack
    decode = _decoder(lib)
    decode(data)  # import/first-call costs out of the way

    if mode == "rss":
        gc.collect()
        slots = [None] * n  # the list exists before: its 8 B/slot are not counted
        rss0 = _rss()
        for i in range(n):
            slots[i] = decode(head + pack(i & 0x7FFFFFFF) + tail)
        gc.collect()
        rss1 = _rss()
        return {"rss_bytes_per_pdu": (rss1 - rss0) / n}

    if mode == "tracemalloc":
        import tracemalloc

        gc.collect()
        slots = [None] * n
        tracemalloc.start()
        for i in range(n):
            slots[i] = decode(head + pack(i & 0x7FFFFFFF) + tail)
        gc.collect()
        current, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"tracemalloc_bytes_per_pdu": current / n}

    if mode == "gc":
        inputs = [head + pack(i & 0x7FFFFFFF) + tail for i in range(n)]
        on: list[float] = []
        off: list[float] = []
        for _ in range(repeat):
            for enabled, times in ((True, on), (False, off)):
                gc.collect()
                if enabled:
                    gc.enable()
                else:
                    gc.disable()
                t0 = time.perf_counter()
                out = [decode(b) for b in inputs]
                t1 = time.perf_counter()
                gc.enable()
                times.append(t1 - t0)
                del out
        best_on, best_off = min(on), min(off)
        return {
            "gc_on_s": best_on,
            "gc_off_s": best_off,
            "gc_ratio": best_on / best_off,
            "decode_per_s_gc_on": n / best_on,
            "gc_on_all_s": on,
            "gc_off_all_s": off,
        }
    raise SystemExit(f"unknown mode {mode}")


def _run_child(mode: str, lib: str, n: int, repeat: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--lib", lib, "--n", str(n)]
    cmd += ["--repeat", str(repeat)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="PDUs to decode (default 1,000,000)")
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats for the GC ratio")
    ap.add_argument("--peers", action="store_true", help="also measure smpp34 (same N) and smpplib (N/10)")
    ap.add_argument("--json", action="store_true", help="print only a JSON report")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--lib", default="smppfast", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(_child(args.child, args.lib, args.n, args.repeat)))
        return 0

    libs = [("smppfast", args.n)]
    if args.peers:
        libs += [("smpp34", args.n), ("smpplib", max(1, args.n // 10))]
    report: dict[str, Any] = {"python": sys.version.split()[0], "n": args.n, "libs": {}}
    for lib, n in libs:
        r: dict[str, Any] = {"n": n}
        try:
            for mode in ("rss", "tracemalloc", "gc"):
                r.update(_run_child(mode, lib, n, args.repeat))
        except subprocess.CalledProcessError as exc:
            r["error"] = (exc.stderr or "").strip().splitlines()[-1:] or [str(exc)]
        report["libs"][lib] = r
    fast = report["libs"]["smppfast"]
    if "rss_bytes_per_pdu" in fast:
        report["targets"] = {
            "bytes_per_pdu<=360": fast["rss_bytes_per_pdu"] <= TARGET_BYTES,
            "gc_ratio<=1.3": fast["gc_ratio"] <= TARGET_GC_RATIO,
        }

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"Python {report['python']}, {args.n:,} typical submit_sm decoded into a list")
    print(f"{'library':<10} {'N':>9} {'RSS B/PDU':>10} {'tracemalloc B/PDU':>18} {'GC on/off':>10} {'decode/s (GC on)':>17}")
    for lib, r in report["libs"].items():
        if "error" in r:
            print(f"{lib:<10} error: {r['error']}")
            continue
        print(
            f"{lib:<10} {r['n']:>9,} {r['rss_bytes_per_pdu']:>10.0f} {r['tracemalloc_bytes_per_pdu']:>18.0f} "
            f"{r['gc_ratio']:>10.2f} {r['decode_per_s_gc_on']:>17,.0f}"
        )
    if "targets" in report:
        t = report["targets"]
        print(
            f"targets: <= {TARGET_BYTES} B/PDU (RSS): {'met' if t['bytes_per_pdu<=360'] else 'MISSED'}; "
            f"GC ratio <= {TARGET_GC_RATIO}: {'met' if t['gc_ratio<=1.3'] else 'MISSED'}"
        )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
