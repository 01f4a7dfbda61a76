"""TMF620 Product Catalog Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py), over the seven catalog resources and the hub.
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, Server, api_url, configure, our_app, prepare, run
from handlers.specs import load_spec

pytestmark = pytest.mark.slow

API = APIS["catalog"]
BASE = api_url("", API)
MAX_EXAMPLES = 10  # 37 operations: keeps the run near a minute on two cores
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in load_spec(API.spec)["paths"].items()
    for method in item
    if method in ("get", "post", "patch", "put", "delete")
]
ITEM_OPERATIONS = [
    (operation, {"GET": 200, "PATCH": 200, "DELETE": 204}[operation.split()[0]])
    for operation in OPERATIONS
    if operation.endswith("/{id}")
]


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    with our_app(mongo_uri, API) as app:
        spec = prepare(Server.in_process(app), API)
        return run(spec, configure(API, max_examples=MAX_EXAMPLES), app=app)


class TestProductCatalogConformsToItsSpec:
    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_no_check_fails_on_any_response(self, report: Report, operation: str) -> None:
        assert report.statuses(operation), f"{operation} was never called"
        findings = [finding for finding in report.findings if finding.operation == operation]
        assert not findings, "\n\n".join(finding.render() for finding in findings)

    def test_the_run_reports_nothing_else(self, report: Report) -> None:
        elsewhere = [finding for finding in report.findings if finding.operation not in OPERATIONS]
        assert not elsewhere, "\n\n".join(finding.render() for finding in elsewhere)
        assert not report.errors, "\n".join(report.errors)

    @pytest.mark.parametrize(("operation", "success"), ITEM_OPERATIONS)
    def test_operations_reach_items_that_exist(
        self, report: Report, operation: str, success: int
    ) -> None:
        assert success in report.statuses(operation), report.summary()
