"""THE table of SMPP 3.4 PDU layouts: the single source of truth for the codec.

Each PDU is a ``PduLayout``: (class name, command_id, mandatory body fields in wire order,
has_response). A field is (name, kind, max) where ``max`` is the spec's maximum size in
octets, the C-Octet string terminator included (SMPP 3.4 section 4). ``has_response`` says
whether the PDU is a request that the peer answers with a response PDU: every request but
outbind and alert_notification (SMPP 3.4 sections 4.1.7 and 4.12). The compiled codec turns
this table into C arrays at import; encode, decode, validation, ``repr``, ``Pdu.response()``,
``has_response`` and the stubs follow from it.

Kinds:
  U8      1-octet Integer
  CSTR    C-Octet String (Latin-1 ``str`` in Python; ``max`` counts the NUL)
  SM      sm_length + short_message (``bytes``; sm_length is derived)
  DESTS   submit_multi number_of_dests + dest_address list (derived count)
  UNSUCC  submit_multi_resp no_unsuccess + unsuccess_sme list (derived count)
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from .constants import Tlv

U8, CSTR, SM, DESTS, UNSUCC = 1, 2, 3, 4, 5

Field = tuple[str, int, int]  # (name, kind, max)


class PduLayout(NamedTuple):
    """One row of the table."""

    name: str
    command_id: int
    fields: tuple[Field, ...]
    has_response: bool


_SERVICE_TYPE = ("service_type", CSTR, 6)
_SCHEDULE = ("schedule_delivery_time", CSTR, 17)
_VALIDITY = ("validity_period", CSTR, 17)
_MESSAGE_ID = ("message_id", CSTR, 65)
_SHORT_MESSAGE = ("short_message", SM, 254)


def _addr(prefix: str, name: str, size: int) -> tuple[Field, ...]:
    # Interned like every literal field name, so attribute and keyword lookups match by pointer.
    return ((sys.intern(f"{prefix}_ton"), U8, 1), (sys.intern(f"{prefix}_npi"), U8, 1), (name, CSTR, size))


_BIND = (
    ("system_id", CSTR, 16),
    ("password", CSTR, 9),
    ("system_type", CSTR, 13),
    ("interface_version", U8, 1),
    ("addr_ton", U8, 1),
    ("addr_npi", U8, 1),
    ("address_range", CSTR, 41),
)
_BIND_RESP = (("system_id", CSTR, 16),)

# submit_sm and deliver_sm share one layout (SMPP 3.4 sections 4.4.1 and 4.6.1).
_SM_BODY = (
    _SERVICE_TYPE,
    *_addr("source_addr", "source_addr", 21),
    *_addr("dest_addr", "destination_addr", 21),
    ("esm_class", U8, 1),
    ("protocol_id", U8, 1),
    ("priority_flag", U8, 1),
    _SCHEDULE,
    _VALIDITY,
    ("registered_delivery", U8, 1),
    ("replace_if_present_flag", U8, 1),
    ("data_coding", U8, 1),
    ("sm_default_msg_id", U8, 1),
    _SHORT_MESSAGE,
)

# submit_multi is submit_sm with the single destination replaced by a list (section 4.5.1).
_SUBMIT_MULTI = (*_SM_BODY[:4], ("dest_address", DESTS, 254), *_SM_BODY[7:])

_DATA_SM = (
    _SERVICE_TYPE,
    *_addr("source_addr", "source_addr", 65),
    *_addr("dest_addr", "destination_addr", 65),
    ("esm_class", U8, 1),
    ("registered_delivery", U8, 1),
    ("data_coding", U8, 1),
)

# has_response: a request that the peer answers with its *_resp PDU. Responses (generic_nack
# included) have none, and neither have outbind (answered by a bind) and alert_notification.
RESP, NO_RESP = True, False

PDUS: tuple[PduLayout, ...] = (
    PduLayout("GenericNack", 0x80000000, (), NO_RESP),
    PduLayout("BindReceiver", 0x00000001, _BIND, RESP),
    PduLayout("BindReceiverResp", 0x80000001, _BIND_RESP, NO_RESP),
    PduLayout("BindTransmitter", 0x00000002, _BIND, RESP),
    PduLayout("BindTransmitterResp", 0x80000002, _BIND_RESP, NO_RESP),
    PduLayout("QuerySm", 0x00000003, (_MESSAGE_ID, *_addr("source_addr", "source_addr", 21)), RESP),
    PduLayout(
        "QuerySmResp",
        0x80000003,
        (_MESSAGE_ID, ("final_date", CSTR, 17), ("message_state", U8, 1), ("error_code", U8, 1)),
        NO_RESP,
    ),
    PduLayout("SubmitSm", 0x00000004, _SM_BODY, RESP),
    PduLayout("SubmitSmResp", 0x80000004, (_MESSAGE_ID,), NO_RESP),
    PduLayout("DeliverSm", 0x00000005, _SM_BODY, RESP),
    # SMPP 3.4 says deliver_sm_resp.message_id is unused and NULL; it is still a field.
    PduLayout("DeliverSmResp", 0x80000005, (_MESSAGE_ID,), NO_RESP),
    PduLayout("Unbind", 0x00000006, (), RESP),
    PduLayout("UnbindResp", 0x80000006, (), NO_RESP),
    PduLayout(
        "ReplaceSm",
        0x00000007,
        (
            _MESSAGE_ID,
            *_addr("source_addr", "source_addr", 21),
            _SCHEDULE,
            _VALIDITY,
            ("registered_delivery", U8, 1),
            ("sm_default_msg_id", U8, 1),
            _SHORT_MESSAGE,
        ),
        RESP,
    ),
    PduLayout("ReplaceSmResp", 0x80000007, (), NO_RESP),
    PduLayout(
        "CancelSm",
        0x00000008,
        (
            _SERVICE_TYPE,
            _MESSAGE_ID,
            *_addr("source_addr", "source_addr", 21),
            *_addr("dest_addr", "destination_addr", 21),
        ),
        RESP,
    ),
    PduLayout("CancelSmResp", 0x80000008, (), NO_RESP),
    PduLayout("BindTransceiver", 0x00000009, _BIND, RESP),
    PduLayout("BindTransceiverResp", 0x80000009, _BIND_RESP, NO_RESP),
    # The SMSC asks the ESME to bind; the answer is a bind request, not a response (section 4.1.7).
    PduLayout("Outbind", 0x0000000B, (("system_id", CSTR, 16), ("password", CSTR, 9)), NO_RESP),
    PduLayout("EnquireLink", 0x00000015, (), RESP),
    PduLayout("EnquireLinkResp", 0x80000015, (), NO_RESP),
    PduLayout("SubmitMulti", 0x00000021, _SUBMIT_MULTI, RESP),
    PduLayout("SubmitMultiResp", 0x80000021, (_MESSAGE_ID, ("unsuccess_sme", UNSUCC, 255)), NO_RESP),
    # SMPP 3.4 section 4.12: alert_notification has no response.
    PduLayout(
        "AlertNotification",
        0x00000102,
        (*_addr("source_addr", "source_addr", 65), *_addr("esme_addr", "esme_addr", 65)),
        NO_RESP,
    ),
    PduLayout("DataSm", 0x00000103, _DATA_SM, RESP),
    PduLayout("DataSmResp", 0x80000103, (_MESSAGE_ID,), NO_RESP),
)

# Derived length fields: readable attributes, never set by hand.
LENGTH_FIELDS = {SM: "sm_length", DESTS: "number_of_dests", UNSUCC: "no_unsuccess"}

# Sub-structure limits (SMPP 3.4 sections 4.5.1.1 and 4.5.2).
DEST_ADDR_MAX = 21
DL_NAME_MAX = 21

# TLV value types (SMPP 3.4 section 5.3.2). INTn: n-octet Integer; CSTR: C-Octet String;
# OCTETS: Octet String. A value whose wire length does not fit its type decodes as bytes.
INT1, INT2, INT4, TLV_CSTR, OCTETS = 1, 2, 3, 4, 5

TLV_TYPES: dict[int, int] = {
    Tlv.DEST_ADDR_SUBUNIT: INT1,
    Tlv.DEST_NETWORK_TYPE: INT1,
    Tlv.DEST_BEARER_TYPE: INT1,
    Tlv.DEST_TELEMATICS_ID: INT2,
    Tlv.SOURCE_ADDR_SUBUNIT: INT1,
    Tlv.SOURCE_NETWORK_TYPE: INT1,
    Tlv.SOURCE_BEARER_TYPE: INT1,
    Tlv.SOURCE_TELEMATICS_ID: INT1,
    Tlv.QOS_TIME_TO_LIVE: INT4,
    Tlv.PAYLOAD_TYPE: INT1,
    Tlv.ADDITIONAL_STATUS_INFO_TEXT: TLV_CSTR,
    Tlv.RECEIPTED_MESSAGE_ID: TLV_CSTR,
    Tlv.MS_MSG_WAIT_FACILITIES: INT1,
    Tlv.PRIVACY_INDICATOR: INT1,
    Tlv.SOURCE_SUBADDRESS: OCTETS,
    Tlv.DEST_SUBADDRESS: OCTETS,
    Tlv.USER_MESSAGE_REFERENCE: INT2,
    Tlv.USER_RESPONSE_CODE: INT1,
    Tlv.SOURCE_PORT: INT2,
    Tlv.DESTINATION_PORT: INT2,
    Tlv.SAR_MSG_REF_NUM: INT2,
    Tlv.LANGUAGE_INDICATOR: INT1,
    Tlv.SAR_TOTAL_SEGMENTS: INT1,
    Tlv.SAR_SEGMENT_SEQNUM: INT1,
    Tlv.SC_INTERFACE_VERSION: INT1,
    Tlv.CALLBACK_NUM_PRES_IND: INT1,
    Tlv.CALLBACK_NUM_ATAG: OCTETS,
    Tlv.NUMBER_OF_MESSAGES: INT1,
    Tlv.CALLBACK_NUM: OCTETS,
    Tlv.DPF_RESULT: INT1,
    Tlv.SET_DPF: INT1,
    Tlv.MS_AVAILABILITY_STATUS: INT1,
    Tlv.NETWORK_ERROR_CODE: OCTETS,
    Tlv.MESSAGE_PAYLOAD: OCTETS,
    Tlv.DELIVERY_FAILURE_REASON: INT1,
    Tlv.MORE_MESSAGES_TO_SEND: INT1,
    Tlv.MESSAGE_STATE: INT1,
    Tlv.USSD_SERVICE_OP: OCTETS,
    Tlv.DISPLAY_TIME: INT1,
    Tlv.SMS_SIGNAL: INT2,
    Tlv.MS_VALIDITY: INT1,
    Tlv.ALERT_ON_MESSAGE_DELIVERY: OCTETS,
    Tlv.ITS_REPLY_TYPE: INT1,
    Tlv.ITS_SESSION_INFO: OCTETS,
}

# The status a session answers with when a field of an inbound PDU is malformed.
FIELD_STATUS: dict[str, int] = {
    "command_length": 0x02,  # ESME_RINVCMDLEN
    "command_id": 0x03,  # ESME_RINVCMDID
    "service_type": 0x15,  # ESME_RINVSERTYP
    "source_addr": 0x0A,  # ESME_RINVSRCADR
    "destination_addr": 0x0B,  # ESME_RINVDSTADR
    "message_id": 0x0C,  # ESME_RINVMSGID
    "system_id": 0x0F,  # ESME_RINVSYSID
    "password": 0x0E,  # ESME_RINVPASWD
    "system_type": 0x53,  # ESME_RINVSYSTYP
    "schedule_delivery_time": 0x61,  # ESME_RINVSCHED
    "validity_period": 0x62,  # ESME_RINVEXPIRY
    "sm_length": 0x01,  # ESME_RINVMSGLEN
    "short_message": 0x01,  # ESME_RINVMSGLEN
    "number_of_dests": 0x33,  # ESME_RINVNUMDESTS
    "dest_flag": 0x40,  # ESME_RINVDESTFLAG
    "dl_name": 0x34,  # ESME_RINVDLNAME
    "tlvs": 0xC0,  # ESME_RINVOPTPARSTREAM
}
