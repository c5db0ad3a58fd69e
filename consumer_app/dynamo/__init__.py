"""DynamoDB adapters: thin botocore code around the pure rules.

- ``clients``: the botocore clients (their own retries off: docs/design.md#retries).
- ``aggregates``: the fenced aggregates writer (docs/design.md#exactly-once).
- ``rejects``: the rejects writer (``BatchWriteItem``, 25 items per call).
- ``attempts``: the attempt loop both writers share: back off, retry only the failed writes.
- ``errors``: a botocore exception as the rules' error kind, and ``WriteFailed``.
- ``watermarks``: the watermarks table: each shard's watermark and the finalizer's item (docs/windows.md).
- ``schema``: the start-up check that the tables exist with the expected key schemas.
- ``lease_table``: KCL's lease table prepared before the JVM starts (``LEASE_BOOTSTRAP``; docs/startup.md).
"""
