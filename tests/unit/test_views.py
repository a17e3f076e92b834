"""The hot read's view, assembled as JSON around the text PostgreSQL serialised, is the same view."""

import json
import uuid

from services.review.views import view_from_stored, view_json_from_stored
from tests.fixtures import demo_proposals

FIELDS = ("round", "group", "category", "title", "agency", "region")


def test_the_view_as_json_is_the_view() -> None:
    body = {**demo_proposals()[2], "title": 'Inovasi "Sejiran" — air bersih\n'}
    state = {
        "status": "verified",
        "submitted_at": "2023-03-01T00:00:00Z",
        "verification": {"outcome": "passed", "checklist": {"SK": {"passed": True, "note": "ü"}}},
    }
    summary = {field: body.get(field) for field in FIELDS}
    proposal_id = uuid.uuid4()
    rest = {key: value for key, value in body.items() if key != "innovator"}
    # PostgreSQL's jsonb text has its own spacing; any valid JSON of the text must splice in the same. The
    # innovator, decrypted for the reader, is spliced in beside it.
    for body_json in (json.dumps(rest), json.dumps(rest, ensure_ascii=False, separators=(",", ":"))):
        content = view_json_from_stored(proposal_id, state, summary, 7, body_json, body["innovator"])
        assert json.loads(content) == view_from_stored(proposal_id, state, body, 7)


def test_a_text_of_nothing_but_its_innovator_is_spliced_too() -> None:
    state = {"status": "submitted"}
    content = view_json_from_stored(uuid.uuid4(), state, {}, 1, " { } ", {"erased": True})
    assert json.loads(content)["proposal"] == {"innovator": {"erased": True}}
