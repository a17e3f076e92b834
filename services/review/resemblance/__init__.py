"""Resemblance across regions: which earlier proposals in the ledger a submission or revision resembles.

The pure steps (no I/O, no clock) are modules of their own: `text` (normalising, masking names, numbers
and the genre's vocabulary, splitting sentences), `sketch` (shingles, the one-permutation MinHash and its
LSH band keys), `compare` (the exact score, each section's score, the matching passages, a declared
replication). `projection` follows the event store and keeps the tables; `queries` reads them.
"""
