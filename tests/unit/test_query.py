from decimal import Decimal
from typing import Any, ClassVar

import pytest

from domain.customer import CUSTOMER
from domain.errors import InvalidRequest
from domain.query import (
    AttrType,
    Criterion,
    ListQuery,
    PageLimits,
    SortKey,
    matches,
    parse_criterion,
    parse_list_query,
    select_fields,
)

FILTERS = {
    "id": AttrType.STRING,
    "name": AttrType.STRING,
    "isBundle": AttrType.BOOLEAN,
    "lastUpdate": AttrType.INSTANT,
    "price.value": AttrType.NUMBER,
    "relatedParty.id": AttrType.STRING,
}
LIMITS = PageLimits(default=20, maximum=50)


def parse(query: str) -> ListQuery:
    params = [tuple(pair.split("=", 1)) for pair in query.split("&") if pair]
    return parse_list_query(params, FILTERS, LIMITS)


class TestTypedFilters:
    def test_a_string_filter_keeps_the_text(self):
        assert parse_criterion("name", "Alice", FILTERS) == Criterion("name", "eq", ("Alice",))

    @pytest.mark.parametrize(("raw", "value"), [("true", True), ("false", False)])
    def test_a_boolean_filter_reads_true_and_false(self, raw, value):
        assert parse_criterion("isBundle", raw, FILTERS).values == (value,)

    @pytest.mark.parametrize("raw", ["True", "1", "yes", ""])
    def test_a_boolean_filter_refuses_anything_else(self, raw):
        with pytest.raises(InvalidRequest, match="not a boolean"):
            parse_criterion("isBundle", raw, FILTERS)

    def test_an_instant_filter_is_normalized_to_the_stored_form(self):
        criterion = parse_criterion("lastUpdate", "2026-11-25T12:00:00+02:00", FILTERS)
        assert criterion.values == ("2026-11-25T10:00:00.000Z",)

    def test_an_instant_filter_refuses_a_naive_date_time(self):
        with pytest.raises(InvalidRequest):
            parse_criterion("lastUpdate", "2026-11-25T12:00:00", FILTERS)

    def test_a_number_filter_reads_an_exact_decimal(self):
        assert parse_criterion("price.value", "9.99", FILTERS).values == (Decimal("9.99"),)

    @pytest.mark.parametrize("raw", ["abc", "1.5e", "0x10", ""])
    def test_a_number_filter_refuses_what_is_not_a_number(self, raw):
        with pytest.raises(InvalidRequest, match="not a number"):
            parse_criterion("price.value", raw, FILTERS)

    @pytest.mark.parametrize("raw", ["NaN", "Infinity", "-inf"])
    def test_a_number_filter_refuses_non_finite_numbers(self, raw):
        with pytest.raises(InvalidRequest, match="not a finite number"):
            parse_criterion("price.value", raw, FILTERS)

    def test_commas_give_alternatives(self):
        criterion = parse_criterion("name", "Alice,Bob", FILTERS)
        assert criterion == Criterion("name", "eq", ("Alice", "Bob"))

    def test_each_alternative_is_typed(self):
        with pytest.raises(InvalidRequest):
            parse_criterion("price.value", "1,two", FILTERS)

    def test_a_nested_attribute_is_filtered_with_its_dot_path(self):
        criterion = parse_criterion("relatedParty.id", "42", FILTERS)
        assert criterion == Criterion("relatedParty.id", "eq", ("42",))

    def test_customer_declares_nested_contact_filters(self):
        criterion = parse_criterion(
            "contactMedium.characteristic.emailAddress", "a@b.test", CUSTOMER.filters
        )
        assert criterion.path == "contactMedium.characteristic.emailAddress"


class TestRangeFilters:
    @pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
    def test_a_suffix_makes_a_range(self, op):
        criterion = parse_criterion(f"price.value.{op}", "10", FILTERS)
        assert criterion == Criterion("price.value", op, (Decimal("10"),))

    def test_an_instant_range_bound_is_normalized(self):
        criterion = parse_criterion("lastUpdate.gte", "2026-01-01", FILTERS)
        assert criterion == Criterion("lastUpdate", "gte", ("2026-01-01T00:00:00.000Z",))

    def test_a_range_bound_is_one_value_even_with_commas(self):
        assert parse_criterion("name.gt", "A,B", FILTERS).values == ("A,B",)

    def test_a_boolean_has_no_range(self):
        with pytest.raises(InvalidRequest, match="no range"):
            parse_criterion("isBundle.gt", "true", FILTERS)

    def test_a_suffix_alone_is_not_an_attribute(self):
        with pytest.raises(InvalidRequest, match="not a filterable attribute"):
            parse_criterion(".gt", "1", FILTERS)


class TestUnknownFilterKeys:
    @pytest.mark.parametrize(
        "key",
        [
            "nickname",
            "name[$ne]",
            "$where",
            "name.$gt",
            "$or",
            "name.$regex",
            "price",  # only price.value is declared
            "relatedParty",
            "name.gt.lt",
        ],
    )
    def test_are_refused_never_passed_on(self, key):
        with pytest.raises(InvalidRequest, match="not a filterable attribute") as refused:
            parse_criterion(key, "x", FILTERS)
        assert "allowed: id, isBundle, lastUpdate, name, price.value" in refused.value.message

    @pytest.mark.parametrize("raw", ['{"$ne": null}', '{"$gt": ""}', "[1,2]"])
    def test_values_that_look_like_json_objects_stay_literal_strings(self, raw):
        criterion = parse_criterion("name", raw, FILTERS)
        assert all(isinstance(value, str) for value in criterion.values)
        assert ",".join(criterion.values) == raw


class TestListQueries:
    def test_an_empty_query_has_no_criteria_or_sort_and_the_default_page(self):
        assert parse("") == ListQuery(criteria=(), sort=(), offset=0, limit=20, fields=None)

    def test_collects_every_filter(self):
        query = parse("name=Alice&isBundle=false")
        assert query.criteria == (
            Criterion("name", "eq", ("Alice",)),
            Criterion("isBundle", "eq", (False,)),
        )

    def test_a_repeated_filter_gives_two_criteria(self):
        query = parse("price.value.gte=1&price.value.lt=5")
        assert [c.op for c in query.criteria] == ["gte", "lt"]

    def test_reserved_parameters_are_not_filters(self):
        query = parse("offset=5&limit=10&sort=name&fields=name")
        assert query.criteria == ()

    @pytest.mark.parametrize("name", ["offset", "limit", "sort", "fields"])
    def test_a_reserved_parameter_given_twice_is_refused(self, name):
        with pytest.raises(InvalidRequest, match="more than once"):
            parse(f"{name}=1&{name}=2")

    def test_an_unknown_filter_is_refused_in_a_whole_query(self):
        with pytest.raises(InvalidRequest):
            parse("name=Alice&$where=1")


class TestPaging:
    def test_reads_offset_and_limit(self):
        query = parse("offset=40&limit=10")
        assert (query.offset, query.limit) == (40, 10)

    def test_empty_values_take_the_defaults(self):
        query = parse("offset=&limit=")
        assert (query.offset, query.limit) == (0, 20)

    def test_a_limit_above_the_maximum_is_clamped(self):
        assert parse("limit=5000").limit == 50

    def test_the_maximum_itself_is_allowed(self):
        assert parse("limit=50").limit == 50

    @pytest.mark.parametrize("query", ["limit=0", "limit=-1", "offset=-1"])
    def test_out_of_range_numbers_are_refused(self, query):
        with pytest.raises(InvalidRequest, match="must be at least"):
            parse(query)

    @pytest.mark.parametrize("query", ["limit=ten", "offset=1.5", "limit=1e3", "offset=0x10"])
    def test_what_is_not_an_integer_is_refused(self, query):
        with pytest.raises(InvalidRequest, match="not an integer"):
            parse(query)


class TestSorting:
    def test_a_plain_key_sorts_ascending(self):
        assert parse("sort=name").sort == (SortKey("name", descending=False),)

    def test_a_minus_sorts_descending(self):
        assert parse("sort=-lastUpdate").sort == (SortKey("lastUpdate", descending=True),)

    def test_a_plus_sorts_ascending(self):
        assert parse("sort=+name").sort == (SortKey("name"),)

    def test_keys_are_applied_in_the_given_order(self):
        assert parse("sort=-price.value,name").sort == (
            SortKey("price.value", descending=True),
            SortKey("name"),
        )

    @pytest.mark.parametrize("raw", ["nickname", "-$natural", "name,", "-"])
    def test_an_unknown_key_is_refused(self, raw):
        with pytest.raises(InvalidRequest, match="not sortable"):
            parse(f"sort={raw}")


class TestFieldsSelection:
    RESOURCE: ClassVar[dict[str, Any]] = {
        "id": "42",
        "href": "http://bss.test/customer/42",
        "@type": "Customer",
        "name": "Alice",
        "status": "Approved",
        "engagedParty": {"id": "p1", "name": "Alice Liddell", "@referredType": "Individual"},
        "contactMedium": [
            {"mediumType": "email", "characteristic": {"emailAddress": "a@b.test"}},
            {"mediumType": "phone", "characteristic": {"phoneNumber": "+331"}},
        ],
    }

    def select(self, raw):
        return select_fields(self.RESOURCE, parse(f"fields={raw}").fields)

    def test_without_fields_the_whole_resource_is_returned(self):
        assert select_fields(self.RESOURCE, None) == self.RESOURCE

    def test_returns_the_named_attributes_and_always_id_href_and_type(self):
        assert self.select("name") == {
            "id": "42",
            "href": "http://bss.test/customer/42",
            "@type": "Customer",
            "name": "Alice",
        }

    def test_an_empty_selection_still_identifies_the_resource(self):
        assert set(self.select("")) == {"id", "href", "@type"}

    def test_unknown_names_are_ignored(self):
        assert set(self.select("name,nickname,engagedParty.age")) == {
            "id",
            "href",
            "@type",
            "name",
            "engagedParty",
        }

    def test_a_nested_path_selects_inside_an_object(self):
        assert self.select("engagedParty.name")["engagedParty"] == {"name": "Alice Liddell"}

    def test_a_nested_path_selects_inside_each_element_of_a_list(self):
        email, phone = self.select("contactMedium.characteristic.emailAddress")["contactMedium"]
        assert email == {"characteristic": {"emailAddress": "a@b.test"}}
        assert "phoneNumber" not in phone.get("characteristic", {})
        assert "mediumType" not in phone

    def test_nested_paths_under_one_attribute_are_merged(self):
        assert self.select("engagedParty.id,engagedParty.name")["engagedParty"] == {
            "id": "p1",
            "name": "Alice Liddell",
        }

    def test_blanks_around_names_are_ignored(self):
        assert "status" in self.select(" status , name")


class TestMatchingInMemory:
    DOCUMENT: ClassVar[dict[str, Any]] = {
        "name": "Alice",
        "isBundle": False,
        "lastUpdate": "2026-11-25T10:00:00.000Z",
        "price": {"value": Decimal("9.99")},
        "quantity": 9,
        "relatedParty": [{"id": "p1"}, {"id": "p2"}],
    }

    def holds(self, *criteria):
        return matches(self.DOCUMENT, criteria)

    def test_no_criteria_match_everything(self):
        assert matches({}, [])

    def test_equality_on_a_string(self):
        assert self.holds(Criterion("name", "eq", ("Alice",)))
        assert not self.holds(Criterion("name", "eq", ("alice",)))

    def test_any_of_the_alternatives_matches(self):
        assert self.holds(Criterion("name", "eq", ("Bob", "Alice")))
        assert not self.holds(Criterion("name", "eq", ("Bob", "Carol")))

    def test_all_criteria_must_hold(self):
        alice = Criterion("name", "eq", ("Alice",))
        assert not self.holds(alice, Criterion("isBundle", "eq", (True,)))
        assert self.holds(alice, Criterion("isBundle", "eq", (False,)))

    def test_a_boolean_matches_the_query_text_too(self):
        assert self.holds(Criterion("isBundle", "eq", ("false",)))

    def test_a_nested_path_is_followed(self):
        assert self.holds(Criterion("price.value", "eq", (Decimal("9.99"),)))

    def test_a_list_matches_when_any_element_does(self):
        assert self.holds(Criterion("relatedParty.id", "eq", ("p2",)))
        assert not self.holds(Criterion("relatedParty.id", "eq", ("p3",)))

    def test_a_missing_attribute_never_matches(self):
        assert not self.holds(Criterion("status", "eq", ("Approved",)))
        assert not self.holds(Criterion("name.first", "eq", ("Alice",)))

    def test_numbers_are_equal_whatever_their_notation(self):
        assert self.holds(Criterion("quantity", "eq", (Decimal("9.0"),)))
        assert self.holds(Criterion("quantity", "eq", ("9",)))

    @pytest.mark.parametrize(
        ("op", "bound", "expected"),
        [
            ("gt", "10", False),
            ("lt", "10", True),
            ("gte", "9", True),
            ("lte", "8.5", False),
        ],
    )
    def test_number_ranges_compare_numbers_not_text(self, op, bound, expected):
        assert self.holds(Criterion("quantity", op, (Decimal(bound),))) is expected

    def test_a_number_range_against_query_text_compares_numbers(self):
        assert not self.holds(Criterion("quantity", "gt", ("10",)))
        assert self.holds(Criterion("price.value", "lt", ("10",)))

    @pytest.mark.parametrize(
        ("op", "bound", "expected"),
        [
            ("gt", "2026-11-25T09:59:59.999Z", True),
            ("gte", "2026-11-25T10:00:00.000Z", True),
            ("lt", "2026-11-25T10:00:00.000Z", False),
            ("lte", "2026-11-25T10:00:00.000Z", True),
        ],
    )
    def test_instant_ranges_compare_the_canonical_strings(self, op, bound, expected):
        assert self.holds(Criterion("lastUpdate", op, (bound,))) is expected

    def test_a_range_never_matches_a_value_of_another_kind(self):
        assert not self.holds(Criterion("name", "gt", (Decimal("1"),)))
        assert not self.holds(Criterion("relatedParty", "gt", ("a",)))
