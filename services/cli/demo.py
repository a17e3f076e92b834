"""`kipp demo`: the five Bangka Barat proposals of KIPP 2023, through the running services, as the news
story of that year tells it: Dinas Kominfo's proposal verified, validated and entered into SINOVIK, the
others still under review; then a later proposal from Bangka Tengah that copies Kominfo's, flagged with
its score and a matching passage. Then the status board, one proposal's history and the audit
verification.

It talks to the services over HTTP, like any client, and creates its own keys. Run it again and it
submits nothing twice (every submission carries an Idempotency-Key) and repeats no decision.
"""

import json
import os
import time
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer
from kipp_client import IntakeClient, Problem

from services.cli import app, with_pool, without_credentials
from services.personal_data import show
from shared.access import Role, authenticate, key_for
from shared.personal_data.master_key import load_master_key
from shared.settings import CommonSettings
from shared.tlog.verify import VerificationFailed, verify_certificate

KOMINFO = "Dinas Komunikasi dan Informatika Kabupaten Bangka Barat"
STORY = [
    ("verification", {"outcome": "passed", "checklist": {"five documents": True}, "notes": "lengkap"}),
    ("validation", {"outcome": "passed", "notes": "substansi memenuhi kriteria KIPP 2023"}),
    ("national-registration", {"sinovik_reference": "SINOVIK-2023-BABAR-001"}),
]


def the_copy() -> dict[str, Any]:
    """Bangka Tengah's later proposal: Bangka Barat's Lapor Cepat Babar with names and numbers changed."""
    text = (
        resources.files("shared.demo")
        .joinpath("resemblance-bangka-tengah-2023.json")
        .read_text(encoding="utf-8")
    )
    proposal: dict[str, Any] = json.loads(text)["proposal"]
    return proposal


def demo_proposals() -> list[dict[str, Any]]:
    text = resources.files("shared.demo").joinpath("demo-bangka-barat-2023.json").read_text(encoding="utf-8")
    proposals: list[dict[str, Any]] = json.loads(text)["proposals"]
    return proposals


REVIEWERS = {"reviewer": "Rina, Bagian Organisasi Setda Bangka Barat", "colleague": "Budi, Bagian Organisasi"}
AUDITOR = "Inspektorat Kabupaten Bangka Barat"


def keys_for(agencies: list[str], kept: Path) -> dict[str, str]:
    """A submitter key per agency (its holder name is the agency), two reviewers and an auditor. Kept in
    `kept` (readable by its owner only) and reused by the next run while they are valid, so running the
    demo again mints no new keys."""
    wanted = {
        **{agency: (Role.SUBMITTER, agency) for agency in agencies},
        **{label: (Role.REVIEWER, name) for label, name in REVIEWERS.items()},
        "auditor": (Role.AUDITOR, AUDITOR),
    }
    try:
        known: dict[str, str] = json.loads(kept.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}

    async def ensure(pool: Any) -> dict[str, str]:
        keys = {}
        for label, (role, name) in wanted.items():
            key = known.get(label)
            caller = await authenticate(pool, key) if key else None
            keys[label] = (
                key if key and caller and caller.role == role else (await key_for(pool, role, name))[1]
            )
        return keys

    keys = with_pool(ensure)
    if keys != known:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.touch(mode=0o600)
        kept.write_text(json.dumps(keys, indent=2), encoding="utf-8")
    return keys


def wait_for(review: httpx.Client, proposal_id: str, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        answer = review.get(f"/v1/proposals/{proposal_id}")
        if answer.status_code == 200:
            view: dict[str, Any] = answer.json()
            return view
        time.sleep(0.1)
    fail(f"proposal {proposal_id} did not reach review within {within} s: is review running?")


@app.command("demo")
def demo(
    intake_url: str = typer.Option("", help="Default: http://127.0.0.1:$KIPP_INTAKE_PORT"),
    review_url: str = typer.Option("", help="Default: http://127.0.0.1:$KIPP_REVIEW_PORT"),
) -> None:
    """Walk the five Bangka Barat proposals of KIPP 2023 through the running system."""
    settings = CommonSettings()
    intake_url = intake_url or f"http://127.0.0.1:{_port('KIPP_INTAKE_PORT', 8001)}"
    review_url = review_url or f"http://127.0.0.1:{_port('KIPP_REVIEW_PORT', 8002)}"
    proposals = demo_proposals()
    kept = Path(settings.audit_key_file).parent / "demo-keys.json"
    copier = the_copy()
    keys = keys_for(sorted({p["agency"]["name"] for p in [*proposals, copier]}), kept)
    typer.echo(
        f"KIPP 2023, Kabupaten Bangka Barat: {len(proposals)} proposals"
        f" (database {without_credentials(settings.database_url)})"
    )

    review = httpx.Client(base_url=review_url, headers=_bearer(keys["reviewer"]), timeout=30)
    ids: list[str] = []
    for number, proposal in enumerate(proposals, start=1):
        # Each agency's portal submits through the client submitting systems use; the fixed key makes a
        # second run answer the same proposal instead of submitting it again.
        with IntakeClient(intake_url, keys[proposal["agency"]["name"]]) as intake:
            try:
                accepted = intake.submit(proposal, idempotency_key=f"demo-bangka-barat-2023-{number}")
            except Problem as refused:
                fail(f"intake refused proposal {number}: {refused}")
        ids.append(accepted.proposal_id)
        typer.echo(f"  submitted  {proposal['title']}")
    for proposal_id in ids:
        wait_for(review, proposal_id)

    kominfo = ids[next(i for i, p in enumerate(proposals) if p["agency"]["name"] == KOMINFO)]
    for decision, body in STORY:
        answer = review.post(f"/v1/proposals/{kominfo}/{decision}", json=body)
        if answer.status_code == 200:
            typer.echo(f"  {decision:22} Kominfo -> {answer.json()['status']}")
        elif answer.status_code == 409:  # an earlier run of the demo already recorded it
            typer.echo(f"  {decision:22} Kominfo: already recorded ({answer.json()['current_status']})")
        else:
            fail(f"review refused {decision}: {answer.status_code} {answer.text}")

    _more_of_the_story(intake_url, review, keys, proposals, ids)
    _a_copy_from_another_regency(intake_url, review, keys, copier)

    typer.echo("\nStatus board")
    for proposal_id in ids:
        view = review.get(f"/v1/proposals/{proposal_id}").json()
        typer.echo(f"  {view['status']:12} {view['agency']['name'][:52]:52} {view['title'][:60]}")

    auditor = httpx.Client(base_url=review_url, headers=_bearer(keys["auditor"]), timeout=60)
    typer.echo("\nHistory of the Kominfo proposal")
    for event in auditor.get(f"/v1/proposals/{kominfo}/history").json()["events"]:
        actor = event["metadata"].get("actor", {}).get("name", "")
        when, kind = event["recorded_at"], event["type"]
        typer.echo(f"  #{event['position']:<5} v{event['version']} {when}  {kind:20} by {actor}")

    report = auditor.get("/v1/audit/verification").json()
    verdict = "intact" if report["intact"] else f"BROKEN at position {report['first_mismatch']}"
    typer.echo(
        f"\nAudit: {report['checked']} events checked, history {verdict}, head {report['head_hash'][:16]}..."
    )

    # The Kominfo proposal's priority certificate, checked as anyone would: with the log's key alone.
    certificate = auditor.get(f"/v1/proposals/{kominfo}/certificate").json()
    log_key = auditor.get("/v1/audit/log-key").json()["vkey"]
    try:
        checkpoint = verify_certificate(certificate, log_key)
    except VerificationFailed as failed:
        fail(f"the certificate does not verify: {failed}")
    typer.echo(
        f"Certificate: the Kominfo proposal recorded at position {certificate['position']}"
        f" ({certificate['recorded_at']}), proven in the checkpoint of {checkpoint.size} events signed by"
        f" {checkpoint.origin}; verified offline with the log's key {log_key.split('+')[1]}"
    )
    _personal_data(next(p for p in proposals if p["agency"]["name"] == KOMINFO))
    typer.echo(
        f"\nConsole: open {review_url}/console and sign in with a reviewer's or the auditor's key ({kept})"
    )


def _personal_data(proposal: dict[str, Any]) -> None:
    """The Kominfo innovator's access request, as `kipp personal-data show --email` answers it."""
    email = proposal["innovator"]["email"]
    master = load_master_key(CommonSettings().master_key_file)
    held = with_pool(lambda pool: show(pool, master, email))
    typer.echo(
        f"\nPersonal data: {proposal['innovator']['name']} ({email}) is data subject {held['subject']};"
        f" their fields are held encrypted in {len(held['encrypted_in_events'])} recorded events of"
        f" {len(held['proposals'])} proposal(s) and in plain text only in intake's copy"
        f" (kipp personal-data show --email {email}; kipp personal-data erase erases them)"
    )


def _more_of_the_story(
    intake_url: str,
    review: httpx.Client,
    keys: dict[str, str],
    proposals: list[dict[str, Any]],
    ids: list[str],
) -> None:
    """What else happens in a round: a proposal refused by a rule, a revision asked for and sent, and two
    reviewers deciding on the same version (one wins, the other is told, nothing is overwritten)."""
    perkimhub, pdam = proposals[1], proposals[4]
    too_long = {**pdam, "sections": {**pdam["sections"], "summary": "air " * 201}}
    with IntakeClient(intake_url, keys[pdam["agency"]["name"]]) as portal:
        try:
            portal.submit(too_long)
            fail("intake accepted a summary over its word limit")
        except Problem as refused:
            rule = refused.errors[0] if refused.errors else {}
            typer.echo(
                f"  refused    a summary of 201 words: {refused.status}"
                f" {rule.get('rule')} ({rule.get('field')})"
            )

    if wait_for(review, ids[1])["version"] == 1:
        review.post(
            f"/v1/proposals/{ids[1]}/revision-request", json={"reasons": ["peta desa belum dilampirkan"]}
        )
        with IntakeClient(intake_url, keys[perkimhub["agency"]["name"]]) as portal:
            _until(lambda: portal.status(ids[1]) == "revision_requested")
            portal.revise(ids[1], {**perkimhub, "title": perkimhub["title"] + " (revisi)"})
        _until(lambda: wait_for(review, ids[1])["version"] >= 3)
        typer.echo("  revision   Perkimhub: asked for, sent, back in review's queue")
    else:
        typer.echo("  revision   Perkimhub: already asked for and sent")

    view = wait_for(review, ids[4])
    if view["status"] == "submitted":
        tag = {"If-Match": f'"{view["version"]}"'}
        first = review.post(f"/v1/proposals/{ids[4]}/verification", json={"outcome": "passed"}, headers=tag)
        colleague = {**_bearer(keys["colleague"]), **tag}
        second = review.post(
            f"/v1/proposals/{ids[4]}/verification", json={"outcome": "failed"}, headers=colleague
        )
        typer.echo(
            f"  conflict   PDAM: Rina verified ({first.status_code}); Budi, on the same version, was told"
            f" {second.status_code} {second.json().get('title', '')}: nothing overwritten"
        )
    else:
        typer.echo(f"  conflict   PDAM: decided already ({view['status']})")


def _a_copy_from_another_regency(
    intake_url: str, review: httpx.Client, keys: dict[str, str], copier: dict[str, Any]
) -> None:
    """A later proposal from Bangka Tengah that is Bangka Barat's Lapor Cepat Babar with the names changed:
    review flags it against the earlier one, with the passages side by side."""
    with IntakeClient(intake_url, keys[copier["agency"]["name"]]) as portal:
        try:
            accepted = portal.submit(copier, idempotency_key="demo-bangka-tengah-2023-copy")
        except Problem as refused:
            fail(f"intake refused the Bangka Tengah proposal: {refused}")
    found: list[dict[str, Any]] = []

    def flagged() -> bool:
        answer = review.get(f"/v1/proposals/{accepted.proposal_id}/resemblances")
        found[:] = answer.json()["items"] if answer.status_code == 200 else []
        return bool(found)

    _until(flagged)
    best = found[0]
    kind = "a declared replication of" if best["declared_replication"] else "resembles"
    typer.echo(
        f'  resemblance  {copier["region"]["regency"]}\'s "{copier["title"]}" {kind} the earlier'
        f' "{best["title"]}" ({best["region"]["regency"]}, recorded at position {best["position"]}):'
        f" score {best['score']:.2f}"
    )
    passage = max(best["passages"], key=lambda p: len(p["text"]))
    typer.echo(f"               {passage['section']}: {passage['text']}")
    typer.echo(f"               earlier {passage['other_section']}: {passage['other_text']}")


def _until(probe: Any, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not probe():
        if time.monotonic() > deadline:
            fail(f"the services did not get there within {within} s")
        time.sleep(0.1)


def fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(1)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _port(variable: str, default: int) -> int:
    return int(os.environ.get(variable, default))
