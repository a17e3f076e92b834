"""The transparency log's formats and proofs, with nothing but the standard library and `cryptography`, so
that an auditor's verifier (and anyone's own) can import exactly this: RFC 9162 Merkle trees and proofs
(`merkle`), and C2SP signed notes, checkpoints and cosignatures (`note`)."""
