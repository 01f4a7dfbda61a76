"""TMF666 billing accounts and billing cycle specifications over HTTP: what the server fills
in, the owner and money rules, the state lifecycle, deletion while something is billed to
an account, and the bill cycle that sets the periods usage is counted in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e.checks import INSTANT, assert_tmf_error
from tests.e2e.ordering_setup import (
    ACCOUNTS,
    ORDERS,
    PLAN,
    add,
    cancel,
    fulfil,
    new_customer,
    order,
    order_body,
    ordering_app,
    outbox_events,
    place,
)
from tests.e2e.usage_setup import MB, account_of, balance, record, send, subscriber

CYCLES = "/tmf-api/accountManagement/v4/billingCycleSpecification"


def owned_by(customer_id: str) -> list[dict[str, Any]]:
    return [{"id": customer_id, "role": "owner", "@referredType": "Customer"}]


def create_account(client: Any, customer_id: str, **attributes: Any) -> Any:
    body = {"name": "Household", "relatedParty": owned_by(customer_id), **attributes}
    return client.post(ACCOUNTS, json=body)


def new_account(client: Any, customer_id: str, **attributes: Any) -> dict[str, Any]:
    response = create_account(client, customer_id, **attributes)
    assert response.status_code == 201, response.text
    return response.json()


def new_cycle(client: Any, **attributes: Any) -> dict[str, Any]:
    response = client.post(CYCLES, json={"name": "Monthly from the 15th", **attributes})
    assert response.status_code == 201, response.text
    return response.json()


def cycle_ref(cycle: dict[str, Any]) -> dict[str, Any]:
    return {"cycleSpecification": {"id": cycle["id"], "@referredType": "BillingCycleSpecification"}}


class TestCreate:
    def test_fills_in_currency_time_zone_state_and_last_modified(self, client):
        customer = new_customer(client, account=None)
        created = create_account(client, customer)
        assert created.status_code == 201, created.text
        account = created.json()
        assert account["currency"] == "EUR"
        assert account["timeZone"] == "Europe/Dublin"
        assert account["state"] == "Active"
        assert INSTANT.match(account["lastModified"])
        assert created.headers["location"] == account["href"]
        assert client.get(f"{ACCOUNTS}/{account['id']}").json() == account
        listed = client.get(ACCOUNTS, params={"relatedParty.id": customer}).json()
        assert [a["id"] for a in listed] == [account["id"]]

    def test_keeps_the_terms_it_is_given(self, client):
        customer = new_customer(client, account=None)
        terms = {
            "currency": "GBP",
            "timeZone": "Europe/London",
            "taxProfile": {"country": "GB"},
            "spendCap": {"unit": "GBP", "value": 25},
            "barAtSpendCap": True,
            "creditLimit": {"unit": "GBP", "value": 100},
            "state": "Suspended",
        }
        account = new_account(client, customer, **terms)
        assert {key: account[key] for key in terms} == terms

    def test_needs_an_owning_customer_that_exists(self, client):
        message = assert_tmf_error(create_account(client, "no-such-customer"), 422)["message"]
        assert "no-such-customer" in message
        payer = {"id": "indiv-1", "role": "payer", "@referredType": "Individual"}
        no_owner = {"name": "x", "relatedParty": [payer]}
        assert (
            "relatedParty" in assert_tmf_error(client.post(ACCOUNTS, json=no_owner), 422)["message"]
        )
        assert client.get(ACCOUNTS).json() == []

    def test_refuses_an_unknown_cycle_specification_and_time_zone(self, client):
        customer = new_customer(client, account=None)
        unknown = {"cycleSpecification": {"id": "no-such-cycle"}}
        message = assert_tmf_error(create_account(client, customer, billStructure=unknown), 422)[
            "message"
        ]
        assert "no-such-cycle" in message
        zone = create_account(client, customer, timeZone="Mars/Olympus_Mons")
        assert "Mars/Olympus_Mons" in assert_tmf_error(zone, 400)["message"]
        assert client.get(ACCOUNTS).json() == []

    def test_money_is_in_the_account_currency_and_the_currency_never_changes(self, client):
        customer = new_customer(client, account=None)
        cap = {"unit": "USD", "value": 10}
        message = assert_tmf_error(create_account(client, customer, spendCap=cap), 422)["message"]
        assert "spendCap" in message and "USD" in message
        negative = create_account(client, customer, spendCap={"unit": "EUR", "value": -1})
        assert "spendCap" in assert_tmf_error(negative, 400)["message"]

        account = new_account(client, customer)
        url = f"{ACCOUNTS}/{account['id']}"
        assert (
            "currency"
            in assert_tmf_error(client.patch(url, json={"currency": "GBP"}), 422)["message"]
        )
        mismatch = client.patch(url, json={"spendCap": {"unit": "GBP", "value": 5}})
        assert_tmf_error(mismatch, 422)
        assert client.get(url).json() == account


class TestState:
    def test_moves_between_active_and_suspended_until_closed_for_good(self, app, client):
        customer = new_customer(client, account=None)
        account = new_account(client, customer)
        url = f"{ACCOUNTS}/{account['id']}"
        for state in ("Suspended", "Active", "Closed"):
            changed = client.patch(url, json={"state": state})
            assert changed.status_code == 200, changed.text
            assert changed.json()["state"] == state
            assert changed.json()["lastModified"] >= account["lastModified"]
        for state in ("Active", "Suspended"):
            refused = assert_tmf_error(client.patch(url, json={"state": state}), 400)
            assert "Closed" in refused["message"]
        assert client.get(url).json()["state"] == "Closed"

        resource = f"billingAccount/{account['id']}"
        [created] = outbox_events(app, resource, "BillingAccountCreateEvent")
        assert created["event"]["billingAccount"] == account
        changes = outbox_events(app, resource, "BillingAccountStateChangeEvent")
        assert [e["event"]["billingAccount"]["state"] for e in changes] == [
            "Suspended",
            "Active",
            "Closed",
        ]

    def test_a_rename_is_an_attribute_change(self, app, client):
        account = new_account(client, new_customer(client, account=None))
        renamed = client.patch(f"{ACCOUNTS}/{account['id']}", json={"name": "Renamed"})
        assert renamed.status_code == 200, renamed.text
        resource = f"billingAccount/{account['id']}"
        [event] = outbox_events(app, resource, "BillingAccountAttributeValueChangeEvent")
        assert event["fieldPath"] == "name"
        assert outbox_events(app, resource, "BillingAccountStateChangeEvent") == []


class TestDelete:
    def test_an_account_nothing_is_billed_to_is_deleted(self, app, client):
        account = new_account(client, new_customer(client, account=None))
        assert client.delete(f"{ACCOUNTS}/{account['id']}").status_code == 204
        assert_tmf_error(client.get(f"{ACCOUNTS}/{account['id']}"), 404)
        resource = f"billingAccount/{account['id']}"
        assert len(outbox_events(app, resource, "BillingAccountDeleteEvent")) == 1

    def test_is_refused_while_an_order_or_a_product_is_billed_to_it(self, mongo_uri):
        with ordering_app(mongo_uri) as application, application.test_client() as client:
            customer = new_customer(client)
            account = {"id": account_of(client, customer), "@referredType": "BillingAccount"}
            url = f"{ACCOUNTS}/{account['id']}"
            placed = place(client, order_body(customer, add("1", PLAN), billingAccount=account))
            assert "productOrder" in assert_tmf_error(client.delete(url), 409)["message"]
            fulfil(application)
            line = order(client, placed["id"])["productOrderItem"][0]["product"]["id"]
            message = assert_tmf_error(client.delete(url), 409)["message"]
            assert line in message
            assert client.get(url).status_code == 200

            # an order cancelled before fulfilment still names the account until deleted
            other = new_account(client, customer, name="Second account")
            ref = {"id": other["id"], "@referredType": "BillingAccount"}
            cancelled = place(client, order_body(customer, add("1", PLAN), billingAccount=ref))
            assert cancel(client, cancelled["id"]).status_code == 201
            fulfil(application)
            assert order(client, cancelled["id"])["state"] == "cancelled"
            other_url = f"{ACCOUNTS}/{other['id']}"
            assert_tmf_error(client.delete(other_url), 409)
            assert client.delete(f"{ORDERS}/{cancelled['id']}").status_code == 204
            assert client.delete(other_url).status_code == 204


class TestCycleSpecification:
    def test_is_created_read_listed_changed_and_deleted(self, client):
        cycle = new_cycle(client, billingDateShift=14, paymentDueDateOffset=21)
        assert cycle["frequency"] == "monthly"
        url = f"{CYCLES}/{cycle['id']}"
        assert client.get(url).json() == cycle
        assert [c["id"] for c in client.get(CYCLES, params={"frequency": "monthly"}).json()] == [
            cycle["id"]
        ]
        defaults = new_cycle(client, name="Calendar month")
        assert (defaults["billingDateShift"], defaults["frequency"]) == (0, "monthly")
        changed = client.patch(url, json={"billingDateShift": 27})
        assert changed.status_code == 200, changed.text
        assert changed.json()["billingDateShift"] == 27
        assert client.delete(url).status_code == 204
        assert [c["id"] for c in client.get(CYCLES).json()] == [defaults["id"]]

    def test_has_monthly_periods_starting_on_days_1_to_28(self, client):
        too_late = client.post(CYCLES, json={"name": "x", "billingDateShift": 28})
        assert "billingDateShift" in assert_tmf_error(too_late, 400)["message"]
        weekly = client.post(CYCLES, json={"name": "x", "frequency": "weekly"})
        assert "weekly" in assert_tmf_error(weekly, 400)["message"]
        assert client.get(CYCLES).json() == []

    def test_is_not_deleted_while_an_account_follows_it(self, client):
        cycle = new_cycle(client, billingDateShift=14)
        customer = new_customer(client, account=None)
        account = new_account(client, customer, billStructure=cycle_ref(cycle))
        url = f"{CYCLES}/{cycle['id']}"
        assert account["id"] in assert_tmf_error(client.delete(url), 409)["message"]
        unbound = client.patch(f"{ACCOUNTS}/{account['id']}", json={"billStructure": None})
        assert unbound.status_code == 200, unbound.text
        assert client.delete(url).status_code == 204


def period_start(at: datetime, day: int, zone: str) -> str:
    """Midnight in `zone` of the last `day` of a month at or before `at`, in UTC."""
    local = at.astimezone(ZoneInfo(zone))
    year, month = local.year, local.month
    if local.day < day:
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    start = datetime(year, month, day, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_usage_counts_in_the_bill_periods_of_the_accounts_cycle_and_time_zone(mongo_uri):
    with ordering_app(mongo_uri) as application, application.test_client() as client:
        cycle = new_cycle(client, billingDateShift=14)
        sub = subscriber(application, client, PLAN)
        account = client.get(f"/tmf-api/customerManagement/v4/customer/{sub['customer']}").json()[
            "account"
        ][0]
        bound = client.patch(
            f"{ACCOUNTS}/{account['id']}",
            json={"billStructure": cycle_ref(cycle), "timeZone": "America/New_York"},
        )
        assert bound.status_code == 200, bound.text
        rated = send(application, client, record(sub["msisdn"], bytes=MB))
        [entry] = rated["ratedProductUsage"]
        usage_date = datetime.fromisoformat(rated["usageDate"].replace("Z", "+00:00"))
        start = period_start(usage_date, 15, "America/New_York")
        assert entry["billingPeriod"]["startDateTime"] == start
        assert balance(client, sub["line"])["validFor"] == entry["billingPeriod"]
