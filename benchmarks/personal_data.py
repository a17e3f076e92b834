"""The cost of encrypting personal data, in one run: raw INSERTs of submissions in plain text; the event
store's appends of the same submissions in plain text; and its appends of them with the innovator
encrypted in the timed loop (a data key unwrapped and three fields encrypted per append, as intake does per
submission). Encrypted against plain is what encryption costs an append; plain against raw is what the
event store costs a 5 KB event (its hash chain's encoding, ordering and checks). And the CPU time of one
encryption and one decryption (a view), per operation.

The five demo texts are read once: reading the file in the timed loop cost both sides about 40 µs an
append and made them look closer than they are."""

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks.appends import RAW_INSERT, raw_connections, started_store
from benchmarks.common import Operation, Rate, interleaved, scratch_database
from services.review.eventstore.base import NewEvent
from services.review.eventstore.postgres import PostgresEventStore
from shared.db import Connection
from shared.personal_data.fields import DataKey, decrypt_innovator, encrypt_proposal
from shared.personal_data.master_key import MasterKey
from tests.fixtures import demo_proposals

PROPOSALS = demo_proposals()
METADATA: dict[str, Any] = {"actor": {"name": "bench"}, "correlation_id": "bench", "source": "bench"}
MASTER = MasterKey.generate()
PERSON = DataKey.generate(uuid.uuid4())
WRAPPED = MASTER.wrap(PERSON.subject_id, PERSON.secret)


def encrypted_submission(number: int) -> NewEvent:
    """What intake does per submission: the person's key unwrapped, their fields encrypted for the event."""
    event_id = uuid.uuid4()
    key = DataKey(PERSON.subject_id, MASTER.unwrap(PERSON.subject_id, WRAPPED))
    proposal = encrypt_proposal(PROPOSALS[number % 5], event_id, key)
    return NewEvent(
        event_id, "ProposalSubmitted", 1, {"at": "2023-04-10T08:00:00Z", "proposal": proposal}, METADATA
    )


def plain_submission(number: int) -> NewEvent:
    return NewEvent(
        uuid.uuid4(),
        "ProposalSubmitted",
        1,
        {"at": "2023-04-10T08:00:00Z", "proposal": PROPOSALS[number % 5]},
        METADATA,
    )


def store_submissions(store: PostgresEventStore, submission: Callable[[int], NewEvent]) -> Operation:
    """Each submission starts a stream of its own, as a proposal's does."""

    async def append(writer: int, number: int) -> None:
        await store.append(uuid.uuid4(), 0, [submission(number)])

    return append


def raw_submissions(connections: Sequence[Connection]) -> Operation:
    now = datetime.now(UTC)

    async def insert(writer: int, number: int) -> None:
        data = {"at": "2023-04-10T08:00:00Z", "proposal": PROPOSALS[number % 5]}
        await connections[writer].execute(
            RAW_INSERT, uuid.uuid4(), 1, uuid.uuid4(), "ProposalSubmitted", 1, data, METADATA, now, b"h" * 32
        )

    return insert


async def measure_appends(writers: int, per_writer: int) -> dict[str, Rate]:
    """Raw plain INSERTs, the store's plain appends and its encrypted appends, by turns, each side in a
    database of its own."""
    async with (
        scratch_database() as raw_url,
        scratch_database() as plain_url,
        scratch_database() as encrypted_url,
        raw_connections(raw_url, writers) as connections,
        started_store(plain_url) as plain,
        started_store(encrypted_url) as encrypted,
    ):
        sides = {
            "raw_insert": raw_submissions(connections),
            "plain": store_submissions(plain, plain_submission),
            "encrypted": store_submissions(encrypted, encrypted_submission),
        }
        return await interleaved(sides, writers, per_writer)


def per_operation_us(repeat: int = 5000) -> dict[str, float]:
    """CPU microseconds of one encryption (per submission) and one decryption (per view or access)."""
    posted = PROPOSALS[0]
    event_id = uuid.uuid4()
    began = time.perf_counter()
    for _ in range(repeat):
        key = DataKey(PERSON.subject_id, MASTER.unwrap(PERSON.subject_id, WRAPPED))
        encrypted = encrypt_proposal(posted, event_id, key)
    encrypt_us = (time.perf_counter() - began) / repeat * 1e6
    began = time.perf_counter()
    for _ in range(repeat):
        keys = {PERSON.subject_id: MASTER.unwrap(PERSON.subject_id, WRAPPED)}
        decrypt_innovator(encrypted["innovator"], event_id, keys)
    decrypt_us = (time.perf_counter() - began) / repeat * 1e6
    return {"encrypt_per_submission_us": round(encrypt_us, 1), "decrypt_per_view_us": round(decrypt_us, 1)}
