"""The proposal as a submitting system posts it: its shape, before any round rule is applied.

Structure (types, required fields, e-mail syntax) is checked here; what changes from round to round
(word limits, documents, groups) is checked by `shared.rules` against the round's data file.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StrictInt,
)


def _no_nul(text: str) -> str:
    # PostgreSQL cannot store U+0000 in JSON: refused here, with the field named, not later as a 500.
    if "\x00" in text:
        raise ValueError("text must not contain the NUL character (U+0000)")
    return text


def _no_nul_posted(value: object) -> object:
    # The text as posted is what is stored, and a URL parser would percent-encode a NUL it kept.
    return _no_nul(value) if isinstance(value, str) else value


# Text as the ledger can store it. Numbers are strict (2023, not "2023" or 2023.0): the proposal is kept
# and published exactly as posted, so what passes here must already be what every reader expects.
Text = Annotated[str, AfterValidator(_no_nul)]
Url = Annotated[HttpUrl, BeforeValidator(_no_nul_posted)]


class AgencyKind(StrEnum):
    OPD = "opd"
    BUMD = "bumd"
    UPTD = "uptd"
    OTHER = "other"


class _Strict(BaseModel):
    # A misspelt field is refused rather than silently dropped: the submitter would believe it was sent.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Agency(_Strict):
    name: Text = Field(min_length=1, max_length=300)
    kind: AgencyKind


class Region(_Strict):
    regency: Text = Field(min_length=1, max_length=200)
    province: Text = Field(min_length=1, max_length=200)


class Innovator(_Strict):
    """The person named in a proposal: personal data (see shared/personal_data)."""

    name: Text = Field(min_length=1, max_length=300)
    email: EmailStr
    phone: Text | None = Field(default=None, max_length=40)


class EncryptedField(_Strict):
    """One personal field as it leaves intake: AES-256-GCM with its subject's data key, the event id and
    the field (`<event id>/innovator.<field>`) as associated data."""

    subject: UUID = Field(description="The data subject whose key opens it (a random id, not the person)")
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{16}$", description="The 12-byte nonce, base64url")
    ciphertext: str = Field(
        pattern=r"^[A-Za-z0-9_-]{22,2000}$", description="The ciphertext and its 16-byte tag, base64url"
    )


class EncryptedInnovator(_Strict):
    """The innovator in every message to review and every recorded event: each field encrypted."""

    name: EncryptedField
    email: EncryptedField
    phone: EncryptedField | None = None


class ErasedInnovator(_Strict):
    """The innovator once the person's data was erased: no field can be read any more."""

    name: None
    email: None
    phone: None
    erased: Literal[True]


class Document(_Strict):
    kind: Text = Field(min_length=1, max_length=100)
    url: Url
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class Replicates(_Strict):
    """The innovation a replication-group proposal adapts from another region."""

    title: Text = Field(min_length=1, max_length=500)
    region: Text = Field(min_length=1, max_length=200)
    url: Url | None = None


class ProposalContent(_Strict):
    """Everything a proposal says besides the person who wrote it: what the round's rules check."""

    round: StrictInt
    group: Text
    category: Text
    title: Text = Field(min_length=1, max_length=500)
    agency: Agency
    region: Region
    implemented_since: date
    sdgs: list[StrictInt]
    sections: dict[Text, Text]
    documents: list[Document]
    video_url: Url | None = None
    replicates: Replicates | None = None


class ProposalBody(ProposalContent):
    """The proposal as a submitting system posts it."""

    innovator: Innovator


class EncryptedProposal(ProposalContent):
    """The proposal as it leaves intake: as posted, the innovator's fields encrypted."""

    innovator: EncryptedInnovator


class ShownProposal(ProposalContent):
    """The proposal as the services show it to a reader: the innovator in plain text, or erased."""

    innovator: Innovator | ErasedInnovator
