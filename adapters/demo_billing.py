"""Demo billing history: a few demo accounts with lines since before the previous bill
period, usage rated into that period, their bills (previous and current period) and some
payments, so that a newcomer finds bills, documents and payments in the APIs.

The timeline is relative to the day `make run` runs, and replayed the way it happens: the
lines are activated (back-dated), the previous period is billed, then the changes of that
period happen (an upgrade, a suspension), usage is rated, the current period is billed
(with the adjustments), and payments come in. Every step is idempotent (existing products,
bills and payments are left alone), so running the demo again creates nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.demo_data import demo_billing_accounts, demo_customers
from adapters.partners import scoped
from domain.account import account_terms
from domain.errors import NotFound
from domain.instants import format_instant
from domain.inventory import record_history
from domain.money import round_money
from domain.order_validation import fixed_values, offer_of, order_price
from domain.pricing import prices_in_effect
from domain.resource import Lookup
from domain.service import ResourceService
from handlers.tmf import Services

MSISDN_BASE = 353839000000  # outside the demo number pool (+353831...)
ICCID_BASE = 8935301990000000000


@dataclass(frozen=True)
class DemoLine:
    slot: int  # the demo customer and account number
    plan: str
    add_on: str | None = None
    story: str | None = None  # what happens in the previous period: upgrade | suspension
    usage_mb: int = 0  # data used at home in the previous period
    roaming_mb: int = 0  # data used in the USA (rest of world: charged per MB)


LINES = (
    DemoLine(1, "pos-sim-only-5gb", usage_mb=6 * 1024),  # over its 5 GB
    DemoLine(2, "pos-sim-only-20gb", add_on="pos-data-addon-5gb", usage_mb=8 * 1024),
    DemoLine(3, "pos-sim-only-unlimited", roaming_mb=35),
    DemoLine(4, "pos-sim-only-5gb", story="upgrade", usage_mb=3 * 1024),
    DemoLine(5, "pos-sim-only-20gb", story="suspension", roaming_mb=12),
    DemoLine(6, "pos-sim-only-5gb", add_on="pos-eu-roaming-pack"),  # billed from the 15th
)
UPGRADE_TO = "pos-sim-only-20gb"


def seed_billing(services: Services, system: Mapping[str, ResourceService], now: datetime) -> int:
    """Writes what is missing of the demo billing history; returns how many products,
    usage records, bills and payments it created."""
    lookup = services.resources["productOffering"].lookup
    accounts = dict(demo_billing_accounts())
    customers = dict(demo_customers())
    created = 0
    for line in LINES:
        account_id = f"ba-demo-{line.slot:04d}"
        account = services.resources["billingAccount"].get(account_id)
        cycle = account_terms(account, lookup).cycle
        current = cycle.period(now)
        previous = cycle.period(current[0] - timedelta(seconds=1))
        activated = previous[0] - timedelta(days=12, hours=-9)
        customer_id = accounts[account_id]["relatedParty"][0]["id"]
        party = {
            "id": customer_id,
            "name": customers[customer_id]["name"],
            "role": "customer",
            "@referredType": "Customer",
        }
        products = _products(lookup, line, account, party, activated)
        created += _store_new(system["product"], products)
        billing = services.extra["billing"]
        first_bill = billing.run(previous[0] + timedelta(hours=2), [account_id])
        created += len(first_bill.billed)
        created += _pay(services, line, account_id, previous)
        created += _store_story(system["product"], lookup, line, products[0], previous)
        created += _rate_usage(services, line, products[0], previous)
        created += len(billing.run(now, [account_id]).billed)
    return created


def _products(
    lookup: Lookup,
    line: DemoLine,
    account: Mapping[str, Any],
    party: dict[str, Any],
    activated: datetime,
) -> list[dict[str, Any]]:
    msisdn, iccid = f"+{MSISDN_BASE + line.slot}", str(ICCID_BASE + line.slot)
    account_ref = {"id": account["id"], "name": account["name"], "@referredType": "BillingAccount"}
    plan = _product(lookup, f"prd-demo-{line.slot:04d}", line.plan, activated)
    plan["productCharacteristic"] += [
        {"name": "msisdn", "value": msisdn},
        {"name": "iccid", "value": iccid},
    ]
    plan["realizingResource"] = [
        {"id": msisdn, "@referredType": "MSISDN"},
        {"id": iccid, "@referredType": "SIM"},
    ]
    products = [plan]
    if line.add_on:
        add_on = _product(lookup, f"prd-demo-{line.slot:04d}-addon", line.add_on, activated)
        add_on["productRelationship"] = [
            {"relationshipType": "reliesOn", "product": {"id": plan["id"], "name": plan["name"]}}
        ]
        products.append(add_on)
    for product in products:
        product["billingAccount"] = dict(account_ref)
        product["relatedParty"] = [dict(party)]
    return products


def _product(lookup: Lookup, product_id: str, offering_id: str, at: datetime) -> dict[str, Any]:
    """A product of the offering as fulfilment leaves it, active since `at`."""
    offer = offer_of(lookup, offering_id)
    if offer is None:
        raise NotFound(f"demo offering {offering_id} is missing from the catalog")
    product: dict[str, Any] = {
        "id": product_id,
        "isBundle": False,
        "isCustomerVisible": True,
        "orderDate": format_instant(at - timedelta(minutes=5)),
        "startDate": format_instant(at),
        "status": "active",
        "@type": "Product",
    }
    _describe(lookup, product, offering_id, at)
    product["productCharacteristic"] = [
        {"name": name, "value": value} for name, value in fixed_values(offer.offering).items()
    ]
    return record_history(product, format_instant(at))


def _describe(lookup: Lookup, product: dict[str, Any], offering_id: str, at: datetime) -> None:
    offer = offer_of(lookup, offering_id)
    assert offer is not None
    product["name"] = offer.offering.get("name", offering_id)
    product["productOffering"] = {
        "id": offering_id,
        "name": product["name"],
        "@referredType": "ProductOffering",
    }
    if offer.specification:
        product["productSpecification"] = {
            "id": offer.specification["id"],
            "name": offer.specification.get("name", ""),
            "@referredType": "ProductSpecification",
        }
    product["productPrice"] = [
        {**order_price(price, exact=price.price_type == "usage"), "@type": "ProductPrice"}
        for price in prices_in_effect(lookup, offering_id, at, sellable_only=False)
        if price.price_type != "discount"
    ]


def _store_new(products: ResourceService, bodies: list[dict[str, Any]]) -> int:
    created = 0
    for body in bodies:
        try:
            products.get(body["id"])
        except NotFound:
            fields = {k: v for k, v in body.items() if k != "id"}
            products.create({**fields, "status": "created"}, resource_id=body["id"])
            stored = products.load(body["id"])  # active, as its history says
            products.change(stored, {**stored.resource, "status": body["status"]})
            created += 1
    return created


def _store_story(
    products: ResourceService,
    lookup: Lookup,
    line: DemoLine,
    plan: dict[str, Any],
    previous: tuple[datetime, datetime],
) -> int:
    """The change of the previous period, after its bill: once."""
    if line.story is None:
        return 0
    stored = products.load(plan["id"])
    if len(stored.resource.get("productHistory") or []) > 1:
        return 0
    after = copy.deepcopy(stored.resource)
    if line.story == "upgrade":
        changed = previous[0] + timedelta(days=9, hours=15)
        _describe(lookup, after, UPGRADE_TO, changed)
        products.change(stored, record_history(after, format_instant(changed)))
    else:
        suspended = previous[0] + timedelta(days=4, hours=11)
        for status, at in (("suspended", suspended), ("active", suspended + timedelta(days=7))):
            after["status"] = status
            products.change(stored, record_history(after, format_instant(at)))
            stored = products.load(plan["id"])
            after = copy.deepcopy(stored.resource)
    return 1


# How each demo customer paid the bill of the previous period: in full, half, or 10.00 more
# than due (credit, applied to the next bill).
PAID_SHARE = {1: "1", 2: "1", 3: "0.5", 4: "1", 6: "1"}
OVERPAID = {6: Decimal("10.00")}


def _pay(
    services: Services, line: DemoLine, account_id: str, previous: tuple[datetime, datetime]
) -> int:
    if line.slot not in PAID_SHARE:
        return 0  # left unpaid
    db = services.extra["db"]
    bill = db["customerBill"].find_one(
        scoped(
            "customerBill",
            {
                "billingAccount.id": account_id,
                "billingPeriod.startDateTime": format_instant(previous[0]),
            },
        ),
        {"_id": 0, "billNo": 1, "amountDue": 1},
    )
    if bill is None:
        return 0
    due = bill["amountDue"]["value"]
    amount = round_money(due * Decimal(PAID_SHARE[line.slot]), "EUR") + OVERPAID.get(line.slot, 0)
    _, created = services.extra["payments"].pay(
        {
            "account": {"id": account_id},
            "correlatorId": f"demo-payment-{bill['billNo']}",
            "description": f"Bank transfer quoting bill {bill['billNo']}",
            "paymentMethod": {"@type": "BankTransfer", "name": "Bank transfer"},
            "totalAmount": {"unit": bill["amountDue"]["unit"], "value": amount},
        }
    )
    return int(created)


def _rate_usage(
    services: Services, line: DemoLine, plan: dict[str, Any], previous: tuple[datetime, datetime]
) -> int:
    """Data sessions of the previous period, rated like a CDR file; sent again, they are
    duplicates and rated nothing."""
    msisdn = plan["realizingResource"][0]["id"]
    records = []
    for kind, megabytes, country in (("home", line.usage_mb, "IE"), ("row", line.roaming_mb, "US")):
        if not megabytes:
            continue
        sessions = 4
        for k in range(sessions):
            at = previous[0] + timedelta(days=15 + k, hours=10)
            records.append(
                {
                    "externalId": f"demo-{plan['id']}-{kind}-{k}",
                    "usageType": "data",
                    "usageDate": format_instant(at),
                    "usageCharacteristic": [
                        {"name": "msisdn", "value": msisdn},
                        {"name": "bytes", "value": megabytes * 1_048_576 // sessions},
                        {"name": "visitedCountry", "value": country},
                    ],
                }
            )
    if not records:
        return 0
    batch = services.extra["usage_rating"].ingest(records, source="demo")
    return int(batch["rated"]) + int(batch["rejected"])
