"""GET /revenueAssuranceReport (our TMF678 extension) over HTTP: the demo billing history
(adapters/demo_billing.py: two billed periods with an upgrade, a suspension, usage, add-ons
and payments) shows no leakage; a period that is not a month is refused with a TMF error.
Responses are validated against openapi/bill.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters import seeding
from adapters.demo_billing import LINES, seed_billing
from adapters.demo_catalog import starter_catalog
from adapters.demo_data import demo_billing_accounts, demo_records
from tests.e2e.conftest import fresh_database_name, running_app

REPORT = "/tmf-api/customerBillManagement/v4/revenueAssuranceReport"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(mongo_uri: str) -> Any:
    with running_app(mongo_uri, fresh_database_name()) as application:
        services = application.app.extensions["bss"]
        seeding.load(services.resources, {**starter_catalog(), **demo_records()})
        seed_billing(services, services.extra["system"], NOW)
        with application.test_client() as client:
            yield client


@pytest.mark.parametrize(
    "period",
    [
        "2026-10",  # the previous periods, settled by the current bills
        "2026-11",  # the current periods, billed in advance
    ],
)
def test_the_demo_billing_history_shows_no_leakage(demo, period):
    response = demo.get(REPORT, params={"period": period})
    assert response.status_code == 200
    report = response.json()
    assert report["clean"] and report["period"] == period
    assert (report["discrepancy"], report["pending"], report["failedAccount"]) == ([], [], [])
    [total] = report["total"]
    assert total["leakage"] == {"unit": "EUR", "value": 0}
    assert total["owed"] == total["billed"]
    assert Decimal(str(total["owed"]["value"])) > 0
    assert report["accountCount"] == len(demo_billing_accounts())
    # the demo leaves some bills new and unpaid
    billed = {bill["billingAccount"]["id"] for bill in report["unsentBill"]}
    assert billed <= {f"ba-demo-{line.slot:04d}" for line in LINES} and billed


@pytest.mark.parametrize("period", ["2026-13", "November", "1999-12", ""])
def test_a_period_that_is_not_a_month_is_refused(demo, period):
    response = demo.get(REPORT, params={"period": period})
    assert response.status_code == 400
    body = response.json()
    assert {"code", "reason", "message", "status"} <= body.keys()


def test_the_period_is_required(demo):
    response = demo.get(REPORT)
    assert response.status_code == 400
    assert "period" in response.json()["message"]
