"""The recorded time's text in the chain's hashed bytes is the same whatever produces it."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from services.review.eventstore.chain import timestamp_text

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(2, 1, 1), timezones=OFFSETS | st.just(UTC)))
def test_is_rfc3339_in_utc_with_microseconds_as_strftime_writes_it(moment: datetime) -> None:
    assert timestamp_text(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_whole_second_keeps_its_six_zeros() -> None:
    assert timestamp_text(datetime(2023, 5, 6, 17, 0, tzinfo=UTC)) == "2023-05-06T17:00:00.000000Z"


def test_the_same_moment_in_another_zone_reads_the_same_when_remembered() -> None:
    # The text is remembered by moment: equal moments are one instant, written in UTC either way.
    jakarta = timezone(timedelta(hours=7))
    assert timestamp_text(datetime(2023, 5, 6, 17, 0, tzinfo=jakarta)) == "2023-05-06T10:00:00.000000Z"
    assert timestamp_text(datetime(2023, 5, 6, 10, 0, tzinfo=UTC)) == "2023-05-06T10:00:00.000000Z"
