"""Auditors' proof that history is intact: the chain walked, and signed digests of its head."""

from typing import Any

from fastapi import APIRouter

from services.review.api.deps import Signer, Store
from services.review.api.models import ChainReportOut
from services.review.audit import Digest, DigestRefused, verify_against_digest, verify_chain
from services.review.metrics import CHAIN_VERIFICATIONS
from shared.access.http import Auditor
from shared.http import Problem
from shared.openapi import answers
from shared.problems import DIGEST_REFUSED, HISTORY_DOES_NOT_VERIFY, KEYED, WITH_BODY

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/verification", **answers(ChainReportOut, KEYED))
async def verification(store: Store, _: Auditor) -> dict[str, Any]:
    """Walks the whole hash chain: intact or not, how many events were checked, the head, the first
    position that does not match."""
    report = await verify_chain(store.read_all())
    CHAIN_VERIFICATIONS.labels("intact" if report.intact else "broken").inc()
    return report.as_dict()


@router.get("/digest", **answers(Digest, KEYED, HISTORY_DOES_NOT_VERIFY))
async def digest(store: Store, signer: Signer, _: Auditor) -> dict[str, Any]:
    """A signed digest of the head, to keep outside the system. Given only for a history that verifies."""
    report = await verify_chain(store.read_all())
    if not report.intact:
        raise Problem(
            409, "History does not verify", "no digest is signed over a broken chain", **report.as_dict()
        )
    return signer.digest(report.head_position, report.head_hash).model_dump()


@router.post("/digest/verification", **answers(ChainReportOut, KEYED, WITH_BODY, DIGEST_REFUSED))
async def verify_digest(store: Store, signer: Signer, _: Auditor, digest: Digest) -> dict[str, Any]:
    """Whether the history up to a digest taken earlier is unchanged. The digest must be signed by this
    ledger's audit key (checked with its public half). Digests are superseded by the log's checkpoints."""
    try:
        report = await verify_against_digest(store.read_all(), signer.verifier, digest)
    except DigestRefused as refused:
        raise Problem(422, "Digest refused", str(refused)) from None
    return report.as_dict()
