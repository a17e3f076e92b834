"""Dates, times and numbers as Indonesians write them: "6 Mei 2023, 14.05 WIB", "5.000", "tinggal 3 hari".

Pure functions (no clock: the caller says what day it is), used as the templates' filters."""

from datetime import date, datetime

from shared.times import WIB

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


def number(value: int) -> str:
    """5000 -> "5.000": the thousands are separated by dots."""
    sign = "-" if value < 0 else ""
    return sign + f"{abs(value):,}".replace(",", ".")


def day(value: date) -> str:
    """2023-05-06 -> "6 Mei 2023"."""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def moment(value: datetime | str) -> str:
    """An aware time (or its RFC 3339 text) in WIB: "6 Mei 2023, 14.05 WIB" (hours and minutes with a dot)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(WIB)
    return f"{day(local.date())}, {local.hour:02d}.{local.minute:02d} WIB"


def days_left(closes_on: date, today: date) -> str:
    """How a round's deadline reads on `today` (both whole days in WIB)."""
    left = (closes_on - today).days
    if left > 1:
        return f"tinggal {number(left)} hari lagi"
    if left == 1:
        return "tinggal 1 hari lagi (besok hari terakhir)"
    if left == 0:
        return "hari ini hari terakhir"
    return f"sudah ditutup {number(-left)} hari yang lalu"


def today_in_wib(now: datetime) -> date:
    return now.astimezone(WIB).date()
