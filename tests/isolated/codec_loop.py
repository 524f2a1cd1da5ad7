"""Run codec operations (and their error paths) in a loop; print RSS growth in KiB.

Run by tests/test_leaks.py in a subprocess so other tests' allocations do not blur it.
"""

from __future__ import annotations

import resource
import sys

import smppfast
from smppfast import PduError, Tlv


def rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() // 1024


def one_round() -> None:
    pdu = smppfast.SubmitSm(
        source_addr="Sender", destination_addr="447700900123", short_message=b"x" * 60,
        registered_delivery=1, tlvs={Tlv.USER_MESSAGE_REFERENCE: 7, 0x1400: b"vendor"},
    )
    data = smppfast.encode(pdu)
    assert smppfast.decode(data) == pdu
    for bad in (data[:20], data[:-3] + b"\xff\xff\xff", b"\0\0\0\x10\0\0\0\x99" + bytes(8)):
        try:
            smppfast.decode(bad)
        except PduError:
            pass
    try:
        smppfast.encode(smppfast.SubmitSm(source_addr="x" * 30))
    except PduError:
        pass
    decoder = smppfast.Decoder()
    broken = bytearray(data)
    broken[50] = 0xFF  # sm_length overruns: a recoverable error in the middle of a stream
    try:
        decoder.feed(data + bytes(broken) + data)
    except PduError:
        decoder.feed(b"")
    try:
        decoder.feed(b"\xff\xff\xff\xff" + bytes(12))
    except PduError:
        pass
    text = "Grüße € " * 40
    for part in smppfast.split_text(text):
        smppfast.decode_text(part.short_message[6:], part.data_coding)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for _ in range(2000):
        one_round()
    before = rss_kib()
    for _ in range(rounds):
        one_round()
    print(rss_kib() - before)


if __name__ == "__main__":
    main()
