"""A TCP proxy whose connections the harness can cut, as a network outage would.

kinesis-local speaks h2c and CBOR to the KCL, so an HTTP-level proxy (``fault_proxy``)
cannot sit in front of it; this one only copies bytes.  Its one trick is :meth:`cut`:
every open connection is reset and new ones are reset as they arrive, until
:meth:`restore`.  The chaos harness cuts the workers and the producer off before it
stops a persistent kinesis-local, because kinesis-local does not finish its shutdown, and
so never writes its snapshot, while HTTP/2 clients stay connected
(docs/chaos.md#restarting-kinesis-local-under-load).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0): the peer sees the connection die at once."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Forward 127.0.0.1:``port`` (a free one by default) to 127.0.0.1:``upstream_port``."""

    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._stopped = False
        self.connections = 0  # accepted and forwarded, for the harness's report
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tcp-proxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def cut(self) -> int:
        """Reset every open connection and refuse new ones; returns how many were open."""
        with self._lock:
            self._cut = True
            socks, self._open = self._open, set()
        for s in socks:
            _reset(s)
        return len(socks) // 2

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def stop(self) -> None:
        self._stopped = True
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(5)

    # -- forwarding ----------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._cut
            if refused:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)  # the server is down: so is the connection
                continue
            with self._lock:
                if self._cut:  # cut while we connected
                    _reset(client)
                    _reset(upstream)
                    continue
                self._open |= {client, upstream}
                self.connections += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # pass the half-close on, as TCP would
        except OSError:  # a reset on either side resets the other
            with self._lock:
                self._open -= {src, dst}
            _reset(src)
            _reset(dst)
            return
        with self._lock:
            both_done = src in self._open and dst not in self._open
            self._open.discard(src)
        if both_done:  # the other direction ended first: release the pair
            src.close()
            dst.close()
