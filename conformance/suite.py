"""One schemathesis run of a TMF API against our OpenAPI document of it.

`python -m conformance` and the pytest suite next to it share everything here: the checks, the
seeded resources, the phases (examples, coverage, fuzzing, stateful) and the report.
"""

from __future__ import annotations

import contextlib
import copy
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol
from urllib.parse import urlencode

import schemathesis
from schemathesis.engine import events, from_schema

from adapters.acting import acting_for
from adapters.demo_data import CYCLES, demo_billing_accounts, demo_customers, demo_records
from adapters.partners import DEMO_PARTNER
from adapters.settings import load_settings
from adapters.tokens import partner_scopes, sign_token
from conformance import tmf_checks  # noqa: F401 - registers the tmf_ checks
from conformance.report import Finding, Report, record
from domain.instants import format_instant
from domain.inventory import MSISDN, realizing
from domain.ordering import WORKING
from handlers.specs import base_path, load_spec

# What the TMF rules demand of every response and of every malformed request; the tmf_ checks
# are ours (tmf_checks.py). Not checked: positive_data_acceptance, because TMF answers a
# schema-valid request that breaks a business rule (an illegal status transition, an
# undeclared attribute without a subtype @type, a patch of `id`) with 400. ignored_auth sends
# a request that succeeded again without the token and with a made-up one: both must fail.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "tmf_error_status",
    "tmf_location_is_href",
    "ignored_auth",
)
SCHEME = "bearerAuth"  # the security scheme of every spec: a bearer JWT
ITEM = "/{id}"
DEMO_POOL_SIZE = 20  # numbers and SIMs in our app, for the lines the seeding orders
SETTLE_SECONDS = 60.0  # how long seeding waits for order fulfilment
# a mobile number no line ever had (outside the demo pools): its usage is rejected
UNKNOWN_NUMBER = "+353899999999"
POLL_SECONDS = 0.2  # between two looks at a remote server's orders


Sample = Callable[["Server", int], dict[str, Any]]  # a valid create body, numbered
# ids of that many items that exist, for the operations on an item in the order GET, PATCH,
# PUT, DELETE
Items = Callable[["Server", int], list[str]]


@dataclass(frozen=True)
class ApiUnderTest:
    spec: str  # file in openapi/
    samples: Mapping[str, Sample]  # per collection path with a POST: how to create one of its items
    # per collection path whose items the run must not create with its sample: how to get some
    # (a collection without POST, items in another state than the one a POST gives)
    items: Mapping[str, Items] = field(default_factory=dict)
    # the server needs its demo data, as `serve` loads it: the seeding orders products
    # (starter catalog, number and SIM pools) and names demo customers, bill cycles and usage
    # specifications
    demo_data: bool = False
    # The coverage phase (every schema constraint broken in turn, unbounded by max_examples)
    # builds bodies around values earlier responses held. Off where those values are deep: a
    # whole product order as the base of each PATCH gave six times the cases (100,000, seven
    # minutes).
    coverage_reuses_responses: bool = True


def _customer(server: Server, number: int) -> dict[str, Any]:
    return {
        "name": f"Conformance Customer {number}",
        "engagedParty": {
            "id": f"conformance-party-{number}",
            "name": f"Conformance Party {number}",
            "@referredType": "Individual",
        },
        "@type": "Customer",
    }


def _listener(server: Server, number: int) -> dict[str, Any]:
    # .invalid never resolves (RFC 2606): a server that delivers events reaches no one
    return {"callback": f"http://listener-{number}.invalid/events", "query": "eventType=x"}


def _named(kind: str, **extra: Any) -> Sample:
    def sample(server: Server, number: int) -> dict[str, Any]:
        return {"name": f"Conformance {kind} {number}", **extra}

    return sample


# An empty export document, uploaded inline: an import job that has nothing to import.
EMPTY_EXPORT = "data:application/json,%7B%22entities%22%3A%7B%7D%7D"


def _order(customer_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    party = {"id": customer_id, "role": "Customer", "@referredType": "Customer"}
    return {"relatedParty": [party], "productOrderItem": list(items)}


def _add(item_id: str, offering: str, on_item: str | None = None) -> dict[str, Any]:
    """An item adding a product; an add-on or a promotion names the item adding its line."""
    item = {"id": item_id, "action": "add", "productOffering": {"id": offering}}
    if on_item:
        item["productOrderItemRelationship"] = [{"id": on_item, "relationshipType": "reliesOn"}]
    return item


def _product_order(server: Server, number: int) -> dict[str, Any]:
    # only the form of an order is checked on POST: one for a customer nobody has is
    # acknowledged, and rejected later by fulfilment
    return _order(f"conformance-customer-{number}", _add("1", "pos-sim-only-5gb"))


def _completed_orders(server: Server, count: int) -> list[dict[str, Any]]:
    """Orders of an approved customer billed to its account, fulfilled: each a line with an
    add-on and a promotion, so they hold all an order can (prices, a discount, products) and
    give products."""
    customer = {**_customer(server, 0), "status": "Approved"}
    customer_id = server.create(_path("customer.yaml", "/customer"), customer)["id"]
    owner = {"id": customer_id, "role": "owner", "@referredType": "Customer"}
    account = {"name": "Conformance account", "relatedParty": [owner]}
    account_id = server.create(_path("account.yaml", "/billingAccount"), account)["id"]
    items = (
        _add("1", "pos-sim-only-5gb"),
        _add("2", "pos-eu-roaming-pack", on_item="1"),
        _add("3", "pos-welcome-promotion", on_item="1"),
    )
    body = {**_order(customer_id, *items), "billingAccount": {"id": account_id}}
    path = _path("ordering.yaml", "/productOrder")
    ids = [server.create(path, body)["id"] for _ in range(count)]
    orders = server.settle(ids)
    failed = [order for order in orders if order["state"] != "completed"]
    if failed:
        raise RuntimeError(f"cannot seed: order {failed[0]['id']} is {failed[0]['state']}")
    return orders


def _settled_orders(server: Server, count: int) -> list[str]:
    """For the operations on an order (GET first, DELETE last): a completed order, then orders
    rejected because their customer does not exist, which DELETE may delete."""
    path = _path("ordering.yaml", "/productOrder")
    bodies = [_product_order(server, number) for number in range(1, count)]
    rejected = [server.create(path, body)["id"] for body in bodies]
    server.settle(rejected)
    return [order["id"] for order in _completed_orders(server, 1)] + rejected


def _cancellation(server: Server, number: int) -> dict[str, Any]:
    # only an order that is still open can be cancelled, and only once: a new one each time
    order = server.create(_path("ordering.yaml", "/productOrder"), _product_order(server, number))
    return {"productOrder": {"id": order["id"]}, "cancellationReason": f"Conformance {number}"}


def _products(server: Server, count: int) -> list[str]:
    """Mobile lines: the inventory has no POST, orders are the only way in."""
    return [
        order["productOrderItem"][0]["product"]["id"] for order in _completed_orders(server, count)
    ]


def _cycle_specification(server: Server, number: int) -> dict[str, Any]:
    return {
        "name": f"Conformance cycle {number}",
        "frequency": "monthly",
        "billingDateShift": number % 28,  # periods from day 1..28
        "paymentDueDateOffset": 14,
    }


def _billing_account(server: Server, number: int) -> dict[str, Any]:
    """An account of a demo customer on a demo bill cycle, with every extension of ours."""
    customer_id, customer = demo_customers()[0]
    cycle_id, cycle_name, _ = CYCLES[-1]
    owner = {"id": customer_id, "name": customer["name"], "role": "owner"}
    cycle = {"id": cycle_id, "name": cycle_name, "@referredType": "BillingCycleSpecification"}
    return {
        "name": f"Conformance account {number}",
        "relatedParty": [{**owner, "@referredType": "Customer"}],
        "billStructure": {"cycleSpecification": cycle},
        "currency": "EUR",
        "timeZone": "Europe/Dublin",
        "taxProfile": {"country": "IE"},
        "creditLimit": {"unit": "EUR", "value": 150},
        "spendCap": {"unit": "EUR", "value": 50},
        "barAtSpendCap": False,
    }


def _usage_record(msisdn: str) -> dict[str, Any]:
    """A data session of the number, now (a line only rates usage since it started)."""
    return {
        "usageDate": format_instant(datetime.now(UTC)),
        "usageType": "data",
        "externalId": f"conformance-{uuid.uuid4().hex}",  # new on every run against a server
        "usageSpecification": {"id": "us-data", "@referredType": "UsageSpecification"},
        "usageCharacteristic": [
            {"name": "msisdn", "value": msisdn, "valueType": "string"},
            {"name": "bytes", "value": 3_000_000, "valueType": "integer"},
        ],
    }


def _usage(server: Server, number: int) -> dict[str, Any]:
    # stored `received`: nothing rates it during the run
    return _usage_record(UNKNOWN_NUMBER)


def _usage_batch(server: Server, number: int) -> dict[str, Any]:
    return {"description": f"Conformance batch {number}", "usage": [_usage_record(UNKNOWN_NUMBER)]}


def _line(server: Server) -> tuple[str, str]:
    """The id and MSISDN of a mobile line a completed order gave."""
    [order] = _completed_orders(server, 1)
    product_id = order["productOrderItem"][0]["product"]["id"]
    product = server.read(f"{_path('inventory.yaml', '/product')}/{product_id}")
    msisdn = realizing(product, MSISDN)
    if msisdn is None:
        raise RuntimeError(f"cannot seed: product {product_id} has no MSISDN")
    return product_id, msisdn


def _rate(server: Server, records: list[dict[str, Any]], rated: int) -> list[str]:
    """The ids of the records once a usage batch has rated them (`rated` of them rated, the
    others rejected); a batch is rated at once, no background rating is waited for."""
    batch = server.create(_path("usage.yaml", "/usageBatch"), {"usage": records})
    if (batch["rated"], batch["rejected"]) != (rated, len(records) - rated):
        raise RuntimeError(f"cannot seed: usage batch {batch['id']} gave {batch}")
    usage = _path("usage.yaml", "/usage")
    return [_found(server, usage, 1, externalId=r["externalId"])[0] for r in records]


def _found(server: Server, collection: str, count: int, **filters: str) -> list[str]:
    """The ids of the first `count` items of the collection (a path from the server's root)
    that match."""
    path = f"{collection}?{urlencode(filters)}"
    found = [str(item["id"]) for item in server.read(path)]
    if len(found) < count:
        raise RuntimeError(f"cannot seed: GET {path} found {len(found)}, not {count}")
    return found[:count]


def _rated_usage(server: Server, count: int) -> list[str]:
    """For the operations on a record (GET first, DELETE last): one rated on a mobile line
    (allowance used, so it holds ratedProductUsage), then records of a number no line ever
    had, rejected, which DELETE may delete (a record that counts stays)."""
    _, msisdn = _line(server)
    records = [_usage_record(msisdn)]
    records += [_usage_record(UNKNOWN_NUMBER) for _ in range(count - 1)]
    return _rate(server, records, rated=1)


def _consumptions(server: Server, count: int) -> list[str]:
    """Balances: the API has no POST, rating usage of a line opens them."""
    product_id, msisdn = _line(server)
    _rate(server, [_usage_record(msisdn)], rated=1)
    consumptions = _path("usage.yaml", "/usageConsumption")
    return _found(server, consumptions, count, **{"product.id": product_id})


def _bill_request(server: Server, number: int) -> dict[str, Any]:
    # a demo account with nothing to bill: the request is accepted, then rejected
    account_id, account = demo_billing_accounts()[0]
    return {
        "name": f"Conformance bill request {number}",
        "billingAccount": {"id": account_id, "name": account["name"]},
    }


def _bills(server: Server, count: int) -> list[str]:
    """Bills: the API has no POST for them. A bill on demand bills a line's usage so far,
    so for each bill a data session roaming outside the EU (charged: no allowance covers
    it) is rated, then a bill on demand is asked for."""
    product_id, msisdn = _line(server)
    product = server.read(f"{_path('inventory.yaml', '/product')}/{product_id}")
    account = {"id": product["billingAccount"]["id"]}
    bill_ids = []
    for _ in range(count):
        record = _usage_record(msisdn)
        visited = {"name": "visitedCountry", "value": "US", "valueType": "string"}
        record["usageCharacteristic"].append(visited)
        _rate(server, [record], rated=1)
        request = server.create(
            _path("bill.yaml", "/customerBillOnDemand"), {"billingAccount": account}
        )
        if request["state"] != "done":
            state, reason = request["state"], request.get("description")
            raise RuntimeError(f"cannot seed: bill on demand {request['id']} is {state}: {reason}")
        bill_ids.append(str(request["customerBill"]["id"]))
    return bill_ids


def _charges(server: Server, count: int) -> list[str]:
    """The lines of a bill (see _bills)."""
    [bill_id] = _bills(server, 1)
    rates = _path("bill.yaml", "/appliedCustomerBillingRate")
    return _found(server, rates, count, **{"bill.id": bill_id})


def _payment(server: Server, number: int) -> dict[str, Any]:
    """A bank transfer to a new billing account (of a demo customer): no bill to pay, so all
    of it stays as credit. Its reference is new on every run against a server."""
    account = server.create(_path("account.yaml", "/billingAccount"), _billing_account(server, 0))
    return {
        "account": {"id": account["id"], "@referredType": "BillingAccount"},
        "paymentMethod": {"@type": "BankTransfer", "name": "SEPA credit transfer"},
        "totalAmount": {"unit": "EUR", "value": 25},
        "correlatorId": f"conformance-{uuid.uuid4().hex}",
    }


def _refund(server: Server, number: int) -> dict[str, Any]:
    """Pays back part of the credit of a payment made for it."""
    payment = server.create(_path("payment.yaml", "/payment"), _payment(server, number))
    return {
        "account": payment["account"],
        "payment": {"id": payment["id"], "@referredType": "Payment"},
        "paymentMethod": {"@type": "BankTransfer", "name": "SEPA credit transfer"},
        "totalAmount": {"unit": "EUR", "value": 1},
        "correlatorId": f"conformance-{uuid.uuid4().hex}",
    }


APIS = {
    "customer": ApiUnderTest("customer.yaml", {"/customer": _customer, "/hub": _listener}),
    "catalog": ApiUnderTest(
        "catalog.yaml",
        {
            "/catalog": _named("catalog"),
            "/category": _named("category"),
            "/productSpecification": _named("specification"),
            "/productOfferingPrice": _named("price", priceType="oneTime"),
            "/productOffering": _named("offering"),
            "/importJob": lambda server, number: {"url": EMPTY_EXPORT},
            "/exportJob": lambda server, number: {"path": "productOffering"},
            "/hub": _listener,
        },
    ),
    "ordering": ApiUnderTest(
        "ordering.yaml",
        {
            "/productOrder": _product_order,
            "/cancelProductOrder": _cancellation,
            "/hub": _listener,
        },
        items={"/productOrder": _settled_orders},
        demo_data=True,
        coverage_reuses_responses=False,
    ),
    "inventory": ApiUnderTest(
        "inventory.yaml", {"/hub": _listener}, items={"/product": _products}, demo_data=True
    ),
    "account": ApiUnderTest(
        "account.yaml",
        {
            "/billingAccount": _billing_account,
            "/billingCycleSpecification": _cycle_specification,
            "/hub": _listener,
        },
        demo_data=True,
    ),
    "usage": ApiUnderTest(
        "usage.yaml",
        {
            "/usage": _usage,
            "/usageSpecification": _named("usage specification", lifecycleStatus="Active"),
            "/usageBatch": _usage_batch,
            "/hub": _listener,
        },
        items={"/usage": _rated_usage, "/usageConsumption": _consumptions},
        demo_data=True,
    ),
    "bill": ApiUnderTest(
        "bill.yaml",
        {"/customerBillOnDemand": _bill_request, "/hub": _listener},
        items={"/customerBill": _bills, "/appliedCustomerBillingRate": _charges},
        demo_data=True,
    ),
    "payment": ApiUnderTest(
        "payment.yaml",
        {"/payment": _payment, "/refund": _refund, "/hub": _listener},
        demo_data=True,
    ),
}


class HttpClient(Protocol):
    """requests.Session or starlette's TestClient: all the seeding needs."""

    def get(self, url: str) -> Any: ...

    def post(self, url: str, *, json: Any) -> Any: ...


@dataclass(frozen=True)
class Server:
    """The server under test as the seeding reaches it: its root URL, and a way to let order
    fulfilment go on (a pass of our runner in-process, a pause for a remote server's own)."""

    client: HttpClient
    url: str  # without any API's base path; "" for our app in-process
    wait: Callable[[], object]

    @classmethod
    def in_process(cls, app: Any, token: str) -> Server:
        runner = app.app.extensions["bss"].extra["fulfilment_runner"]
        return cls(app.test_client(headers=bearer(token)), "", runner.run_once)

    @classmethod
    def remote(cls, client: HttpClient, url: str) -> Server:
        return cls(client, url.rstrip("/"), lambda: time.sleep(POLL_SECONDS))

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to a path from the server's root; anything but a 201 ends the seeding."""
        response = self.client.post(self.url + path, json=body)
        if response.status_code != 201:
            status, text = response.status_code, response.text
            raise RuntimeError(f"cannot seed: POST {self.url}{path} answered {status}: {text}")
        return dict(response.json())

    def settle(self, order_ids: list[str]) -> list[dict[str, Any]]:
        """The orders once fulfilment has no more work on them (final, or waiting for input)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            orders = [self._order(order_id) for order_id in order_ids]
            busy = [order for order in orders if order["state"] in WORKING]
            if not busy:
                return orders
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"cannot seed: order {busy[0]['id']} is still {busy[0]['state']} after "
                    f"{SETTLE_SECONDS:.0f}s (does the server run order fulfilment?)"
                )
            self.wait()

    def read(self, path: str) -> Any:
        """GET a path from the server's root; anything but a 200 ends the seeding."""
        response = self.client.get(self.url + path)
        if response.status_code != 200:
            raise RuntimeError(f"cannot seed: GET {self.url}{path} answered {response.status_code}")
        return response.json()

    def _order(self, order_id: str) -> dict[str, Any]:
        return dict(self.read(f"{_path('ordering.yaml', '/productOrder')}/{order_id}"))


def prepare(server: Server, api: ApiUnderTest) -> dict[str, Any]:
    """Our spec, plus what steers the run towards resources that exist on the server.

    Random bodies and ids rarely create or find anything, so:
    - for each operation on an item, one item is created through the API itself (so this works
      on any server), or taken from the API's `items`, and becomes that operation's `id`
      example: a DELETE never takes away the item a GET was meant to find;
    - then, for each collection with a sample, its POST gets the sample as body example (made
      after the items: the seeding of items lets fulfilment run, which would change what a
      sample needs, such as an open order to cancel);
    - the 201 of its POST links to the operations on the created item (`$response.body#/id`),
      which the stateful phase follows.
    """
    spec = load_spec(api.spec)
    base = _base_path(api.spec)
    for collection in {**api.samples, **api.items}:
        targets = list(_operations(spec["paths"].get(collection + ITEM, {})))
        if collection in api.items:
            ids = api.items[collection](server, len(targets))
        else:
            sample = api.samples[collection]
            bodies = [sample(server, number) for number in range(1, len(targets) + 1)]
            ids = [str(server.create(base + collection, body)["id"]) for body in bodies]
        for operation, resource_id in zip(targets, ids, strict=True):
            operation["parameters"] = [
                _with_example(spec, parameter, resource_id) for parameter in operation["parameters"]
            ]
    for collection, sample in api.samples.items():
        create = spec["paths"][collection]["post"]
        example = sample(server, 0)
        for media_type in create["requestBody"]["content"].values():
            media_type["example"] = example
        create["responses"]["201"]["links"] = {
            target["operationId"]: {
                "operationId": target["operationId"],
                "parameters": {"id": "$response.body#/id"},
            }
            for target in _operations(spec["paths"].get(collection + ITEM, {}))
        }
    return spec


def _operations(path_item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for method in ("get", "patch", "put", "delete"):
        if method in path_item:
            yield path_item[method]


def _with_example(spec: dict[str, Any], parameter: dict[str, Any], value: str) -> dict[str, Any]:
    ref = parameter.get("$ref", "")
    resolved = spec["components"]["parameters"][ref.rsplit("/", 1)[1]] if ref else parameter
    if resolved["in"] != "path" or resolved["name"] != "id":
        return parameter
    return {**copy.deepcopy(resolved), "example": value}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def configure(
    api: ApiUnderTest,
    *,
    max_examples: int,
    seed: int | None = None,
    base_url: str | None = None,
    token: str | None = None,
) -> schemathesis.Config:
    """Without a seed the inputs are derived from the spec alone: the same run every time.

    A seed draws other inputs (reproducible with the same seed): a way to explore further.
    Every request carries `token` (without one, schemathesis makes tokens up: a server that
    checks them answers 401 to everything).
    """
    coverage = {"extra-data-sources": {"responses": api.coverage_reuses_responses}}
    return schemathesis.Config.from_dict(
        {
            **({"seed": seed} if seed is not None else {}),
            "suppress-health-check": ["too_slow", "data_too_large", "filter_too_much"],
            "workers": 1,  # one request at a time, in a reproducible order
            "generation": {
                "max-examples": max_examples,
                "deterministic": seed is None,
                "database": "none",  # nothing written to .hypothesis/
            },
            "phases": {"examples": {"fill-missing": True}, "coverage": coverage},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            **({"base-url": base_url} if base_url else {}),
            **({"auth": {"openapi": {SCHEME: {"bearer": token}}}} if token else {}),
        }
    )


def run(spec: dict[str, Any], config: schemathesis.Config, app: Any = None) -> Report:
    """All phases against `app` in-process (ASGI), or against the config's base URL."""
    schema = schemathesis.openapi.from_dict(spec, config=config)
    if app is not None:
        schema.app = app
    report = Report()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            record(report, event.recorder)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"schemathesis failed: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:  # from checks that judge the whole run
                finding = Finding(failure.operation, "", failure.title, failure.message, "")
                report.findings.append(finding)
    report.seconds = time.monotonic() - started
    return report


@contextlib.contextmanager
def our_app(mongo_uri: str, api: ApiUnderTest) -> Iterator[tuple[Any, str]]:
    """Our app on a database of its own, dropped afterwards, with the demo data `api` needs,
    checking bearer tokens; and a token of the demo partner with every scope of the APIs."""
    # the whole server, needed in-process only
    from adapters import seeding
    from adapters.demo_catalog import starter_catalog
    from adapters.resource_pools import seed_demo_pools
    from app import create_app, stop_background

    database = f"conformance_{uuid.uuid4().hex[:12]}"
    settings = load_settings(
        {
            "mongodb_uri": mongo_uri,
            "mongodb_database": database,
            "dispatcher": False,  # no event deliveries to the callbacks the run registers
            "jobs": False,
            "demo_data": False,
            # schemathesis validates every response and says what is wrong; the server's own
            # validation would turn the same finding into an anonymous 500
            "validate_responses": False,
            "log_level": "WARNING",
            "network_latency_ms": 0,  # the seeding's orders are fulfilled at once
            "auth": "jwt",
            "jwt_secret": secrets.token_urlsafe(32),
            "rate_limit_per_minute": 0,  # one client sends every request of the run
        },
        environ={},
    )
    token = sign_token(settings, DEMO_PARTNER, partner_scopes())
    app = create_app(settings)
    services = app.app.extensions["bss"]
    db = services.extra["db"]
    try:
        if api.demo_data:
            with acting_for(DEMO_PARTNER):  # the token's partner, as `serve` does
                seeding.load(services.resources, {**starter_catalog(), **demo_records()})
                seed_demo_pools(db, DEMO_POOL_SIZE, DEMO_POOL_SIZE)
        yield app, token
    finally:
        stop_background(app)
        db.client.drop_database(database)
        db.client.close()


@cache
def _base_path(spec_file: str) -> str:
    return base_path(load_spec(spec_file))


def _path(spec_file: str, path: str) -> str:
    """A path of the API that `spec_file` describes, from the server's root."""
    return _base_path(spec_file) + path


def api_url(server_url: str, api: ApiUnderTest) -> str:
    """The API's base URL on a server: our spec's base path, unless the URL already ends with it."""
    path = _base_path(api.spec)
    url = server_url.rstrip("/")
    return url if url.endswith(path) else url + path


def server_url(url: str, api: ApiUnderTest) -> str:
    """The root of the server `url` is on, when `url` is the API's base URL (or the root)."""
    return url.rstrip("/").removesuffix(_base_path(api.spec))


def operations(api: ApiUnderTest) -> list[str]:
    """Every operation of the API's document as reports name them: "GET /customer/{id}"."""
    return [
        f"{method.upper()} {path}"
        for path, item in load_spec(api.spec)["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    ]


def in_process_report(mongo_uri: str, api: ApiUnderTest, max_examples: int) -> Report:
    """The whole run against our app in-process, on a fresh database."""
    with our_app(mongo_uri, api) as (app, token):
        spec = prepare(Server.in_process(app, token), api)
        return run(spec, configure(api, max_examples=max_examples, token=token), app=app)


class ConformsToItsSpec:
    """What every conformance test module asserts of its run: a subclass (named Test...)
    sets `api`; the module's `report` fixture gives the run."""

    api: ApiUnderTest

    def pytest_generate_tests(self, metafunc: Any) -> None:
        if metafunc.function.__name__ == "test_no_check_fails_on_any_response":
            metafunc.parametrize("operation", operations(self.api))

    def test_no_check_fails_on_any_response(self, report: Report, operation: str) -> None:
        assert report.statuses(operation), f"{operation} was never called"
        findings = [finding for finding in report.findings if finding.operation == operation]
        assert not findings, "\n\n".join(finding.render() for finding in findings)

    def test_the_run_reports_nothing_else(self, report: Report) -> None:
        known = operations(self.api)
        elsewhere = [finding for finding in report.findings if finding.operation not in known]
        assert not elsewhere, "\n\n".join(finding.render() for finding in elsewhere)
        assert not report.errors, "\n".join(report.errors)
