"""TMF event notifications delivered to a real HTTP listener by the app's own dispatcher.

The listener is an http.server on 127.0.0.1 recording every JSON body POSTed to it. Waits
poll with a timeout instead of sleeping.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapters.dispatcher import DELIVERIES
from tests.e2e.checks import INSTANT, assert_tmf_error
from tests.e2e.conftest import database_of, fresh_database_name, running_app
from tests.e2e.resources import CUSTOMER

HUB = f"{CUSTOMER.api}/hub"
WAIT_SECONDS = 15


class Listener:
    """An HTTP listener on 127.0.0.1 that records (path, JSON body) of every POST.

    `refuse[eventType] = n` answers the next n events of that type with 503 instead.
    """

    def __init__(self) -> None:
        self.port = 0
        self.refuse: dict[str, int] = {}
        self._received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        """Listens on a free port, or again on the port it had before."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """Closes the port: deliveries now fail with a refused connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self, path: str, resource_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            bodies = [body for at, body in self._received if at == path]
        if resource_id is None:
            return bodies
        return [body for body in bodies if body["event"]["customer"]["id"] == resource_id]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with listener._lock:
                    refused = listener.refuse.get(body["eventType"], 0) > 0
                    if refused:
                        listener.refuse[body["eventType"]] -= 1
                    else:
                        listener._received.append((self.path, body))
                self.send_response(503 if refused else 204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def wait_until(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_events(listener: Listener, at: str, count: int, of: dict) -> list[dict[str, Any]]:
    """The events about customer `of` at path `at`, once there are `count` of them."""
    wait_until(lambda: len(listener.events(at, of["id"])) >= count, f"{count} events at {at}")
    return listener.events(at, of["id"])


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [event["eventType"] for event in events]


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    listening = Listener()
    listening.start()
    yield listening
    listening.stop()


@pytest.fixture(scope="module")
def app_with_dispatcher(mongo_uri: str) -> Iterator[Any]:
    settings = {"dispatcher": True, "event_max_backoff_seconds": 1}
    with running_app(mongo_uri, fresh_database_name(), **settings) as application:
        yield application


@pytest.fixture(scope="module")
def hub_client(app_with_dispatcher: Any) -> Iterator[Any]:
    with app_with_dispatcher.test_client() as client:
        yield client


@contextlib.contextmanager
def subscribed(
    client: Any, callback: str, query: str | None = None, hub: str = HUB
) -> Iterator[dict]:
    body = {"callback": callback, **({"query": query} if query else {})}
    response = client.post(hub, json=body)
    assert response.status_code == 201, response.text
    try:
        yield response.json()
    finally:
        client.delete(f"{hub}/{response.json()['id']}")


def new_customer(client: Any) -> dict[str, Any]:
    body = {k: v for k, v in CUSTOMER.new_body(0).items() if k != "status"}
    response = client.post(CUSTOMER.collection_url, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def change(client: Any, customer: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    response = client.patch(CUSTOMER.url(customer["id"]), json=attributes)
    assert response.status_code == 200, response.text
    return response.json()


def path() -> str:
    return f"/listener/{uuid.uuid4().hex[:8]}"


class TestHub:
    def test_registering_a_listener_returns_it_and_it_can_be_read_back(self, hub_client):
        body = {"callback": "http://127.0.0.1:9/listener", "query": "eventType=CustomerCreateEvent"}
        response = hub_client.post(HUB, json=body)
        assert response.status_code == 201
        registered = response.json()
        assert set(registered) == {"id", "callback", "query"}
        assert {k: registered[k] for k in body} == body
        assert response.headers["location"].endswith(f"{HUB}/{registered['id']}")
        read = hub_client.get(f"{HUB}/{registered['id']}")
        assert read.status_code == 200
        assert read.json() == registered
        assert hub_client.delete(f"{HUB}/{registered['id']}").status_code == 204
        assert_tmf_error(hub_client.get(f"{HUB}/{registered['id']}"), 404)
        assert_tmf_error(hub_client.delete(f"{HUB}/{registered['id']}"), 404)


class TestDelivery:
    def test_a_listener_receives_every_event_of_a_customer_in_order(self, hub_client, listener):
        at = path()
        with subscribed(hub_client, listener.url(at)):
            customer = new_customer(hub_client)
            approved = change(hub_client, customer, status="Validated", name="Renamed")
            assert hub_client.delete(CUSTOMER.url(customer["id"])).status_code == 204
            expected = [
                "CustomerCreateEvent",
                "CustomerStateChangeEvent",
                "CustomerAttributeValueChangeEvent",
                "CustomerDeleteEvent",
            ]
            events = wait_for_events(listener, at, 4, customer)
        assert event_types(events) == expected
        assert len({event["eventId"] for event in events}) == 4
        for event in events:
            assert isinstance(event["eventId"], str) and event["eventId"]
            assert INSTANT.match(event["eventTime"])
            assert event["event"]["customer"]["href"] == CUSTOMER.href(customer["id"])
        created, state_change, attribute_change, deleted = events
        assert created["event"]["customer"] == customer
        assert state_change["event"]["customer"] == approved
        assert attribute_change["event"]["customer"] == approved
        assert attribute_change["fieldPath"] == "name"
        assert "fieldPath" not in state_change
        assert deleted["event"]["customer"] == approved

    def test_a_query_narrows_the_events_to_state_changes(self, hub_client, listener):
        at = path()
        with subscribed(hub_client, listener.url(at), "eventType=CustomerStateChangeEvent"):
            customer = new_customer(hub_client)
            change(hub_client, customer, name="First rename")
            validated = change(hub_client, customer, status="Validated")
            change(hub_client, customer, name="Second rename")
            approved = change(hub_client, customer, status="Approved")
            # Events of one resource arrive in order, so once the last one is in, any
            # wrongly matched earlier event would be in too.
            events = wait_for_events(listener, at, 2, customer)
        assert event_types(events) == ["CustomerStateChangeEvent"] * 2
        assert [e["event"]["customer"] for e in events] == [validated, approved]

    def test_an_unregistered_listener_gets_no_more_events(self, hub_client, listener):
        gone, stays = path(), path()
        with subscribed(hub_client, listener.url(stays)):
            with subscribed(hub_client, listener.url(gone)) as subscription:
                customer = new_customer(hub_client)
                wait_for_events(listener, gone, 1, customer)
            assert_tmf_error(hub_client.get(f"{HUB}/{subscription['id']}"), 404)
            change(hub_client, customer, name="After unsubscribing")
            change(hub_client, customer, name="Once more")
            wait_for_events(listener, stays, 3, customer)
        assert event_types(listener.events(gone)) == ["CustomerCreateEvent"]


class TestRedelivery:
    def test_events_produced_while_the_listener_is_down_arrive_once_it_is_back(
        self, hub_client, app_with_dispatcher
    ):
        listener, at = Listener(), path()
        listener.start()
        try:
            with subscribed(hub_client, listener.url(at)):
                listener.stop()
                first, second = new_customer(hub_client), new_customer(hub_client)
                change(hub_client, first, status="Validated")
                change(hub_client, second, name="Renamed while down")
                change(hub_client, first, status="Approved", name="Approved while down")
                assert hub_client.delete(CUSTOMER.url(second["id"])).status_code == 204
                deliveries = database_of(app_with_dispatcher)[DELIVERIES]
                wait_until(
                    lambda: deliveries.count_documents({"attempts": {"$gte": 2}}),
                    "a delivery attempt and its retry to fail",
                )
                listener.start()  # on the same port as before
                expected = {
                    first["id"]: [
                        "CustomerCreateEvent",
                        "CustomerStateChangeEvent",
                        "CustomerStateChangeEvent",
                        "CustomerAttributeValueChangeEvent",
                    ],
                    second["id"]: [
                        "CustomerCreateEvent",
                        "CustomerAttributeValueChangeEvent",
                        "CustomerDeleteEvent",
                    ],
                }
                wait_until(
                    lambda: all(
                        len(distinct(listener.events(at, resource_id))) == len(types)
                        for resource_id, types in expected.items()
                    ),
                    "every event after the outage",
                )
        finally:
            listener.stop()
        for resource_id, types in expected.items():
            received = listener.events(at, resource_id)
            assert event_types(distinct(received)) == types
            for event in received:  # a repeat is the same event again
                assert event == next(e for e in received if e["eventId"] == event["eventId"])


class TestOrder:
    def test_a_refused_event_holds_back_the_later_events_of_its_resource(self, hub_client):
        listener, at = Listener(), path()
        listener.refuse["CustomerCreateEvent"] = 1
        listener.start()
        try:
            with subscribed(hub_client, listener.url(at)):
                customer = new_customer(hub_client)
                change(hub_client, customer, status="Validated")
                change(hub_client, customer, name="Renamed")
                events = wait_for_events(listener, at, 3, customer)
        finally:
            listener.stop()
        assert listener.refuse["CustomerCreateEvent"] == 0  # it was refused once
        assert event_types(events) == [
            "CustomerCreateEvent",
            "CustomerStateChangeEvent",
            "CustomerAttributeValueChangeEvent",
        ]


def distinct(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events in order of first arrival, each eventId once."""
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        seen.setdefault(event["eventId"], event)
    return list(seen.values())
