"""Development tools, not part of the product (neither in the wheel nor in the runtime image).

- ``local``: the emulators on loopback (kinesis-local, a moto server), the stream and
  tables on any backend, worker supervision, the fault proxy, lease and checkpoint reads.
- ``demo``: produce, consume with real workers, show the aggregates live, reconcile.
- ``chaos``: fault scenarios with real workers, each checked exactly.
- ``reconcile``: a producer's summary against the tables (produced = aggregated + rejected).
"""
