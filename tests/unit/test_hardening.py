"""Limits on what one request may cost, rate limiting per client, and secrets kept out of
the settings' text."""

from __future__ import annotations

import pytest
from pyrate_limiter import AbstractClock

from adapters.settings import load_settings
from domain.errors import InvalidRequest
from domain.patch import JSON_PATCH, MAX_ITEMS, MAX_NESTING, Patch, shape, size_problem
from domain.query import MAX_FILTER_VALUES, AttrType, PageLimits, parse_list_query
from handlers.rate_limit import MAX_CLIENTS, ClientRates


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


class TestShape:
    def test_measures_depth_and_the_longest_array_in_one_walk(self):
        value = {"a": [1, 2, 3], "b": {"c": [[1, 2, 3, 4, 5]]}}

        assert (shape(value).depth, shape(value).longest) == (4, 5)

    def test_a_body_within_the_limits_has_no_problem(self):
        assert size_problem({"a": list(range(MAX_ITEMS)), "b": nested(MAX_NESTING - 1)}) is None

    def test_an_array_longer_than_the_limit_is_a_problem_wherever_it_is(self):
        problem = size_problem({"a": [{"b": list(range(MAX_ITEMS + 1))}], "c": [1]})

        assert problem == f"a[0].b: an array of more than {MAX_ITEMS} entries"

    def test_a_body_that_is_a_long_array_is_named_body(self):
        assert str(size_problem(list(range(MAX_ITEMS + 1)))).startswith("body: ")

    def test_nesting_deeper_than_the_limit_is_a_problem(self):
        assert "nested deeper" in str(size_problem(nested(MAX_NESTING + 1)))

    def test_a_json_patch_may_not_grow_an_array_past_the_limit(self):
        resource = {"id": "1", "note": [{"text": "x"}] * MAX_ITEMS}
        patch = Patch(JSON_PATCH, [{"op": "add", "path": "/note/-", "value": {"text": "y"}}])

        with pytest.raises(InvalidRequest, match=f"note: an array of more than {MAX_ITEMS}"):
            patch.apply(resource)


FILTERS = {"id": AttrType.STRING, "name": AttrType.STRING}


class TestFilterValues:
    def parse(self, params):
        return parse_list_query(params, FILTERS, PageLimits())

    def test_a_query_may_filter_on_up_to_the_limit_of_values(self):
        half = MAX_FILTER_VALUES // 2
        ids = ",".join(str(n) for n in range(half))
        names = ",".join(str(n) for n in range(MAX_FILTER_VALUES - half))

        query = self.parse([("id", ids), ("name", names), ("limit", "5")])

        assert sum(len(criterion.values) for criterion in query.criteria) == MAX_FILTER_VALUES

    @pytest.mark.parametrize("split", [False, True])
    def test_one_value_more_is_refused_in_one_filter_or_across_filters(self, split):
        values = [str(n) for n in range(MAX_FILTER_VALUES + 1)]
        params = [("id", value) for value in values] if split else [("id", ",".join(values))]

        with pytest.raises(InvalidRequest, match=f"at most {MAX_FILTER_VALUES} values"):
            self.parse(params)

    def test_the_page_size_is_clamped_to_the_maximum(self):
        query = parse_list_query([("limit", "5000")], FILTERS, PageLimits(10, 50))

        assert query.limit == 50


class FakeClock(AbstractClock):
    def __init__(self) -> None:
        self.ms = 1_000_000

    def now(self) -> int:
        return self.ms


class TestClientRates:
    def test_a_client_may_spend_its_minute_at_once_then_waits_for_the_next_token(self):
        clock = FakeClock()
        rates = ClientRates(6, clock)  # a token every 10 seconds, 6 at once

        assert [rates.wait_ms("crm") for _ in range(6)] == [0] * 6
        assert rates.wait_ms("crm") == 10_000
        clock.ms += 4_000
        assert rates.wait_ms("crm") == 6_000
        clock.ms += 6_000
        assert rates.wait_ms("crm") == 0
        assert rates.wait_ms("crm") > 0

    def test_each_client_has_its_own_bucket(self):
        rates = ClientRates(1, FakeClock())

        assert rates.wait_ms("crm") == 0
        assert rates.wait_ms("crm") > 0
        assert rates.wait_ms("oss") == 0

    def test_the_buckets_kept_are_bounded(self):
        rates = ClientRates(1, FakeClock())
        for n in range(MAX_CLIENTS):
            rates.wait_ms(f"client-{n}")

        rates.wait_ms("one-more")

        assert rates.wait_ms("client-0") == 0  # forgotten: a full bucket again


class TestSettingsText:
    def test_secrets_never_appear_in_the_settings_text(self):
        settings = load_settings(
            {
                "mongodb_uri": "mongodb://bss:s3cret-pass@db.internal:27017/",
                "jwt_secret": "x" * 31 + "-shared-secret",
            },
            environ={},
        )

        text = repr(settings)

        assert "s3cret-pass" not in text
        assert "shared-secret" not in text
        assert "mongodb_database='bss'" in text

    def test_rate_limiting_is_on_and_hsts_off_by_default(self):
        settings = load_settings({}, environ={})

        assert (settings.rate_limit_per_minute, settings.hsts) == (1200, False)

    def test_rate_limiting_and_hsts_are_read_from_the_environment(self):
        settings = load_settings(environ={"BSS_RATE_LIMIT_PER_MINUTE": "0", "BSS_HSTS": "true"})

        assert (settings.rate_limit_per_minute, settings.hsts) == (0, True)
