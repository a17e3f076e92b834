"""Times as the ledger takes them: aware, representable in UTC, and the day they fall on in Indonesia."""

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

# Western Indonesia Time. KIPP's dates (a round's opening and closing days) are whole days in WIB.
WIB = timezone(timedelta(hours=7), "WIB")


def in_utc(moment: datetime) -> datetime:
    """The same moment in UTC. Raises ValueError for a naive time, or one that is out of range once in UTC
    (0001-01-01T00:00:00+14:00 is in the year 0), which PostgreSQL would refuse as a server error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the time needs an offset, such as Z or +07:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


def day_in_wib(moment: datetime) -> date:
    """The date in WIB at `moment` (an aware time); ValueError when it has no such day."""
    try:
        return in_utc(moment).astimezone(WIB).date()
    except OverflowError:
        raise ValueError("the time is out of range in WIB") from None


# An RFC 3339 time in a request: with an offset, and one that converts to UTC.
UtcTime = Annotated[AwareDatetime, AfterValidator(in_utc)]
