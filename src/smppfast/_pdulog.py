"""One DEBUG line per PDU in and out, under the ``smppfast.pdu`` logger.

The session calls ``log_in`` with the PDUs it decoded and ``log_out`` with the octets it
hands to its driver, only after one ``isEnabledFor`` check per buffer, so with DEBUG off
the cost is one method call per read or write, not per PDU. A line names the command, the
sequence number, the status and the fields a person looks for first; the password field is
never among them.
"""

from __future__ import annotations

import logging
from typing import Iterable

from ._codec import Decoder, Pdu
from .constants import Tlv, status_name
from .errors import PduError

__all__ = ["PDU_LOG", "describe", "OutboundTrace"]

PDU_LOG = logging.getLogger("smppfast.pdu")

# The fields worth a glance, in this order, when a PDU has them.
_KEY_FIELDS = (
    "system_id", "system_type", "source_addr", "destination_addr", "service_type", "esm_class",
    "registered_delivery", "data_coding", "message_id", "message_state", "error_code",
)

# TLVs whose value says what a receipt is about (the rest are listed by tag only).
_KEY_TLVS = ((Tlv.RECEIPTED_MESSAGE_ID, "receipted_message_id"), (Tlv.MESSAGE_STATE, "message_state"))


def describe(pdu: Pdu) -> str:
    """``SubmitSm seq=7 status=ESME_ROK source_addr='me' destination_addr='4477…' sm=60B``."""
    parts = [type(pdu).__name__, f"seq={pdu.sequence_number}", f"status={status_name(int(pdu.command_status))}"]
    fields = pdu.fields
    for name in _KEY_FIELDS:
        if name in fields:
            parts.append(f"{name}={getattr(pdu, name)!r}")
    if "short_message" in fields:
        parts.append(f"sm={len(getattr(pdu, 'short_message'))}B")
    tlvs = pdu.tlvs
    if tlvs:
        parts.append("tlvs=" + ",".join(f"0x{int(tag):04X}" for tag in tlvs))
        for tag, name in _KEY_TLVS:
            if tag in tlvs:
                parts.append(f"{name}={tlvs[tag]!r}")
    return " ".join(parts)


def log_in(pdus: Iterable[Pdu], peer: str = "") -> None:
    for pdu in pdus:
        PDU_LOG.debug("%s<- %s", peer, describe(pdu))


class OutboundTrace:
    """Frames the octets a session sends (they may end mid-PDU after a raw ``queue_bytes``)."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = Decoder()

    def log(self, data: bytes, peer: str = "") -> None:
        try:
            pdus = self._decoder.feed(data)
        except PduError as err:
            PDU_LOG.debug("%s-> (not a PDU: %s)", peer, err)
            self._decoder.reset()
            return
        for pdu in pdus:
            PDU_LOG.debug("%s-> %s", peer, describe(pdu))
