"""TLS for the threaded client: an ``SSLObject`` over memory buffers, shared safely by threads.

The client reads on one thread and writes on others. OpenSSL does not promise that one
``SSL`` object may be read and written at the same time, and ``ssl.SSLSocket`` gives no
such guarantee either (a write racing a read lost data in testing, and once crashed the
interpreter). Here the socket stays a plain socket and every call into OpenSSL happens
under one lock, with no blocking I/O inside it:

* reading: ``recv`` raw octets, then under the lock feed them in and take the plaintext out;
* writing: under ``_send_lock``, encrypt under the lock, then send the records it made.

Records must leave in the order OpenSSL made them, so anything the read side makes (a
TLS 1.3 key update answer, for instance) is also sent under ``_send_lock``.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Optional

__all__ = ["TlsSocket"]

_CHUNK = 64 * 1024


class TlsSocket:
    """The subset of a socket the client uses (``recv``, ``sendall``, ``shutdown``, ``close``)."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: Optional[str],
                 timeout: Optional[float]) -> None:
        self._sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        self._lock = threading.Lock()  # every call into the SSLObject
        self._send_lock = threading.Lock()  # records leave in the order they were made
        self._handshake(timeout)

    def _handshake(self, timeout: Optional[float]) -> None:
        # Before any other thread exists: plain blocking I/O, bounded by the connect timeout.
        self._sock.settimeout(timeout)
        try:
            while True:
                try:
                    self._ssl.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self._flush_outgoing()
                    data = self._sock.recv(_CHUNK)
                    if not data:
                        raise ConnectionResetError("the peer closed the connection during the TLS handshake")
                    self._incoming.write(data)
            self._flush_outgoing()
        finally:
            self._sock.settimeout(None)

    def _flush_outgoing(self) -> None:
        data = self._outgoing.read()
        if data:
            self._sock.sendall(data)

    def recv(self, bufsize: int) -> bytes:
        """Plaintext, at least one octet, or b"" when the connection is closed."""
        while True:
            with self._lock:
                try:
                    data = self._ssl.read(bufsize)
                except ssl.SSLWantReadError:
                    data = None
                except ssl.SSLZeroReturnError:
                    return b""
                pending = self._outgoing.pending
            if pending:
                with self._send_lock:
                    with self._lock:
                        out = self._outgoing.read()
                    if out:
                        self._sock.sendall(out)
            if data:
                return data
            raw = self._sock.recv(_CHUNK)
            if not raw:
                return b""
            with self._lock:
                self._incoming.write(raw)

    def sendall(self, data: bytes) -> None:
        with self._send_lock:
            with self._lock:
                self._ssl.write(data)
                out = self._outgoing.read()
            self._sock.sendall(out)

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def close(self) -> None:
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def version(self) -> Optional[str]:
        return self._ssl.version()
