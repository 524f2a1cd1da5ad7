"""Codec benchmarks: smppfast, smpp34 and smpplib side by side, one ``group`` per operation.

Run: ``python -m pytest benchmarks --benchmark-only`` (against the installed smppfast)
(add ``--benchmark-json=out.json`` to keep the figures). Every library is first checked on the same
canonical bytes (``conftest.peer``). Single-PDU operations loop ``peer.loop_n`` times inside the timed
call; ``extra_info["ops_per_s"]`` is per operation (per PDU for the streams) from the median round,
``ops_per_s_best`` from the fastest round.
"""

from __future__ import annotations

from typing import Any

import pytest

import peers  # noqa: F401  (conftest puts benchmarks/ on sys.path)


def _record(benchmark: Any, peer: Any, ops_per_call: int) -> None:
    benchmark.extra_info["lib"] = peer.name
    benchmark.extra_info["version"] = peer.version
    benchmark.extra_info["ops_per_call"] = ops_per_call
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        median, best = stats.stats.median, stats.stats.min
        if median > 0:
            benchmark.extra_info["ops_per_s"] = ops_per_call / median
        if best > 0:
            benchmark.extra_info["ops_per_s_best"] = ops_per_call / best


@pytest.mark.benchmark(group="submit_sm construct+encode")
def test_submit_sm_encode(benchmark: Any, peer: Any, inputs: Any) -> None:
    """Build a typical submit_sm (addresses, 60-byte text, registered_delivery=1) and encode it."""
    run = peer.make_encode_submit(inputs.submit_fields)
    n = peer.loop_n
    benchmark(run, n)
    _record(benchmark, peer, n)


@pytest.mark.benchmark(group="submit_sm decode+read all")
def test_submit_sm_decode(benchmark: Any, peer: Any, inputs: Any) -> None:
    """Decode the typical submit_sm and read all 17 body fields, sequence_number and tlvs."""
    run = peer.make_decode_submit(inputs.submit_bytes)
    n = peer.loop_n
    benchmark(run, n)
    _record(benchmark, peer, n)


@pytest.mark.benchmark(group="receipt deliver_sm+2 TLVs")
def test_receipt_decode(benchmark: Any, peer: Any, inputs: Any) -> None:
    """Decode a delivery-receipt deliver_sm, read receipted_message_id, message_state and the text."""
    run = peer.make_decode_receipt(inputs.receipt_bytes)
    n = peer.loop_n
    benchmark(run, n)
    _record(benchmark, peer, n)


@pytest.mark.benchmark(group="10k submit_sm_resp stream")
def test_resp_stream(benchmark: Any, peer: Any, inputs: Any) -> None:
    """Frame and decode 10,000 submit_sm_resp given as one buffer (figure is per PDU)."""
    run = peer.make_frame_stream()
    chunks = inputs.resp_chunks
    benchmark(run, chunks)
    _record(benchmark, peer, inputs.resp_count)


@pytest.mark.benchmark(group="10k resp stream + read id")
def test_resp_stream_read(benchmark: Any, peer: Any, inputs: Any) -> None:
    """As the stream above, then read each PDU's sequence_number, command_status and message_id."""
    run = peer.make_frame_read_resp()  # smpp34's RawPdu leaves the body unparsed: the id is sliced off
    chunks = inputs.resp_chunks
    benchmark(run, chunks)
    _record(benchmark, peer, inputs.resp_count)


@pytest.mark.benchmark(group="1 MiB mixed stream, 64K chunks")
def test_mixed_stream(benchmark: Any, peer: Any, inputs: Any) -> None:
    """Frame and decode ~1 MiB of resps, receipts, submit_sm and enquire_link fed in 64 KiB chunks."""
    run = peer.make_frame_stream()
    chunks = inputs.mixed_chunks
    benchmark(run, chunks)
    _record(benchmark, peer, inputs.mixed_count)
    benchmark.extra_info["mib_per_s"] = (
        inputs.mixed_bytes / (1 << 20) * benchmark.extra_info.get("ops_per_s", 0) / inputs.mixed_count
    )
