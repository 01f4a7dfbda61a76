"""Hardening over HTTP: rate limiting per client, security headers on every response, limits
on what one request may ask for, and nothing internal in any answer (no stack trace, no
storage field, no host of ours)."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pymongo.errors
import pytest

from app import APIS
from domain.patch import MAX_ITEMS
from domain.query import MAX_FILTER_VALUES
from handlers.security_headers import API_POLICY, HSTS, UI_POLICY
from handlers.specs import base_path, load_spec
from handlers.wire import dumps
from tests.e2e.checks import JSON_PATCH, assert_tmf_error, send_json
from tests.e2e.conftest import database_of, fresh_database_name, running_app
from tests.e2e.ordering_setup import CUSTOMERS, PLAN, ordering_app
from tests.e2e.test_security import SECRET, auth_settings, bearer, token
from tests.e2e.usage_setup import USAGE, USAGE_API, account_of, rate, record, subscriber

CUSTOMER_API = "/tmf-api/customerManagement/v4"
AUDIT = "/tmf-api/auditManagement/v4/auditEntry"
# what no answer may hold: storage fields of ours, stack traces, driver and host details
HIDDEN_KEY = re.compile(r'"_(id|v|due|partner)"')
LEAKS = ("Traceback", 'File "', "ObjectId", " object at 0x", "pymongo", "mongodb://")


def customer_body(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "engagedParty": {"id": "p1", "@referredType": "Individual"},
        **extra,
    }


def assert_nothing_internal(text: str) -> None:
    assert not HIDDEN_KEY.search(text), text[:500]
    for leak in LEAKS:
        assert leak not in text, text[:500]


@pytest.fixture
def app_with(mongo_uri: str) -> Iterator[Any]:
    """`app_with(**settings)`: the test client of an app with those settings (one per test)."""
    with contextlib.ExitStack() as apps:

        def make(**settings: Any) -> Any:
            application = running_app(mongo_uri, fresh_database_name(), **settings)
            return apps.enter_context(application).test_client()

        yield make


class TestRateLimiting:
    def test_a_client_over_its_rate_gets_429_with_retry_after_and_a_tmf_error(self, app_with):
        client = app_with(rate_limit_per_minute=3)

        answers = [client.get(f"{CUSTOMER_API}/customer").status_code for _ in range(3)]
        refused = client.get(f"{CUSTOMER_API}/customer")

        assert answers == [200, 200, 200]
        body = assert_tmf_error(refused, 429)
        assert body["code"] == "ERR_TOO_MANY_REQUESTS"
        assert 0 < int(refused.headers["retry-after"]) <= 20  # a request every 20 seconds
        assert client.get("/health").status_code == 200  # not an API request

    def test_each_client_has_a_rate_of_its_own(self, app_with):
        client = app_with(rate_limit_per_minute=2, **auth_settings(jwt_secret=SECRET))
        crm = bearer(token("acme", client_id="crm"))
        oss = bearer(token("acme", client_id="oss"))

        crm_answers = [client.get(f"{CUSTOMER_API}/customer", headers=crm) for _ in range(3)]
        oss_answer = client.get(f"{CUSTOMER_API}/customer", headers=oss)

        assert [answer.status_code for answer in crm_answers] == [200, 200, 429]
        assert "'crm'" in crm_answers[2].json()["message"]
        assert oss_answer.status_code == 200


class TestSecurityHeaders:
    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [
            ("GET", f"{CUSTOMER_API}/customer", 200),
            ("GET", f"{CUSTOMER_API}/customer/nobody", 404),
            ("GET", f"{CUSTOMER_API}/customer?colour=blue", 400),
            ("DELETE", f"{CUSTOMER_API}/customer", 405),
            ("GET", f"{CUSTOMER_API}/openapi.json", 200),
            ("GET", "/health", 200),
            ("GET", "/", 200),
        ],
    )
    def test_every_response_carries_them(self, client, method, path, status):
        response = client.request(method, path)

        assert response.status_code == status
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"] == API_POLICY
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers

    def test_the_swagger_ui_may_run_its_own_scripts_but_not_be_framed(self, client):
        response = client.get(f"{CUSTOMER_API}/ui/")

        assert response.status_code == 200
        assert response.headers["content-security-policy"] == UI_POLICY
        assert "frame-ancestors 'none'" in UI_POLICY
        assert response.headers["x-frame-options"] == "DENY"

    def test_a_refused_token_gets_them_too(self, app_with):
        client = app_with(**auth_settings(jwt_secret=SECRET))

        response = client.get(f"{CUSTOMER_API}/customer")

        assert response.status_code == 401
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"

    def test_hsts_when_configured(self, app_with):
        client = app_with(hsts=True)

        for path in ("/health", f"{CUSTOMER_API}/customer/nobody"):
            assert client.get(path).headers["strict-transport-security"] == HSTS


class TestRequestLimits:
    def test_a_query_filtering_on_too_many_values_is_refused(self, client):
        ids = ",".join(f"c{n}" for n in range(MAX_FILTER_VALUES + 1))

        response = client.get(f"{CUSTOMER_API}/customer", params={"id": ids})

        assert f"at most {MAX_FILTER_VALUES} values" in assert_tmf_error(response, 400)["message"]

    def test_a_json_patch_may_not_grow_an_array_past_the_limit(self, client):
        media = [{"mediumType": "email", "characteristic": {"emailAddress": "a@b.ie"}}]
        created = client.post(CUSTOMERS, json=customer_body(contactMedium=media * MAX_ITEMS))
        assert created.status_code == 201, created.text
        grow = [{"op": "add", "path": "/contactMedium/-", "value": media[0]}]

        response = send_json(
            client, "PATCH", f"{CUSTOMERS}/{created.json()['id']}", grow, JSON_PATCH
        )

        assert "contactMedium: an array of more than" in assert_tmf_error(response, 400)["message"]


class TestNothingInternal:
    def test_no_error_body_holds_a_trace_a_storage_field_or_a_host(self, app, client, monkeypatch):
        services = app.app.extensions["bss"]
        created = client.post(CUSTOMERS, json=customer_body()).json()
        client.post(USAGE, json=record("+353871234567", external_id="cdr-1", bytes=1))
        errors = [
            client.get(f"{CUSTOMERS}/nobody"),
            client.get("/tmf-api/customerManagement/v4/nothing"),
            client.get(f"{CUSTOMERS}?colour=blue"),
            client.request("DELETE", CUSTOMERS),
            client.post(
                CUSTOMERS, content=b'{"name": ', headers={"Content-Type": "application/json"}
            ),
            client.post(CUSTOMERS, json={"name": 42}),
            client.post(
                CUSTOMERS, content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
            ),
            client.post(CUSTOMERS, content=b"name=x", headers={"Content-Type": "text/plain"}),
            client.patch(f"{CUSTOMERS}/{created['id']}", json={"status": "Closed", "_v": 7}),
            client.post(USAGE, json=record("+353871234567", external_id="cdr-1", bytes=1)),
        ]

        def failing(*_: Any, **__: Any) -> Any:
            raise RuntimeError("secret detail of mongodb://db.internal:27017 at 0xdeadbeef")

        def unreachable(*_: Any, **__: Any) -> Any:
            raise pymongo.errors.ServerSelectionTimeoutError("db.internal.example:27017: timed out")

        monkeypatch.setattr(services.resources["customer"], "list", failing)
        monkeypatch.setattr(services.extra["db"], "command", unreachable)
        errors += [client.get(CUSTOMERS), client.get("/ready")]

        statuses = {response.status_code for response in errors}
        assert {400, 404, 405, 409, 413, 415, 500, 503} <= statuses
        for response in errors:
            assert_tmf_error(response, response.status_code)
            assert_nothing_internal(response.text)
            assert "secret detail" not in response.text
            assert "db.internal" not in response.text

    def test_no_answer_or_event_of_any_api_holds_a_storage_field(self, mongo_uri):
        """After a subscriber's order, usage, bill and payment: every list of every API, and
        every event written for subscribers."""
        with ordering_app(mongo_uri) as application:
            client = application.test_client()
            line = subscriber(application, client, PLAN)
            client.post(f"{USAGE_API}/usage", json=record(line["msisdn"], bytes=1000))
            rate(application)
            account = account_of(client, line["customer"])
            application.app.extensions["bss"].extra["billing"].run(accounts=[account])
            paid = client.post(
                "/tmf-api/paymentManagement/v4/payment",
                json={
                    "account": {"id": account},
                    "paymentMethod": {"@type": "Cash"},
                    "totalAmount": {"unit": "EUR", "value": 1},
                },
            )
            assert paid.status_code == 201, paid.text
            listed = {}
            for api in APIS:
                spec = load_spec(api.spec)
                for path, item in spec["paths"].items():
                    if "get" in item and "{" not in path:
                        month = {"period": f"{datetime.now(UTC):%Y-%m}"}  # its one parameter
                        params = month if path == "/revenueAssuranceReport" else {}
                        response = client.get(base_path(spec) + path, params=params)
                        assert response.status_code in (200, 206), (path, response.text)
                        listed[path] = len(response.json())
                        assert_nothing_internal(response.text)
            events = [dumps(entry["envelope"]) for entry in database_of(application).outbox.find()]

        assert all(listed[path] for path in ("/product", "/customerBill", "/payment", "/usage"))
        assert listed["/auditEntry"] > 10
        assert events
        for event in events:
            assert_nothing_internal(event)

    def test_the_shared_secret_is_never_logged(self, mongo_uri, caplog):
        with caplog.at_level(logging.DEBUG):
            settings = auth_settings(jwt_secret=SECRET)
            with running_app(mongo_uri, fresh_database_name(), **settings) as application:
                application.test_client().get(f"{CUSTOMER_API}/customer")

        assert caplog.records
        assert SECRET not in caplog.text
