"""The append-only event store: one stream per proposal, one global order, one hash chain."""
