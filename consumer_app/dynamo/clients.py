"""boto3 clients for the data path.

botocore retries are switched off (``standard`` mode, one attempt) on the clients the
writers use: the writers own retrying, because only they can tell whether all or some
writes failed and retry just the failed ones (DESIGN §3).  With botocore retrying too,
the two layers would multiply (12 x 3 attempts) and hide throttling from the counters.
Timeouts are short so that a dead endpoint turns into a counted, retried failure.
"""

from __future__ import annotations

from typing import Any

import boto3
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
    return boto3.client("dynamodb", endpoint_url=settings.dynamodb_endpoint, config=config)
