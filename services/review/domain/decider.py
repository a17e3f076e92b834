"""The proposal's decider: `decide(command, state) -> events` and `evolve(state, event) -> state`.

Both are pure, and start from the explicit initial state NOT_SUBMITTED. Every service path (the intake
consumer, reviewers' decisions, projections, the as-of view) goes through these two functions, so the
rules cannot drift apart. Each fact is stated once, where it belongs:
- the statuses, the moves between them and the selection's stages: `shared.lifecycle`;
- the event a command asks for: the command (commands.py);
- the status an event leads to, or that it keeps the status, and what it records: the event (events.py);
- the rules no table says (a submission starts a stream, a selection follows its stages): here.

Adding a decision touches 2 files: its command (commands.py) and its event with one line in EVENT_TYPES
(events.py); 3 with its HTTP route (services/review/api/proposals.py). This module does not change. More
files only for what else is new: a field of the state (state.py), a status and its moves
(shared/lifecycle.py), details announced to followers (services/review/status_publisher.py).

An event that keeps the status (`status_after` None) is no move: it is recorded at any status, final ones
included. Stored, it would also need the status publisher to know the status it keeps: a stored event
alone does not say it, and `status_after_stored` refuses to guess.
"""

from collections.abc import Iterable
from functools import reduce
from typing import Any

from services.review.domain import events as ev
from services.review.domain.commands import Command
from services.review.domain.state import NOT_SUBMITTED, ProposalState, State
from shared.lifecycle import ALLOWED_MOVES, Status, TransitionRefused

__all__ = [
    "NOT_SUBMITTED",
    "ProposalNotFound",
    "State",
    "TransitionRefused",
    "decide",
    "evolve",
    "existing",
    "fold",
    "status_after_stored",
]


class ProposalNotFound(Exception):
    pass


def existing(state: State) -> ProposalState:
    """The proposal `state` holds; ProposalNotFound if nobody submitted it."""
    if state is NOT_SUBMITTED:
        raise ProposalNotFound()
    return state


def decide(command: Command, state: State) -> list[ev.DomainEvent]:
    event = command.event()
    if isinstance(event, ev.ProposalSubmitted):
        if state is not NOT_SUBMITTED:
            raise TransitionRefused(state.status, event.leads_to, "it was submitted before")
        return [event]
    current = existing(state).status
    target = event.status_after()
    if target is None:  # the event keeps the status: no move
        return [event]
    if isinstance(event, ev.SelectionRecorded) and current is not event.stage.starts_from:
        needed = f"a {event.stage} result needs a proposal that is '{event.stage.starts_from}'"
        raise TransitionRefused(current, target, needed)
    if target not in ALLOWED_MOVES[current]:
        raise TransitionRefused(current, target)
    return [event]


def evolve(state: State, event: ev.DomainEvent) -> ProposalState:
    if isinstance(event, ev.ProposalSubmitted):
        return ProposalState(
            status=event.leads_to, proposal=event.proposal, submitted_at=event.at, updated_at=event.at
        )
    if state is NOT_SUBMITTED:
        raise ValueError(f"{event.type} cannot start a stream")
    # One copy per event: a fold of a long history, as a projection rebuild is, spends its time here.
    status = event.status_after() or state.status
    return state.model_copy(update={"status": status, "updated_at": event.at, **event.recorded(state)})


def fold(events: Iterable[ev.DomainEvent]) -> State:
    return reduce(evolve, events, NOT_SUBMITTED)


def status_after_stored(type_name: str, data: dict[str, Any]) -> Status:
    """The status a proposal has right after a stored event, from its type and data, without building the
    event when its kind says (its proposal text is not needed to know the status)."""
    if (kind := ev.EVENT_TYPES.get(type_name)) is None:
        raise ev.UnknownEventType(f"no event type named {type_name!r}")
    status = kind.leads_to or kind.model_validate(data).status_after()
    if status is None:
        raise ValueError(f"{type_name} keeps the status it finds, which a stored event alone does not say")
    return status
