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
