"""The local backend: kinesis-local and a moto server on loopback (DESIGN §5)."""
