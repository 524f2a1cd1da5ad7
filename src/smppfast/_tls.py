"""TLS over memory buffers: the sans-IO ``MemoryTls`` and the threaded client's ``TlsSocket``.

``MemoryTls`` is an ``SSLObject`` over two ``MemoryBIO``s with no I/O at all: ciphertext in,
plaintext out, plaintext in, records out, the handshake stepped as input arrives. The
simulator's non-blocking loop drives it directly; ``TlsSocket`` puts a socket and locks on it.

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
import time
from typing import Optional

__all__ = ["MemoryTls", "TlsSocket"]

_CHUNK = 64 * 1024


class MemoryTls:
    """One side of a TLS connection over memory buffers (sans-IO).

    Received ciphertext goes in with ``feed``; ``read`` gives the plaintext it held (stepping
    the handshake first while it is not done); ``encrypt`` turns plaintext into records, and
    ``take_records`` hands over every record made so far (handshake and alerts included),
    in the order they must be sent. Not thread-safe: callers that share one serialize.
    """

    __slots__ = ("_incoming", "_outgoing", "_ssl", "_handshake_done")

    def __init__(self, context: ssl.SSLContext, *, server_side: bool = False,
                 server_hostname: Optional[str] = None) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side,
                                     server_hostname=server_hostname)
        self._handshake_done = False

    @property
    def handshake_done(self) -> bool:
        return self._handshake_done

    @property
    def pending_records(self) -> int:
        """Octets of records made and not yet taken."""
        return self._outgoing.pending

    def handshake(self) -> bool:
        """Step the handshake with the input fed so far: True once it is complete.

        Records to send may be waiting afterwards either way (``take_records``).
        Raises ``ssl.SSLError`` when the handshake fails.
        """
        if not self._handshake_done:
            try:
                self._ssl.do_handshake()
            except ssl.SSLWantReadError:
                return False
            self._handshake_done = True
        return True

    def feed(self, ciphertext: bytes) -> None:
        """Received octets, as they came from the peer."""
        self._incoming.write(ciphertext)

    def read(self, size: int = _CHUNK) -> Optional[bytes]:
        """Up to ``size`` octets of plaintext; ``None`` until more input is fed; ``b""`` at close_notify."""
        if not self._handshake_done and not self.handshake():
            return None
        try:
            return self._ssl.read(size)
        except ssl.SSLWantReadError:
            return None
        except ssl.SSLZeroReturnError:
            return b""

    def encrypt(self, plaintext: bytes) -> bytes:
        """Records carrying ``plaintext``, after any records made before (handshake complete)."""
        self._ssl.write(plaintext)
        return self._outgoing.read()

    def take_records(self) -> bytes:
        """Every record made so far and not yet taken (b"" for none)."""
        return self._outgoing.read()

    def version(self) -> Optional[str]:
        """The negotiated protocol ("TLSv1.3", ...); None before the handshake is complete."""
        return self._ssl.version()


class TlsSocket:
    """The subset of a socket the client uses (``recv``, ``sendall``, ``shutdown``, ``close``)."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: Optional[str],
                 timeout: Optional[float]) -> None:
        self._sock = sock
        self._tls = MemoryTls(context, server_hostname=server_hostname)
        self._lock = threading.Lock()  # every call into the MemoryTls
        self._send_lock = threading.Lock()  # records leave in the order they were made
        self._handshake(timeout)

    def _handshake(self, timeout: Optional[float]) -> None:
        # Before any other thread exists: plain blocking I/O, bounded in total by the connect
        # timeout (a per-recv timeout would let a peer that drips its records hold us forever).
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._tls.handshake():
                self._settimeout_until(deadline)
                self._flush_outgoing()
                self._settimeout_until(deadline)
                data = self._sock.recv(_CHUNK)
                if not data:
                    raise ConnectionResetError("the peer closed the connection during the TLS handshake")
                self._tls.feed(data)
            self._settimeout_until(deadline)
            self._flush_outgoing()
        finally:
            self._sock.settimeout(None)

    def _settimeout_until(self, deadline: Optional[float]) -> None:
        if deadline is None:
            self._sock.settimeout(None)
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("the TLS handshake did not finish within the connect timeout")
        self._sock.settimeout(left)

    def _flush_outgoing(self) -> None:
        data = self._tls.take_records()
        if data:
            self._sock.sendall(data)

    def recv(self, bufsize: int) -> bytes:
        """Plaintext, at least one octet, or b"" when the connection is closed."""
        while True:
            with self._lock:
                data = self._tls.read(bufsize)
                if data == b"":  # close_notify
                    return b""
                pending = self._tls.pending_records
            if pending:
                with self._send_lock:
                    with self._lock:
                        out = self._tls.take_records()
                    if out:
                        self._sock.sendall(out)
            if data:
                return data
            raw = self._sock.recv(_CHUNK)
            if not raw:
                return b""
            with self._lock:
                self._tls.feed(raw)

    def sendall(self, data: bytes) -> None:
        with self._send_lock:
            with self._lock:
                out = self._tls.encrypt(data)
            self._sock.sendall(out)

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def close(self) -> None:
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def version(self) -> Optional[str]:
        return self._tls.version()
