"""Personal data (the innovator's name, e-mail and phone) under UU PDP 27/2022: kept so it can be erased from
an immutable ledger.

Crypto-shredding: each person (a data subject, a random id) has a data key of their own. Their fields are
encrypted with it (AES-256-GCM, the event id and the field as associated data) before they leave intake,
so the outbox, the broker, the event store, its exports, the projections and every certificate hold only
ciphertext. Data keys live in a mutable table, wrapped by a master key kept in a file outside the database.
Erasing a person destroys their key: every copy of their ciphertext, wherever it went, can no longer be
read by anyone, while the events that hold it (and the hash chain and Merkle tree over them) stay as
they were.

- `master_key`: the master key file, its check value, wrapping data keys, the e-mail lookup digest;
- `fields`: encrypting and decrypting the innovator's fields (pure);
- `vault`: the keys table in PostgreSQL (schema `personal_data`).
"""
