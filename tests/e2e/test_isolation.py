"""Partner isolation over HTTP (issue 7), for every operation of every API: partner A can
neither list, read, change nor delete partner B's resources (404 for B's ids, lists never
show them), nor order against B's offering, customer or account, nor pay or bill B's
account, nor rate usage onto B's lines, nor receive events about B's resources. No
operation is left out: every one of the specs is checked (test_every_operation_is_checked).

One app with authentication on (the fixtures of test_security.py) holds a world of both
partners built through the APIs with each partner's token, the shared (platform) starter
catalog, and each partner's own numbers and SIMs; the module's tests only read it, or add
to it as A.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters import seeding
from adapters.acting import acting_for
from adapters.demo_catalog import starter_catalog
from adapters.dispatcher import Dispatcher
from adapters.partners import PARTNER
from adapters.resource_pools import seed_numbers, seed_sims
from app import APIS
from handlers.specs import base_path, load_spec
from tests.e2e.conftest import database_of, fresh_database_name, running_app
from tests.e2e.ordering_setup import ORDERS, add, cancel, fulfil, new_customer, order_body, place
from tests.e2e.payment_setup import PAYMENTS, REFUNDS, TRANSFER, money, payment_body, post
from tests.e2e.resources import CASES
from tests.e2e.test_security import SECRET, auth_settings, bearer, token
from tests.e2e.usage_setup import BATCHES, CONSUMPTION, USAGE, account_of, rate, record

A, B = "acme", "bravo"
PLAN = "pos-sim-only-5gb"  # a platform offering: every partner sells it
START = "2024-01-01T00:00:00.000Z"
CATALOG_API = "/tmf-api/productCatalogManagement/v4"
ACCOUNT_API = "/tmf-api/accountManagement/v4"
BILL_API = "/tmf-api/customerBillManagement/v4"
CHANGES = {case.path: dict(case.change) for case in CASES}
LISTENER = "http://listener.test"


def headers(partner: str | None, acting_for_partner: str | None = None) -> dict[str, str]:
    """A partner's token (an operator's for None, acting for `acting_for_partner`), valid
    for as long as the module runs."""
    found = bearer(token(partner, exp=int(time.time()) + 3600))
    return {**found, "X-Partner": acting_for_partner} if acting_for_partner else found


@dataclass
class World:
    app: Any
    a: Any  # partner A's client
    b: Any  # partner B's client
    operator: Any  # an operator's, across partners
    ids: dict[str, str] = field(default_factory=dict)  # B's resource of each collection path
    hub: dict[str, str] = field(default_factory=dict)  # B's subscription of each API
    a_customer: str = ""
    a_account: str = ""
    b_customer: str = ""
    b_account: str = ""
    b_msisdn: str = ""
    b_offering: str = ""
    # what A's, B's and an operator's subscriptions were sent: envelopes by callback
    deliveries: dict[str, list[dict[str, Any]]] | None = None

    @property
    def db(self) -> Any:
        return database_of(self.app)

    def b_owns(self) -> set[str]:
        """The ids of every resource of B's, as stored."""
        return {
            str(document["id"])
            for name in self.db.list_collection_names()
            for document in self.db[name].find({PARTNER: B, "id": {"$exists": True}}, {"id": 1})
        }


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def run_jobs(world: World) -> None:
    world.app.app.extensions["bss"].extra["job_runner"].run_once()


def billing(world: World) -> Any:
    return world.app.app.extensions["bss"].extra["billing"]


def catalog_entity(client: Any, path: str, **body: Any) -> dict[str, Any]:
    entity = {"lifecycleStatus": "Active", "validFor": {"startDateTime": START}, **body}
    return created(client.post(f"{CATALOG_API}/{path}", json=entity))


def ref(entity: dict[str, Any]) -> dict[str, Any]:
    return {"id": entity["id"], "name": entity["name"]}


def build_b(world: World) -> None:
    """Every kind of resource, of B's, through the APIs with B's token."""
    b, ids = world.b, world.ids
    spec = catalog_entity(b, "productSpecification", name="Bravo plan")
    price = catalog_entity(
        b,
        "productOfferingPrice",
        name="Bravo fee",
        priceType="recurring",
        recurringChargePeriodType="month",
        price={"unit": "EUR", "value": 9.99},
    )
    category = catalog_entity(b, "category", name="Bravo plans")
    catalog = catalog_entity(b, "catalog", name="Bravo catalog", category=[ref(category)])
    offering = catalog_entity(
        b,
        "productOffering",
        name="Bravo SIM",
        productSpecification=ref(spec),
        productOfferingPrice=[ref(price)],
        category=[ref(category)],
    )
    launched = b.patch(
        f"{CATALOG_API}/productOffering/{offering['id']}", json={"lifecycleStatus": "Launched"}
    )
    assert launched.status_code == 200, launched.text
    ids.update(
        productSpecification=spec["id"],
        productOfferingPrice=price["id"],
        category=category["id"],
        catalog=catalog["id"],
        productOffering=offering["id"],
    )
    world.b_offering = offering["id"]
    cycle = {"name": "Bravo cycle", "frequency": "monthly", "billingDateShift": 4}
    ids["billingCycleSpecification"] = created(
        b.post(f"{ACCOUNT_API}/billingCycleSpecification", json=cycle)
    )["id"]
    world.b_customer = ids["customer"] = new_customer(b)
    world.b_account = ids["billingAccount"] = account_of(b, world.b_customer)

    line_order = place(b, order_body(world.b_customer, add("1", PLAN)))
    held = place(b, order_body(world.b_customer, add("1", PLAN)))
    ids["cancelProductOrder"] = created(cancel(b, held["id"]))["id"]
    fulfil(world.app)
    done = b.get(f"{ORDERS}/{line_order['id']}").json()
    assert done["state"] == "completed", done
    ids["productOrder"] = line_order["id"]
    ids["product"] = line = done["productOrderItem"][0]["product"]["id"]
    line_product = b.get(f"/tmf-api/productInventory/v4/product/{line}").json()
    world.b_msisdn = next(
        c["value"] for c in line_product["productCharacteristic"] if c["name"] == "msisdn"
    )

    ids["usage"] = created(b.post(USAGE, json=record(world.b_msisdn, bytes=1_000_000)))["id"]
    assert rate(world.app) == 1
    batch = {"usage": [record(world.b_msisdn, external_id="bravo-batch-1", bytes=1000)]}
    ids["usageBatch"] = created(b.post(BATCHES, json=batch))["id"]
    [balance] = b.get(CONSUMPTION, params={"product.id": line}).json()
    ids["usageConsumption"] = balance["id"]
    usage_spec = {"name": "Bravo data", "lifecycleStatus": "Active"}
    ids["usageSpecification"] = created(
        b.post("/tmf-api/usageManagement/v4/usageSpecification", json=usage_spec)
    )["id"]

    report = billing(world).run(datetime.now(UTC) + timedelta(days=40), [world.b_account])
    assert report.billed, report.as_dict()
    ids["customerBill"] = report.billed[0]
    rates = b.get(f"{BILL_API}/appliedCustomerBillingRate", params={"bill.id": report.billed[0]})
    ids["appliedCustomerBillingRate"] = rates.json()[0]["id"]
    on_demand = {"billingAccount": {"id": world.b_account}}
    ids["customerBillOnDemand"] = created(
        b.post(f"{BILL_API}/customerBillOnDemand", json=on_demand)
    )["id"]
    payment = created(post(b, PAYMENTS, payment_body(world.b_account, "500.00", correlator="b-1")))
    ids["payment"] = payment["id"]
    refund = {
        "account": {"id": world.b_account},
        "payment": {"id": payment["id"]},
        "paymentMethod": TRANSFER,
        "totalAmount": money("1.00"),
    }
    ids["refund"] = created(post(b, REFUNDS, refund))["id"]

    ids["exportJob"] = created(b.post(f"{CATALOG_API}/exportJob", json={}))["id"]
    empty = base64.b64encode(b"{}").decode()
    importing = {"url": f"data:application/json;base64,{empty}"}
    ids["importJob"] = created(b.post(f"{CATALOG_API}/importJob", json=importing))["id"]
    run_jobs(world)
    for api in APIS:
        hub = f"{base_path(load_spec(api.spec))}/hub"
        if hub_operations(api.name):
            subscription = {"callback": f"{LISTENER}/{B}/{api.name}/earlier"}
            world.hub[api.name] = created(b.post(hub, json=subscription))["id"]
    trail = world.operator.get(
        "/tmf-api/auditManagement/v4/auditEntry", params={"resourceId": world.b_customer}
    )
    ids["auditEntry"] = trail.json()[0]["id"]


def build_a(world: World) -> None:
    """A's customer, account and line (from A's own numbers)."""
    world.a_customer = new_customer(world.a)
    world.a_account = account_of(world.a, world.a_customer)
    placed = place(world.a, order_body(world.a_customer, add("1", PLAN)))
    fulfil(world.app)
    assert world.a.get(f"{ORDERS}/{placed['id']}").json()["state"] == "completed"


@pytest.fixture(scope="module")
def world(mongo_uri: str) -> Iterator[World]:
    settings = auth_settings(jwt_secret=SECRET)
    with running_app(mongo_uri, fresh_database_name(), **settings) as application:
        services = application.app.extensions["bss"]
        seeding.load(services.resources, starter_catalog())  # the platform's
        db = database_of(application)
        for partner, numbers, iccids in (
            (A, "+353831000000", "8935301000000000001"),
            (B, "+353832000000", "8935302000000000001"),
        ):
            with acting_for(partner):
                seed_numbers(db, numbers, 10)
                seed_sims(db, iccids, 10)
        with contextlib.ExitStack() as clients:
            made = World(
                application,
                *(
                    clients.enter_context(application.test_client(headers=headers(who)))
                    for who in (A, B, None)
                ),
            )
            build_b(made)
            build_a(made)
            yield made


# the operations ------------------------------------------------------------------------


def hub_operations(api: str) -> bool:
    spec = next(load_spec(found.spec) for found in APIS if found.name == api)
    return "/hub" in spec["paths"]


def _operations() -> Iterator[tuple[str, str, str, str]]:
    """(api, method, path in its spec, base path) of every operation of every API."""
    for api in APIS:
        spec = load_spec(api.spec)
        for path, item in spec["paths"].items():
            for method in item:
                if method in ("get", "post", "put", "patch", "delete"):
                    yield api.name, method.upper(), path, base_path(spec)


OPERATIONS = list(_operations())


def concrete(base: str, path: str, resource_id: str) -> str:
    return base + re.sub(r"\{[^}]+\}", resource_id, path)


def resource_id_of(world: World, api: str, path: str) -> str:
    """B's resource an operation on `path` (with an {id}) is tried on."""
    collection = path.strip("/").split("/")[0]
    return world.hub[api] if collection == "hub" else world.ids[collection]


# checks by kind of operation -----------------------------------------------------------


def lists_none_of_bs(world: World, api: str, path: str, base: str) -> None:
    """A's list holds none of B's resources, even asked for one of them by id."""
    url = base + path
    response = world.a.get(url, params={"limit": 1000})
    assert response.status_code in (200, 206), response.text
    listed = {str(item["id"]) for item in response.json()}
    assert not listed & world.b_owns()
    asked = world.a.get(url, params={"id": world.ids[path.strip("/")]})
    assert asked.status_code == 200 and asked.json() == []
    everyone = world.operator.get(url, params={"id": world.ids[path.strip("/")]})
    assert len(everyone.json()) == 1  # it is there: an operator sees it


def not_found_for_a(world: World, api: str, path: str, base: str, method: str) -> None:
    """GET, PATCH or DELETE of B's resource by A: 404, and it is left as it was."""
    target = resource_id_of(world, api, path)
    url = concrete(base, path, target)
    collection = path.strip("/").split("/")[0]
    before = world.db[collection].find_one({"id": target}) or world.db.hub.find_one({"_id": target})
    if method == "PATCH":
        response = world.a.patch(url, json=CHANGES[collection])
    else:
        response = world.a.request(method, url)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "ERR_NOT_FOUND"
    after = world.db[collection].find_one({"id": target}) or world.db.hub.find_one({"_id": target})
    assert after == before


def audit_is_the_operators(world: World, api: str, path: str, base: str, method: str) -> None:
    """The audit trail is read by operators only; one acting for A sees none of B's."""
    url = concrete(base, path, world.ids["auditEntry"])
    assert world.a.get(url).status_code == 403
    with world.app.test_client(headers=headers(None, A)) as for_a:
        if "{id}" in path:
            assert for_a.get(url).status_code == 404
        else:
            entries = for_a.get(url, params={"limit": 1000}).json()
            assert not {i for entry in entries for i in entry["resourceIds"]} & world.b_owns()


def revenue_report_of_a(world: World, api: str, path: str, base: str, method: str) -> None:
    period = datetime.now(UTC).strftime("%Y-%m")
    mine = world.a.get(base + path, params={"period": period})
    everyone = world.operator.get(base + path, params={"period": period})
    accounts = world.a.get(f"{ACCOUNT_API}/billingAccount").json()
    assert mine.status_code == everyone.status_code == 200
    assert mine.json()["accountCount"] == len(accounts)
    assert everyone.json()["accountCount"] > len(accounts)
    assert world.b_account not in mine.text and world.b_customer not in mine.text


def created_for_a_alone(world: World, api: str, path: str, base: str, method: str) -> None:
    """A resource that refers to nothing of B's: A's, which B never sees."""
    collection = path.strip("/")
    body = CASES_BY_PATH[collection].new_body(7)
    made = created(world.a.post(base + path, json=body))
    assert world.b.get(f"{base}{path}/{made['id']}").status_code == 404
    assert made["id"] not in {item["id"] for item in world.b.get(base + path).json()}


def offering_of_bs_pieces(world: World, api: str, path: str, base: str, method: str) -> None:
    """An offering of A's made of B's specification and price cannot be launched: they do
    not exist for A."""
    offering = catalog_entity(
        world.a,
        "productOffering",
        name="Stolen plan",
        productSpecification={"id": world.ids["productSpecification"]},
        productOfferingPrice=[{"id": world.ids["productOfferingPrice"]}],
    )
    url = f"{base}{path}/{offering['id']}"
    launched = world.a.patch(url, json={"lifecycleStatus": "Launched"})
    assert launched.status_code == 422, launched.text
    assert f"'{world.ids['productSpecification']}' does not exist" in launched.json()["message"]


def orders_against_bs(world: World, api: str, path: str, base: str, method: str) -> None:
    """Orders of A's naming B's offering, B's customer or B's account are rejected, and
    nothing of B's changes."""
    bodies = [
        order_body(world.a_customer, add("1", world.b_offering)),
        order_body(world.b_customer, add("1", PLAN)),
        order_body(world.a_customer, add("1", PLAN), billingAccount={"id": world.b_account}),
    ]
    placed = [place(world.a, body)["id"] for body in bodies]
    b_products = world.b.get("/tmf-api/productInventory/v4/product").json()
    fulfil(world.app)
    for order_id in placed:
        assert world.a.get(f"{ORDERS}/{order_id}").json()["state"] == "rejected"
    assert world.b.get("/tmf-api/productInventory/v4/product").json() == b_products


def cancels_bs_order(world: World, api: str, path: str, base: str, method: str) -> None:
    before = world.db.productOrder.find_one({"id": world.ids["productOrder"]})
    response = cancel(world.a, world.ids["productOrder"])
    assert response.status_code == 422, response.text
    assert "does not exist" in response.json()["message"]
    assert world.db.productOrder.find_one({"id": world.ids["productOrder"]}) == before


def account_for_bs_customer(world: World, api: str, path: str, base: str, method: str) -> None:
    owner = {"id": world.b_customer, "role": "owner", "@referredType": "Customer"}
    response = world.a.post(base + path, json={"name": "Stolen", "relatedParty": [owner]})
    assert response.status_code == 422, response.text
    assert f"customer '{world.b_customer}' does not exist" in response.json()["message"]


def b_balance(world: World) -> Any:
    return world.db.usageConsumption.find_one({"id": world.ids["usageConsumption"]})


def usage_of_bs_number(world: World, api: str, path: str, base: str, method: str) -> None:
    """A's usage of B's number is rated against A's lines: none holds it, so it is
    rejected, as A's; B's balance does not move."""
    before = b_balance(world)
    sent = created(world.a.post(base + path, json=record(world.b_msisdn, bytes=5_000_000)))
    assert rate(world.app) == 1
    rated = world.a.get(f"{base}{path}/{sent['id']}").json()
    assert rated["status"] == "rejected"
    assert rated["statusReason"].startswith(f"unknown MSISDN {world.b_msisdn}")
    assert world.b.get(f"{base}{path}/{sent['id']}").status_code == 404
    assert b_balance(world) == before


def batch_of_bs_number(world: World, api: str, path: str, base: str, method: str) -> None:
    before = b_balance(world)
    batch = {"usage": [record(world.b_msisdn, external_id="acme-batch-1", bytes=5_000_000)]}
    report = created(world.a.post(base + path, json=batch))
    assert (report["rated"], report["rejected"]) == (0, 1)
    assert b_balance(world) == before


def bill_of_bs_account(world: World, api: str, path: str, base: str, method: str) -> None:
    """A bill on demand for B's account is rejected: A's request, no bill for B."""
    bills = world.db.customerBill.count_documents({})
    request = created(world.a.post(base + path, json={"billingAccount": {"id": world.b_account}}))
    assert request["state"] == "rejected"
    assert world.db.customerBill.count_documents({}) == bills
    assert world.b.get(f"{base}{path}/{request['id']}").status_code == 404


def payment_on_bs_account(world: World, api: str, path: str, base: str, method: str) -> None:
    before = list(world.db.customerBill.find({"billingAccount.id": world.b_account}))
    response = post(world.a, base + path, payment_body(world.b_account, "10.00"))
    assert response.status_code == 422, response.text
    assert f"'{world.b_account}' does not exist" in response.json()["message"]
    assert list(world.db.customerBill.find({"billingAccount.id": world.b_account})) == before


def refund_of_bs_payment(world: World, api: str, path: str, base: str, method: str) -> None:
    body = {
        "account": {"id": world.a_account},
        "payment": {"id": world.ids["payment"]},
        "paymentMethod": TRANSFER,
        "totalAmount": money("1.00"),
    }
    response = post(world.a, base + path, body)
    assert response.status_code == 422, response.text
    assert f"payment '{world.ids['payment']}' does not exist" in response.json()["message"]


def import_of_bs_export(world: World, api: str, path: str, base: str, method: str) -> None:
    """B's export file is no file of A's: A's import of its URL fails."""
    url = world.b.get(f"{base}/exportJob/{world.ids['exportJob']}").json()["url"]
    job = created(world.a.post(base + path, json={"url": url}))
    run_jobs(world)
    ended = world.a.get(f"{base}{path}/{job['id']}").json()
    assert ended["status"] == "Failed"
    assert "no export file" in ended["errorLog"]


def export_of_a(world: World, api: str, path: str, base: str, method: str) -> None:
    """A's export holds the platform's entries and A's, none of B's."""
    job = created(world.a.post(base + path, json={}))
    run_jobs(world)
    file = world.a.get(f"{base}{path}/{job['id']}/file")
    assert file.status_code == 200, file.text
    entities = file.json()["entities"].values()
    exported = {str(entity["id"]) for listed in entities for entity in listed}
    assert PLAN in exported
    assert not exported & world.b_owns()


def deliveries(world: World) -> dict[str, list[dict[str, Any]]]:
    """The events delivered to A's and an operator's subscriptions of every API (and to
    B's) while B, and A, changed something in each API; worked out once."""
    if world.deliveries is not None:
        return world.deliveries
    for api in APIS:
        if hub_operations(api.name):
            hub = f"{base_path(load_spec(api.spec))}/hub"
            for who, client in ((A, world.a), ("operator", world.operator)):
                created(client.post(hub, json={"callback": f"{LISTENER}/{who}/{api.name}"}))
    b = world.b
    b.patch(f"/tmf-api/customerManagement/v4/customer/{world.b_customer}", json={"name": "B2"})
    world.a.patch(
        f"/tmf-api/customerManagement/v4/customer/{world.a_customer}", json={"name": "A2"}
    )
    b.patch(f"{CATALOG_API}/category/{world.ids['category']}", json={"description": "b"})
    b.patch(f"{ACCOUNT_API}/billingAccount/{world.b_account}", json={"name": "B account"})
    place(b, order_body(world.b_customer, add("1", PLAN)))
    fulfil(world.app)
    created(b.post(USAGE, json=record(world.b_msisdn, bytes=1000)))
    rate(world.app)
    on_demand = {"billingAccount": {"id": world.b_account}}
    created(b.post(f"{BILL_API}/customerBillOnDemand", json=on_demand))
    created(post(b, PAYMENTS, payment_body(world.b_account, "5.00")))
    sent: dict[str, list[dict[str, Any]]] = {}

    def sender(callback: str, envelope: dict[str, Any]) -> None:
        sent.setdefault(callback, []).append(json.loads(json.dumps(envelope, default=str)))

    services = world.app.app.extensions["bss"]
    Dispatcher(world.db, services.extra["subscriptions"], sender).run_once()
    world.deliveries = sent
    return sent


def heard_by(world: World, callback: str) -> set[str]:
    """The ids of the resources the events sent to `callback` were about."""
    envelopes = deliveries(world).get(f"{LISTENER}/{callback}", [])
    return {str(next(iter(envelope["event"].values()))["id"]) for envelope in envelopes}


def hub_hears_nothing_of_bs(world: World, api: str, path: str, base: str, method: str) -> None:
    """A's subscription hears none of B's changes in the API, an operator's hears them."""
    owned_by_b = world.b_owns()
    assert not heard_by(world, f"{A}/{api}") & owned_by_b
    assert heard_by(world, f"operator/{api}") & owned_by_b  # B did change something here


CREATES: dict[tuple[str, str], Callable[..., None]] = {
    ("productCatalogManagement", "/productOffering"): offering_of_bs_pieces,
    ("productCatalogManagement", "/importJob"): import_of_bs_export,
    ("productCatalogManagement", "/exportJob"): export_of_a,
    ("productOrderingManagement", "/productOrder"): orders_against_bs,
    ("productOrderingManagement", "/cancelProductOrder"): cancels_bs_order,
    ("accountManagement", "/billingAccount"): account_for_bs_customer,
    ("usageManagement", "/usage"): usage_of_bs_number,
    ("usageManagement", "/usageBatch"): batch_of_bs_number,
    ("customerBillManagement", "/customerBillOnDemand"): bill_of_bs_account,
    ("paymentManagement", "/payment"): payment_on_bs_account,
    ("paymentManagement", "/refund"): refund_of_bs_payment,
}
CASES_BY_PATH = {case.path: case for case in CASES}


def check_for(api: str, method: str, path: str) -> Callable[..., None]:
    """The isolation check of an operation; KeyError for one nobody wrote a check for."""
    if api == "auditManagement":
        return audit_is_the_operators
    if path == "/revenueAssuranceReport":
        return revenue_report_of_a
    if path == "/hub":
        return hub_hears_nothing_of_bs
    if "{id}" in path:
        return not_found_for_a
    if method == "GET":
        return lambda world, api, path, base, _: lists_none_of_bs(world, api, path, base)
    if method == "POST":
        if (api, path) in CREATES:
            return CREATES[(api, path)]
        if path.strip("/") in CASES_BY_PATH:
            return created_for_a_alone
    raise KeyError(f"{method} {api}{path}")


class TestEveryOperation:
    def test_every_operation_is_checked(self):
        assert len(OPERATIONS) > 100
        for api, method, path, _ in OPERATIONS:
            check_for(api, method, path)

    @pytest.mark.parametrize(
        ("api", "method", "path", "base"),
        [pytest.param(*op, id=f"{op[1]} {op[0]}{op[2]}") for op in OPERATIONS],
    )
    def test_partner_a_gets_nothing_of_bs(self, world, api, method, path, base):
        check_for(api, method, path)(world, api, path, base, method)


class TestBilling:
    def test_a_is_never_billed_for_bs_products_and_numbers_are_per_partner(self, world):
        run = billing(world).run(datetime.now(UTC) + timedelta(days=40))
        assert run.as_dict()["failed"] == []
        [bill] = world.a.get(f"{BILL_API}/customerBill").json()
        assert bill["billingAccount"]["id"] == world.a_account
        lines = world.a.get(f"{BILL_API}/appliedCustomerBillingRate").json()
        mine = {p["id"] for p in world.a.get("/tmf-api/productInventory/v4/product").json()}
        assert lines and {line["product"]["id"] for line in lines} <= mine
        b_bill = world.b.get(f"{BILL_API}/customerBill/{world.ids['customerBill']}").json()
        assert bill["billNo"] == b_bill["billNo"] == "000001"  # each partner's own sequence


class TestOperators:
    def test_an_operator_sees_every_partner_and_acting_for_one_only_its(self, world):
        url = "/tmf-api/customerManagement/v4/customer"
        everyone = {c["id"] for c in world.operator.get(url).json()}
        assert {world.a_customer, world.b_customer} <= everyone
        with world.app.test_client(headers=headers(None, A)) as for_a:
            assert world.b_customer not in {c["id"] for c in for_a.get(url).json()}
            assert for_a.get(f"{url}/{world.b_customer}").status_code == 404

    def test_an_operators_order_for_bs_customer_is_bs(self, world):
        placed = place(world.operator, order_body(world.b_customer, add("1", PLAN)))
        assert world.b.get(f"{ORDERS}/{placed['id']}").status_code == 200
        assert world.a.get(f"{ORDERS}/{placed['id']}").status_code == 404

    def test_an_operators_usage_of_bs_number_is_rated_for_b(self, world):
        sent = created(world.operator.post(USAGE, json=record(world.b_msisdn, bytes=1000)))
        assert rate(world.app) == 1
        rated = world.b.get(f"{USAGE}/{sent['id']}").json()
        assert rated["status"] == "rated"
        assert world.a.get(f"{USAGE}/{sent['id']}").status_code == 404


class TestEvents:
    def test_a_hears_its_own(self, world):
        assert world.a_customer in heard_by(world, f"{A}/customerManagement")

    @pytest.mark.parametrize("api", [api.name for api in APIS if hub_operations(api.name)])
    def test_bs_subscription_hears_nothing_of_as(self, world, api):
        heard = heard_by(world, f"{B}/{api}/earlier")
        assert heard and heard <= world.b_owns()


class TestKeysClientsChoose:
    """Two partners may use the same externalId or correlatorId: keys are unique per
    partner, so one partner's key neither blocks nor reveals the other's."""

    def test_the_same_external_id_is_each_partners_own(self, world):
        body = record(world.b_msisdn, external_id="shared-cdr-1", bytes=1000)
        b_sent = created(world.b.post(USAGE, json=body))
        a_sent = created(world.a.post(USAGE, json=body))
        assert a_sent["id"] != b_sent["id"]
        again = world.a.post(USAGE, json=body)
        assert again.status_code == 409, again.text
        found = world.a.get(USAGE, params={"externalId": "shared-cdr-1"}).json()
        assert [usage["id"] for usage in found] == [a_sent["id"]]
        rate(world.app)

    def test_the_same_correlator_id_is_each_partners_own(self, world):
        a_paid = post(
            world.a,
            PAYMENTS,
            {**payment_body(world.a_account, "1.00"), "correlatorId": "psp-shared"},
        )
        assert a_paid.status_code == 201, a_paid.text
        b_paid = post(
            world.b,
            PAYMENTS,
            {**payment_body(world.b_account, "2.00"), "correlatorId": "psp-shared"},
        )
        assert b_paid.status_code == 201, b_paid.text
        assert a_paid.json()["id"] != b_paid.json()["id"]
