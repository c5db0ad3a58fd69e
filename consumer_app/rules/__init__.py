"""The product's rules as pure functions: no AWS, no KCL, no I/O.

- ``validation``: is a record a clean trip, and if not, why (docs/design.md#clean-and-unclean).
- ``windows``: which tumbling window a record belongs to.
- ``aggregation``: one contribution per (vendorId, windowStart), and the fence (docs/design.md#exactly-once).
- ``batching``: the batching window: what a record processor holds between two flushes.
- ``sub_items``: write sharding of the hot aggregate items (docs/scale.md#the-hot-aggregate-item).
- ``retry``: what to do after a write attempt: retry all, retry some, give up (docs/design.md#retries).
- ``watermarks``: a shard's watermark, the global one, and when a window is final (docs/windows.md).
- ``leases``: which shards get a pre-created lease at start-up, and where each starts (docs/startup.md).
"""
