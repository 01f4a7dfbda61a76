"""TMF678 Customer Bill Management, our server against our spec: schemathesis in-process.

The same run as for TMF629 (suite.py), over customer bills, their applied customer billing
rates, bills on demand, our bill document extension and the hub. Bills have no POST: before
the run, an order gives a mobile line (demo data loaded), and for each bill a usage batch
rates a data session of it roaming outside the EU (charged) and a bill on demand bills it.
Those bills and their lines are what the item operations aim at; requests POSTed during the
run are for a demo account with nothing to bill, and end rejected.
"""

from __future__ import annotations

import pytest

from conformance.report import Report
from conformance.suite import APIS, ConformsToItsSpec, api_url, in_process_report

pytestmark = pytest.mark.slow

API = APIS["bill"]
BASE = api_url("", API)
MAX_EXAMPLES = 20  # twelve operations


@pytest.fixture(scope="module")
def report(mongo_uri: str) -> Report:
    return in_process_report(mongo_uri, API, MAX_EXAMPLES)


class TestCustomerBillManagementConformsToItsSpec(ConformsToItsSpec):
    api = API

    @pytest.mark.parametrize(
        ("operation", "success"),
        [
            ("GET /customerBill", 200),
            ("GET /customerBill/{id}", 200),
            ("PATCH /customerBill/{id}", 200),
            ("GET /customerBill/{id}/document", 200),
            ("GET /appliedCustomerBillingRate", 200),
            ("GET /appliedCustomerBillingRate/{id}", 200),
            ("POST /customerBillOnDemand", 201),
            ("GET /customerBillOnDemand/{id}", 200),
            ("POST /hub", 201),
            ("GET /hub/{id}", 200),
            ("DELETE /hub/{id}", 204),
        ],
    )
    def test_operations_reach_items_that_exist(
        self, report: Report, operation: str, success: int
    ) -> None:
        # bills come from the seeding only: random ids find none
        assert success in report.statuses(operation), report.summary()
