"""The same-hop reference: a minimal hand-written pipeline doing the hops a submission takes through the
product, with the same durability, on the same PostgreSQL and RabbitMQ, measured in the same run.

- intake (`intake.py`): a bare ASGI function under uvicorn takes the POST and records the proposal and its
  outbox row in one INSERT; an outbox relay publishes the rows with publisher confirms to a quorum queue
  and deletes them; a follower consumes the status changes and UPDATEs the proposal's row.
- review (`review.py`): a consumer batches what is waiting and appends it under the table lock with a
  SHA-256 hash chain over sorted-key JSON; a projection follows the log from its checkpoint into a status
  table; a status publisher follows it from its own checkpoint and publishes each change with confirms.

What it leaves out is what the product adds on top of those hops: authentication, the round's rules,
message signatures, the dead-letter paths, idempotency keys, metrics, logs and correlation ids.
"""
