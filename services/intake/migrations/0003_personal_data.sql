-- Personal data (UU PDP 27/2022): each person named as an innovator is a data subject with a data key of
-- their own. Their fields leave intake encrypted with it; erasing them destroys it. Both services use this
-- schema (intake creates keys when it encrypts, review unwraps them to show a proposal), so it is its own.
CREATE SCHEMA IF NOT EXISTS personal_data;

-- The check value of the master key that wraps every data key (one row). A service started with another
-- master key refuses to run: it could not read a single field, and would wrap new keys under a stranger.
CREATE TABLE personal_data.master_key (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    check_value text NOT NULL
);

-- One row per person: mutable, unlike the events, so a row can be deleted and its key destroyed.
CREATE TABLE personal_data.subjects (
    subject_id   uuid PRIMARY KEY,
    email_digest bytea NOT NULL UNIQUE,  -- HMAC of the normalised address, keyed from the master key
    email        bytea NOT NULL,         -- the address encrypted with the subject's key (rotation needs it)
    wrapped_key  bytea NOT NULL,         -- the data key, AES-256-GCM under the master key
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Which proposals hold a subject's fields: what an access request is answered with, and where an erasure
-- is recorded. Written with the submission or revision that brings them.
CREATE TABLE personal_data.holdings (
    subject_id  uuid NOT NULL REFERENCES personal_data.subjects ON DELETE CASCADE,
    proposal_id uuid NOT NULL,
    PRIMARY KEY (subject_id, proposal_id)
);

-- Erasures answered: the subject (a random id, nothing personal) and each proposal whose stream is to
-- record it; recorded_position is the erasure event's position once appended.
CREATE TABLE personal_data.erasures (
    subject_id        uuid NOT NULL,
    proposal_id       uuid NOT NULL,
    erased_at         timestamptz NOT NULL DEFAULT now(),
    recorded_position bigint,
    PRIMARY KEY (subject_id, proposal_id)
);
