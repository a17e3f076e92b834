"""What the confirmed publisher parks: an item no message can be made of, with a reason that names what
is wrong and never the content (which may hold a person's fields)."""

from aio_pika import Message
from faststream.rabbit import RabbitBroker

from shared.proposal import EncryptedInnovator
from shared.publishing import ConfirmedPublisher, Outgoing

PERSON = {"name": "Budi Santoso", "email": "budi.santoso@contoh.go.id", "phone": "+6281234567890"}


def unbuildable() -> Message:
    EncryptedInnovator.model_validate(PERSON)  # plain text where the fields must be encrypted
    raise AssertionError("a plain-text innovator was taken as encrypted")


async def test_an_item_no_message_can_be_made_of_is_parked_with_the_fields_named_not_their_values() -> None:
    publisher = ConfirmedPublisher(RabbitBroker(), "kipptest.intake")  # never connected: nothing is sent
    parked = await publisher.publish([Outgoing(7, "stream", "proposal.submitted", unbuildable)])
    assert list(parked) == [7]
    assert parked[7].startswith("no message can be made of it: not a valid EncryptedInnovator: name: ")
    for value in PERSON.values():
        assert value not in parked[7]
