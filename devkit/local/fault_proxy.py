"""A fault-injecting HTTP proxy for the DynamoDB emulator.

Sits between botocore (or the KCL) and moto, and answers chosen requests with the errors
real DynamoDB gives under load, so the throttle-retry rules run through real clients:

- ``throttle``: a 400 ``ProvisionedThroughputExceededException`` or ``ThrottlingException``
  without forwarding (DynamoDB applies nothing when it throttles);
- ``unprocessed``: for ``BatchWriteItem``, forward only some entries and return the others
  in ``UnprocessedItems``;
- ``drop_after_apply``: forward, then close the connection without an answer (the write
  happened but the client cannot know: the fence must make the retry harmless);
- ``outage``: close the connection without forwarding (DynamoDB unreachable).

A rule is a function of (operation, request body, per-operation call number) that returns
an action; tests swap rules at run time with :meth:`FaultProxy.set_rule`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Action:
    kind: str = "pass"  # pass | throttle | unprocessed | drop_after_apply | outage
    code: str = "ProvisionedThroughputExceededException"
    keep: Callable[[int], bool] | None = None  # unprocessed: which entry indexes to forward


PASS = Action()
Rule = Callable[[str, dict[str, Any], int], Action]


@dataclass
class Stats:
    calls: Counter[str] = field(default_factory=Counter)  # per operation, all received
    injected: Counter[str] = field(default_factory=Counter)  # per action kind
    forwarded_items: int = 0  # BatchWriteItem entries sent on to the emulator


class FaultProxy:
    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self.stats = Stats()
        self._rule: Rule = lambda op, body, n: PASS
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                proxy._handle(self)

            def do_GET(self) -> None:
                proxy._forward(self, b"")

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # a client that vanished (a killed worker) is part of the game, not an error
                return

        self.server = Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="fault-proxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set_rule(self, rule: Rule | None) -> None:
        with self._lock:
            self._rule = rule or (lambda op, body, n: PASS)
            self.stats = Stats()

    # -- request handling ------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length)
        op = (h.headers.get("X-Amz-Target") or "").rpartition(".")[2] or "?"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        with self._lock:
            self.stats.calls[op] += 1
            n = self.stats.calls[op]
            action = self._rule(op, body, n)
            if action.kind != "pass":
                self.stats.injected[action.kind] += 1
        if action.kind == "throttle":
            self._reply(h, 400, {"__type": f"com.amazonaws.dynamodb.v20120810#{action.code}",
                                 "message": "injected by the fault proxy"})
        elif action.kind == "outage":
            self._close(h)
        elif action.kind == "unprocessed" and op == "BatchWriteItem":
            self._unprocessed(h, body, action)
        elif action.kind == "drop_after_apply":
            self._forward(h, raw, send=False)
            self._close(h)
        else:
            if op == "BatchWriteItem":
                with self._lock:
                    self.stats.forwarded_items += sum(len(v) for v in body.get("RequestItems", {}).values())
            self._forward(h, raw)

    def _unprocessed(self, h: BaseHTTPRequestHandler, body: dict[str, Any], action: Action) -> None:
        keep_fn = action.keep or (lambda i: i % 2 == 0)
        kept: dict[str, list[Any]] = {}
        left: dict[str, list[Any]] = {}
        i = 0
        for table, entries in body.get("RequestItems", {}).items():
            for e in entries:
                (kept if keep_fn(i) else left).setdefault(table, []).append(e)
                i += 1
        resp: dict[str, Any] = {"UnprocessedItems": left}
        if kept:
            with self._lock:
                self.stats.forwarded_items += sum(len(v) for v in kept.values())
            status, data = self._upstream(json.dumps({**body, "RequestItems": kept}).encode(), h)
            if status != 200:
                self._reply_raw(h, status, data)
                return
            resp = {**json.loads(data), "UnprocessedItems": left}
        self._reply(h, 200, resp)

    def _upstream(self, raw: bytes, h: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "content-length")}
            headers["Content-Length"] = str(len(raw))
            conn.request(h.command, h.path, body=raw, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def _forward(self, h: BaseHTTPRequestHandler, raw: bytes, send: bool = True) -> None:
        status, data = self._upstream(raw, h)
        if send:
            self._reply_raw(h, status, data)

    def _reply(self, h: BaseHTTPRequestHandler, status: int, doc: dict[str, Any]) -> None:
        self._reply_raw(h, status, json.dumps(doc).encode())

    @staticmethod
    def _reply_raw(h: BaseHTTPRequestHandler, status: int, data: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/x-amz-json-1.0")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _close(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)
