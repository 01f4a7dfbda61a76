"""TMF620 rules that keep a catalog sellable, over HTTP: launch integrity, prices frozen once
launched, no dangling references, bundle and tax consistency, what is sellable when, and
the prices in effect that ordering and billing read.

Tests share one app and build the entities they need; `sellableAt` gets an app of its own,
since it lists every offering of the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.instants import parse_instant
from domain.pricing import NotSellable, prices_in_effect
from tests.e2e.catalog_setup import START, Catalog, catalog_app, money, now, priced, ref
from tests.e2e.checks import assert_tmf_error, ids

PAST = {"startDateTime": "2020-01-01T00:00:00.000Z", "endDateTime": "2021-01-01T00:00:00.000Z"}
FUTURE = {"startDateTime": "2099-01-01T00:00:00.000Z"}


@pytest.fixture(scope="module")
def catalog(mongo_uri: str) -> Iterator[Catalog]:
    with catalog_app(mongo_uri) as application:
        yield Catalog(application)


def assert_refused_and_unchanged(
    catalog: Catalog, response: Any, status: int, path: str, before: dict[str, Any], events: int
) -> str:
    """The TMF error's message; the entity reads back as before and no event was written."""
    error = assert_tmf_error(response, status)
    if status == 422:
        assert error["code"] == "ERR_INTEGRITY"
    assert catalog.get(path, before["id"]) == before
    assert catalog.outbox_count() == events
    return error["message"]


# --- launch integrity --------------------------------------------------------------------

Incomplete = Callable[[Catalog], tuple[dict[str, Any], list[str]]]


def without_specification(c: Catalog) -> tuple[dict[str, Any], list[str]]:
    return {"productSpecification": None}, ["productSpecification is required"]


def missing(attribute: str, many: bool) -> Incomplete:
    def build(c: Catalog) -> tuple[dict[str, Any], list[str]]:
        absent = {"id": f"{attribute}-that-does-not-exist"}
        return {attribute: [absent] if many else absent}, [f"'{absent['id']}' does not exist"]

    return build


def in_state(attribute: str, state: str) -> Incomplete:
    def build(c: Catalog) -> tuple[dict[str, Any], list[str]]:
        if attribute == "productSpecification":
            entity = c.specification(state)
            return {attribute: ref(entity)}, [f"'{entity['id']}' is {state}"]
        make = {"productOfferingPrice": c.price, "category": c.category}[attribute]
        entity = make(state)
        return {attribute: [ref(entity)]}, [f"'{entity['id']}' is {state}"]

    return build


def bundling_a_draft(c: Catalog) -> tuple[dict[str, Any], list[str]]:
    draft = c.offering("In Design")
    body = {"isBundle": True, "bundledProductOffering": [ref(draft)]}
    return body, [f"bundledProductOffering '{draft['id']}' is In Design"]


def bundling_nothing(c: Catalog) -> tuple[dict[str, Any], list[str]]:
    return {"isBundle": True}, ["isBundle is true but bundledProductOffering is empty"]


def bundling_without_is_bundle(c: Catalog) -> tuple[dict[str, Any], list[str]]:
    bundled = c.offering("Launched")
    body = {"isBundle": False, "bundledProductOffering": [ref(bundled)]}
    return body, ["bundledProductOffering is set but isBundle is false"]


def without_start(c: Catalog) -> tuple[dict[str, Any], list[str]]:
    return {"validFor": {"endDateTime": "2030-01-01T00:00:00.000Z"}}, ["validFor.startDateTime"]


def without_validity(c: Catalog) -> tuple[dict[str, Any], list[str]]:
    return {"validFor": None}, ["validFor.startDateTime"]


INCOMPLETE = {
    "no specification": without_specification,
    "specification missing": missing("productSpecification", many=False),
    "specification In Design": in_state("productSpecification", "In Design"),
    "specification Retired": in_state("productSpecification", "Retired"),
    "price missing": missing("productOfferingPrice", many=True),
    "price In Test": in_state("productOfferingPrice", "In Test"),
    "category missing": missing("category", many=True),
    "category In Study": in_state("category", "In Study"),
    "bundled offering missing": lambda c: (
        {"isBundle": True, "bundledProductOffering": [{"id": "po-that-does-not-exist"}]},
        ["'po-that-does-not-exist' does not exist"],
    ),
    "bundled offering In Design": bundling_a_draft,
    "isBundle without bundled offerings": bundling_nothing,
    "bundled offerings without isBundle": bundling_without_is_bundle,
    "price given inline, not by id": lambda c: (
        {"productOfferingPrice": [{"name": "Inline fee", "priceType": "oneTime"}]},
        ["productOfferingPrice", "by id"],
    ),
    "bundled offering without id": lambda c: (
        {"isBundle": True, "bundledProductOffering": [{"name": "Ghost"}]},
        ["bundledProductOffering", "by id"],
    ),
    "validFor without start": without_start,
    "no validFor": without_validity,
}


def active_offering(catalog: Catalog, changes: dict[str, Any]) -> dict[str, Any]:
    """A complete Active offering but for `changes` (None leaves an attribute out)."""
    return catalog.create("productOffering", **{**catalog.offering_body(), **changes})


class TestLaunchIntegrity:
    def test_a_complete_offering_launches(self, catalog):
        offering = catalog.offering("Active")
        response = catalog.launch("productOffering", offering)
        assert response.status_code == 200, response.text
        launched = response.json()
        assert (launched["lifecycleStatus"], launched["version"]) == ("Launched", "1.1")
        assert catalog.get("productOffering", offering["id"]) == launched

    def test_an_offering_of_launched_parts_launches(self, catalog):
        body = catalog.offering_body("Launched")
        offering = catalog.create("productOffering", **body)
        assert catalog.launch("productOffering", offering).status_code == 200

    def test_a_bundle_of_launched_offerings_needs_no_specification(self, catalog):
        parts = [catalog.offering("Launched"), catalog.offering("Launched")]
        option = {"numberRelOfferLowerLimit": 1, "numberRelOfferUpperLimit": 3}
        bundled = [{**ref(part), "bundledProductOfferingOption": option} for part in parts]
        bundle = active_offering(
            catalog, {"productSpecification": None, "bundledProductOffering": bundled}
        )
        assert bundle["isBundle"] is True
        response = catalog.launch("productOffering", bundle)
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("incomplete", INCOMPLETE.values(), ids=INCOMPLETE.keys())
    def test_an_incomplete_offering_is_422_with_the_reason_and_unchanged(self, catalog, incomplete):
        changes, reasons = incomplete(catalog)
        before = active_offering(catalog, changes)
        events = catalog.outbox_count()
        response = catalog.launch("productOffering", before)
        message = assert_refused_and_unchanged(
            catalog, response, 422, "productOffering", before, events
        )
        for reason in reasons:
            assert reason in message

    def test_every_reason_is_listed_at_once(self, catalog):
        changes: dict[str, Any] = {"validFor": None}
        reasons: list[str] = []
        for build in (
            missing("productSpecification", many=False),
            in_state("productOfferingPrice", "In Design"),
            in_state("category", "Retired"),
        ):
            more, why = build(catalog)
            changes |= more
            reasons += why
        before = active_offering(catalog, changes)
        events = catalog.outbox_count()
        response = catalog.launch("productOffering", before)
        message = assert_refused_and_unchanged(
            catalog, response, 422, "productOffering", before, events
        )
        for reason in [*reasons, "validFor.startDateTime"]:
            assert reason in message

    def test_an_end_before_the_start_is_a_reason_listed_with_the_others(self, catalog):
        before = active_offering(catalog, {"productSpecification": None})
        events = catalog.outbox_count()
        response = catalog.patch(
            "productOffering",
            before["id"],
            lifecycleStatus="Launched",
            validFor={"startDateTime": START, "endDateTime": "2025-01-01T00:00:00.000Z"},
        )
        message = assert_refused_and_unchanged(
            catalog, response, 422, "productOffering", before, events
        )
        assert "endDateTime" in message
        assert "productSpecification is required" in message

    def test_an_end_before_the_start_is_400_on_a_draft(self, catalog):
        body = {
            "name": "Ends before it starts",
            "validFor": {"startDateTime": START, "endDateTime": "2025-01-01T00:00:00.000Z"},
        }
        error = assert_tmf_error(catalog.client.post(catalog.url("category"), json=body), 400)
        assert "endDateTime" in error["message"]

    @pytest.mark.parametrize(
        "path, body, reason",
        [
            ("category", {"parentId": "cat-that-does-not-exist"}, "parentId"),
            ("catalog", {"category": [{"id": "cat-that-does-not-exist"}]}, "does not exist"),
            (
                "productSpecification",
                {"bundledProductSpecification": [{"id": "ps-that-does-not-exist"}]},
                "does not exist",
            ),
            ("productOfferingPrice", {"priceType": "recurring"}, "needs price"),
            ("productOfferingPrice", {"priceType": "usage", **priced("0.04")}, "unitOfMeasure"),
            ("productOfferingPrice", {"priceType": "discount"}, "popRelationship"),
        ],
    )
    def test_other_entities_check_what_they_need_at_launch(self, catalog, path, body, reason):
        before = catalog.create(
            path, lifecycleStatus="Active", validFor={"startDateTime": START}, **body
        )
        events = catalog.outbox_count()
        message = assert_refused_and_unchanged(
            catalog, catalog.launch(path, before), 422, path, before, events
        )
        assert reason in message


# --- launched entities: frozen prices, no dangling references -----------------------------


class TestLaunchedOfferingStaysComplete:
    @pytest.mark.parametrize(
        "change, reason",
        [
            ({"category": [{"id": "cat-that-does-not-exist"}]}, "does not exist"),
            ({"validFor": {"startDateTime": None}}, "startDateTime"),  # merge patch: removes it
            (
                {"validFor": {"startDateTime": START, "endDateTime": "2025-01-01T00:00:00.000Z"}},
                "endDateTime",
            ),
        ],
        ids=["category missing", "start removed", "end before start"],
    )
    def test_a_change_that_breaks_integrity_is_422_and_unchanged(self, catalog, change, reason):
        before = catalog.offering("Launched")
        events = catalog.outbox_count()
        response = catalog.patch("productOffering", before["id"], **change)
        message = assert_refused_and_unchanged(
            catalog, response, 422, "productOffering", before, events
        )
        assert reason in message

    def test_a_draft_category_cannot_be_added(self, catalog):
        before = catalog.offering("Launched")
        draft = catalog.category("In Design")
        response = catalog.patch(
            "productOffering", before["id"], category=[*before["category"], ref(draft)]
        )
        assert f"'{draft['id']}' is In Design" in assert_tmf_error(response, 422)["message"]

    def test_categories_and_validity_can_change_to_complete_ones(self, catalog):
        before = catalog.offering("Launched")
        other = catalog.category("Launched")
        until = {"startDateTime": START, "endDateTime": "2027-01-01T00:00:00.000Z"}
        response = catalog.patch(
            "productOffering", before["id"], category=[ref(other)], validFor=until
        )
        assert response.status_code == 200, response.text
        assert (response.json()["category"], response.json()["validFor"]) == ([ref(other)], until)


class TestLaunchedOfferingPrices:
    def test_the_price_list_of_a_launched_offering_cannot_change(self, catalog):
        before = catalog.offering("Launched")
        other = catalog.price("Launched")
        events = catalog.outbox_count()
        prices = [*before["productOfferingPrice"], ref(other)]
        response = catalog.patch("productOffering", before["id"], productOfferingPrice=prices)
        message = assert_refused_and_unchanged(
            catalog, response, 409, "productOffering", before, events
        )
        assert "productOfferingPrice" in message

    def test_the_specification_of_a_launched_offering_cannot_change(self, catalog):
        before = catalog.offering("Launched")
        spec = ref(catalog.specification("Launched"))
        events = catalog.outbox_count()
        response = catalog.patch("productOffering", before["id"], productSpecification=spec)
        assert_refused_and_unchanged(catalog, response, 409, "productOffering", before, events)

    def test_name_and_description_of_a_launched_offering_can_change(self, catalog):
        before = catalog.offering("Launched")
        response = catalog.patch(
            "productOffering", before["id"], name="SIM Only 20 GB (2026)", description="New text"
        )
        assert response.status_code == 200, response.text
        after = response.json()
        assert (after["name"], after["description"], after["version"]) == (
            "SIM Only 20 GB (2026)",
            "New text",
            "1.2",
        )
        assert after["productOfferingPrice"] == before["productOfferingPrice"]

    @pytest.mark.parametrize(
        "change",
        [
            {"price": money("20.00"), "tax": [priced("20.00")["tax"][0]]},
            {"recurringChargePeriodType": "week"},
            {"priceType": "oneTime"},
        ],
        ids=["price", "period", "priceType"],
    )
    def test_a_price_used_by_a_launched_offering_cannot_change(self, catalog, change):
        offering = catalog.offering("Launched")
        pop_id = offering["productOfferingPrice"][0]["id"]
        before = catalog.get("productOfferingPrice", pop_id)
        assert before["lifecycleStatus"] == "Active"  # frozen by its use, not its own state
        events = catalog.outbox_count()
        response = catalog.patch("productOfferingPrice", pop_id, **change)
        message = assert_refused_and_unchanged(
            catalog, response, 409, "productOfferingPrice", before, events
        )
        assert offering["id"] in message

    def test_the_description_of_a_price_in_use_can_change(self, catalog):
        offering = catalog.offering("Launched")
        pop_id = offering["productOfferingPrice"][0]["id"]
        response = catalog.patch("productOfferingPrice", pop_id, description="20.00 EUR a month")
        assert response.status_code == 200, response.text
        assert response.json()["description"] == "20.00 EUR a month"

    def test_a_launched_price_cannot_change_its_amount(self, catalog):
        before = catalog.price("Launched")
        events = catalog.outbox_count()
        response = catalog.patch("productOfferingPrice", before["id"], **priced("20.00"))
        assert_refused_and_unchanged(catalog, response, 409, "productOfferingPrice", before, events)

    def test_a_price_used_only_by_drafts_can_change(self, catalog):
        offering = catalog.offering("In Test")
        pop_id = offering["productOfferingPrice"][0]["id"]
        response = catalog.patch("productOfferingPrice", pop_id, **priced("20.00"))
        assert response.status_code == 200, response.text

    def test_once_the_offering_is_retired_its_price_can_change(self, catalog):
        offering = catalog.offering("Retired")
        pop_id = offering["productOfferingPrice"][0]["id"]
        response = catalog.patch("productOfferingPrice", pop_id, **priced("20.00"))
        assert response.status_code == 200, response.text


class TestRetiringWhatALaunchedOfferingUses:
    @pytest.mark.parametrize(
        ("path", "attribute"),
        [("productOfferingPrice", "productOfferingPrice"), ("category", "category")],
    )
    def test_is_409_naming_the_offering_and_changes_nothing(self, catalog, path, attribute):
        offering = catalog.offering("Launched")
        part_id = offering[attribute][0]["id"]
        before = catalog.get(path, part_id)

        response = catalog.patch(path, part_id, lifecycleStatus="Retired")

        assert response.status_code == 409, response.text
        assert offering["id"] in response.json()["message"]
        assert catalog.get(path, part_id) == before

    def test_works_once_the_offering_is_retired(self, catalog):
        offering = catalog.offering("Launched")
        catalog.move("productOffering", offering, "Retired")
        pop_id = offering["productOfferingPrice"][0]["id"]

        response = catalog.patch("productOfferingPrice", pop_id, lifecycleStatus="Retired")

        assert response.status_code == 200, response.text


def launched(catalog: Catalog, path: str) -> dict[str, Any]:
    if path == "productOffering":
        return catalog.offering("Launched")
    if path == "productOfferingPrice":
        return catalog.price("Launched")
    return catalog.in_state(path, "Launched")


PATHS = ("catalog", "category", "productSpecification", "productOfferingPrice", "productOffering")


class TestDeletion:
    @pytest.mark.parametrize("path", PATHS)
    def test_a_launched_entity_cannot_be_deleted(self, catalog, path):
        before = launched(catalog, path)
        events = catalog.outbox_count()
        response = catalog.delete(path, before["id"])
        message = assert_refused_and_unchanged(catalog, response, 409, path, before, events)
        assert "Launched" in message

    @pytest.mark.parametrize(
        "attribute, path",
        [
            ("productSpecification", "productSpecification"),
            ("productOfferingPrice", "productOfferingPrice"),
            ("category", "category"),
        ],
    )
    def test_an_entity_a_launched_offering_refers_to_cannot_be_deleted(
        self, catalog, attribute, path
    ):
        offering = catalog.offering("Launched")
        value = offering[attribute]
        before = catalog.get(path, (value[0] if isinstance(value, list) else value)["id"])
        events = catalog.outbox_count()
        response = catalog.delete(path, before["id"])
        message = assert_refused_and_unchanged(catalog, response, 409, path, before, events)
        assert offering["id"] in message

    def test_an_offering_in_a_launched_bundle_cannot_be_deleted(self, catalog):
        part = catalog.offering("Active")
        bundle = active_offering(
            catalog, {"productSpecification": None, "bundledProductOffering": [ref(part)]}
        )
        assert catalog.launch("productOffering", bundle).status_code == 200
        events = catalog.outbox_count()
        response = catalog.delete("productOffering", part["id"])
        message = assert_refused_and_unchanged(
            catalog, response, 409, "productOffering", part, events
        )
        assert bundle["id"] in message

    def test_what_only_drafts_refer_to_can_be_deleted(self, catalog):
        offering = catalog.offering("In Design")
        spec_id = offering["productSpecification"]["id"]
        assert catalog.delete("productSpecification", spec_id).status_code == 204
        assert catalog.get("productOffering", offering["id"]) == offering

    @pytest.mark.parametrize("path", PATHS)
    @pytest.mark.parametrize("state", ["In Study", "Active", "Retired"])
    def test_an_entity_that_is_not_launched_is_deleted(self, catalog, path, state):
        entity = catalog.in_state(
            path, state, **({"priceType": "oneTime"} if path == "productOfferingPrice" else {})
        )
        response = catalog.delete(path, entity["id"])
        assert response.status_code == 204, response.text
        assert_tmf_error(catalog.client.get(catalog.url(path, entity["id"])), 404)


# --- consistency in every state ----------------------------------------------------------


def bundle_with(option: dict[str, Any]) -> dict[str, Any]:
    return {"bundledProductOffering": [{"id": "po-part", "bundledProductOfferingOption": option}]}


class TestBundleCardinality:
    @pytest.mark.parametrize(
        "option",
        [
            {"numberRelOfferLowerLimit": 3, "numberRelOfferUpperLimit": 2},
            {"numberRelOfferLowerLimit": -1},
            {
                "numberRelOfferLowerLimit": 2,
                "numberRelOfferUpperLimit": 5,
                "numberRelOfferDefault": 6,
            },
            {"numberRelOfferLowerLimit": 2, "numberRelOfferDefault": 1},
        ],
        ids=["upper below lower", "negative lower", "default above upper", "default below lower"],
    )
    def test_limits_out_of_order_are_400_on_create_and_on_patch(self, catalog, option):
        error = assert_tmf_error(
            catalog.client.post(
                catalog.url("productOffering"), json={"name": "Bad bundle", **bundle_with(option)}
            ),
            400,
        )
        assert "bundledProductOffering[0].bundledProductOfferingOption" in error["message"]
        before = catalog.create("productOffering", **bundle_with({"numberRelOfferLowerLimit": 1}))
        response = catalog.patch("productOffering", before["id"], **bundle_with(option))
        assert_tmf_error(response, 400)
        assert catalog.get("productOffering", before["id"]) == before

    def test_limits_in_order_are_kept(self, catalog):
        option = {
            "numberRelOfferLowerLimit": 2,
            "numberRelOfferUpperLimit": 5,
            "numberRelOfferDefault": 2,
        }
        created = catalog.create("productOffering", **bundle_with(option))
        assert created["bundledProductOffering"][0]["bundledProductOfferingOption"] == option
        assert created["isBundle"] is True


class TestTaxes:
    def test_a_tax_amount_equal_to_the_rounded_price_times_rate_is_accepted(self, catalog):
        # 8.13 * 23 % = 1.8699, rounded half up to the cent
        created = catalog.create(
            "productOfferingPrice", priceType="oneTime", **priced("8.13", tax="1.87")
        )
        assert created["tax"][0]["taxAmount"] == money("1.87")

    @pytest.mark.parametrize(
        "price, mention",
        [
            (priced("8.13", tax="1.86"), "should be 1.87"),
            (priced("8.13", tax="1.8699"), "should be 1.87"),
            ({**priced("8.13"), "price": {"unit": "USD", "value": 8.13}}, "currency"),
            ({"tax": priced("8.13")["tax"]}, "needs a price"),
            ({**priced("8.13"), "tax": [{"taxCategory": "VAT", "taxRate": 23}]}, "taxAmount"),
        ],
        ids=["one cent off", "unrounded", "other currency", "no price", "no amount"],
    )
    def test_an_inconsistent_tax_is_400(self, catalog, price, mention):
        body = {"name": "Taxed", "priceType": "oneTime", **price}
        error = assert_tmf_error(
            catalog.client.post(catalog.url("productOfferingPrice"), json=body), 400
        )
        assert mention in error["message"]
        listed = catalog.client.get(catalog.url("productOfferingPrice"), params={"name": "Taxed"})
        assert listed.json() == []

    def test_a_new_price_with_the_old_tax_is_400_and_nothing_changes(self, catalog):
        before = catalog.create("productOfferingPrice", priceType="oneTime", **priced("8.13"))
        events = catalog.outbox_count()
        response = catalog.patch("productOfferingPrice", before["id"], price=money("9.00"))
        message = assert_refused_and_unchanged(
            catalog, response, 400, "productOfferingPrice", before, events
        )
        assert "tax[0].taxAmount" in message


# --- sellable offerings and prices in effect ----------------------------------------------

IN_2020 = "2020-06-01T00:00:00.000Z"
IN_2099 = "2099-06-01T00:00:00.000Z"


@pytest.fixture(scope="class")
def shop(mongo_uri: str) -> Iterator[tuple[Catalog, dict[str, dict[str, Any]]]]:
    """Offerings of every kind in a database of their own, by what makes them (un)sellable."""
    with catalog_app(mongo_uri) as application:
        c = Catalog(application)
        body = c.offering_body("Launched")

        def offering(state: str, **changes: Any) -> dict[str, Any]:
            created = c.create("productOffering", **{**body, **changes})
            return c.move("productOffering", created, state)

        offerings = {
            "open-ended": offering("Launched"),
            "ending in 2099": offering(
                "Launched",
                validFor={"startDateTime": START, "endDateTime": "2099-01-01T00:00:00.000Z"},
            ),
            "from 2099": offering("Launched", validFor=FUTURE),
            "expired": offering("Launched", validFor=PAST),
            "not sellable alone": offering("Launched", isSellable=False),
            "active": offering("Active"),
            "retired": offering("Retired"),
        }
        yield c, offerings


def sellable_at(shop: Any, instant: str, **filters: Any) -> list[str]:
    catalog, _ = shop
    response = catalog.client.get(
        catalog.url("productOffering"), params={"sellableAt": instant, **filters}
    )
    assert response.status_code == 200, response.text
    return ids(response.json())


def named(shop: Any, *names: str) -> list[str]:
    return [shop[1][name]["id"] for name in names]


class TestSellableAt:
    def test_lists_exactly_the_launched_sellable_offerings_valid_now(self, shop):
        assert sorted(sellable_at(shop, now())) == sorted(
            named(shop, "open-ended", "ending in 2099")
        )

    def test_an_expired_offering_was_sellable_while_valid(self, shop):
        assert sorted(sellable_at(shop, IN_2020)) == sorted(named(shop, "expired"))

    def test_a_future_offering_is_sellable_from_its_start(self, shop):
        assert sorted(sellable_at(shop, IN_2099)) == sorted(named(shop, "open-ended", "from 2099"))

    def test_the_start_is_included_and_the_end_excluded(self, shop):
        assert named(shop, "expired")[0] in sellable_at(shop, PAST["startDateTime"])
        assert named(shop, "expired")[0] not in sellable_at(shop, PAST["endDateTime"])

    def test_an_instant_in_another_zone_means_the_same_moment(self, shop):
        # 2021-01-01T00:30+01:00 is 2020-12-31T23:30Z: still inside the expired offering's period
        assert sellable_at(shop, "2021-01-01T00:30:00+01:00") == named(shop, "expired")

    def test_combines_with_other_filters(self, shop):
        offering = shop[1]["open-ended"]
        assert sellable_at(shop, IN_2099, id=offering["id"]) == [offering["id"]]
        assert sellable_at(shop, IN_2020, id=offering["id"]) == []

    def test_an_instant_that_is_no_date_is_400(self, shop):
        catalog, _ = shop
        response = catalog.client.get(catalog.url("productOffering"), params={"sellableAt": "soon"})
        assert "soon" in assert_tmf_error(response, 400)["message"]


class TestPricesInEffect:
    def test_expands_bundled_prices_and_leaves_out_those_no_longer_valid(self, catalog):
        current = catalog.price("Launched")
        expired = catalog.price("Launched", name="Old monthly fee", validFor=PAST)
        activation = catalog.price(
            "Active", name="Activation", priceType="oneTime", **priced("8.13")
        )
        usage = catalog.price(
            "Active",
            name="Data per MB",
            priceType="usage",
            unitOfMeasure={"amount": 1, "units": "MB"},
            **priced("0.04"),
        )
        bundled = catalog.price(
            "Launched",
            name="Starter bundle",
            priceType="oneTime",
            price=None,
            tax=None,
            bundledPopRelationship=[ref(activation), ref(usage)],
        )
        assert bundled["isBundle"] is True
        offering = catalog.offering(
            "Launched",
            productOfferingPrice=[ref(current), ref(expired), ref(bundled)],
            validFor={"startDateTime": "2019-01-01T00:00:00.000Z"},
        )
        prices = prices_in_effect(lookup(catalog), offering["id"], datetime.now(UTC))
        assert [price.pop_id for price in prices] == [current["id"], activation["id"], usage["id"]]
        fee = prices[0]
        assert (fee.price_type, fee.currency, fee.period_type) == ("recurring", "EUR", "month")
        assert (fee.amount, fee.tax_amount, fee.tax_included) == (
            Decimal("16.26"),
            Decimal("3.74"),
            Decimal("20.00"),
        )
        assert (prices[2].unit_amount, prices[2].units) == (Decimal(1), "MB")
        in_2020 = prices_in_effect(lookup(catalog), offering["id"], parse_instant(IN_2020))
        assert [price.pop_id for price in in_2020] == [expired["id"]]

    @pytest.mark.parametrize(
        "state, changes, reason",
        [
            ("Launched", {"isSellable": False}, "not sellable"),
            ("Active", {}, "not Launched"),
            ("Retired", {}, "not Launched"),
            ("Launched", {"validFor": FUTURE}, "not valid"),
            ("Launched", {"validFor": PAST}, "not valid"),
        ],
        ids=["not sellable alone", "active", "retired", "not yet valid", "expired"],
    )
    def test_an_offering_that_cannot_be_sold_now_is_refused(self, catalog, state, changes, reason):
        offering = catalog.offering(state, **changes)
        with pytest.raises(NotSellable, match=reason):
            prices_in_effect(lookup(catalog), offering["id"], datetime.now(UTC))


def lookup(catalog: Catalog) -> Any:
    return catalog.app.app.extensions["bss"].resources["productOffering"].lookup
