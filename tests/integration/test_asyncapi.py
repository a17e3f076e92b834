"""Each service's AsyncAPI document shows every message it publishes or consumes, with its data's schema."""

from typing import Any

import pytest

from shared.contract import Topology
from tests.apps import intake_app, review_app, running


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = document["components"]["schemas"][name]
    return schema


def message_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each message the document names, by event type: a channel's payload, or each of its `oneOf`."""
    found = {}
    for message in document["components"]["messages"].values():
        payload = resolve(document, message["payload"])
        for each in payload.get("oneOf", [payload]):
            schema = resolve(document, each)
            found[schema["properties"]["event_type"]["const"]] = schema
    return found


def data_schema(document: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return resolve(document, message["properties"]["data"])


@pytest.mark.parametrize("service", ["intake", "review"])
async def test_the_asyncapi_document_shows_each_message_with_its_data(
    database_url: str, amqp_url: str, topology: Topology, service: str
) -> None:
    make = intake_app if service == "intake" else review_app
    async with running(make(database_url, amqp_url, topology)) as client:
        answer = await client.get("/asyncapi.json")
    assert answer.status_code == 200
    document = answer.json()
    messages = message_schemas(document)
    assert set(messages) == {
        "proposal.submitted",
        "proposal.revised",
        "proposal.withdrawn",
        "proposal.status_changed",
    }
    for proposal_message in ("proposal.submitted", "proposal.revised"):
        proposal = data_schema(document, messages[proposal_message])
        assert proposal["title"] == "EncryptedProposal"
        assert {"title", "round", "sections", "innovator"} <= set(proposal["required"])
        # The innovator's fields are described as what travels: ciphertext naming its subject.
        innovator = resolve(document, proposal["properties"]["innovator"])
        email = resolve(document, innovator["properties"]["email"])
        assert (email["title"], set(email["required"])) == (
            "EncryptedField",
            {"subject", "nonce", "ciphertext"},
        )
    withdrawal = data_schema(document, messages["proposal.withdrawn"])
    assert withdrawal["required"] == ["reason"]
    change = data_schema(document, messages["proposal.status_changed"])
    assert {"status", "version", "position", "cause", "decided_at"} <= set(change["required"])
    assert "winner" in resolve(document, change["properties"]["status"])["enum"]
    assert change["properties"]["stage"]["enum"] == ["top99", "top45", "winner"]
    assert change["properties"]["reasons"]["items"] == {"type": "string"}
    # Each message the service publishes has a channel of its own, addressed by its routing key.
    publishes = (
        {"proposal.submitted", "proposal.revised", "proposal.withdrawn"}
        if service == "intake"
        else {"proposal.status_changed"}
    )
    assert publishes <= {channel.get("address") for channel in document["channels"].values()}
