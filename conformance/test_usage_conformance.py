"""TMF635 Usage Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py), over usage records, usage specifications, our
usageConsumption (balances) and usageBatch (bulk ingestion) extensions, and the hub. Before
the run, an order gives a mobile line (demo data loaded) and a usage batch rates a record of
it: the rated record (with its ratedProductUsage) and the balance it opened are what GET
aims at; records of an unknown number, rejected, are what PATCH and DELETE aim at (a record
that counts cannot be deleted). Records POSTed during the run stay `received`: no rating
runs in it.
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, ConformsToItsSpec, api_url, in_process_report

pytestmark = pytest.mark.slow

API = APIS["usage"]
BASE = api_url("", API)
MAX_EXAMPLES = 20  # eighteen operations


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    return in_process_report(mongo_uri, API, MAX_EXAMPLES)


class TestUsageManagementConformsToItsSpec(ConformsToItsSpec):
    api = API

    @pytest.mark.parametrize(
        ("operation", "success"),
        [
            ("POST /usage", 201),
            ("GET /usage", 200),
            ("GET /usage/{id}", 200),
            ("PATCH /usage/{id}", 200),
            ("DELETE /usage/{id}", 204),
            ("POST /usageSpecification", 201),
            ("GET /usageSpecification/{id}", 200),
            ("PATCH /usageSpecification/{id}", 200),
            ("DELETE /usageSpecification/{id}", 204),
            ("GET /usageConsumption", 200),
            ("GET /usageConsumption/{id}", 200),
            ("POST /usageBatch", 201),
            ("GET /usageBatch/{id}", 200),
            ("POST /hub", 201),
            ("GET /hub/{id}", 200),
            ("DELETE /hub/{id}", 204),
        ],
    )
    def test_operations_reach_items_that_exist(
        self, report: Report, operation: str, success: int
    ) -> None:
        assert success in report.statuses(operation), report.summary()
