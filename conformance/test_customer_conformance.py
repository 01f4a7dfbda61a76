"""TMF629 Customer Management, our server against our spec: schemathesis in-process.

One run per module (examples, coverage, fuzzing and stateful phases, see suite.py), then one
test per operation over its findings. Also the cases earlier runs found, pinned here because
a run only finds them when it happens to generate them.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.report import Report
from conformance.suite import APIS, ConformsToItsSpec, api_url, configure, in_process_report, run
from handlers.specs import load_spec

pytestmark = pytest.mark.slow

API = APIS["customer"]
BASE = api_url("", API)
MAX_EXAMPLES = 30
JSON = {"content-type": "application/json"}
ADA = {"name": "Ada", "engagedParty": {"id": "p1", "@referredType": "Individual"}}


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    return in_process_report(mongo_uri, API, MAX_EXAMPLES)


class TestCustomerManagementConformsToItsSpec(ConformsToItsSpec):
    api = API

    @pytest.mark.parametrize(
        ("operation", "success"),
        [
            ("POST /customer", 201),
            ("GET /customer/{id}", 200),
            ("PATCH /customer/{id}", 200),
            ("DELETE /customer/{id}", 204),
            ("POST /hub", 201),
            ("GET /hub/{id}", 200),
            ("DELETE /hub/{id}", 204),
        ],
    )
    def test_operations_reach_items_that_exist(
        self, report: Report, operation: str, success: int
    ) -> None:
        # random ids only ever give 404s: without this the run would check error bodies only
        assert success in report.statuses(operation), report.summary()


def _server_answering(status: int, headers: dict[str, str], body: bytes) -> Any:
    """An ASGI app with one answer to every request."""
    raw_headers = [(name.encode(), value.encode()) for name, value in headers.items()]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": body})

    return app


class TestTheRunReportsAServerThatBreaksTheContract:
    @pytest.mark.parametrize(
        ("status", "headers", "body", "expected"),
        [
            (500, {"content-type": "text/plain"}, b"boom", "not_a_server_error"),
            (200, {"content-type": "text/html"}, b"<p>hi</p>", "content_type_conformance"),
            (200, JSON, b"[]", "response_headers_conformance"),  # no X-Total-Count
            (200, JSON, b"[]", "response_schema_conformance"),  # no Customer object
            (404, JSON, b'{"code": "E", "reason": "r", "status": "400"}', "tmf_error_status"),
            (
                201,
                {**JSON, "location": "http://a.test/customer/1"},
                b'{"id": "1", "href": "http://b.test/customer/1"}',
                "tmf_location_is_href",
            ),
        ],
        ids=["5xx", "html", "no paging headers", "not a customer", "error status", "location"],
    )
    def test_a_broken_answer_is_a_finding(
        self, status: int, headers: dict[str, str], body: bytes, expected: str
    ) -> None:
        server = _server_answering(status, headers, body)

        report = run(load_spec(API.spec), configure(API, max_examples=1), app=server)

        assert expected in {finding.check for finding in report.findings}
        assert not report.passed

    def test_a_server_that_ignores_the_token_is_a_finding(self) -> None:
        server = _server_answering(200, JSON, b"[]")

        report = run(load_spec(API.spec), configure(API, max_examples=1, token="t"), app=server)

        assert "ignored_auth" in {finding.check for finding in report.findings}


class TestRequestsEarlierRunsFound:
    """Each was a 500 or a response outside the spec before it was fixed."""

    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("PUT", "/customer", "GET, HEAD, POST"),
            ("OPTIONS", "/customer/c1", "DELETE, GET, HEAD, PATCH"),
            ("PATCH", "/hub/h1", "DELETE, GET, HEAD"),
        ],
    )
    def test_a_wrong_method_is_answered_with_every_method_of_the_resource(
        self, client: Any, method: str, path: str, allow: str
    ) -> None:
        response = client.request(method, f"{BASE}{path}")

        assert response.status_code == 405
        assert response.headers["Allow"] == allow
        assert response.json()["code"] == "ERR_METHOD_NOT_ALLOWED"

    @pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
    def test_a_line_feed_in_an_id_finds_no_customer(self, client: Any, method: str) -> None:
        response = client.request(method, f"{BASE}/customer/a%0Ab", json={"name": "x"})

        assert response.status_code == 404
        assert response.json()["status"] == "404"

    @pytest.mark.parametrize("location", ["", "no scheme", "http://a b", "https://x.test/%zz"])
    def test_a_schema_location_that_is_no_uri_is_refused(self, client: Any, location: str) -> None:
        body = {**ADA, "@schemaLocation": location}

        response = client.post(f"{BASE}/customer", json=body)

        assert response.status_code == 400
        assert "@schemaLocation" in response.json()["message"]

    def test_a_schema_location_that_is_a_uri_is_kept(self, client: Any) -> None:
        location = "https://schemas.example.com/Customer.json#/definitions/VipCustomer"
        body = {**ADA, "@schemaLocation": location}

        response = client.post(f"{BASE}/customer", json=body)

        assert response.status_code == 201
        assert response.json()["@schemaLocation"] == location

    def test_a_json_patch_that_keeps_copying_the_customer_into_itself_is_refused(
        self, client: Any
    ) -> None:
        created = client.post(f"{BASE}/customer", json=ADA).json()
        doubling = [{"op": "copy", "from": "", "path": "/characteristic"}] * 40  # 2**40 values

        response = client.patch(
            f"{BASE}/customer/{created['id']}",
            json=doubling,
            headers={"Content-Type": "application/json-patch+json"},
        )

        assert response.status_code == 400
        assert client.get(f"{BASE}/customer/{created['id']}").json() == created

    def test_a_customer_holding_a_64_bit_integer_can_still_be_patched(self, client: Any) -> None:
        # the database returns it as bson's Int64, which once made every PATCH spin forever
        body = {**ADA, "characteristic": [{"name": "dataCapBytes", "value": 5_000_000_000}]}
        created = client.post(f"{BASE}/customer", json=body).json()

        response = client.patch(f"{BASE}/customer/{created['id']}", json={"name": "Ada L."})

        assert response.status_code == 200
        assert response.json()["characteristic"] == body["characteristic"]
