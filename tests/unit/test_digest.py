"""A digest is typed before its signature is checked: what is not a digest is refused by field, from the
API's model and from `kipp audit verify --digest FILE`, never as a crash."""

import json
import math
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from typer.testing import CliRunner

import services.cli.audit  # noqa: F401 - registers the audit commands on the app
from services.cli import app
from services.review.audit import Digest, DigestRefused, DigestSigner, DigestVerifier
from shared.validation import field_path

SIGNER = DigestSigner(Ed25519PrivateKey.generate())
HEAD = "ab" * 32


def a_digest(**changes: Any) -> dict[str, Any]:
    return {**SIGNER.digest(7, HEAD).model_dump(), **changes}


BAD: list[tuple[dict[str, Any], str]] = [
    ({"position": math.nan}, "position"),
    ({"position": math.inf}, "position"),
    ({"position": -math.inf}, "position"),
    ({"position": -1}, "position"),
    ({"position": 2**63}, "position"),
    ({"position": 2**53}, "position"),  # beyond what a JSON number holds exactly: no RFC 8785 form to sign
    ({"position": 7.0}, "position"),
    ({"position": "7"}, "position"),
    ({"position": True}, "position"),
    ({"head_hash": "ab" * 31}, "head_hash"),
    ({"head_hash": "zz" * 32}, "head_hash"),
    ({"head_hash": 5}, "head_hash"),
    ({"taken_at": "2023-13-01T00:00:00.000000Z"}, "taken_at"),
    ({"taken_at": "yesterday"}, "taken_at"),
    ({"key_id": "x" * 16}, "key_id"),
    ({"signature": "not base64!"}, "signature"),
    ({"signature": "AAAA"}, "signature"),
    ({"public_key": "AAAA"}, "public_key"),
    ({"algorithm": "RSA"}, "algorithm"),
    ({"comment": "kept by Inspektorat"}, "comment"),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f"{f}-{v}" for c, f in BAD for v in c.values()])
def test_what_is_not_a_digest_is_refused_by_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Digest.model_validate(a_digest(**change))
    assert [field_path(tuple(error["loc"])) for error in refused.value.errors()] == [field]


def test_a_digest_round_trips_through_json_and_is_checked_with_its_public_key_alone() -> None:
    digest = Digest.model_validate(json.loads(json.dumps(a_digest())))
    assert SIGNER.verifier.check(digest) == (7, HEAD)
    assert DigestVerifier.carried_by(digest).check(digest) == (7, HEAD)
    assert DigestVerifier.parse(digest.public_key).check(digest) == (7, HEAD)
    pem = SIGNER.verifier.pem()
    assert DigestVerifier.parse(pem).check(digest) == (7, HEAD)
    with pytest.raises(DigestRefused, match="altered"):
        SIGNER.verifier.check(digest.model_copy(update={"position": 6}))
    other = DigestSigner(Ed25519PrivateKey.generate())
    with pytest.raises(DigestRefused, match="another key"):
        SIGNER.verifier.check(other.digest(7, HEAD))


def test_a_digest_whose_key_id_is_not_its_public_keys_is_refused() -> None:
    other = DigestSigner(Ed25519PrivateKey.generate())
    mixed = Digest.model_validate(a_digest(public_key=other.public_key))
    with pytest.raises(DigestRefused, match="is not that of the public key it carries"):
        DigestVerifier.carried_by(mixed)
    with pytest.raises(DigestRefused, match="another key"):
        SIGNER.verifier.check(mixed)


@pytest.mark.parametrize("text", ["", "AAAA", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"])
def test_a_digest_key_that_is_not_an_ed25519_public_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the cryptography library's own messages vary
        DigestVerifier.parse(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (json.dumps(a_digest(position=math.nan)), "position: "),
        (json.dumps(a_digest(position=math.inf)), "position: "),
        (json.dumps(a_digest(head_hash="00")), "head_hash: "),
        ("[1, 2]", "the file: Input should be a valid dictionary"),
        ("{not json", "not JSON"),
    ],
)
def test_kipp_audit_verify_refuses_a_file_that_is_not_a_digest_in_one_line(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "digest.json"
    path.write_text(text)
    result = CliRunner().invoke(app, ["audit", "verify", "--digest", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{path}: not a digest: ")
    assert says in line


def test_kipp_audit_verify_says_when_the_digest_file_cannot_be_read(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--digest", str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "missing.json: not a digest: cannot be read" in result.stderr
