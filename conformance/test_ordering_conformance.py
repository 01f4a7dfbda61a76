"""TMF622 Product Ordering Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py), over product orders, their cancellations and the hub.
Orders are only acknowledged during the run (no fulfilment runs in it); the seeded ones that
item operations aim at were taken to `rejected` by fulfilment first, so that DELETE finds
orders it may delete.
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, Server, api_url, configure, our_app, prepare, run
from handlers.specs import load_spec

pytestmark = pytest.mark.slow

API = APIS["ordering"]
BASE = api_url("", API)
MAX_EXAMPLES = 10  # large order schemas: the catalog's budget keeps the run near a minute
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


class TestProductOrderingConformsToItsSpec:
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
            ("POST /productOrder", 201),
            ("GET /productOrder/{id}", 200),
            ("PATCH /productOrder/{id}", 200),
            ("DELETE /productOrder/{id}", 204),
            ("POST /cancelProductOrder", 201),
            ("GET /cancelProductOrder/{id}", 200),
            ("POST /hub", 201),
            ("GET /hub/{id}", 200),
            ("DELETE /hub/{id}", 204),
        ],
    )
    def test_operations_reach_items_that_exist(
        self, report: Report, operation: str, success: int
    ) -> None:
        # random ids and bodies only ever give 404s and 422s: without the seeding the run
        # would check error bodies only
        assert success in report.statuses(operation), report.summary()
