"""The starter catalog, loaded through the services as `python app.py serve` loads it, and
read back over HTTP: complete, launched, consistent, and priced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters import seeding
from adapters.demo_catalog import starter_catalog
from domain.pricing import NotSellable, prices_in_effect
from tests.e2e.catalog_setup import Catalog, catalog_app, now
from tests.e2e.checks import INSTANT
from tests.e2e.resources import PUBLIC_BASE

PATHS = ("catalog", "category", "productSpecification", "productOfferingPrice", "productOffering")
MANDATORY = ("id", "href", "name", "lifecycleStatus", "lastUpdate", "version", "@type")


@pytest.fixture(scope="module")
def starter(mongo_uri: str) -> Iterator[Catalog]:
    with catalog_app(mongo_uri) as application:
        services = application.app.extensions["bss"].resources
        data = starter_catalog()
        assert seeding.load(services, data) == sum(len(entities) for entities in data.values())
        yield Catalog(application)


def listed(catalog: Catalog, path: str, **params: Any) -> list[dict[str, Any]]:
    response = catalog.client.get(catalog.url(path), params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()


def references(node: Any) -> Iterator[dict[str, Any]]:
    """Every object with an id and a name nested inside an entity (its references)."""
    if isinstance(node, dict):
        if "id" in node and "name" in node:
            yield node
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


class TestStarterCatalog:
    @pytest.mark.parametrize("path", PATHS)
    def test_every_entity_is_listed_launched_and_complete(self, starter, path):
        expected = {entity["id"] for entity in starter_catalog()[path]}
        entities = listed(starter, path)
        assert {entity["id"] for entity in entities} == expected
        name = path[0].upper() + path[1:]
        for entity in entities:
            assert all(entity.get(attribute) for attribute in MANDATORY), entity["id"]
            assert entity["lifecycleStatus"] == "Launched"
            assert entity["@type"] == name
            assert entity["href"] == f"{PUBLIC_BASE}{starter.url(path, entity['id'])}"
            assert INSTANT.match(entity["lastUpdate"])
            assert INSTANT.match(entity["validFor"]["startDateTime"])

    def test_every_reference_names_an_existing_entity_by_its_name(self, starter):
        names = {e["id"]: e["name"] for path in PATHS for e in listed(starter, path)}
        places_and_parties = {"zone-home", "zone-eu", "zone-row", "org-mvno", "ch-web", "ch-retail"}
        for path in PATHS:
            for entity in listed(starter, path):
                for ref in references({k: v for k, v in entity.items() if k != "id"}):
                    if ref["id"] in places_and_parties:
                        continue  # not catalog entities
                    assert names.get(ref["id"]) == ref["name"], (entity["id"], ref)

    def test_prices_of_every_sellable_offering_are_in_effect_now(self, starter):
        lookup = starter.app.app.extensions["bss"].resources["productOffering"].lookup
        at = datetime.now(UTC)
        for offering in listed(starter, "productOffering", isSellable="true"):
            prices = prices_in_effect(lookup, offering["id"], at)
            expected = [ref["id"] for ref in offering["productOfferingPrice"]]
            assert [price.pop_id for price in prices] == expected, offering["id"]
            for price in prices:
                if price.amount is not None:
                    assert price.currency == "EUR"
                    assert price.tax_included == price.amount + price.tax_amount
                else:
                    assert price.price_type == "discount" and price.percentage, price.pop_id

    def test_the_offering_that_is_not_sold_alone_has_no_prices_to_sell(self, starter):
        lookup = starter.app.app.extensions["bss"].resources["productOffering"].lookup
        not_sellable = listed(starter, "productOffering", isSellable="false")
        assert [offering["id"] for offering in not_sellable] == ["pos-row-roaming-rates"]
        with pytest.raises(NotSellable):
            prices_in_effect(lookup, "pos-row-roaming-rates", datetime.now(UTC))

    def test_sellable_now_lists_every_offering_sold_on_its_own(self, starter):
        sellable = {o["id"] for o in listed(starter, "productOffering", sellableAt=now())}
        expected = {o["id"] for o in starter_catalog()["productOffering"] if o["isSellable"]}
        assert sellable == expected
        assert "pos-row-roaming-rates" not in sellable

    def test_monthly_fees_retail_at_round_prices(self, starter):
        fee = starter.get("productOfferingPrice", "pop-sim-only-20gb-monthly")
        assert (fee["price"]["value"], fee["tax"][0]["taxAmount"]["value"]) == (16.26, 3.74)

    def test_loading_again_creates_nothing(self, starter):
        services = starter.app.app.extensions["bss"].resources
        before = {path: listed(starter, path) for path in PATHS}
        assert seeding.load(services, starter_catalog()) == 0
        assert {path: listed(starter, path) for path in PATHS} == before
