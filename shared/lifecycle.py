"""The statuses of a proposal and the moves between them.

Part of the public contract: review enforces it, intake uses it to refuse what cannot apply.
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
