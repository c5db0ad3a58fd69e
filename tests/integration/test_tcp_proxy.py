"""The chaos harness's TCP proxy: bytes pass, and a cut resets every client until restored."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from devkit.local.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A TCP server that echoes every connection's bytes back."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def _echo(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _connect(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def _reset_seen(sock: socket.socket) -> None:
    """Raise OSError if the connection is dead: a reset, or an end of stream (and close it)."""
    with sock:
        sock.sendall(b"x")
        if not sock.recv(1):
            raise ConnectionResetError("closed")


def test_bytes_pass_both_ways_until_a_cut_resets_every_connection_and_refuses_new_ones(
    echo_port: int,
) -> None:
    proxy = TcpProxy(echo_port).start()
    try:
        a, b = _connect(proxy), _connect(proxy)
        big = bytes(range(256)) * 4096  # 1 MiB: several reads and writes each way
        assert _echo(a, big) == big
        assert _echo(b, b"hello") == b"hello"

        assert proxy.cut() == 2
        for s in (a, b):  # the open connections die at once, as in an outage
            with pytest.raises(OSError):
                _reset_seen(s)
        with pytest.raises(OSError):  # reset as soon as accepted (even during connect)
            _reset_seen(_connect(proxy))

        proxy.restore()
        with _connect(proxy) as c:
            assert _echo(c, b"back") == b"back"
        assert proxy.connections == 3
    finally:
        proxy.stop()


def test_a_connection_to_a_server_that_is_down_is_reset_not_hung() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        dead_port = s.getsockname()[1]  # closed again: nothing listens there
    proxy = TcpProxy(dead_port).start()
    try:
        with pytest.raises(OSError):  # reset as soon as accepted (even during connect)
            _reset_seen(_connect(proxy))
    finally:
        proxy.stop()
