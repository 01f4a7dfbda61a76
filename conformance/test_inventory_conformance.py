"""TMF637 Product Inventory Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py). The inventory has no POST: before the run, orders for
an approved customer are fulfilled (starter catalog, number and SIM pools loaded), and the
products they give are the ones the item operations aim at.
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, ConformsToItsSpec, api_url, in_process_report

pytestmark = pytest.mark.slow

API = APIS["inventory"]
BASE = api_url("", API)
MAX_EXAMPLES = 30  # six operations: the customer suite's budget


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    return in_process_report(mongo_uri, API, MAX_EXAMPLES)


class TestProductInventoryConformsToItsSpec(ConformsToItsSpec):
    api = API

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
