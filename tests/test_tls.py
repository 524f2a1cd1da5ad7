"""``MemoryTls``: TLS over memory buffers, shared by the client's TlsSocket and the simulator."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Optional

import pytest

from smppfast._tls import MemoryTls

CERTS = Path(__file__).parent / "certs"


def _contexts(version: Optional[ssl.TLSVersion] = None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(CERTS / "localhost.crt", CERTS / "localhost.key")
    client = ssl.create_default_context(cafile=str(CERTS / "localhost.crt"))
    if version is not None:
        client.minimum_version = client.maximum_version = version
    return server, client


def _pair(version: Optional[ssl.TLSVersion] = None) -> tuple[MemoryTls, MemoryTls]:
    server_ctx, client_ctx = _contexts(version)
    return (MemoryTls(client_ctx, server_hostname="localhost"),
            MemoryTls(server_ctx, server_side=True))


def _shuttle(a: MemoryTls, b: MemoryTls) -> int:
    """Move every waiting record a -> b and b -> a until both are quiet; the number of moves."""
    moves = 0
    while True:
        ab, ba = a.take_records(), b.take_records()
        if not ab and not ba:
            return moves
        if ab:
            b.feed(ab)
        if ba:
            a.feed(ba)
        # Let each side react to what it got (handshake messages, session tickets).
        for side in (a, b):
            assert side.read() in (None, b"")
        moves += 1


def _handshake(client: MemoryTls, server: MemoryTls) -> None:
    assert client.handshake() is False  # the ClientHello is out, nothing in yet
    assert client.pending_records > 0
    _shuttle(client, server)
    assert client.handshake_done and server.handshake_done


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=str)
def test_handshake_and_data_both_ways_in_memory(version: ssl.TLSVersion) -> None:
    client, server = _pair(version)
    assert client.version() is None and not client.handshake_done
    _handshake(client, server)
    assert client.version() == server.version() == version.name.replace("v1_", "v1.")

    records = client.encrypt(b"bind_transceiver")
    assert records and b"bind_transceiver" not in records  # ciphertext
    assert server.read() is None  # nothing fed yet
    server.feed(records)
    assert server.read() == b"bind_transceiver"
    assert server.read() is None

    server.feed(b"")  # feeding nothing is harmless
    client.feed(server.encrypt(b"resp-1") + server.encrypt(b"resp-2"))
    got = b""
    while (chunk := client.read(4)) is not None:
        assert 0 < len(chunk) <= 4
        got += chunk
    assert got == b"resp-1resp-2"


def test_records_arriving_one_octet_at_a_time() -> None:
    client, server = _pair()
    _handshake(client, server)
    records = client.encrypt(b"x" * 1000)
    got = b""
    for i in range(len(records)):
        server.feed(records[i:i + 1])
        while (chunk := server.read()) is not None:
            got += chunk
    assert got == b"x" * 1000


def test_read_steps_the_handshake_on_the_server_side() -> None:
    client, server = _pair()
    client.handshake()
    server.feed(client.take_records())
    assert server.read() is None  # it answered the hello; no plaintext yet
    assert not server.handshake_done and server.pending_records > 0


def test_close_notify_from_a_plain_sslobject_peer_reads_as_empty() -> None:
    server_ctx, client_ctx = _contexts()
    server = MemoryTls(server_ctx, server_side=True)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    peer = client_ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    while True:
        try:
            peer.do_handshake()
            break
        except ssl.SSLWantReadError:
            server.feed(outgoing.read())
            assert server.read() is None
            incoming.write(server.take_records())
    server.feed(outgoing.read())
    assert server.read() is None and server.handshake_done
    incoming.write(server.take_records())  # TLS 1.3 session tickets
    with pytest.raises(ssl.SSLWantReadError):  # sent close_notify, waits for the answer
        peer.unwrap()
    server.feed(outgoing.read())
    assert server.read() == b""


def test_a_failed_handshake_raises_ssl_error() -> None:
    server_ctx, _ = _contexts()
    untrusting = ssl.create_default_context()  # does not trust the test certificate
    client = MemoryTls(untrusting, server_hostname="localhost")
    server = MemoryTls(server_ctx, server_side=True)
    client.handshake()
    server.feed(client.take_records())
    server.read()
    client.feed(server.take_records())
    with pytest.raises(ssl.SSLCertVerificationError):
        client.handshake()
