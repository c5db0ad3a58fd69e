"""The DynamoDB emulator: moto's server app, one request at a time.

moto's DynamoDB backend has no locking, and ``moto_server`` serves requests on threads:
two concurrent ``UpdateItem ADD`` calls on one item can both read the old value and one
increment is lost (measured: hundreds of trips lost in a 3,000-record run with four
shards writing the same vendor item).  Real DynamoDB applies each update atomically, so
the emulator must too: this server keeps moto's threaded HTTP handling but runs the
application itself under one lock.

It also answers one request as DynamoDB does where moto does not: an ``UpdateTable`` that
creates an index the table already has (two KCL workers starting together both add
``LeaseOwnerToLeaseKeyIndex``) makes moto raise a bare ``ValueError``, an HTTP 500 with an
HTML body that the SDKs retry as a server fault; DynamoDB refuses it with a 400
``ValidationException`` (see :func:`answer_index_updates_as_dynamodb`).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

try:  # moto's handler (keeps its request logging quiet), when this moto has it
    from moto.server import MotoRequestHandler as _Handler
except ImportError:  # pragma: no cover
    _Handler = None


class Serialized:
    """WSGI middleware: one request inside the wrapped app at a time, body included."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()


def answer_index_updates_as_dynamodb() -> None:
    """Make moto refuse impossible index updates with a ValidationException (HTTP 400).

    moto's ``update_table_global_indexes`` checks the same cases as DynamoDB (create an
    index that exists, update or delete one that does not) but raises ``ValueError``.
    """
    original = DynamoDBBackend.update_table_global_indexes
    if getattr(original, "answers_as_dynamodb", False):
        return

    def update_table_global_indexes(self: DynamoDBBackend, table: Any, updates: Any) -> None:
        try:
            original(self, table, updates)
        except ValueError as exc:
            text = str(exc)
            if "already exists" in text:
                text = f"One or more parameter values were invalid: {text}"
            raise MockValidationException(text) from exc

    update_table_global_indexes.answers_as_dynamodb = True  # type: ignore[attr-defined]
    DynamoDBBackend.update_table_global_indexes = update_table_global_indexes  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m devkit.local.dynamodb_server")
    p.add_argument("-H", "--host", default="127.0.0.1")
    p.add_argument("-p", "--port", type=int, required=True)
    args = p.parse_args(argv)
    answer_index_updates_as_dynamodb()
    app = Serialized(DomainDispatcherApplication(create_backend_app))
    kwargs: dict[str, Any] = {"request_handler": _Handler} if _Handler else {}
    run_simple(args.host, args.port, app, threaded=True, **kwargs)


if __name__ == "__main__":
    main()
