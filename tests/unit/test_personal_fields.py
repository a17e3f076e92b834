"""The innovator's fields encrypted and decrypted, and the master key that wraps data keys (pure)."""

import uuid
from pathlib import Path

import pytest

from shared.personal_data.fields import (
    ERASED_INNOVATOR,
    DataKey,
    UnreadableField,
    decrypt_innovator,
    encrypt_innovator,
    subject_of,
)
from shared.personal_data.master_key import (
    MasterKey,
    MasterKeyInvalid,
    MasterKeyMissing,
    ensure_master_key,
    load_master_key,
)

PERSON = {"name": "Siti Rahayu", "email": "siti@example.go.id", "phone": None}


def test_fields_decrypt_for_their_event_and_show_as_erased_once_the_key_is_gone() -> None:
    key, event_id = DataKey.generate(uuid.uuid4()), uuid.uuid4()
    encrypted = encrypt_innovator(PERSON, event_id, key)
    assert encrypted["phone"] is None  # nothing personal to hide in a null
    assert "Siti" not in str(encrypted)
    assert subject_of({"innovator": encrypted}) == key.subject_id
    assert decrypt_innovator(encrypted, event_id, {key.subject_id: key.secret}) == PERSON
    assert decrypt_innovator(encrypted, event_id, {}) == ERASED_INNOVATOR


def test_no_nonce_is_used_twice_with_one_key() -> None:
    # AES-GCM loses both secrecy and integrity when a key meets the same nonce twice: every field of every
    # encryption gets its own.
    key = DataKey.generate(uuid.uuid4())
    everyone = {"name": "Siti Rahayu", "email": "siti@example.go.id", "phone": "+62 812 0000 0000"}
    nonces = [
        field["nonce"] for _ in range(50) for field in encrypt_innovator(everyone, uuid.uuid4(), key).values()
    ]
    assert len(nonces) == 150
    assert len(set(nonces)) == 150


def test_a_field_moved_to_another_event_or_field_does_not_decrypt() -> None:
    key, event_id = DataKey.generate(uuid.uuid4()), uuid.uuid4()
    encrypted = encrypt_innovator(PERSON, event_id, key)
    keys = {key.subject_id: key.secret}
    with pytest.raises(UnreadableField):
        decrypt_innovator(encrypted, uuid.uuid4(), keys)
    with pytest.raises(UnreadableField):
        decrypt_innovator({**encrypted, "name": encrypted["email"]}, event_id, keys)


def test_a_text_recorded_in_plain_text_is_shown_as_it_is() -> None:
    assert subject_of({"innovator": PERSON}) is None
    assert decrypt_innovator(PERSON, uuid.uuid4(), {}) == PERSON


def test_a_wrapped_key_opens_only_with_its_master_key_and_for_its_subject() -> None:
    master, subject = MasterKey.generate(), uuid.uuid4()
    wrapped = master.wrap(subject, b"k" * 32)
    assert master.unwrap(subject, wrapped) == b"k" * 32
    with pytest.raises(MasterKeyInvalid, match=master.check_value):
        master.unwrap(uuid.uuid4(), wrapped)
    with pytest.raises(MasterKeyInvalid):
        MasterKey.generate().unwrap(subject, wrapped)


def test_a_person_is_found_however_they_typed_their_address_and_only_with_the_same_master_key() -> None:
    master = MasterKey.generate()
    assert master.email_digest(" Siti@Example.go.id ") == master.email_digest("siti@example.go.id")
    assert MasterKey.generate().email_digest("siti@example.go.id") != master.email_digest(
        "siti@example.go.id"
    )
    assert master.check_value != MasterKey.generate().check_value


def test_the_master_key_file_is_created_once_private_and_refused_when_it_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master-key"
    with pytest.raises(MasterKeyMissing, match="kipp migrate"):
        load_master_key(path)
    created = ensure_master_key(path)
    assert ensure_master_key(path) == created  # never replaced
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("not a key\n")
    with pytest.raises(MasterKeyInvalid, match="does not hold a master key"):
        load_master_key(path)
