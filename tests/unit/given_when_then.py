"""`given(events).when(command).then(events)` for the pure decider."""

from dataclasses import dataclass

import pytest

from services.review.domain.commands import Command
from services.review.domain.decider import NOT_SUBMITTED, decide, fold
from services.review.domain.events import DomainEvent
from services.review.domain.state import ProposalState


@dataclass(frozen=True)
class _When:
    history: tuple[DomainEvent, ...]
    command: Command

    def decided(self) -> list[DomainEvent]:
        return decide(self.command, fold(self.history))

    def then(self, *expected: DomainEvent) -> ProposalState:
        assert self.decided() == list(expected)
        state = fold([*self.history, *expected])
        assert state is not NOT_SUBMITTED
        return state

    def then_raises(self, error: type[Exception], match: str | None = None) -> None:
        with pytest.raises(error, match=match):
            self.decided()


@dataclass(frozen=True)
class given:  # lower case: reads as a sentence in tests
    history: tuple[DomainEvent, ...]

    def __init__(self, *history: DomainEvent) -> None:
        object.__setattr__(self, "history", history)

    def when(self, command: Command) -> _When:
        return _When(self.history, command)
