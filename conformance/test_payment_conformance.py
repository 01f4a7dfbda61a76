"""TMF676 Payment Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py), over payments, refunds and the hub. The server holds
its demo data: each payment the seeding records goes to a new billing account of a demo
customer, so it pays no bill and stays as credit, and each refund pays back part of the
credit of a payment made for it. A POST sent again by the run with the seeding's
correlatorId is answered with 200 (the same request) or 409 (another amount).
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, ConformsToItsSpec, api_url, in_process_report

pytestmark = pytest.mark.slow

API = APIS["payment"]
BASE = api_url("", API)
MAX_EXAMPLES = 20  # nine operations


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    return in_process_report(mongo_uri, API, MAX_EXAMPLES)


class TestPaymentManagementConformsToItsSpec(ConformsToItsSpec):
    api = API

    @pytest.mark.parametrize(
        ("operation", "success"),
        [
            ("POST /payment", 201),
            ("GET /payment", 200),
            ("GET /payment/{id}", 200),
            ("POST /refund", 201),
            ("GET /refund", 200),
            ("GET /refund/{id}", 200),
            ("POST /hub", 201),
            ("GET /hub/{id}", 200),
            ("DELETE /hub/{id}", 204),
        ],
    )
    def test_operations_reach_items_that_exist(
        self, report: Report, operation: str, success: int
    ) -> None:
        assert success in report.statuses(operation), report.summary()

    def test_a_request_sent_again_gets_what_it_made(self, report: Report) -> None:
        assert 200 in report.statuses("POST /payment"), report.summary()
