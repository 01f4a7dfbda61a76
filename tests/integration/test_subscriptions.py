"""Hub subscriptions stored in the real database, always scoped by the API they belong to."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.subscriptions import MongoSubscriptions
from domain.errors import Conflict, InvalidRequest

CUSTOMERS = "customerManagement"
ORDERS = "productOrdering"


def listener(subscription_id: str, api: str = CUSTOMERS, **extra: Any) -> dict[str, Any]:
    return {"id": subscription_id, "api": api, "callback": "https://crm.example/events", **extra}


@pytest.fixture
def hub(db: Any) -> MongoSubscriptions:
    subscriptions = MongoSubscriptions(db)
    subscriptions.ensure_indexes()
    return subscriptions


class TestAddAndGet:
    def test_a_subscription_reads_back_as_registered(self, hub):
        registered = listener("s1", query="eventType=CustomerCreateEvent")

        hub.add(registered)

        assert hub.get(CUSTOMERS, "s1") == registered

    def test_a_subscription_without_query_reads_back_without_one(self, hub):
        hub.add(listener("s1", query=None))

        assert hub.get(CUSTOMERS, "s1") == listener("s1")

    def test_a_subscription_is_invisible_from_another_api(self, hub):
        hub.add(listener("s1"))

        assert hub.get(ORDERS, "s1") is None

    def test_an_unknown_id_reads_as_nothing(self, hub):
        assert hub.get(CUSTOMERS, "nobody") is None

    def test_a_second_subscription_with_the_same_id_is_a_conflict(self, hub):
        hub.add(listener("s1"))

        with pytest.raises(Conflict, match="s1"):
            hub.add(listener("s1", callback="https://other.example/events"))

        assert hub.get(CUSTOMERS, "s1")["callback"] == "https://crm.example/events"

    @pytest.mark.parametrize(
        "callback",
        ["http://crm-listener:8080/events", "http://localhost/hub", "https://10.0.0.7:8443/x?a=b"],
    )
    def test_a_callback_on_a_local_network_host_is_accepted(self, hub, callback):
        hub.add(listener("s1", callback=callback))

        assert hub.get(CUSTOMERS, "s1")["callback"] == callback

    @pytest.mark.parametrize(
        "callback",
        ["ftp://crm.example/events", "not a url", "https://crm.example/" + "x" * 2000],
    )
    def test_an_unusable_callback_is_an_invalid_request(self, hub, callback):
        with pytest.raises(InvalidRequest, match="callback"):
            hub.add(listener("s1", callback=callback))

        assert hub.get(CUSTOMERS, "s1") is None


class TestRemove:
    def test_a_removed_subscription_is_gone(self, hub):
        hub.add(listener("s1"))

        assert hub.remove(CUSTOMERS, "s1") is True
        assert hub.get(CUSTOMERS, "s1") is None

    def test_removing_an_unknown_subscription_reports_it(self, hub):
        assert hub.remove(CUSTOMERS, "nobody") is False

    def test_a_subscription_cannot_be_removed_through_another_api(self, hub):
        hub.add(listener("s1"))

        assert hub.remove(ORDERS, "s1") is False
        assert hub.get(CUSTOMERS, "s1") is not None


class TestForApi:
    def test_lists_only_the_subscriptions_of_that_api(self, hub):
        hub.add(listener("s1"))
        hub.add(listener("s2", query="status=Approved"))
        hub.add(listener("s3", api=ORDERS))

        found = sorted(hub.for_api(CUSTOMERS), key=lambda s: s["id"])

        assert found == [listener("s1"), listener("s2", query="status=Approved")]
        assert [s["id"] for s in hub.for_api(ORDERS)] == ["s3"]
        assert hub.for_api("partyManagement") == []

    def test_subscriptions_are_indexed_by_api(self, hub, db):
        keys = [tuple(index["key"]) for index in db["hub"].index_information().values()]

        assert (("api", 1),) in keys
