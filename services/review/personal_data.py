"""The innovator's fields in review's answers: decrypted for readers while the person's key exists, the
erased marker once it was destroyed. Nothing here writes: the projection keeps the fields encrypted, as
the events hold them, and a view decrypts them on the way out."""

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from services.review.domain.events import ProposalRevised, ProposalSubmitted
from services.review.eventstore.base import RecordedEvent
from shared.personal_data.fields import decrypt_innovator, decrypt_proposal, subject_of
from shared.personal_data.master_key import MasterKey
from shared.personal_data.vault import data_keys

# The key of the subject a projected text names, joined to a read of review.proposal_status AS p (a text
# recorded in plain has no subject: NULL).
KEY_COLUMNS = "p.text_event_id, s.subject_id AS key_subject, s.wrapped_key"
KEY_JOIN = (
    "LEFT JOIN personal_data.subjects AS s ON s.subject_id = (p.body #>> '{innovator,email,subject}')::uuid"
)
_TEXT_EVENTS = {ProposalSubmitted.type, ProposalRevised.type}
_NO_EVENT = UUID(int=0)  # a text recorded in plain: nothing is decrypted with it


def _keys_of(master: MasterKey, row: asyncpg.Record) -> dict[UUID, bytes]:
    if row["wrapped_key"] is None:
        return {}
    return {row["key_subject"]: master.unwrap(row["key_subject"], bytes(row["wrapped_key"]))}


def shown_body(master: MasterKey, body: Mapping[str, Any], row: asyncpg.Record) -> dict[str, Any]:
    """A projected text as a reader sees it, from a row read with KEY_COLUMNS."""
    return decrypt_proposal(body, row["text_event_id"] or _NO_EVENT, _keys_of(master, row))


def shown_innovator(master: MasterKey, innovator: Mapping[str, Any], row: asyncpg.Record) -> dict[str, Any]:
    return decrypt_innovator(innovator, row["text_event_id"] or _NO_EVENT, _keys_of(master, row))


def text_event_id(history: Sequence[RecordedEvent]) -> UUID | None:
    """The event whose text a state folded from `history` holds: the last submission or revision."""
    return next((event.event_id for event in reversed(history) if event.type in _TEXT_EVENTS), None)


async def shown_folded(
    pool: asyncpg.Pool, master: MasterKey, view: dict[str, Any], history: Sequence[RecordedEvent]
) -> dict[str, Any]:
    """A view folded from the events (`proposal_view`), its text as a reader sees it."""
    body = view["proposal"]
    subject = subject_of(body)
    keys = await data_keys(pool, master, [subject]) if subject else {}
    return {**view, "proposal": decrypt_proposal(body, text_event_id(history) or _NO_EVENT, keys)}
