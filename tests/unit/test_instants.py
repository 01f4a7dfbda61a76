from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.errors import InvalidRequest
from domain.instants import format_instant, normalize_instant, parse_instant


class TestFormattingInstants:
    def test_writes_utc_with_milliseconds_and_z(self):
        moment = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)
        assert format_instant(moment) == "2026-11-25T10:00:00.123Z"

    def test_writes_zero_milliseconds_when_there_are_none(self):
        moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert format_instant(moment) == "2026-01-02T03:04:05.000Z"

    def test_converts_other_offsets_to_utc(self):
        paris = timezone(timedelta(hours=1))
        moment = datetime(2026, 11, 25, 0, 30, tzinfo=paris)
        assert format_instant(moment) == "2026-11-24T23:30:00.000Z"

    def test_takes_a_naive_datetime_as_utc(self):
        assert format_instant(datetime(2026, 11, 25, 10, 0)) == "2026-11-25T10:00:00.000Z"

    def test_pads_early_years_to_four_digits(self):
        assert format_instant(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000Z"


class TestParsingInstants:
    def test_reads_z_as_utc(self):
        assert parse_instant("2026-11-25T10:00:00Z") == datetime(2026, 11, 25, 10, tzinfo=UTC)

    def test_reads_a_lower_case_z(self):
        assert parse_instant("2026-11-25T10:00:00z") == datetime(2026, 11, 25, 10, tzinfo=UTC)

    def test_converts_an_offset_to_utc(self):
        parsed = parse_instant("2026-11-25T10:00:00+02:00")
        assert parsed == datetime(2026, 11, 25, 8, tzinfo=UTC)
        assert parsed.utcoffset() == timedelta(0)

    def test_reads_a_bare_date_as_midnight_utc(self):
        assert parse_instant("2026-11-25") == datetime(2026, 11, 25, tzinfo=UTC)

    def test_ignores_surrounding_blanks(self):
        assert parse_instant(" 2026-11-25T10:00:00Z ") == datetime(2026, 11, 25, 10, tzinfo=UTC)

    @pytest.mark.parametrize("naive", ["2026-11-25T10:00:00", "2026-11-25 10:00:00"])
    def test_refuses_a_date_time_without_a_time_zone(self, naive):
        with pytest.raises(InvalidRequest, match="no time zone"):
            parse_instant(naive)

    @pytest.mark.parametrize("garbage", ["", "yesterday", "2026-13-01", "2026-11-25T25:00Z", "{}"])
    def test_refuses_what_is_not_an_iso_date_time(self, garbage):
        with pytest.raises(InvalidRequest, match="not an ISO 8601 date-time"):
            parse_instant(garbage)


class TestNormalizingInstants:
    def test_gives_the_canonical_wire_form(self):
        assert normalize_instant("2026-11-25T12:00:00.5+02:00") == "2026-11-25T10:00:00.500Z"

    def test_truncates_below_milliseconds(self):
        assert normalize_instant("2026-11-25T10:00:00.123999Z") == "2026-11-25T10:00:00.123Z"

    def test_keeps_a_canonical_instant_unchanged(self):
        assert normalize_instant("2026-11-25T10:00:00.000Z") == "2026-11-25T10:00:00.000Z"

    def test_canonical_strings_sort_in_time_order(self):
        instants = ["2026-11-25T10:00:00+05:00", "2026-11-25T04:59:59.999Z", "0999-06-01"]
        normalized = sorted(normalize_instant(i) for i in instants)
        assert [parse_instant(n) for n in normalized] == sorted(parse_instant(i) for i in instants)
