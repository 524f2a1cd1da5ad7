"""smppfast: a fast and correct SMPP 3.4 client (ESME) library."""

from __future__ import annotations

from .constants import Command, DataCoding, Status, Tlv
from .errors import (
    BindError,
    CommandStatusError,
    ConnectionClosedError,
    LocalProtocolError,
    PduError,
    ProtocolError,
    RemoteProtocolError,
    SmppError,
    SmppTimeoutError,
    TextError,
    WindowFull,
)

__version__ = "0.1.0"
from ._codec import (
    DEFAULT_MAX_PDU_SIZE,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    Decoder,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
    decode,
    encode,
)
from ._codec import PDU_CLASSES
