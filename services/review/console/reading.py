"""What the proposal page shows, shaped from the review's own views (`proposal_view`, `event_view`): the
sections against the round's word limits, the documents against the round's checklist, the history as a
timeline, and which decisions the proposal's status allows. Pure: no I/O."""

from dataclasses import dataclass, field
from typing import Any

from services.review.console import labels
from shared.lifecycle import ALLOWED_MOVES, Stage, Status
from shared.rounds import RoundRules
from shared.rules import count_words


@dataclass(frozen=True)
class Section:
    name: str
    text: str
    words: int
    limit: int | None

    @property
    def over(self) -> bool:
        return self.limit is not None and self.words > self.limit


def sections(proposal: dict[str, Any], rules: RoundRules | None) -> list[Section]:
    """The round's sections in its order (then any other the text has), each with its word count."""
    texts: dict[str, str] = proposal.get("sections") or {}
    limits = dict(rules.sections) if rules else {}
    names = [*limits, *(name for name in texts if name not in limits)]
    return [
        Section(name, texts.get(name, ""), count_words(texts.get(name, "")), limits.get(name))
        for name in names
    ]


@dataclass(frozen=True)
class Document:
    kind: str
    required: bool
    urls: list[str]

    @property
    def present(self) -> bool:
        return bool(self.urls)


def documents(proposal: dict[str, Any], rules: RoundRules | None) -> list[Document]:
    """The round's required documents, each with the links given for it, then any other kind given."""
    given: dict[str, list[str]] = {}
    for document in proposal.get("documents") or []:
        given.setdefault(str(document.get("kind")), []).append(str(document.get("url")))
    required = list(rules.required_documents) if rules else []
    return [
        *(Document(kind, True, given.get(kind, [])) for kind in required),
        *(Document(kind, False, urls) for kind, urls in given.items() if kind not in required),
    ]


@dataclass(frozen=True)
class Moment:
    """One event of the history as the timeline shows it."""

    position: int
    version: int
    type: str
    recorded_at: str
    actor: str
    role: str
    details: list[str] = field(default_factory=list)


def timeline(history: list[dict[str, Any]]) -> list[Moment]:
    """Each event (as `event_view` shows it): who did what, when, and what they said."""
    return [
        Moment(
            event["position"],
            event["version"],
            event["type"],
            event["recorded_at"],
            str((event["metadata"].get("actor") or {}).get("name") or "-"),
            str((event["metadata"].get("actor") or {}).get("role") or ""),
            details(event["type"], event["data"]),
        )
        for event in history
    ]


def details(kind: str, data: dict[str, Any]) -> list[str]:
    said = []
    if kind in ("ProposalSubmitted", "ProposalRevised") and isinstance(data.get("proposal"), dict):
        said.append(f"Judul: {data['proposal'].get('title', '-')}")
    for reason in data.get("reasons") or []:
        said.append(f"Alasan: {reason}")
    for name, item in (data.get("checklist") or {}).items():
        passed = item.get("passed") if isinstance(item, dict) else bool(item)
        note = f" ({item['note']})" if isinstance(item, dict) and item.get("note") else ""
        said.append(f"{labels.label(labels.DOCUMENTS, name)}: {'ada' if passed else 'tidak ada'}{note}")
    if data.get("sinovik_reference"):
        said.append(f"Referensi SINOVIK: {data['sinovik_reference']}")
    if data.get("stage"):
        stage, outcome = (
            labels.label(labels.STAGES, data["stage"]),
            labels.label(labels.OUTCOMES, data["outcome"]),
        )
        said.append(f"Tahap {stage}: {outcome}")
    if data.get("reason"):
        said.append(f"Alasan: {data['reason']}")
    if data.get("notes"):
        said.append(f"Catatan: {data['notes']}")
    return said


@dataclass(frozen=True)
class Decisions:
    """The decisions a reviewer can record on a proposal in `status`."""

    verification: bool
    validation: bool
    revision_request: bool
    national_registration: bool
    selection: Stage | None

    @property
    def any(self) -> bool:
        return (
            any((self.verification, self.validation, self.revision_request, self.national_registration))
            or self.selection is not None
        )


def decisions(status: str) -> Decisions:
    moves = ALLOWED_MOVES[Status(status)]
    stage = next((s for s in Stage if s.starts_from == Status(status)), None)
    return Decisions(
        verification=Status.VERIFIED in moves,
        validation=Status.VALIDATED in moves,
        revision_request=Status.REVISION_REQUESTED in moves,
        national_registration=Status.REGISTERED in moves,
        selection=stage,
    )
