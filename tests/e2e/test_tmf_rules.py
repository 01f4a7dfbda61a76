"""The TMF API rules (TMF630 as we apply it), checked over HTTP for every resource of CASES.

Read-only listing tests share one app populated with samples of every type (`listings`);
tests that write get an empty database each (`client`). A test that needs what some
resources lack (a state, an instant filter, an operation clients may do) runs for the
others only.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.e2e.checks import (
    JSON,
    JSON_PATCH,
    MERGE_PATCH,
    assert_instants_canonical,
    assert_tmf_error,
    ids,
    instants_in,
    send_json,
)
from tests.e2e.conftest import fresh_database_name, running_app
from tests.e2e.resources import CASES, CREATE, DELETE, PATCH, ResourceCase

SAMPLES = 5
SMALL_PAGES = {"page_default_limit": 2, "page_max_limit": 3}
IDENTITY = {"id", "href", "@type"}


@pytest.fixture(params=CASES, ids=str)
def case(request: Any) -> ResourceCase:
    return request.param


@pytest.fixture(autouse=True)
def given(request: Any, case: ResourceCase) -> None:
    """What the samples of the case refer to exists in the empty database a test writes
    to (`client`)."""
    if "client" in request.fixturenames:
        case.prepare(request.getfixturevalue("client"))


def clients_may(operation: str) -> list[ResourceCase]:
    """The resources clients may do that to (CREATE, PATCH, DELETE)."""
    return [case for case in CASES if operation in case.operations]


def cases_where(keep: Callable[[ResourceCase], bool]) -> Any:
    """Runs a test for the resources `keep` holds for only."""
    return pytest.mark.parametrize("case", [case for case in CASES if keep(case)], ids=str)


def allowing(operation: str) -> Any:
    """Runs a test (or every test of a class) for `clients_may(operation)` only."""
    return cases_where(lambda case: operation in case.operations)


def in_chunks(data: bytes, size: int = 16) -> Iterator[bytes]:
    """A body the client sends with Transfer-Encoding: chunked (no Content-Length)."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def create(client: Any, case: ResourceCase, n: int = 0, **changes: Any) -> dict[str, Any]:
    return case.add(client, {**case.new_body(n), **changes})


# --- one populated app, shared by the read-only tests -----------------------------------


@dataclass
class Listing:
    case: ResourceCase
    client: Any  # default paging settings
    small_pages: Any  # the same database, page_default_limit 2 and page_max_limit 3
    samples: list[dict[str, Any]]  # as created; sample n at index n

    def get(self, client: Any = None, **params: Any) -> Any:
        return (client or self.client).get(self.case.collection_url, params=params)

    def ids_where(self, keep: Any) -> list[str]:
        """Ids of the samples kept, in the order a list without `sort` gives them."""
        ids = [sample["id"] for n, sample in enumerate(self.samples) if keep(n)]
        return sorted(ids) if self.case.listed_by_id else ids


class Listings:
    """SAMPLES resources of each type once asked for, read by two apps on their database
    (one with small pages). The types share one database, except a type whose samples
    refer to resources stored first (`ResourceCase.given`): it has one of its own, so that
    those are not listed with their own type's samples."""

    def __init__(self, mongo_uri: str, stack: contextlib.ExitStack) -> None:
        self._mongo_uri = mongo_uri
        self._stack = stack
        self._clients: dict[str, tuple[Any, Any]] = {}  # by database: default, small pages
        self._made: dict[str, Listing] = {}

    def of(self, case: ResourceCase) -> Listing:
        if case.name not in self._made:
            client, small_pages = self._apps(case.name if case.given else "shared")
            case.prepare(client)
            samples = [create(client, case, n) for n in range(SAMPLES)]
            self._made[case.name] = Listing(case, client, small_pages, samples)
        return self._made[case.name]

    def _apps(self, database: str) -> tuple[Any, Any]:
        if database not in self._clients:
            name, stack = fresh_database_name(), self._stack
            app = stack.enter_context(running_app(self._mongo_uri, name))
            small = stack.enter_context(running_app(self._mongo_uri, name, **SMALL_PAGES))
            self._clients[database] = (
                stack.enter_context(app.test_client()),
                stack.enter_context(small.test_client()),
            )
        return self._clients[database]


@pytest.fixture(scope="module")
def listings(mongo_uri: str) -> Iterator[Listings]:
    with contextlib.ExitStack() as stack:
        yield Listings(mongo_uri, stack)


@pytest.fixture
def listing(listings: Listings, case: ResourceCase) -> Listing:
    return listings.of(case)


# --- create and read --------------------------------------------------------------------


class TestCreate:
    @allowing(CREATE)
    def test_returns_201_with_the_full_resource_and_its_location(self, client, case):
        body = case.new_body(0)
        response = client.post(case.collection_url, json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        for attribute, value in body.items():
            assert created[attribute] == value, attribute
        assert isinstance(created["id"], str) and created["id"]
        assert created["href"] == case.href(created["id"])
        assert response.headers["location"] == created["href"]

    @allowing(CREATE)
    def test_the_server_assigns_id_href_and_the_default_type(self, client, case):
        body = {**case.new_body(0), "id": "chosen-by-client", "href": "http://evil.test/x"}
        body.pop("@type", None)
        created = client.post(case.collection_url, json=body).json()
        assert created["id"] != "chosen-by-client"
        assert created["href"] == case.href(created["id"])
        assert created["@type"] == case.name

    @cases_where(lambda case: CREATE in case.operations and case.state is not None)
    def test_a_resource_without_a_state_starts_in_the_initial_state(self, client, case):
        body = case.new_body(0)
        body.pop(case.state.attribute, None)
        created = client.post(case.collection_url, json=body).json()
        assert created[case.state.attribute] == case.state.initial

    @allowing(CREATE)
    def test_the_created_resource_reads_back_unchanged(self, client, case):
        created = create(client, case)
        response = client.get(case.url(created["id"]))
        assert response.status_code == 200
        assert response.json() == created

    @allowing(CREATE)
    def test_responses_are_json_in_utf8(self, client, case):
        created = client.post(case.collection_url, json=case.new_body(0))
        listed = client.get(case.collection_url)
        missing = client.get(case.url("no-such-id"))
        for response in (created, listed, missing):
            content_type = response.headers["content-type"].replace(" ", "").lower()
            assert content_type == "application/json;charset=utf-8"

    @cases_where(
        lambda case: (
            CREATE in case.operations and any(instants_in(case.new_body(0), case.instant_keys))
        )
    )
    def test_instants_come_back_in_utc_with_milliseconds_and_z(self, client, case):
        body = case.new_body(0)
        canonical = dict(instants_in(body, case.instant_keys))
        shifted = in_another_zone(body, case.instant_keys)
        assert dict(instants_in(shifted, case.instant_keys)) != canonical
        created = client.post(case.collection_url, json=shifted).json()
        assert dict(instants_in(case.without_server_set(created), case.instant_keys)) == canonical
        assert_instants_canonical(created, case.instant_keys)
        assert_instants_canonical(client.get(case.url(created["id"])).json(), case.instant_keys)


def in_another_zone(value: Any, keys: frozenset[str]) -> Any:
    """The same document with every instant written as local time at +02:00, microseconds."""
    plus_two = timezone(timedelta(hours=2))
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(plus_two).isoformat()
            if k in keys
            else in_another_zone(v, keys)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [in_another_zone(item, keys) for item in value]
    return value


class TestRead:
    def test_an_unknown_id_is_404_with_an_error_body(self, client, case):
        assert_tmf_error(client.get(case.url("no-such-id")), 404)

    def test_fields_select_attributes_of_one_resource(self, client, case):
        created = create(client, case)
        attribute = next(iter(case.change))
        response = client.get(case.url(created["id"]), params={"fields": attribute})
        assert response.status_code == 200
        assert response.json() == {key: created[key] for key in IDENTITY | {attribute}}


# --- list: paging and attribute selection ------------------------------------------------


class TestList:
    def test_is_a_bare_array_with_counts_and_200_when_everything_fits(self, listing):
        response = listing.get()
        assert response.status_code == 200
        assert isinstance(response.json(), list)
        assert sorted(ids(response.json())) == sorted(ids(listing.samples))
        assert response.headers["x-total-count"] == str(SAMPLES)
        assert response.headers["x-result-count"] == str(SAMPLES)

    def test_a_partial_page_is_206_with_counts(self, listing):
        response = listing.get(offset=1, limit=2)
        assert response.status_code == 206
        assert len(response.json()) == 2
        assert response.headers["x-total-count"] == str(SAMPLES)
        assert response.headers["x-result-count"] == "2"

    def test_the_last_page_holding_the_rest_is_still_partial(self, listing):
        response = listing.get(offset=4, limit=2)
        assert response.status_code == 206
        assert len(response.json()) == SAMPLES - 4

    @pytest.mark.parametrize("direction", [None, "", "-"], ids=["unsorted", "asc", "desc"])
    def test_paging_neither_skips_nor_repeats(self, listing, direction):
        order = {} if direction is None else {"sort": direction + listing.case.sort_keys[1]}
        everything = ids(listing.get(**order).json())
        assert ids(listing.get(**order).json()) == everything  # the order is stable
        pages = [listing.get(offset=offset, limit=2, **order).json() for offset in (0, 2, 4)]
        assert [i for page in pages for i in ids(page)] == everything
        assert sorted(everything) == sorted(ids(listing.samples))

    def test_a_limit_above_the_maximum_is_clamped_to_it(self, listing):
        response = listing.get(listing.small_pages, limit=1000)
        assert response.status_code == 206
        assert len(response.json()) == SMALL_PAGES["page_max_limit"]
        assert response.headers["x-result-count"] == str(SMALL_PAGES["page_max_limit"])
        assert response.headers["x-total-count"] == str(SAMPLES)

    def test_without_a_limit_the_default_page_size_applies(self, listing):
        response = listing.get(listing.small_pages)
        assert response.status_code == 206
        assert len(response.json()) == SMALL_PAGES["page_default_limit"]

    def test_fields_return_only_those_plus_id_href_and_type(self, listing):
        attribute = next(iter(listing.case.change))
        items = listing.get(fields=attribute).json()
        assert len(items) == SAMPLES
        by_id = {sample["id"]: sample for sample in listing.samples}
        for item in items:
            assert set(item) == IDENTITY | {attribute}
            assert item == {key: by_id[item["id"]][key] for key in IDENTITY | {attribute}}

    def test_nested_fields_select_inside_an_attribute(self, listing):
        head, leaf = listing.case.nested_field.split(".")
        items = listing.get(fields=listing.case.nested_field).json()
        by_id = {sample["id"]: sample for sample in listing.samples}
        for item in items:
            assert set(item) == IDENTITY | {head}
            assert item[head] == {leaf: by_id[item["id"]][head][leaf]}

    def test_unknown_field_names_are_ignored(self, listing):
        attribute = next(iter(listing.case.change))
        response = listing.get(fields=f"{attribute},noSuchAttribute,{attribute}.nothing.deeper")
        assert response.status_code == 200
        for item in response.json():
            assert set(item) == IDENTITY | {attribute}


# --- list: filters and sort ------------------------------------------------------------

FILTERS = [pytest.param(c, f, id=f"{c}-{f.key}") for c in CASES for f in c.filterable]


class TestFilter:
    @pytest.mark.parametrize("case, filterable", FILTERS)
    def test_each_filterable_attribute_selects_the_matching_resources(
        self, listings, case, filterable
    ):
        listing = listings.of(case)
        wanted = filterable.value_of(1)
        response = listing.get(**{filterable.key: wanted})
        assert response.status_code == 200
        expected = listing.ids_where(lambda n: filterable.value_of(n) == wanted)
        assert ids(response.json()) == expected
        assert response.headers["x-total-count"] == str(len(expected))

    @pytest.mark.parametrize("case, filterable", FILTERS)
    def test_comma_separated_values_are_alternatives(self, listings, case, filterable):
        listing = listings.of(case)
        wanted = {filterable.value_of(0), filterable.value_of(2)}
        response = listing.get(**{filterable.key: ",".join(sorted(wanted))})
        expected = listing.ids_where(lambda n: filterable.value_of(n) in wanted)
        assert len(expected) >= 2
        assert ids(response.json()) == expected

    def test_id_selects_by_identifier_and_accepts_alternatives(self, listing):
        first, _, third, *_ = ids(listing.samples)
        assert ids(listing.get(id=third).json()) == [third]
        both = listing.ids_where(lambda n: n in (0, 2))  # in list order
        assert ids(listing.get(id=f"{third},{first}").json()) == both

    @cases_where(lambda case: case.range_attribute is not None)
    def test_instants_filter_by_range_with_gte_and_lt(self, listing):
        key, value_of = listing.case.range_attribute, listing.case.filter_value
        assert ids(listing.get(**{f"{key}.gte": value_of(key, 3)}).json()) == listing.ids_where(
            lambda n: n >= 3
        )
        assert ids(listing.get(**{f"{key}.lt": value_of(key, 2)}).json()) == listing.ids_where(
            lambda n: n < 2
        )
        between = {f"{key}.gte": value_of(key, 1), f"{key}.lt": value_of(key, 3)}
        assert ids(listing.get(**between).json()) == listing.ids_where(lambda n: 1 <= n < 3)

    @cases_where(lambda case: len(case.filterable) > 2)
    def test_all_given_filters_must_hold(self, listing):
        first, second = listing.case.filterable[0], listing.case.filterable[2]
        both = {first.key: first.value_of(1), second.key: second.value_of(1)}
        assert ids(listing.get(**both).json()) == [listing.samples[1]["id"]]
        crossed = {first.key: first.value_of(1), second.key: second.value_of(2)}
        assert listing.get(**crossed).json() == []

    def test_a_filter_matching_nothing_is_an_empty_200(self, listing):
        key = listing.case.filterable[0].key
        response = listing.get(**{key: "matches-nothing"})
        assert response.status_code == 200
        assert response.json() == []
        assert response.headers["x-total-count"] == "0"
        assert response.headers["x-result-count"] == "0"


def attribute_at(resource: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        resource = resource[part]
    return resource


class TestSort:
    def test_sorts_ascending_and_descending(self, listing):
        key = listing.case.sort_keys[1]
        by_key = sorted(listing.samples, key=lambda sample: attribute_at(sample, key))
        assert ids(listing.get(sort=key).json()) == ids(by_key)
        assert ids(listing.get(sort=f"-{key}").json()) == ids(by_key[::-1])

    def test_sorts_by_several_keys_in_order(self, listing):
        first, second = listing.case.sort_keys
        expected = sorted(listing.samples, key=lambda s: attribute_at(s, second), reverse=True)
        expected.sort(key=lambda sample: attribute_at(sample, first))  # stable: ties keep -second
        first_values = [attribute_at(sample, first) for sample in expected]
        assert len(set(first_values)) < len(first_values), "the first key needs ties"
        assert ids(listing.get(sort=f"{first},-{second}").json()) == ids(expected)


# --- patch -------------------------------------------------------------------------------


def as_json_patch(resource: dict[str, Any], merge: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"op": "replace" if key in resource else "add", "path": f"/{key}", "value": value}
        for key, value in merge.items()
    ]


def assert_changed_to(case: ResourceCase, actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """`actual` is `expected`, except for what the server rewrites on every change."""
    assert case.without_server_set(actual) == case.without_server_set(expected)
    assert case.server_set <= actual.keys()


class TestPatch:
    @allowing(PATCH)
    @pytest.mark.parametrize("content_type", [MERGE_PATCH, JSON, JSON_PATCH])
    def test_returns_200_with_the_full_updated_resource(self, client, case, content_type):
        before = create(client, case)
        change = dict(case.change)
        document = as_json_patch(before, change) if content_type == JSON_PATCH else change
        response = send_json(client, "PATCH", case.url(before["id"]), document, content_type)
        assert response.status_code == 200, response.text
        assert_changed_to(case, response.json(), {**before, **change})
        assert client.get(case.url(before["id"])).json() == response.json()

    @cases_where(lambda case: PATCH in case.operations and case.optional_attribute is not None)
    @pytest.mark.parametrize("content_type", [MERGE_PATCH, JSON])
    def test_null_in_a_merge_patch_removes_the_attribute(self, client, case, content_type):
        before = create(client, case)
        document = {case.optional_attribute: None}
        response = send_json(client, "PATCH", case.url(before["id"]), document, content_type)
        assert response.status_code == 200, response.text
        expected = {k: v for k, v in before.items() if k != case.optional_attribute}
        assert_changed_to(case, response.json(), expected)
        assert client.get(case.url(before["id"])).json() == response.json()

    @allowing(PATCH)
    @pytest.mark.parametrize("content_type", [MERGE_PATCH, JSON_PATCH])
    def test_non_patchable_attributes_are_refused(self, client, case, content_type):
        before = create(client, case)
        for attribute, value in case.not_patchable.items():
            merge = {attribute: value}
            document = as_json_patch(before, merge) if content_type == JSON_PATCH else merge
            response = send_json(client, "PATCH", case.url(before["id"]), document, content_type)
            assert attribute in assert_tmf_error(response, 400)["message"]
        assert client.get(case.url(before["id"])).json() == before

    @cases_where(lambda case: PATCH in case.operations and bool(case.state and case.state.allowed))
    def test_an_allowed_state_transition_is_applied(self, client, case):
        before = create(client, case, **{case.state.attribute: case.state.initial})
        change = {case.state.attribute: case.state.allowed}
        response = client.patch(case.url(before["id"]), json=change)
        assert response.status_code == 200
        assert_changed_to(case, response.json(), {**before, **change})

    @cases_where(lambda case: PATCH in case.operations and bool(case.state and case.state.illegal))
    def test_an_illegal_state_transition_is_400_naming_the_allowed_states(self, client, case):
        before = create(client, case, **{case.state.attribute: case.state.initial})
        change = {case.state.attribute: case.state.illegal}
        message = assert_tmf_error(client.patch(case.url(before["id"]), json=change), 400)[
            "message"
        ]
        for allowed in case.state.allowed_from_initial:
            assert allowed in message
        assert client.get(case.url(before["id"])).json() == before

    @allowing(PATCH)
    def test_an_unknown_id_is_404(self, client, case):
        assert_tmf_error(client.patch(case.url("no-such-id"), json=dict(case.change)), 404)


@allowing(DELETE)
class TestDelete:
    def test_is_204_and_the_resource_is_gone(self, client, case):
        kept, deleted = create(client, case, 0), create(client, case, 1)
        response = client.delete(case.url(deleted["id"]))
        assert response.status_code == 204
        assert response.content == b""
        assert_tmf_error(client.get(case.url(deleted["id"])), 404)
        assert_tmf_error(client.delete(case.url(deleted["id"])), 404)
        assert ids(client.get(case.collection_url).json()) == [kept["id"]]


# --- HTTP protocol -----------------------------------------------------------------------


class TestProtocol:
    @pytest.mark.parametrize(
        "path", ["{api}/noSuchResource", "/noSuchApi/v4/customer", "{collection}/some-id/extra"]
    )
    def test_an_unknown_path_is_404_with_an_error_body(self, client, case, path):
        url = path.format(api=case.api, collection=case.collection_url)
        assert_tmf_error(client.get(url), 404)

    @pytest.mark.parametrize(
        "method, target", [("PUT", "item"), ("POST", "item"), ("DELETE", "collection")]
    )
    def test_a_wrong_method_is_405_with_an_error_body(self, client, case, method, target):
        created = create(client, case)
        url = case.url(created["id"]) if target == "item" else case.collection_url
        assert_tmf_error(client.request(method, url, json=dict(case.change)), 405)
        assert client.get(case.url(created["id"])).json() == created

    @pytest.mark.parametrize(
        "case, method, content_type",
        [
            *[(c, "POST", "text/plain") for c in clients_may(CREATE)],
            *[(c, "POST", "application/x-www-form-urlencoded") for c in clients_may(CREATE)],
            *[(c, "PATCH", "text/plain") for c in clients_may(PATCH)],
            *[(c, "PATCH", "application/xml") for c in clients_may(PATCH)],
        ],
        ids=str,
    )
    def test_an_unsupported_media_type_is_415_with_an_error_body(
        self, client, case, method, content_type
    ):
        created = create(client, case)
        url = case.collection_url if method == "POST" else case.url(created["id"])
        response = send_json(client, method, url, dict(case.change), content_type)
        assert_tmf_error(response, 415)
        assert client.get(case.collection_url).json() == [created]

    @allowing(CREATE)
    def test_a_chunked_create_body_without_content_length_is_read(self, client, case):
        """HTTP/1.1 clients may stream a body in chunks instead of announcing its length."""
        created = client.post(
            case.collection_url,
            content=in_chunks(json.dumps(case.new_body(0)).encode()),
            headers={"Content-Type": JSON},
        )
        assert created.status_code == 201, created.text
        assert created.request.headers["transfer-encoding"] == "chunked"
        assert client.get(case.url(created.json()["id"])).json() == created.json()

    @allowing(PATCH)
    def test_a_chunked_patch_body_without_content_length_is_read(self, client, case):
        created = create(client, case)
        changed = client.patch(
            case.url(created["id"]),
            content=in_chunks(json.dumps(dict(case.change)).encode()),
            headers={"Content-Type": MERGE_PATCH},
        )
        assert changed.status_code == 200, changed.text
        assert changed.request.headers["transfer-encoding"] == "chunked"
        assert_changed_to(case, changed.json(), {**created, **case.change})

    def test_get_accepts_a_json_content_type(self, client, case):
        created = create(client, case)
        headers = {"Content-Type": "application/json"}
        assert client.get(case.url(created["id"]), headers=headers).status_code == 200
        assert client.get(case.collection_url, headers=headers).status_code == 200

    @allowing(DELETE)
    def test_delete_accepts_a_json_content_type(self, client, case):
        created = create(client, case)
        headers = {"Content-Type": "application/json"}
        assert client.delete(case.url(created["id"]), headers=headers).status_code == 204

    @pytest.mark.parametrize("case", [c for c in CASES if c not in clients_may(CREATE)], ids=str)
    def test_creating_what_clients_cannot_create_is_405(self, client, case):
        response = client.post(case.collection_url, json=case.new_body(0))
        assert_tmf_error(response, 405)
        assert client.get(case.collection_url).json() == []

    @cases_where(lambda case: PATCH not in case.operations)
    def test_changing_what_clients_cannot_change_is_405(self, client, case):
        created = create(client, case)
        assert_tmf_error(client.patch(case.url(created["id"]), json=dict(case.change)), 405)
        assert client.get(case.url(created["id"])).json() == created

    def test_every_instant_in_a_list_is_canonical(self, listing):
        for item in listing.get().json():
            assert_instants_canonical(item, listing.case.instant_keys)
