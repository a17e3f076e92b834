"""The proposal as a submitting system posts it: its shape, before any round rule is applied.

Structure (types, required fields, e-mail syntax) is checked here; what changes from round to round
(word limits, documents, groups) is checked by `shared.rules` against the round's data file.
"""

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl


class AgencyKind(StrEnum):
    OPD = "opd"
    BUMD = "bumd"
    UPTD = "uptd"
    OTHER = "other"


class _Strict(BaseModel):
    # A misspelt field is refused rather than silently dropped: the submitter would believe it was sent.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Agency(_Strict):
    name: str = Field(min_length=1, max_length=300)
    kind: AgencyKind


class Region(_Strict):
    regency: str = Field(min_length=1, max_length=200)
    province: str = Field(min_length=1, max_length=200)


class Innovator(_Strict):
    name: str = Field(min_length=1, max_length=300)
    email: EmailStr
    phone: str | None = Field(default=None, max_length=40)


class Document(_Strict):
    kind: str = Field(min_length=1, max_length=100)
    url: HttpUrl
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class Replicates(_Strict):
    """The innovation a replication-group proposal adapts from another region."""

    title: str = Field(min_length=1, max_length=500)
    region: str = Field(min_length=1, max_length=200)
    url: HttpUrl | None = None


class ProposalBody(_Strict):
    round: int
    group: str
    category: str
    title: str = Field(min_length=1, max_length=500)
    agency: Agency
    region: Region
    implemented_since: date
    sdgs: list[int]
    sections: dict[str, str]
    innovator: Innovator
    documents: list[Document]
    video_url: HttpUrl | None = None
    replicates: Replicates | None = None
