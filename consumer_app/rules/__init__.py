"""The product's rules as pure functions: no AWS, no KCL, no I/O.

- ``validation``: is a record a clean trip, and if not, why (DESIGN §1).
- ``windows``: which tumbling window a record belongs to.
- ``aggregation``: a batch -> one contribution per (vendorId, windowStart), and the
  sequence-number fence that makes replays count once (DESIGN §2).
- ``retry``: what to do after a write attempt: retry all, retry some, give up (DESIGN §3).
"""
