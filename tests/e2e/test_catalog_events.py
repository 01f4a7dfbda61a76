"""TMF620 events delivered by the app's dispatcher to a real HTTP listener, per resource.

Reuses the listener of test_events.py (an http.server on 127.0.0.1 recording every POST).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.catalog_setup import Catalog, catalog_app
from tests.e2e.checks import INSTANT
from tests.e2e.resources import CATALOG_API
from tests.e2e.test_events import Listener, wait_until

HUB = f"{CATALOG_API}/hub"
# collection path (also the key of the resource in an event) -> resource name, create body
RESOURCES = {
    "catalog": ("Catalog", {}),
    "category": ("Category", {}),
    "productSpecification": ("ProductSpecification", {}),
    "productOfferingPrice": ("ProductOfferingPrice", {"priceType": "oneTime"}),
    "productOffering": ("ProductOffering", {}),
}


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    listening = Listener()
    listening.start()
    yield listening
    listening.stop()


@pytest.fixture(scope="module")
def catalog(mongo_uri: str) -> Iterator[Catalog]:
    with catalog_app(mongo_uri, dispatcher=True, event_max_backoff_seconds=1) as application:
        yield Catalog(application)


@contextlib.contextmanager
def subscribed(catalog: Catalog, callback: str, query: str | None = None) -> Iterator[None]:
    body = {"callback": callback, **({"query": query} if query else {})}
    response = catalog.client.post(HUB, json=body)
    assert response.status_code == 201, response.text
    try:
        yield
    finally:
        assert catalog.client.delete(f"{HUB}/{response.json()['id']}").status_code == 204


def received(listener: Listener, at: str, count: int) -> list[dict[str, Any]]:
    wait_until(lambda: len(listener.events(at)) >= count, f"{count} events at {at}")
    return listener.events(at)


def new_path() -> str:
    return f"/listener/{uuid.uuid4().hex[:8]}"


class TestCatalogEvents:
    @pytest.mark.parametrize("path", RESOURCES)
    def test_create_change_state_change_and_delete_reach_a_listener(self, catalog, listener, path):
        name, body = RESOURCES[path]
        at = new_path()
        with subscribed(catalog, listener.url(at)):
            created = catalog.create(path, **body)
            renamed = catalog.patch(path, created["id"], name="Renamed").json()
            designed = catalog.patch(path, created["id"], lifecycleStatus="In Design").json()
            assert catalog.delete(path, created["id"]).status_code == 204
            events = received(listener, at, 4)
        assert [event["eventType"] for event in events] == [
            f"{name}CreateEvent",
            f"{name}AttributeValueChangeEvent",
            f"{name}StateChangeEvent",
            f"{name}DeleteEvent",
        ]
        assert [event["event"] for event in events] == [
            {path: created},
            {path: renamed},
            {path: designed},
            {path: designed},
        ]
        assert events[1]["fieldPath"] == "name"
        assert len({event["eventId"] for event in events}) == 4
        assert all(INSTANT.match(event["eventTime"]) for event in events)

    def test_a_query_narrows_the_events_to_chosen_state_changes(self, catalog, listener):
        at = new_path()
        query = "eventType=ProductOfferingStateChangeEvent&lifecycleStatus=Launched,Obsolete"
        with subscribed(catalog, listener.url(at), query):
            offering = catalog.offering("Active")
            catalog.patch("productOffering", offering["id"], name="Before launch")
            launched = catalog.launch("productOffering", offering).json()
            catalog.patch("productOffering", offering["id"], lifecycleStatus="Retired")
            # Events of one resource arrive in order: once the Obsolete one is in, a wrongly
            # matched Retired one would be in too.
            obsolete = catalog.patch("productOffering", offering["id"], lifecycleStatus="Obsolete")
            events = received(listener, at, 2)
        assert [event["event"]["productOffering"] for event in events] == [
            launched,
            obsolete.json(),
        ]
