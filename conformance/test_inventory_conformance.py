"""TMF637 Product Inventory Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py). The inventory has no POST: before the run, orders for
an approved customer are fulfilled (starter catalog, number and SIM pools loaded), and the
products they give are the ones the item operations aim at.
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, Server, api_url, configure, our_app, prepare, run
from handlers.specs import load_spec

pytestmark = pytest.mark.slow

API = APIS["inventory"]
BASE = api_url("", API)
MAX_EXAMPLES = 30  # six operations: the customer suite's budget
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in load_spec(API.spec)["paths"].items()
    for method in item
    if method in ("get", "post", "patch", "put", "delete")
]


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    with our_app(mongo_uri, API) as app:
        spec = prepare(Server.in_process(app), API)
        return run(spec, configure(API, max_examples=MAX_EXAMPLES), app=app)


class TestProductInventoryConformsToItsSpec:
    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_no_check_fails_on_any_response(self, report: Report, operation: str) -> None:
        assert report.statuses(operation), f"{operation} was never called"
        findings = [finding for finding in report.findings if finding.operation == operation]
        assert not findings, "\n\n".join(finding.render() for finding in findings)

    def test_the_run_reports_nothing_else(self, report: Report) -> None:
        elsewhere = [finding for finding in report.findings if finding.operation not in OPERATIONS]
        assert not elsewhere, "\n\n".join(finding.render() for finding in elsewhere)
        assert not report.errors, "\n".join(report.errors)

    @pytest.mark.parametrize(
        ("operation", "success"),
        [
            ("GET /product", 200),
            ("GET /product/{id}", 200),
            ("PATCH /product/{id}", 200),
            ("POST /hub", 201),
            ("GET /hub/{id}", 200),
            ("DELETE /hub/{id}", 204),
        ],
    )
    def test_operations_reach_items_that_exist(
        self, report: Report, operation: str, success: int
    ) -> None:
        assert success in report.statuses(operation), report.summary()
