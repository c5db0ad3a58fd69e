"""AWS clients (botocore) for the data path and the start-up checks.

botocore retries are switched off (``standard`` mode, one attempt) on the clients the
writers use: the writers own retrying, because only they can tell whether all or some
writes failed and retry just the failed ones (docs/design.md#retries).  With botocore retrying too,
the two layers would multiply (12 x 3 attempts) and hide throttling from the counters.
Timeouts are short so that a dead endpoint turns into a counted, retried failure.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.config import Config

from consumer_app.settings import Settings


def dynamodb_client(settings: Settings, *, max_pool: int = 10) -> Any:
    config = Config(
        region_name=settings.region,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=max_pool,
    )
    return aws_client("dynamodb", settings.dynamodb_endpoint, config)


def aws_client(service: str, endpoint: str | None, config: Config) -> Any:
    """botocore directly: the client boto3.client makes, without importing boto3 and
    s3transfer (half of the imports of a record processor, which starts per lease)."""
    return botocore.session.get_session().create_client(service, endpoint_url=endpoint, config=config)


def control_client(settings: Settings, service: str) -> Any:
    """A client for the start-up checks, the finalizer and the reports: botocore's standard
    retries, since no caller of these needs to tell all from some failed writes."""
    endpoint = settings.kinesis_endpoint if service == "kinesis" else settings.dynamodb_endpoint
    return aws_client(service, endpoint, Config(region_name=settings.region, connect_timeout=5,
                                                read_timeout=10, retries={"mode": "standard"}))
