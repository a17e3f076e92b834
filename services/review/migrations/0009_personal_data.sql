-- The event whose text the projection's body holds: the innovator's fields in it are encrypted with that
-- event's id as associated data, so a reader needs the id to decrypt them. NULL for texts projected
-- before (recorded in plain text).
ALTER TABLE review.proposal_status ADD COLUMN text_event_id uuid;
