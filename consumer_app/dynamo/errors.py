"""Turn a botocore exception into the rules' :class:`ErrorKind`."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from consumer_app.rules.retry import ErrorKind, classify


class WriteFailed(RuntimeError):
    """A write could not be made durable: a fatal error, or the retry budget is spent."""


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def kind_of(exc: BaseException) -> ErrorKind:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return classify(err.get("Code"), status)
    if isinstance(exc, (BotoConnectionError, HTTPClientError, ReadTimeoutError)):
        return ErrorKind.TRANSIENT
    if isinstance(exc, BotoCoreError):
        return ErrorKind.FATAL
    raise exc
