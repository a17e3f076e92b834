"""List cursors and times from requests: anything the API did not hand out, or that does not fit in UTC,
is refused as a ValueError (answered 422), never passed on to the database."""

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from services.intake import repository
from services.review import queries
from shared.times import UtcTime, in_utc

ID = uuid.UUID("0b4ec5a2-4a55-4c1e-9f0c-6d9d4c1b2a10")


def review_cursor(moment: str) -> str:
    return base64.urlsafe_b64encode(f"{moment}|{ID}".encode()).decode()


def refused(decode: Callable[[str], object], cursor: str) -> bool:
    try:
        decode(cursor)
    except ValueError:
        return True
    return False


def test_a_review_cursor_this_api_handed_out_reads_back() -> None:
    moment = datetime(2023, 4, 10, 8, 30, tzinfo=UTC)
    assert queries.decode_cursor(queries.encode_cursor(moment, ID)) == (moment, ID)


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+14:00",  # the year 0 in UTC
        "0001-01-01T05:00:00+10:00",
        "9999-12-31T23:59:59-14:00",  # the year 10000 in UTC
        "2023-04-10T08:30:00",  # no offset
        "0001-01-01",
        "not a time",
    ],
)
def test_a_review_cursor_with_a_time_that_does_not_fit_is_refused(moment: str) -> None:
    assert refused(queries.decode_cursor, review_cursor(moment))


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", base64.urlsafe_b64encode(b"\xff\xfe").decode(), review_cursor("2023-04-10T08:30:00Z")[:-4]],
)
def test_a_review_cursor_that_is_not_one_is_refused(cursor: str) -> None:
    assert refused(queries.decode_cursor, cursor)


@pytest.mark.parametrize("text", ["0", "-1", str(2**63), "1e3", "nan", "١٢", " 12", "+12", "1_2", "x", ""])
def test_an_intake_cursor_out_of_range_or_not_a_number_is_refused(text: str) -> None:
    assert refused(repository.decode_cursor, base64.urlsafe_b64encode(text.encode()).decode())
    assert repository.decode_cursor(repository.encode_cursor(2**63 - 1)) == 2**63 - 1


def test_a_request_time_must_have_an_offset_and_fit_in_utc() -> None:
    adapter = TypeAdapter(UtcTime)
    assert adapter.validate_python("2023-05-06T23:00:00+07:00") == datetime(2023, 5, 6, 16, tzinfo=UTC)
    for text in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2023-05-06T23:00:00"):
        with pytest.raises(ValidationError):
            adapter.validate_python(text)
    with pytest.raises(ValueError, match="offset"):
        in_utc(datetime(2023, 5, 6))
