"""Instants on the wire: UTC, ISO 8601, milliseconds, `Z` (TMF630)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.errors import InvalidRequest


def format_instant(moment: datetime) -> str:
    """`2026-11-25T10:00:00.000Z`; a naive datetime is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat, unlike strftime("%Y"), pads years before 1000 to four digits.
    return moment.isoformat(timespec="milliseconds") + "Z"


def parse_instant(text: str) -> datetime:
    """Accepts any ISO 8601 date-time with an offset or `Z`; a bare date is midnight UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"'{text}' is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        if "T" in value or " " in value:
            raise InvalidRequest(f"'{text}' has no time zone; send UTC with 'Z'")
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidRequest(f"'{text}' is out of the representable range") from None


def normalize_instant(text: str) -> str:
    """The canonical wire form of an instant, so stored strings sort in time order."""
    return format_instant(parse_instant(text))
