"""The local backend: kinesis-local and a moto server on loopback (docs/design.md#the-local-backend)."""
