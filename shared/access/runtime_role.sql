-- What the services' runtime role may do, granted again by every `kipp migrate` ({role} is its name).
-- Nothing more: it owns nothing, so it cannot alter a table or function, disable a trigger, or change
-- history; it holds no UPDATE, DELETE or TRUNCATE on the event store and appends only through review's
-- append functions (0005_least_privilege.sql). Keys are managed by the CLI as the owner: read-only here.
GRANT USAGE ON SCHEMA access, intake, review TO {role};
GRANT SELECT ON access.api_keys, access.holders TO {role};
-- The console opens and closes its sessions (review's pages; 0003_console_sessions.sql).
GRANT SELECT, INSERT, DELETE ON access.console_sessions TO {role};

GRANT SELECT, INSERT, UPDATE ON intake.proposals, intake.idempotency_keys TO {role};
GRANT SELECT, INSERT, DELETE ON intake.outbox TO {role};
GRANT SELECT, INSERT ON intake.parked_outbox TO {role};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA intake TO {role};

GRANT SELECT ON review.events TO {role};
GRANT EXECUTE ON FUNCTION
    review.append_events(bigint, bytea, integer[], integer[], bigint[], uuid[], integer[], uuid[], text[],
        integer[], jsonb[], jsonb[], timestamptz[], bytea[]),
    review.append_event(bigint, bytea, integer, bigint, uuid, integer, uuid, text, integer, jsonb, jsonb,
        timestamptz, bytea),
    review.append_one(bigint, bytea, integer, bigint, uuid, integer, uuid, text, integer, jsonb, jsonb,
        timestamptz, bytea),
    review.refused_appends(integer[], uuid[], integer[], uuid[])
TO {role};
GRANT SELECT, INSERT, UPDATE ON review.proposal_status TO {role};
GRANT SELECT, UPDATE ON review.projection_checkpoints TO {role};
GRANT SELECT, INSERT ON review.parked_announcements TO {role};
GRANT SELECT, INSERT ON review.merkle_nodes, review.log_checkpoints TO {role};
GRANT SELECT, INSERT, UPDATE ON review.cosignatures TO {role};  -- a witness may cosign a checkpoint again
GRANT SELECT, INSERT, UPDATE, DELETE ON review.resemblance_fingerprints, review.resemblance_bands,
    review.resemblances TO {role};  -- a revision replaces its proposal's fingerprint, keys and pairs

-- Personal data: intake creates data subjects and records which proposals hold their fields; both
-- services read the wrapped keys. Only the CLI, as the owner, deletes (an erasure) or re-wraps (a rotation).
GRANT USAGE ON SCHEMA personal_data TO {role};
GRANT SELECT, INSERT ON personal_data.master_key, personal_data.subjects, personal_data.holdings TO {role};
