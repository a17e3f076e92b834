"""The proposal lifecycle: its statuses, the moves between them, and the words of its decisions.

Part of the public contract: review enforces it, intake uses it to refuse what cannot apply. Each fact is
stated here once; the rest is derived (the status a selection leads to, the status it starts from).
"""

from enum import StrEnum


class Status(StrEnum):
    SUBMITTED = "submitted"
    REVISION_REQUESTED = "revision_requested"
    VERIFIED = "verified"
    VALIDATED = "validated"
    REGISTERED = "registered"
    TOP99 = "top99"
    TOP45 = "top45"
    WINNER = "winner"
    NOT_SELECTED = "not_selected"
    VERIFICATION_FAILED = "verification_failed"
    VALIDATION_FAILED = "validation_failed"
    WITHDRAWN = "withdrawn"


S = Status

# Every move the lifecycle allows, from each status. Anything else is refused.
ALLOWED_MOVES: dict[Status, tuple[Status, ...]] = {
    S.SUBMITTED: (S.VERIFIED, S.VERIFICATION_FAILED, S.REVISION_REQUESTED, S.WITHDRAWN),
    S.REVISION_REQUESTED: (S.SUBMITTED, S.WITHDRAWN),
    S.VERIFIED: (S.VALIDATED, S.VALIDATION_FAILED, S.REVISION_REQUESTED, S.WITHDRAWN),
    S.VALIDATED: (S.REGISTERED, S.WITHDRAWN),
    S.REGISTERED: (S.TOP99, S.NOT_SELECTED),
    S.TOP99: (S.TOP45, S.NOT_SELECTED),
    S.TOP45: (S.WINNER, S.NOT_SELECTED),
    S.WINNER: (),
    S.NOT_SELECTED: (),
    S.VERIFICATION_FAILED: (),
    S.VALIDATION_FAILED: (),
    S.WITHDRAWN: (),
}


class CheckOutcome(StrEnum):
    """How a verification or a validation came out."""

    PASSED = "passed"
    FAILED = "failed"


class SelectionOutcome(StrEnum):
    """How a proposal came out of a stage of the national selection."""

    SELECTED = "selected"
    NOT_SELECTED = S.NOT_SELECTED.value


class Stage(StrEnum):
    """The stages of the national selection. Each is named after the status a proposal selected there has."""

    TOP99 = S.TOP99.value
    TOP45 = S.TOP45.value
    WINNER = S.WINNER.value

    def status_after(self, outcome: SelectionOutcome) -> Status:
        """The status a result at this stage leads to."""
        return Status(self.value) if outcome == SelectionOutcome.SELECTED else Status.NOT_SELECTED

    @property
    def starts_from(self) -> Status:
        """The status a result at this stage is recorded on: the one status that moves to this stage's."""
        return _STARTS_FROM[self]


_STARTS_FROM = {
    stage: next(status for status, moves in ALLOWED_MOVES.items() if Status(stage.value) in moves)
    for stage in Stage
}


class TransitionRefused(Exception):
    """A move the lifecycle does not allow. Carries what a caller needs to explain it (HTTP 409)."""

    def __init__(self, current: Status, attempted: Status, reason: str = "") -> None:
        self.current = current
        self.attempted = attempted
        self.allowed = [s.value for s in ALLOWED_MOVES[current]]
        allowed = ", ".join(self.allowed) or "none (final status)"
        why = f" ({reason})" if reason else ""
        state = f"proposal is '{current.value}'{why}"
        super().__init__(f"cannot move to '{attempted.value}': {state}; allowed moves: {allowed}")
