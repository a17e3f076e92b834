"""The state column's JSON: written by orjson for speed, it must hold what pydantic's own JSON of the
state holds (the same values, the same times to the character), for every kind of history."""

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from services.review.domain import events as ev
from services.review.domain.decider import fold
from services.review.domain.events import event_from_json
from services.review.domain.state import ProposalState
from services.review.projection import stored_state_json
from shared.lifecycle import SelectionOutcome, Stage
from tests.fixtures import a_proposal

# Offsets in whole minutes: all RFC 3339 writes (every time an event holds was read from one, or is UTC).
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.one_of(st.just(UTC), offsets)
)
texts = st.text(max_size=40)


def pydantic_json(state: ProposalState) -> object:
    return json.loads(state.model_dump_json(exclude={"proposal"}))


@settings(max_examples=200, deadline=None)  # no deadline: a busy machine is not a failure
@given(moments, moments, texts, texts, st.lists(texts, min_size=1, max_size=3), texts, st.booleans())
def test_every_history_is_stored_as_pydantic_writes_it(
    submitted_at: datetime,
    decided_at: datetime,
    notes: str,
    reference: str,
    reasons: list[str],
    reason: str,
    passed: bool,
) -> None:
    history: list[ev.DomainEvent] = [
        ev.ProposalSubmitted(at=submitted_at, proposal=a_proposal()),
        ev.RevisionRequested(at=decided_at, reasons=reasons, notes=notes),
        ev.ProposalRevised(at=decided_at, proposal=a_proposal()),
        ev.ProposalVerified(
            at=decided_at, checklist={"documents": ev.ChecklistItem(passed=passed)}, notes=notes
        ),
        ev.ProposalValidated(at=decided_at, notes=notes),
        ev.ProposalRegistered(at=decided_at, sinovik_reference=reference),
        ev.SelectionRecorded(
            at=decided_at, stage=Stage.TOP99, outcome=SelectionOutcome.SELECTED, notes=notes
        ),
        ev.SelectionRecorded(
            at=decided_at, stage=Stage.TOP45, outcome=SelectionOutcome.NOT_SELECTED, notes=notes
        ),
    ]
    for length in (1, 2, 3, 4, 5, 6, 8):
        state = fold(history[:length])
        assert isinstance(state, ProposalState)
        assert json.loads(stored_state_json(state)) == pydantic_json(state)
    withdrawn = fold([*history[:4], ev.ProposalWithdrawn(at=decided_at, reason=reason)])
    assert isinstance(withdrawn, ProposalState)
    assert json.loads(stored_state_json(withdrawn)) == pydantic_json(withdrawn)


def test_times_read_from_stored_events_are_written_as_they_were_read() -> None:
    # As a projection meets them: parsed from the events' JSON (pydantic's own time zone class).
    history = [
        event_from_json("ProposalSubmitted", 1, json.dumps({"at": "2023-04-10T08:00:00Z", "proposal": {}})),
        event_from_json(
            "ProposalValidated", 1, json.dumps({"at": "2023-04-11T09:30:00.120000+07:00", "notes": "ok"})
        ),
    ]
    state = fold(history)
    assert isinstance(state, ProposalState)
    stored = json.loads(stored_state_json(state))
    assert stored == pydantic_json(state)
    assert stored["submitted_at"] == "2023-04-10T08:00:00Z"
    assert stored["validation"]["at"] == "2023-04-11T09:30:00.120000+07:00"


def test_what_orjson_refuses_is_written_by_pydantic() -> None:
    state = fold([ev.ProposalSubmitted(at=datetime(2023, 4, 10, tzinfo=UTC), proposal={})])
    assert isinstance(state, ProposalState)
    huge = state.model_copy(update={"revision_request": {"reasons": [], "notes": "", "count": 2**70}})
    assert json.loads(stored_state_json(huge))["revision_request"]["count"] == 2**70
