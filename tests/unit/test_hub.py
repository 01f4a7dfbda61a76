import pytest

from domain.errors import InvalidRequest, NotFound
from domain.hub import MAX_QUERY_LENGTH, HubService, parse_subscription_query, subscription_matches
from domain.query import Criterion
from tests.unit.fakes import FakeSubscriptions, SequentialIds

API = "customerManagement"


@pytest.fixture
def subscriptions():
    return FakeSubscriptions()


@pytest.fixture
def hub(subscriptions):
    return HubService(API, subscriptions, SequentialIds("sub-"))


def customer_event(event_type="CustomerStateChangeEvent", **customer):
    return {
        "eventId": "e-1",
        "eventTime": "2026-11-25T10:00:00.000Z",
        "eventType": event_type,
        "event": {"customer": {"id": "42", "name": "Alice", "status": "Approved", **customer}},
    }


def subscribed(query):
    return {"id": "sub-1", "callback": "http://listener.test/cb", "query": query}


class TestRegistering:
    def test_returns_the_id_callback_and_query(self, hub):
        registered = hub.register("http://listener.test/cb", "eventType=CustomerCreateEvent")
        assert registered == {
            "id": "sub-1",
            "callback": "http://listener.test/cb",
            "query": "eventType=CustomerCreateEvent",
        }

    def test_stores_the_subscription_under_its_api(self, hub, subscriptions):
        hub.register("https://listener.test/cb", None)
        assert subscriptions.all() == [
            {"id": "sub-1", "callback": "https://listener.test/cb", "api": API}
        ]

    @pytest.mark.parametrize("query", [None, ""])
    def test_without_a_query_has_no_query(self, hub, query):
        assert "query" not in hub.register("http://listener.test/cb", query)

    @pytest.mark.parametrize(
        "callback",
        [
            "",
            "listener.test/cb",
            "/listener",
            "ftp://listener.test/cb",
            "javascript:alert(1)",
            "http:///cb",
            "http://[::1/cb",
        ],
    )
    def test_refuses_a_callback_that_is_not_an_absolute_http_url(
        self, hub, subscriptions, callback
    ):
        with pytest.raises(InvalidRequest, match="callback"):
            hub.register(callback, None)
        assert subscriptions.all() == []

    @pytest.mark.parametrize("query", ["eventType", "a=1&&b=2", "=Approved"])
    def test_refuses_a_query_outside_the_filter_grammar(self, hub, subscriptions, query):
        with pytest.raises(InvalidRequest, match="query"):
            hub.register("http://listener.test/cb", query)
        assert subscriptions.all() == []

    def test_refuses_an_overlong_query(self, hub):
        with pytest.raises(InvalidRequest, match="longer than"):
            hub.register("http://listener.test/cb", "status=" + "A" * MAX_QUERY_LENGTH)


class TestLookingUpAndUnregistering:
    def test_a_registered_subscription_can_be_read_back(self, hub):
        registered = hub.register("http://listener.test/cb", "status=Approved")
        assert hub.get(registered["id"]) == registered

    def test_an_unknown_subscription_is_not_found(self, hub):
        with pytest.raises(NotFound, match="sub-9"):
            hub.get("sub-9")

    def test_a_subscription_of_another_api_is_not_found(self, subscriptions, hub):
        other = HubService("productOrdering", subscriptions, SequentialIds("other-"))
        registered = other.register("http://listener.test/cb", None)
        with pytest.raises(NotFound):
            hub.get(registered["id"])
        with pytest.raises(NotFound):
            hub.unregister(registered["id"])

    def test_unregistering_removes_it(self, hub):
        registered = hub.register("http://listener.test/cb", None)
        hub.unregister(registered["id"])
        with pytest.raises(NotFound):
            hub.get(registered["id"])

    def test_unregistering_twice_is_not_found(self, hub):
        registered = hub.register("http://listener.test/cb", None)
        hub.unregister(registered["id"])
        with pytest.raises(NotFound):
            hub.unregister(registered["id"])


class TestSubscriptionQueries:
    def test_use_the_list_filter_grammar(self):
        assert parse_subscription_query("eventType=A,B&status.gte=Approved") == (
            Criterion("eventType", "eq", ("A", "B")),
            Criterion("status", "gte", ("Approved",)),
        )

    def test_an_empty_query_has_no_criteria(self):
        assert parse_subscription_query("") == ()

    def test_values_are_url_decoded(self):
        assert parse_subscription_query("name=Alice%20Liddell") == (
            Criterion("name", "eq", ("Alice Liddell",)),
        )


class TestMatchingEvents:
    def test_no_query_matches_every_event(self):
        assert subscription_matches({"id": "s"}, customer_event())

    def test_on_the_event_type(self):
        subscription = subscribed("eventType=CustomerStateChangeEvent")
        assert subscription_matches(subscription, customer_event("CustomerStateChangeEvent"))
        assert not subscription_matches(subscription, customer_event("CustomerCreateEvent"))

    def test_on_any_of_a_list_of_event_types(self):
        subscription = subscribed("eventType=CustomerCreateEvent,CustomerDeleteEvent")
        assert subscription_matches(subscription, customer_event("CustomerDeleteEvent"))
        assert not subscription_matches(subscription, customer_event("CustomerStateChangeEvent"))

    def test_on_a_plain_resource_attribute(self):
        subscription = subscribed("status=Approved")
        assert subscription_matches(subscription, customer_event(status="Approved"))
        assert not subscription_matches(subscription, customer_event(status="Suspended"))

    def test_on_a_resource_attribute_by_its_full_event_path(self):
        subscription = subscribed("event.customer.status=Suspended")
        assert subscription_matches(subscription, customer_event(status="Suspended"))
        assert not subscription_matches(subscription, customer_event(status="Approved"))

    def test_on_a_nested_resource_attribute_inside_a_list(self):
        subscription = subscribed("relatedParty.id=p2")
        event = customer_event(relatedParty=[{"id": "p1"}, {"id": "p2"}])
        assert subscription_matches(subscription, event)
        assert not subscription_matches(subscription, customer_event())

    def test_every_criterion_must_hold(self):
        subscription = subscribed("eventType=CustomerStateChangeEvent&status=Suspended,Closed")
        assert subscription_matches(subscription, customer_event(status="Closed"))
        assert not subscription_matches(subscription, customer_event(status="Approved"))
        assert not subscription_matches(
            subscription, customer_event("CustomerCreateEvent", status="Closed")
        )

    def test_a_missing_attribute_does_not_match(self):
        assert not subscription_matches(subscribed("statusReason=fraud"), customer_event())

    def test_a_numeric_range_compares_numbers(self):
        subscription = subscribed("creditScore.gt=10")
        assert subscription_matches(subscription, customer_event(creditScore=11))
        assert not subscription_matches(subscription, customer_event(creditScore=9))

    def test_an_instant_range_on_the_envelope(self):
        subscription = subscribed("eventTime.gte=2026-11-25T00:00:00.000Z")
        assert subscription_matches(subscription, customer_event())
        later = subscribed("eventTime.gte=2026-11-26T00:00:00.000Z")
        assert not subscription_matches(later, customer_event())

    def test_a_boolean_attribute_matches_its_text(self):
        subscription = subscribed("isVip=true")
        assert subscription_matches(subscription, customer_event(isVip=True))
        assert not subscription_matches(subscription, customer_event(isVip=False))
