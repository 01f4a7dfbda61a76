"""TMF620 Product Catalog Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py), over the seven catalog resources and the hub.
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, ConformsToItsSpec, api_url, in_process_report, operations

pytestmark = pytest.mark.slow

API = APIS["catalog"]
BASE = api_url("", API)
MAX_EXAMPLES = 10  # 37 operations: keeps the run near a minute on two cores
OPERATIONS = operations(API)
ITEM_OPERATIONS = [
    (operation, {"GET": 200, "PATCH": 200, "DELETE": 204}[operation.split()[0]])
    for operation in OPERATIONS
    if operation.endswith("/{id}")
]


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    return in_process_report(mongo_uri, API, MAX_EXAMPLES)


class TestProductCatalogConformsToItsSpec(ConformsToItsSpec):
    api = API

    @pytest.mark.parametrize(("operation", "success"), ITEM_OPERATIONS)
    def test_operations_reach_items_that_exist(
        self, report: Report, operation: str, success: int
    ) -> None:
        assert success in report.statuses(operation), report.summary()
