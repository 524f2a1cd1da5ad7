"""A small raw-socket SMSC that misbehaves on purpose, for the client's liveness tests.

It is not the simulator: the simulator is a polite SMSC built on the library's own session,
and a test of how the client survives a broken peer must not depend on the library being
right. This one frames PDUs with ``struct`` and answers with hand-packed headers.

Each connection runs ``behaviour(conn)`` in its own thread; ``conn`` gives the raw socket,
``read_pdu()`` and ``send_pdu()``. The server counts connections, binds and what it read.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Callable, Optional

HEADER = struct.Struct(">IIII")
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
SUBMIT_SM = 0x00000004
UNBIND = 0x00000006


class Conn:
    def __init__(self, server: "HostileSmsc", sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self._buf = b""

    def read_pdu(self, timeout: Optional[float] = 10.0) -> Optional[tuple[int, int, int, bytes]]:
        """(command_id, status, sequence, body), or None when the peer closed or time ran out."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if len(self._buf) >= 16:
                    length, cid, status, seq = HEADER.unpack_from(self._buf)
                    if len(self._buf) >= length:
                        body, self._buf = self._buf[16:length], self._buf[length:]
                        self.server.record(cid)
                        return cid, status, seq, body
                data = self.sock.recv(65536)
                if not data:
                    return None
                self._buf += data
        except (OSError, socket.timeout):
            return None

    def send_pdu(self, cid: int, seq: int, body: bytes = b"", status: int = 0) -> None:
        self.sock.sendall(HEADER.pack(16 + len(body), cid, status, seq) + body)

    def answer_bind(self, status: int = 0) -> bool:
        """Read the bind and answer it; False if none came."""
        pdu = self.read_pdu()
        if pdu is None:
            return False
        cid, _, seq, _ = pdu
        self.send_pdu(cid | 0x80000000, seq, b"hostile\0" if status == 0 else b"", status)
        return status == 0


class HostileSmsc:
    def __init__(self, behaviour: Callable[[Conn], None], *, rcvbuf: Optional[int] = None) -> None:
        self.behaviour = behaviour
        self.listener = socket.socket()
        if rcvbuf is not None:  # a small window, inherited by accepted sockets
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.open_connections = 0
        self.seen: dict[int, int] = {}
        self.flooded = 0  # deliver_sm the flooding behaviour got into the socket
        self._stop = False
        self._socks: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)
        self._thread.start()

    def record(self, cid: int) -> None:
        with self.lock:
            self.seen[cid] = self.seen.get(cid, 0) + 1

    def count(self, cid: int) -> int:
        with self.lock:
            return self.seen.get(cid, 0)

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop:
            try:
                sock, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with self.lock:
                self.connections += 1
                self.open_connections += 1
                self._socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), name="hostile-conn", daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self.behaviour(Conn(self, sock))
        except OSError:
            pass
        finally:
            # Hold the connection until the peer hangs up, so "open" means what the client left open.
            try:
                sock.settimeout(0.2)
                while not self._stop:
                    try:
                        if not sock.recv(65536):
                            break
                    except socket.timeout:
                        continue
            except OSError:
                pass
            sock.close()
            with self.lock:
                self.open_connections -= 1

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self.listener.close()
        with self.lock:
            for s in self._socks:
                try:
                    s.close()
                except OSError:
                    pass

    def __enter__(self) -> "HostileSmsc":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- behaviours -------------------------------------------------------------------------


def silent(conn: Conn) -> None:
    """Binds, then reads everything and never answers anything."""
    if conn.answer_bind():
        while conn.read_pdu(timeout=None if not conn.server._stop else 0.1) is not None and not conn.server._stop:
            pass


def deaf(conn: Conn) -> None:
    """Binds, then never reads again (with a small receive buffer, our sends back up)."""
    if conn.answer_bind():
        while not conn.server._stop:
            time.sleep(0.05)


def dripping(conn: Conn) -> None:
    """Binds, then sends one octet of a PDU that never ends every 50 ms, reading what comes."""
    if not conn.answer_bind():
        return
    conn.sock.sendall(HEADER.pack(60000, 0x00000005, 0, 7))  # a deliver_sm of 60,000 octets...
    conn.sock.setblocking(False)
    while not conn.server._stop:
        try:
            conn.sock.send(b"x")  # ...arriving one octet at a time
        except BlockingIOError:
            pass
        try:
            data = conn.sock.recv(65536)
            if not data:
                return
            conn._buf += data
            while len(conn._buf) >= 16:
                length, cid, _, _ = HEADER.unpack_from(conn._buf)
                if len(conn._buf) < length:
                    break
                conn.server.record(cid)
                conn._buf = conn._buf[length:]
        except BlockingIOError:
            pass
        time.sleep(0.05)


def nack_ok(conn: Conn) -> None:
    """Answers every submit_sm with a generic_nack whose status is 0."""
    if conn.answer_bind():
        while (pdu := conn.read_pdu(timeout=None)) is not None:
            cid, _, seq, _ = pdu
            if cid == SUBMIT_SM:
                conn.send_pdu(0x80000000, seq, status=0)
            elif cid == UNBIND:
                conn.send_pdu(UNBIND | 0x80000000, seq)
                return


def wrong_command(conn: Conn) -> None:
    """Answers every submit_sm with a deliver_sm_resp."""
    if conn.answer_bind():
        while (pdu := conn.read_pdu(timeout=None)) is not None:
            cid, _, seq, _ = pdu
            if cid == SUBMIT_SM:
                conn.send_pdu(0x80000005, seq, b"\0")
            elif cid == UNBIND:
                conn.send_pdu(UNBIND | 0x80000000, seq)
                return


def mute(conn: Conn) -> None:
    """Accepts the TCP connection and reads, but never answers (not even the bind)."""
    while conn.read_pdu(timeout=0.2 if conn.server._stop else None) is not None and not conn.server._stop:
        pass


def tls_dripping(conn: Conn) -> None:
    """A TLS server that answers the ClientHello one octet every 100 ms, forever."""
    conn.sock.settimeout(0.1)
    while not conn.server._stop:
        try:
            conn.sock.send(b"\x16")
        except OSError:
            return
        time.sleep(0.1)


def flooding(conn: Conn) -> None:
    """Binds, then sends deliver_sm as fast as the socket takes them and never reads again."""
    if not conn.answer_bind():
        return
    body = b"\0" + b"\0\0447700900001\0" + b"\0\0100\0" + b"\0" * 3 + b"\0\0" + b"\0" * 4 + bytes([5]) + b"flood"
    conn.sock.setblocking(False)
    seq = 100
    pending = b""
    while not conn.server._stop:
        if not pending:
            seq += 1
            pending = HEADER.pack(16 + len(body), 0x00000005, 0, seq) + body
        try:
            n = conn.sock.send(pending)
            pending = pending[n:]
            if not pending:
                with conn.server.lock:
                    conn.server.flooded += 1
        except BlockingIOError:
            time.sleep(0.005)
        except OSError:
            return
