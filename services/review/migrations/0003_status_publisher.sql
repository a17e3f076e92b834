-- How far the publisher of proposal.status_changed has read the global order. The event store is its
-- outbox: an event is announced after it committed, and the checkpoint moves only after the broker
-- confirmed the announcement.
INSERT INTO review.projection_checkpoints (name, position) VALUES ('status_changed', 0);
