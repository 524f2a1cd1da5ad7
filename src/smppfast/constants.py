"""SMPP 3.4 numeric constants as IntEnums (a leaf module: imports nothing from the package).

Values are those of the SMPP v3.4 specification (Issue 1.2), sections 5.1 to 5.3.
Fields and statuses accept any integer of their width; these enums only name the known ones.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "Command",
    "Status",
    "Tlv",
    "DataCoding",
    "Ton",
    "Npi",
    "EsmClass",
    "RegisteredDelivery",
    "MessageState",
    "INTERFACE_VERSION",
    "status_description",
    "format_status",
    "VENDOR_STATUSES",
    "status_name",
]

#: interface_version sent in bind requests: SMPP 3.4.
INTERFACE_VERSION = 0x34


class Command(IntEnum):
    """command_id values (SMPP 3.4 section 5.1.2.1)."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class Status(IntEnum):
    """command_status values (SMPP 3.4 section 5.1.3), named as in the specification."""

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF

    @property
    def description(self) -> str:
        """The SMPP 3.4 table's plain-language description (``status_description``)."""
        return _STATUS_DESCRIPTIONS[self]


# The descriptions of the SMPP 3.4 command_status table (section 5.1.3), one per Status member.
_STATUS_DESCRIPTIONS: dict[int, str] = {
    Status.ESME_ROK: "No Error",
    Status.ESME_RINVMSGLEN: "Message Length is invalid",
    Status.ESME_RINVCMDLEN: "Command Length is invalid",
    Status.ESME_RINVCMDID: "Invalid Command ID",
    Status.ESME_RINVBNDSTS: "Incorrect BIND Status for given command",
    Status.ESME_RALYBND: "ESME Already in Bound State",
    Status.ESME_RINVPRTFLG: "Invalid Priority Flag",
    Status.ESME_RINVREGDLVFLG: "Invalid Registered Delivery Flag",
    Status.ESME_RSYSERR: "System Error",
    Status.ESME_RINVSRCADR: "Invalid Source Address",
    Status.ESME_RINVDSTADR: "Invalid Dest Addr",
    Status.ESME_RINVMSGID: "Message ID is invalid",
    Status.ESME_RBINDFAIL: "Bind Failed",
    Status.ESME_RINVPASWD: "Invalid Password",
    Status.ESME_RINVSYSID: "Invalid System ID",
    Status.ESME_RCANCELFAIL: "Cancel SM Failed",
    Status.ESME_RREPLACEFAIL: "Replace SM Failed",
    Status.ESME_RMSGQFUL: "Message Queue Full",
    Status.ESME_RINVSERTYP: "Invalid Service Type",
    Status.ESME_RINVNUMDESTS: "Invalid number of destinations",
    Status.ESME_RINVDLNAME: "Invalid Distribution List name",
    Status.ESME_RINVDESTFLAG: "Destination flag is invalid (submit_multi)",
    Status.ESME_RINVSUBREP: "Invalid 'submit with replace' request (i.e. submit_sm with replace_if_present_flag set)",
    Status.ESME_RINVESMCLASS: "Invalid esm_class field data",
    Status.ESME_RCNTSUBDL: "Cannot Submit to Distribution List",
    Status.ESME_RSUBMITFAIL: "submit_sm or submit_multi failed",
    Status.ESME_RINVSRCTON: "Invalid Source address TON",
    Status.ESME_RINVSRCNPI: "Invalid Source address NPI",
    Status.ESME_RINVDSTTON: "Invalid Destination address TON",
    Status.ESME_RINVDSTNPI: "Invalid Destination address NPI",
    Status.ESME_RINVSYSTYP: "Invalid system_type field",
    Status.ESME_RINVREPFLAG: "Invalid replace_if_present flag",
    Status.ESME_RINVNUMMSGS: "Invalid number of messages",
    Status.ESME_RTHROTTLED: "Throttling error (ESME has exceeded allowed message limits)",
    Status.ESME_RINVSCHED: "Invalid Scheduled Delivery Time",
    Status.ESME_RINVEXPIRY: "Invalid message validity period (Expiry time)",
    Status.ESME_RINVDFTMSGID: "Predefined Message Invalid or Not Found",
    Status.ESME_RX_T_APPN: "ESME Receiver Temporary App Error Code",
    Status.ESME_RX_P_APPN: "ESME Receiver Permanent App Error Code",
    Status.ESME_RX_R_APPN: "ESME Receiver Reject Message Error Code",
    Status.ESME_RQUERYFAIL: "query_sm request failed",
    Status.ESME_RINVOPTPARSTREAM: "Error in the optional part of the PDU Body",
    Status.ESME_ROPTPARNOTALLWD: "Optional Parameter not allowed",
    Status.ESME_RINVPARLEN: "Invalid Parameter Length",
    Status.ESME_RMISSINGOPTPARAM: "Expected Optional Parameter missing",
    Status.ESME_RINVOPTPARAMVAL: "Invalid Optional Parameter Value",
    Status.ESME_RDELIVERYFAILURE: "Delivery Failure (used for data_sm_resp)",
    Status.ESME_RUNKNOWNERR: "Unknown Error",
}

#: command_status values reserved for SMSC vendor-specific errors (SMPP 3.4 section 5.1.3).
VENDOR_STATUSES = range(0x400, 0x500)


def status_description(status: int) -> str:
    """The plain-language meaning of a command_status, as in the SMPP 3.4 table (section 5.1.3).

    ``"Vendor-specific"`` for 0x400-0x4FF (the SMSC vendor's own errors), ``"Reserved"`` for any
    other 32-bit value the specification does not assign, ``""`` for a value that is no
    command_status at all (negative or wider than 32 bits).
    """
    text = _STATUS_DESCRIPTIONS.get(status)
    if text is not None:
        return text
    if status in VENDOR_STATUSES:
        return "Vendor-specific"
    return "Reserved" if 0 <= status <= 0xFFFFFFFF else ""


def status_name(status: int) -> str:
    """A command_status's short name: ``"ESME_RTHROTTLED"``, or for a value the specification
    does not name ``"0x00000401 (vendor-specific)"`` / ``"0x00000599 (unknown status)"``."""
    if status in _STATUS_DESCRIPTIONS:
        return Status(status).name
    kind = "vendor-specific" if status in VENDOR_STATUSES else "unknown status"
    return f"0x{status:08X} ({kind})" if status >= 0 else f"{status} ({kind})"


def format_status(status: int) -> str:
    """A command_status for people: its name, hex value and description, in one line.

    ``"ESME_RINVPASWD (0x0000000E): Invalid Password"``; a value the specification does not
    name gives ``"0x00000401 (vendor-specific)"`` (0x400-0x4FF) or ``"0x00000599 (unknown status)"``.
    """
    text = _STATUS_DESCRIPTIONS.get(status)
    if text is not None:
        return f"{Status(status).name} (0x{status:08X}): {text}"
    return status_name(status)


class Tlv(IntEnum):
    """Optional parameter tags (SMPP 3.4 section 5.3.2). Their value types live in the codec's TLV table."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class DataCoding(IntEnum):
    """data_coding values (SMPP 3.4 section 5.2.19)."""

    DEFAULT = 0x00  # SMSC default alphabet: GSM 03.38 on most SMSCs
    IA5 = 0x01  # IA5 (CCITT T.50) / ASCII
    BINARY_8BIT_2 = 0x02  # octet unspecified (8-bit binary)
    LATIN1 = 0x03  # ISO-8859-1
    BINARY = 0x04  # octet unspecified (8-bit binary)
    JIS = 0x05
    CYRILLIC = 0x06  # ISO-8859-5
    HEBREW = 0x07  # ISO-8859-8
    UCS2 = 0x08  # UCS-2 (ISO/IEC-10646), sent as UTF-16BE
    PICTOGRAM = 0x09
    ISO_2022_JP = 0x0A
    EXTENDED_KANJI = 0x0D
    KS_C_5601 = 0x0E


class Ton(IntEnum):
    """Type of number (SMPP 3.4 section 5.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(IntEnum):
    """Numbering plan indicator (SMPP 3.4 section 5.2.6)."""

    UNKNOWN = 0
    ISDN = 1  # E.163 / E.164
    DATA = 3  # X.121
    TELEX = 4  # F.69
    LAND_MOBILE = 6  # E.212
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14  # IP
    WAP_CLIENT_ID = 18


class EsmClass(IntFlag):
    """esm_class bits (SMPP 3.4 section 5.2.12) that the library acts on."""

    DEFAULT = 0x00
    DATAGRAM_MODE = 0x01
    FORWARD_MODE = 0x02
    STORE_AND_FORWARD = 0x03
    DELIVERY_RECEIPT = 0x04  # deliver_sm: SMSC delivery receipt
    SME_ACK = 0x08
    SME_MANUAL_ACK = 0x10
    INTERMEDIATE_NOTIFICATION = 0x20
    UDHI = 0x40  # short_message starts with a user data header
    REPLY_PATH = 0x80


class RegisteredDelivery(IntFlag):
    """registered_delivery bits (SMPP 3.4 section 5.2.17)."""

    NONE = 0x00
    SMSC_RECEIPT = 0x01  # on final outcome, success or failure
    SMSC_RECEIPT_ON_FAILURE = 0x02
    SME_ACK = 0x04
    SME_MANUAL_ACK = 0x08
    INTERMEDIATE_NOTIFICATION = 0x10


class MessageState(IntEnum):
    """message_state values (SMPP 3.4 section 5.2.28)."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8
