"""The transparency log for auditors and for anyone a proposal's priority must be proven to: the log's key,
its signed checkpoint (with witnesses' cosignatures), inclusion and consistency proofs, and priority
certificates that verify offline with the log's public key alone."""

import asyncio
import base64
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from services.review.eventstore.postgres import row_to_event
from services.review.eventstore.subscription import EVENT_COLUMNS
from services.review.tlog import (
    TreeKeeper,
    latest_checkpoint,
    leaf_of,
    prove_consistency,
    prove_inclusion,
    sign_checkpoint,
    tree_size,
)
from services.review.tlog_kept import SigningRefused
from services.review.views import event_view
from shared.access import Caller, Role, authenticate
from shared.access.http import READERS, PresentedKey, allowed
from shared.http import Problem
from shared.openapi import answers
from shared.problems import (
    COSIGNATURE_REFUSED,
    INVALID_REQUEST,
    KEYED,
    NO_CHECKPOINT,
    NOT_IN_THE_LOG,
    PROPOSAL_NOT_FOUND,
    WITH_BODY,
)
from shared.tlog.note import NoteError, NoteSigner, VerifierKey, split_note, verify_cosignature
from shared.tlog.verify import CERTIFICATE_FORMAT

router = APIRouter(tags=["transparency log"])


class LogKey(BaseModel):
    origin: str = Field(description="The log's name, as in its checkpoints")
    vkey: str = Field(description="The C2SP verifier key: name+hex key id+base64(0x01 || Ed25519 key)")


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str = Field(description="base64 of SHA-256(0x00 || leaf)")
    proof: list[str] = Field(description="base64 node hashes, from the leaf up (RFC 9162 2.1.3)")


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="base64 node hashes (RFC 9162 2.1.4)")


class Certificate(BaseModel):
    format: str = Field(examples=[CERTIFICATE_FORMAT])
    proposal_id: str
    title: str | None
    region: dict[str, Any] | None
    agency: dict[str, Any] | None
    recorded_at: str
    position: int
    leaf_index: int
    leaf: str = Field(description="base64 of the leaf: the event's RFC 8785 JSON as the history shows it")
    inclusion_proof: list[str]
    checkpoint: str = Field(description="The signed checkpoint (C2SP signed note) with cosignatures")
    log_key: str


TEXT_NOTE = {"text/plain": {"type": "string"}}

ANYONE = (Role.SUBMITTER, Role.REVIEWER, Role.AUDITOR)
Position = Annotated[int, Query(ge=1, le=2**62)]


@dataclass(frozen=True)
class LogContext:
    signer: NoteSigner
    keeper: TreeKeeper
    checkpoint_dir: str


def _log(request: Request) -> LogContext:
    log: LogContext = request.app.state.log
    return log


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.context.pool
    return pool


async def _caller(request: Request, key: str, roles: tuple[Role, ...]) -> Caller:
    return allowed(await authenticate(_pool(request), key), roles)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@router.get("/v1/audit/log-key", **answers(LogKey, KEYED))
async def log_key(request: Request, key: PresentedKey) -> dict[str, str]:
    """The log's origin and its verifier key (C2SP vkey), to check checkpoints and certificates with."""
    await _caller(request, key, ANYONE)
    signer = _log(request).signer
    return {"origin": signer.name, "vkey": str(signer.verifier)}


@router.get(
    "/v1/audit/checkpoint",
    response_class=PlainTextResponse,
    **answers(None, KEYED, NOT_IN_THE_LOG, NO_CHECKPOINT, extra=TEXT_NOTE),
)
async def checkpoint(request: Request, key: PresentedKey) -> PlainTextResponse:
    """The latest signed checkpoint (a C2SP signed note), with the cosignatures witnesses gave it."""
    await _caller(request, key, ANYONE)
    note = await _signed_note(request, 1)
    return PlainTextResponse(note)


@router.get("/v1/audit/inclusion", **answers(InclusionProof, KEYED, INVALID_REQUEST, NOT_IN_THE_LOG))
async def inclusion(
    request: Request, key: PresentedKey, position: Position, tree_size: Annotated[int, Query(ge=1, le=2**62)]
) -> dict[str, Any]:
    await _caller(request, key, READERS)
    await _covered(request, tree_size)
    if position > tree_size:
        raise Problem(422, "Not in the log", f"position {position} is not among the first {tree_size} events")
    leaf, proof = await prove_inclusion(_pool(request), position - 1, tree_size)
    return {
        "leaf_index": position - 1,
        "tree_size": tree_size,
        "leaf_hash": _b64(leaf),
        "proof": [_b64(p) for p in proof],
    }


@router.get("/v1/audit/consistency", **answers(ConsistencyProof, KEYED, INVALID_REQUEST, NOT_IN_THE_LOG))
async def consistency(
    request: Request,
    key: PresentedKey,
    first: Annotated[int, Query(ge=0, le=2**62)],
    second: Annotated[int, Query(ge=0, le=2**62)],
) -> dict[str, Any]:
    await _caller(request, key, READERS)
    if first > second:
        raise Problem(422, "Not in the log", f"first ({first}) is after second ({second})")
    await _covered(request, second)
    proof = await prove_consistency(_pool(request), first, second)
    return {"first": first, "second": second, "proof": [_b64(p) for p in proof]}


@router.get(
    "/v1/proposals/{proposal_id}/certificate",
    **answers(Certificate, KEYED, INVALID_REQUEST, PROPOSAL_NOT_FOUND, NOT_IN_THE_LOG, NO_CHECKPOINT),
)
async def certificate(
    request: Request,
    key: PresentedKey,
    proposal_id: UUID,
    position: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    """Proof, checkable offline with the log's key alone, that this proposal's submission (or the event
    at `position`) was recorded with this text, at this position, no later than the checkpoint."""
    caller = await _caller(request, key, ANYONE)
    return await certificate_of(request, proposal_id, position, caller)


async def certificate_of(
    request: Request, proposal_id: UUID, position: int | None, caller: Caller
) -> dict[str, Any]:
    """The certificate `certificate` answers, for a caller already signed in (the API's key or the
    console's session); a submitter only for its own proposal."""
    pool = _pool(request)
    event = await pool.fetchrow(
        f"SELECT {EVENT_COLUMNS} FROM review.events"
        " WHERE stream_id = $1 AND ($2::bigint IS NULL OR position = $2)"
        " ORDER BY position LIMIT 1",
        proposal_id,
        position,
    )
    if event is None:
        raise Problem(404, "Proposal not found", f"no event of proposal {proposal_id} at that position")
    if caller.role == Role.SUBMITTER and not await _owns(pool, proposal_id, caller):
        raise Problem(404, "Proposal not found", f"no proposal {proposal_id} of yours")
    note = await _signed_note(request, event["position"])
    checkpoint_size = int(note.split("\n")[1])
    _, proof = await prove_inclusion(pool, event["position"] - 1, checkpoint_size)
    view = event_view(row_to_event(event))
    submitted = (view["data"] or {}).get("proposal") or {}
    return {
        "format": CERTIFICATE_FORMAT,
        "proposal_id": str(proposal_id),
        "title": submitted.get("title"),
        "region": submitted.get("region"),
        "agency": submitted.get("agency"),
        "recorded_at": view["recorded_at"],
        "position": event["position"],
        "leaf_index": event["position"] - 1,
        "leaf": _b64(leaf_of(view)),
        "inclusion_proof": [_b64(p) for p in proof],
        "checkpoint": note,
        "log_key": str(_log(request).signer.verifier),
    }


class CosignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=1, le=2**62, description="The size of the checkpoint cosigned")
    vkey: str = Field(max_length=500, description="The witness's verifier key (C2SP, type 0x04)")
    line: str = Field(max_length=500, description="The cosignature line: '— <name> <base64>'")


class CosignatureAccepted(BaseModel):
    size: int
    witness: str
    timestamp: int


@router.post(
    "/v1/audit/cosignatures",
    **answers(CosignatureAccepted, KEYED, WITH_BODY, NOT_IN_THE_LOG, COSIGNATURE_REFUSED),
)
async def cosign(request: Request, key: PresentedKey, body: CosignatureIn) -> dict[str, Any]:
    """A witness's cosignature of a checkpoint the log signed: checked against the witness's key, stored,
    and served from then on with that checkpoint (and certificates proven in it)."""
    await _caller(request, key, (Role.AUDITOR,))
    pool = _pool(request)
    note = await pool.fetchval("SELECT note FROM review.log_checkpoints WHERE size = $1", body.size)
    if note is None:
        raise Problem(422, "Not in the log", f"the log signed no checkpoint of {body.size} events")
    try:
        text, _ = split_note(note)  # the checkpoint, without the log's signature
        witness = VerifierKey.parse(body.vkey)
        _, (signature,) = split_note(f"{text}\n{body.line.rstrip()}\n")
        timestamp = verify_cosignature(text, signature, witness)
    except (NoteError, ValueError) as error:
        raise Problem(422, "Cosignature refused", str(error)) from None
    await pool.execute(
        "INSERT INTO review.cosignatures (size, witness, line) VALUES ($1, $2, $3)"
        " ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, received_at = now()",
        body.size,
        witness.name,
        signature.line(),
    )
    return {"size": body.size, "witness": witness.name, "timestamp": timestamp}


async def _owns(pool: asyncpg.Pool, proposal_id: UUID, caller: Caller) -> bool:
    actor = await pool.fetchval(
        "SELECT metadata -> 'actor' FROM review.events WHERE stream_id = $1 ORDER BY position LIMIT 1",
        proposal_id,
    )
    return bool(actor) and actor.get("id") in (str(caller.holder_id), str(caller.key_id))


async def _covered(request: Request, size: int, within: float = 10.0) -> None:
    """Waits (briefly) until the tree has `size` leaves; 422 if the log has not that many events."""
    pool = _pool(request)
    head = int(await pool.fetchval("SELECT coalesce(max(position), 0) FROM review.events"))
    if size > head:
        raise Problem(422, "Not in the log", f"the log has {head} events, not {size}")
    for _ in range(int(within / 0.05)):
        if await tree_size(pool) >= size:
            return
        _log(request).keeper.poke()
        await asyncio.sleep(0.05)
    raise Problem(503, "Service unavailable", "the tree is still catching up with the log; retry shortly")


async def _signed_note(request: Request, covering: int) -> str:
    """The latest signed checkpoint covering position `covering`, signed now if none does, with the
    cosignature lines it received."""
    pool = _pool(request)
    log = _log(request)
    latest = await latest_checkpoint(pool)
    if latest is None or latest.checkpoint.size < covering:
        await _covered(request, covering)
        try:
            latest = await sign_checkpoint(pool, log.signer, log.checkpoint_dir, at_least=covering)
        except SigningRefused as refused:
            # The log found its history forked from a checkpoint it kept: it signs nothing until an
            # operator looks (the error log line and kipp_log_signing_refused say why).
            raise Problem(503, "Service unavailable", f"the log refuses to sign: {refused}") from None
    if latest is None:
        raise Problem(404, "No checkpoint", "the log is empty: nothing to sign yet")
    lines = await pool.fetch(
        "SELECT line FROM review.cosignatures WHERE size = $1 ORDER BY witness", latest.checkpoint.size
    )
    return latest.note + "".join(row["line"] for row in lines)
