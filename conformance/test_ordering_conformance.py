"""TMF622 Product Ordering Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py), over product orders, their cancellations and the hub.
Orders are only acknowledged during the run (no fulfilment runs in it); the seeded ones that
item operations aim at were taken to `rejected` by fulfilment first, so that DELETE finds
orders it may delete.
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, ConformsToItsSpec, api_url, in_process_report

pytestmark = pytest.mark.slow

API = APIS["ordering"]
BASE = api_url("", API)
MAX_EXAMPLES = 10  # large order schemas: the catalog's budget keeps the run near a minute


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    return in_process_report(mongo_uri, API, MAX_EXAMPLES)


class TestProductOrderingConformsToItsSpec(ConformsToItsSpec):
    api = API

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
