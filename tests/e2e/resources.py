"""The resource types the TMF rule tests run against: one row per resource type.

A new resource (product offering, product order, ...) joins every rule test of
test_tmf_rules.py and test_bad_input.py by adding a `ResourceCase` to `CASES`. A test that
needs what a resource lacks (a state, an instant filter, an array attribute, an operation
clients may do) runs only for the resources that have it.

Sample bodies are numbered: sample `n` differs from every other sample in each filterable
attribute (except where `value_of` repeats on purpose, to give sorts ties), and its instants
grow with `n`, so range filters and sorts have a known answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PUBLIC_BASE = "http://bss.test"  # the public base URL conftest.make_settings configures


@dataclass(frozen=True)
class Filterable:
    key: str  # query parameter, e.g. "engagedParty.id"
    value_of: Callable[[int], str]  # the value sample n carries there


@dataclass(frozen=True)
class StateRule:
    attribute: str  # e.g. "status"
    initial: str  # the state of a resource created without one
    # a state a client may move the initial state to; None where only the server changes
    # the state (an order moves through fulfilment, a product through orders)
    allowed: str | None
    # a state the initial state may not move to; None where it may move to every other
    illegal: str | None
    allowed_from_initial: tuple[str, ...]  # what a refused transition must name


CREATE, PATCH, DELETE = "create", "patch", "delete"


@dataclass(frozen=True)
class ResourceCase:
    name: str  # TMF resource name and default @type
    api: str  # base path of its API
    path: str  # collection path under the API
    new_body: Callable[[int], dict[str, Any]]  # a valid create body: sample n
    change: Mapping[str, Any]  # a merge patch that changes an attribute of any sample
    # present in every sample and removable (merge patch null); None where clients may
    # remove nothing (a bill: only its state changes)
    optional_attribute: str | None
    list_attribute: str | None  # an array attribute of objects, if the resource has one
    mandatory: tuple[str, ...]  # required in a create body; no patch may remove them
    state: StateRule | None  # None: the resource has no lifecycle
    filterable: tuple[Filterable, ...]
    range_attribute: str | None  # an instant filter, for .gte/.lt, if the resource has one
    nested_field: str  # a nested attribute for ?fields=
    sort_keys: tuple[str, str]  # two sortable attributes; the first has ties among samples
    not_patchable: Mapping[str, Any]  # attribute -> a value a client might try to set
    wrong_types: Mapping[str, Any]  # attribute -> a value of the wrong JSON type
    bad_enums: Mapping[str, str]  # attribute -> a value outside its enumeration
    instant_keys: frozenset[str]  # attribute names that hold instants, at any depth
    # attributes the server rewrites on every change (lastUpdate, version): a test expecting
    # a resource after a change compares the rest, and only that these are present
    server_set: frozenset[str] = frozenset()
    # what clients may do besides reading: CREATE (POST), PATCH and DELETE (of a new
    # sample). Samples of a resource clients cannot create are written by the app's own
    # service for it, as the server writes them (a product: by order fulfilment).
    operations: frozenset[str] = frozenset({CREATE, PATCH, DELETE})
    # what the samples refer to and must exist first (an account's owning customer), by
    # collection path, with their ids: see `prepare`
    given: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    # stored under its id (ResourceType.keyed_by_id): a list comes in id order, not in the
    # order the samples were made
    listed_by_id: bool = False

    def __str__(self) -> str:
        return self.name

    def prepare(self, client: Any) -> None:
        """Stores what the samples refer to, as given (an import: nothing changes when it is
        there already), before a sample is written to the app behind `client`."""
        services = client.app.app.extensions["bss"]  # the connexion app behind the client
        for path, resources in self.given.items():
            for resource in resources:
                services.resources[path].put(resource)

    def add(self, client: Any, body: dict[str, Any]) -> dict[str, Any]:
        """A new resource of this type, as a client reads it."""
        if CREATE in self.operations:
            response = client.post(self.collection_url, json=body)
            assert response.status_code == 201, response.text
            return response.json()
        services = client.app.app.extensions["bss"]  # the connexion app behind the client
        created = services.resources[self.path].create(body)
        return client.get(self.url(created["id"])).json()

    @property
    def collection_url(self) -> str:
        return f"{self.api}/{self.path}"

    def url(self, resource_id: str) -> str:
        return f"{self.collection_url}/{resource_id}"

    def href(self, resource_id: str) -> str:
        return f"{PUBLIC_BASE}{self.url(resource_id)}"

    def without_server_set(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in resource.items() if k not in self.server_set}

    def filter_value(self, key: str, n: int) -> str:
        return next(f for f in self.filterable if f.key == key).value_of(n)


def instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- TMF629 Customer -------------------------------------------------------------------

CUSTOMER_CREATABLE = ("Initialized", "Validated", "Approved")
VALID_FROM = datetime(2024, 1, 1, 8, 30, tzinfo=UTC)
VALID_TO = datetime(2031, 6, 1, 0, 0, tzinfo=UTC)


def customer_status(n: int) -> str:
    return CUSTOMER_CREATABLE[n % len(CUSTOMER_CREATABLE)]


def customer_valid_from(n: int) -> str:
    return instant(VALID_FROM + timedelta(days=n, milliseconds=250))


def customer_valid_to(n: int) -> str:
    return instant(VALID_TO + timedelta(days=n))


def customer_body(n: int) -> dict[str, Any]:
    return {
        "name": f"Customer {n:03d}",
        "status": customer_status(n),
        "engagedParty": {
            "id": f"party-{n}",
            "name": f"Party {n:03d}",
            "role": "Customer",
            "@referredType": "Individual",
        },
        "relatedParty": [{"id": f"agent-{n}", "role": "SalesAgent", "@referredType": "Individual"}],
        "contactMedium": [
            {
                "mediumType": "email",
                "preferred": True,
                "characteristic": {"emailAddress": f"customer{n}@example.com"},
            },
            {"mediumType": "mobile", "characteristic": {"phoneNumber": f"+35387100{n:04d}"}},
        ],
        "characteristic": [{"name": "segment", "value": "consumer"}],
        "validFor": {"startDateTime": customer_valid_from(n), "endDateTime": customer_valid_to(n)},
    }


CUSTOMER = ResourceCase(
    name="Customer",
    api="/tmf-api/customerManagement/v4",
    path="customer",
    new_body=customer_body,
    change={"name": "Renamed Customer"},
    optional_attribute="characteristic",
    list_attribute="relatedParty",
    mandatory=("name", "engagedParty"),
    state=StateRule(
        attribute="status",
        initial="Initialized",
        allowed="Validated",
        illegal="Suspended",
        allowed_from_initial=("Closed", "Validated"),
    ),
    filterable=(
        Filterable("name", lambda n: f"Customer {n:03d}"),
        Filterable("status", customer_status),
        Filterable("engagedParty.id", lambda n: f"party-{n}"),
        Filterable("engagedParty.name", lambda n: f"Party {n:03d}"),
        Filterable("relatedParty.id", lambda n: f"agent-{n}"),
        Filterable(
            "contactMedium.characteristic.emailAddress", lambda n: f"customer{n}@example.com"
        ),
        Filterable("contactMedium.characteristic.phoneNumber", lambda n: f"+35387100{n:04d}"),
        Filterable("validFor.startDateTime", customer_valid_from),
        Filterable("validFor.endDateTime", customer_valid_to),
    ),
    range_attribute="validFor.startDateTime",
    nested_field="engagedParty.name",
    sort_keys=("status", "name"),
    not_patchable={"id": "another-id", "href": "http://evil.test/x", "@baseType": "Party"},
    wrong_types={
        "name": 42,
        "engagedParty": "party-1",
        "contactMedium": {"mediumType": "email"},
        "validFor": {"startDateTime": 20240101},
    },
    bad_enums={"status": "Dormant"},
    instant_keys=frozenset({"startDateTime", "endDateTime", "creditProfileDate"}),
)


# --- TMF620 Product Catalog -------------------------------------------------------------
# Every catalog entity shares lifecycleStatus, validFor, and the server-set lastUpdate and
# version. Samples are drafts (a draft may refer to entities that do not exist yet), so the
# references below need no other entity.

CATALOG_API = "/tmf-api/productCatalogManagement/v4"
CATALOG_CREATABLE = ("In Study", "In Design", "In Test", "Active")
CATALOG_STATE = StateRule(
    attribute="lifecycleStatus",
    initial="In Study",
    allowed="In Design",
    illegal="Launched",
    allowed_from_initial=("In Design", "Rejected"),
)
CATALOG_NOT_PATCHABLE = {
    "id": "another-id",
    "href": "http://evil.test/x",
    "@baseType": "Entity",
    "lastUpdate": "2030-01-01T00:00:00.000Z",
    "version": "9.9",
}
CATALOG_WRONG_TYPES = {"name": 42, "description": ["x"], "validFor": {"startDateTime": 20240101}}


def catalog_status(n: int) -> str:
    return CATALOG_CREATABLE[n % len(CATALOG_CREATABLE)]


def ref(kind: str, n: int, referred_type: str) -> dict[str, Any]:
    return {"id": f"{kind}-{n}", "name": f"{referred_type} {n:03d}", "@referredType": referred_type}


def catalog_entity(label: str, n: int, **attributes: Any) -> dict[str, Any]:
    return {
        "name": f"{label} {n:03d}",
        "description": f"{label} number {n}",
        "lifecycleStatus": catalog_status(n),
        "validFor": {"startDateTime": customer_valid_from(n), "endDateTime": customer_valid_to(n)},
        **attributes,
    }


def catalog_case(
    name: str,
    list_attribute: str,
    filterable: tuple[Filterable, ...],
    new_body: Callable[[int], dict[str, Any]],
    wrong_types: Mapping[str, Any],
    mandatory: tuple[str, ...] = ("name",),
) -> ResourceCase:
    return ResourceCase(
        name=name,
        api=CATALOG_API,
        path=name[0].lower() + name[1:],
        new_body=new_body,
        change={"name": f"Renamed {name}"},
        optional_attribute="description",
        list_attribute=list_attribute,
        mandatory=mandatory,
        state=CATALOG_STATE,
        filterable=(
            # text filters first: the first four get operator-like text in test_bad_input
            Filterable("name", lambda n: f"{name} {n:03d}"),
            Filterable("lifecycleStatus", catalog_status),
            filterable[0],
            Filterable("version", lambda n: "1.0"),  # every new entity starts at 1.0
            *filterable[1:],
            Filterable("validFor.startDateTime", customer_valid_from),
            Filterable("validFor.endDateTime", customer_valid_to),
        ),
        range_attribute="validFor.startDateTime",
        nested_field="validFor.endDateTime",
        sort_keys=("lifecycleStatus", "name"),
        not_patchable=CATALOG_NOT_PATCHABLE,
        wrong_types={**CATALOG_WRONG_TYPES, **wrong_types},
        bad_enums={"lifecycleStatus": "Dormant"},
        instant_keys=frozenset({"startDateTime", "endDateTime", "lastUpdate"}),
        server_set=frozenset({"lastUpdate", "version"}),
    )


def owner(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"org-{n}",
            "name": f"Owner {n:03d}",
            "role": "owner",
            "@referredType": "Organization",
        }
    ]


CATALOG = catalog_case(
    "Catalog",
    list_attribute="relatedParty",
    filterable=(
        Filterable("catalogType", lambda n: f"Catalog type {n}"),
        Filterable("category.id", lambda n: f"cat-{n}"),
    ),
    new_body=lambda n: catalog_entity(
        "Catalog",
        n,
        catalogType=f"Catalog type {n}",
        category=[ref("cat", n, "Category")],
        relatedParty=owner(n),
    ),
    wrong_types={"category": {"id": "cat-1"}, "catalogType": True},
)

CATEGORY = catalog_case(
    "Category",
    list_attribute="productOffering",
    filterable=(
        Filterable("parentId", lambda n: f"cat-parent-{n}"),
        Filterable("isRoot", lambda n: "false"),  # a category with a parent is no root
    ),
    new_body=lambda n: catalog_entity(
        "Category",
        n,
        parentId=f"cat-parent-{n}",
        productOffering=[ref("po", n, "ProductOffering")],
        subCategory=[ref("cat-sub", n, "Category")],
    ),
    wrong_types={"parentId": 7, "productOffering": "po-1"},
)

PRODUCT_SPECIFICATION = catalog_case(
    "ProductSpecification",
    list_attribute="productSpecCharacteristic",
    filterable=(
        Filterable("brand", lambda n: f"Brand {n:03d}"),
        Filterable("productNumber", lambda n: f"PS-{n:04d}"),
        Filterable("isBundle", lambda n: "false"),
    ),
    new_body=lambda n: catalog_entity(
        "ProductSpecification",
        n,
        brand=f"Brand {n:03d}",
        productNumber=f"PS-{n:04d}",
        isBundle=False,
        productSpecCharacteristic=[
            {
                "name": "includedDataMB",
                "description": "Data per month",
                "valueType": "integer",
                "configurable": False,
                "minCardinality": 1,
                "maxCardinality": 1,
            }
        ],
        relatedParty=owner(n),
    ),
    wrong_types={"isBundle": "no", "productSpecCharacteristic": {"name": "x"}},
)

PRICE_TYPES = ("usage", "recurring", "oneTime")


def price_type(n: int) -> str:
    return PRICE_TYPES[n % len(PRICE_TYPES)]


def price_body(n: int) -> dict[str, Any]:
    amount = 10 + n  # 23 % of a whole amount is exact in cents
    body = catalog_entity(
        "ProductOfferingPrice",
        n,
        priceType=price_type(n),
        price={"unit": "EUR", "value": amount},
        tax=[
            {
                "taxCategory": "VAT",
                "taxRate": 23,
                "taxAmount": {"unit": "EUR", "value": amount * 23 / 100},
            }
        ],
        productOfferingTerm=[
            {"name": "Monthly rolling", "duration": {"amount": 1, "units": "month"}}
        ],
    )
    if price_type(n) == "usage":
        body["unitOfMeasure"] = {"amount": 1, "units": "MB"}
    if price_type(n) == "recurring":
        body |= {"recurringChargePeriodType": "month", "recurringChargePeriodLength": 1}
    return body


PRODUCT_OFFERING_PRICE = catalog_case(
    "ProductOfferingPrice",
    list_attribute="productOfferingTerm",
    filterable=(Filterable("priceType", price_type),),
    new_body=price_body,
    wrong_types={"price": 12, "tax": {"taxRate": 23}, "priceType": 1},
    mandatory=("name", "priceType"),
)

PRODUCT_OFFERING = catalog_case(
    "ProductOffering",
    list_attribute="channel",
    filterable=(
        Filterable("productSpecification.id", lambda n: f"ps-{n}"),
        Filterable("productOfferingPrice.id", lambda n: f"pop-{n}"),
        Filterable("category.id", lambda n: f"cat-{n}"),
        Filterable("channel.id", lambda n: f"ch-{n}"),
        Filterable("isBundle", lambda n: "false"),
        Filterable("isSellable", lambda n: "true"),
    ),
    new_body=lambda n: catalog_entity(
        "ProductOffering",
        n,
        isBundle=False,
        isSellable=True,
        productSpecification=ref("ps", n, "ProductSpecification"),
        productOfferingPrice=[ref("pop", n, "ProductOfferingPrice")],
        category=[ref("cat", n, "Category")],
        channel=[ref("ch", n, "Channel")],
    ),
    wrong_types={"isSellable": "yes", "productOfferingPrice": {"id": "pop-1"}},
)

CATALOG_CASES = (CATALOG, CATEGORY, PRODUCT_SPECIFICATION, PRODUCT_OFFERING_PRICE, PRODUCT_OFFERING)


# --- TMF622 Product Ordering and TMF637 Product Inventory ------------------------------
# Samples are never fulfilled here (tests run no fulfilment), so an order's customer,
# account and offering need not exist: the order stays acknowledged. Products cannot be
# created by clients (see ResourceCase.operations): fulfilment writes them.

ORDER_CATEGORIES = ("consumer", "business")
REQUESTED_START = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
PRODUCT_START = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def order_category(n: int) -> str:
    return ORDER_CATEGORIES[n % len(ORDER_CATEGORIES)]


def order_start(n: int) -> str:
    return instant(REQUESTED_START + timedelta(days=n, milliseconds=125))


def order_completion(n: int) -> str:
    return instant(REQUESTED_START + timedelta(days=n + 7))


def customer_ref(n: int) -> list[dict[str, Any]]:
    return [{"id": f"customer-{n}", "role": "Customer", "@referredType": "Customer"}]


def billing_account(n: int) -> dict[str, Any]:
    return {"id": f"ba-{n}", "name": f"Account {n:03d}", "@referredType": "BillingAccount"}


def product_order_body(n: int) -> dict[str, Any]:
    return {
        "externalId": f"EXT-{n:04d}",
        "description": f"Order number {n}",
        "category": order_category(n),
        "priority": str(n % 5),
        "notificationContact": f"buyer{n}@example.com",
        "requestedStartDate": order_start(n),
        "requestedCompletionDate": order_completion(n),
        "relatedParty": customer_ref(n),
        "billingAccount": billing_account(n),
        "note": [{"author": f"agent-{n}", "date": order_completion(n), "text": f"Note {n}"}],
        "productOrderItem": [
            {
                "id": "1",
                "action": "add",
                "quantity": 1,
                "productOffering": {"id": f"po-{n}", "@referredType": "ProductOffering"},
                # the server's to write, and what it writes: sent, so the order reads back
                # as it was sent
                "state": "acknowledged",
            }
        ],
    }


PRODUCT_ORDER = ResourceCase(
    name="ProductOrder",
    api="/tmf-api/productOrderingManagement/v4",
    path="productOrder",
    new_body=product_order_body,
    change={"description": "Changed order"},
    optional_attribute="notificationContact",
    list_attribute="note",
    mandatory=("productOrderItem",),
    state=StateRule(
        attribute="state",
        initial="acknowledged",
        allowed=None,  # a client cancels with cancelProductOrder
        illegal="completed",
        allowed_from_initial=("inProgress", "rejected"),
    ),
    filterable=(
        Filterable("externalId", lambda n: f"EXT-{n:04d}"),
        Filterable("category", order_category),
        Filterable("relatedParty.id", lambda n: f"customer-{n}"),
        Filterable("billingAccount.id", lambda n: f"ba-{n}"),
        Filterable("priority", lambda n: str(n % 5)),
        Filterable("state", lambda n: "acknowledged"),
        Filterable("productOrderItem.productOffering.id", lambda n: f"po-{n}"),
        Filterable("productOrderItem.state", lambda n: "acknowledged"),
        Filterable("requestedStartDate", order_start),
    ),
    range_attribute="requestedStartDate",
    nested_field="billingAccount.id",
    sort_keys=("category", "externalId"),
    not_patchable={
        "id": "another-id",
        "href": "http://evil.test/x",
        "@baseType": "Entity",
        "orderDate": "2030-01-01T00:00:00.000Z",
        "completionDate": "2030-01-01T00:00:00.000Z",
        "agreement": [{"id": "agreement-1"}],
    },
    wrong_types={
        "description": 42,
        "billingAccount": "ba-1",
        "note": {"text": "one note"},
        "requestedCompletionDate": 20300101,
    },
    bad_enums={"state": "Dormant"},
    instant_keys=frozenset(
        {"orderDate", "requestedCompletionDate", "requestedStartDate", "completionDate", "date"}
    ),
    server_set=frozenset({"orderDate"}),  # set once, when the order is placed
    operations=frozenset({CREATE, PATCH}),  # only an order that has ended can be deleted
)


def msisdn(n: int) -> str:
    return f"+35383100{n:04d}"


def iccid(n: int) -> str:
    return f"89353010000000000{n:02d}"


def product_offering(n: int) -> str:
    return ("pos-sim-only-5gb", "pos-sim-only-20gb")[n % 2]


def product_start(n: int) -> str:
    return instant(PRODUCT_START + timedelta(days=n, milliseconds=500))


def product_body(n: int) -> dict[str, Any]:
    return {
        "name": f"Product {n:03d}",
        "description": f"Product number {n}",
        "isBundle": False,
        "isCustomerVisible": True,
        "startDate": product_start(n),
        "relatedParty": customer_ref(n),
        "billingAccount": billing_account(n),
        "productOffering": {"id": product_offering(n), "@referredType": "ProductOffering"},
        "productSpecification": {"id": f"ps-{n}", "@referredType": "ProductSpecification"},
        "productCharacteristic": [{"name": "msisdn", "value": msisdn(n), "valueType": "string"}],
        "realizingResource": [
            {"id": msisdn(n), "value": msisdn(n), "@referredType": "MSISDN"},
            {"id": iccid(n), "name": f"SIM {iccid(n)}", "@referredType": "SIM"},
        ],
        "productRelationship": [
            {"relationshipType": "reliesOn", "product": {"id": f"line-{n}"}},
        ],
    }


PRODUCT = ResourceCase(
    name="Product",
    api="/tmf-api/productInventory/v4",
    path="product",
    new_body=product_body,
    change={"name": "Renamed Product"},
    optional_attribute="description",
    list_attribute="productCharacteristic",
    mandatory=("status",),
    state=StateRule(
        attribute="status",
        initial="created",
        allowed=None,  # a product changes through a product order
        illegal="suspended",
        allowed_from_initial=("active", "cancelled"),
    ),
    filterable=(
        Filterable("name", lambda n: f"Product {n:03d}"),
        Filterable("status", lambda n: "created"),
        Filterable("relatedParty.id", lambda n: f"customer-{n}"),
        Filterable("billingAccount.id", lambda n: f"ba-{n}"),
        Filterable("productOffering.id", product_offering),
        Filterable("productSpecification.id", lambda n: f"ps-{n}"),
        Filterable("realizingResource.id", iccid),
        Filterable("msisdn", msisdn),
        Filterable("iccid", iccid),
        Filterable("productRelationship.product.id", lambda n: f"line-{n}"),
        Filterable("startDate", product_start),
    ),
    range_attribute="startDate",
    nested_field="billingAccount.id",
    sort_keys=("productOffering.id", "name"),
    not_patchable={
        "id": "another-id",
        "href": "http://evil.test/x",
        "@baseType": "Entity",
        "startDate": "2030-01-01T00:00:00.000Z",
        "productOffering": {"id": "pos-sim-only-unlimited"},
    },
    wrong_types={"name": 42, "description": ["x"], "isCustomerVisible": "yes"},
    bad_enums={"status": "Dormant"},
    instant_keys=frozenset({"startDate", "terminationDate", "orderDate"}),
    operations=frozenset({PATCH}),  # fulfilment creates and ends products
)

ORDER_CASES = (PRODUCT_ORDER, PRODUCT)


# --- TMF666 Account Management -------------------------------------------------------------
# An account belongs to a customer that exists: every sample's owner is ACCOUNT_OWNER, which
# `ResourceCase.prepare` stores first. Cycle specifications have no state, no array and no
# instant filter.

ACCOUNT_API = "/tmf-api/accountManagement/v4"
ACCOUNT_OWNER = {
    "id": "account-owner",
    "name": "Account Owner",
    "status": "Approved",
    "engagedParty": {"id": "party-owner", "name": "Account Owner", "@referredType": "Individual"},
}
ACCOUNT_STATES = ("Active", "Suspended")  # the states an account may be created in
CURRENCIES = ("EUR", "GBP", "USD")
TAX_COUNTRIES = ("IE", "FR", "DE", "ES", "IT", "NL", "PT", "BE")


def account_state(n: int) -> str:
    return ACCOUNT_STATES[n % len(ACCOUNT_STATES)]


def currency(n: int) -> str:
    return CURRENCIES[n % len(CURRENCIES)]


def billing_account_body(n: int) -> dict[str, Any]:
    return {
        "name": f"Account {n:03d}",
        "description": f"Account number {n}",
        "accountType": f"type-{n}",
        "state": account_state(n),
        "currency": currency(n),
        "timeZone": "Europe/Dublin",
        "taxProfile": {"country": TAX_COUNTRIES[n], "exempt": False},
        "relatedParty": [{"id": "account-owner", "role": "owner", "@referredType": "Customer"}],
        "contact": [
            {
                "contactType": "billing",
                "contactName": f"Contact {n:03d}",
                "validFor": {
                    "startDateTime": customer_valid_from(n),
                    "endDateTime": customer_valid_to(n),
                },
            }
        ],
    }


BILLING_ACCOUNT = ResourceCase(
    name="BillingAccount",
    api=ACCOUNT_API,
    path="billingAccount",
    new_body=billing_account_body,
    change={"name": "Renamed Account"},
    optional_attribute="description",
    list_attribute="contact",
    mandatory=("name", "relatedParty"),
    state=StateRule(
        attribute="state",
        initial="Active",
        allowed="Suspended",
        illegal=None,  # an active account may be suspended or closed
        allowed_from_initial=("Closed", "Suspended"),
    ),
    filterable=(
        Filterable("name", lambda n: f"Account {n:03d}"),
        Filterable("state", account_state),
        Filterable("accountType", lambda n: f"type-{n}"),
        Filterable("currency", currency),
        Filterable("relatedParty.id", lambda n: "account-owner"),
    ),
    range_attribute=None,  # lastModified, its only instant filter, is the server's
    nested_field="taxProfile.country",
    sort_keys=("state", "name"),
    not_patchable={
        "id": "another-id",
        "href": "http://evil.test/x",
        "@baseType": "Account",
        "lastModified": "2030-01-01T00:00:00.000Z",
    },
    wrong_types={
        "name": 42,
        "relatedParty": "account-owner",
        "contact": {"contactType": "billing"},
        "barAtSpendCap": "yes",
    },
    bad_enums={"state": "Dormant"},
    instant_keys=frozenset({"lastModified", "startDateTime", "endDateTime"}),
    server_set=frozenset({"lastModified"}),
    given={"customer": (ACCOUNT_OWNER,)},
)


def cycle_body(n: int) -> dict[str, Any]:
    return {
        "name": f"Cycle {n:03d}",
        "description": f"Cycle number {n}",
        "billingDateShift": n,
        "frequency": "monthly",
        "paymentDueDateOffset": 14 + n,
        "validFor": {"startDateTime": customer_valid_from(n), "endDateTime": customer_valid_to(n)},
    }


BILLING_CYCLE_SPECIFICATION = ResourceCase(
    name="BillingCycleSpecification",
    api=ACCOUNT_API,
    path="billingCycleSpecification",
    new_body=cycle_body,
    change={"name": "Renamed Cycle"},
    optional_attribute="description",
    list_attribute=None,
    mandatory=("name",),
    state=None,
    filterable=(
        Filterable("name", lambda n: f"Cycle {n:03d}"),
        Filterable("frequency", lambda n: "monthly"),  # the only frequency there is
    ),
    range_attribute=None,
    nested_field="validFor.endDateTime",
    sort_keys=("frequency", "name"),
    not_patchable={"id": "another-id", "href": "http://evil.test/x", "@baseType": "Entity"},
    wrong_types={
        "name": 42,
        "billingDateShift": "14",
        "validFor": {"startDateTime": 20240101},
    },
    bad_enums={"frequency": "weekly"},
    instant_keys=frozenset({"startDateTime", "endDateTime"}),
)

ACCOUNT_CASES = (BILLING_ACCOUNT, BILLING_CYCLE_SPECIFICATION)


# --- TMF635 Usage Management -------------------------------------------------------------
# Usage samples are never rated here (tests run no rating), so their numbers need no line:
# they stay received. Usage consumptions are written by rating only: samples are written by
# the app's service, as rating writes them.

USAGE_API = "/tmf-api/usageManagement/v4"
USAGE_TYPES = ("data", "voice", "sms")
USAGE_START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MEASURES = {"data": ("bytes", 1_048_576), "voice": ("durationSeconds", 95), "sms": ("messages", 1)}


def usage_specification_body(n: int) -> dict[str, Any]:
    return {
        "name": f"UsageSpecification {n:03d}",
        "description": f"Usage specification number {n}",
        "lifecycleStatus": catalog_status(n),
        "version": "1.0",
        "isBundle": False,
        "validFor": {"startDateTime": customer_valid_from(n), "endDateTime": customer_valid_to(n)},
        "specCharacteristic": [
            {"name": "msisdn", "valueType": "string", "description": "The line's number"},
        ],
        "relatedParty": owner(n),
    }


USAGE_SPECIFICATION = ResourceCase(
    name="UsageSpecification",
    api=USAGE_API,
    path="usageSpecification",
    new_body=usage_specification_body,
    change={"name": "Renamed UsageSpecification"},
    optional_attribute="description",
    list_attribute="specCharacteristic",
    mandatory=("name",),
    state=None,  # lifecycleStatus is free text here
    filterable=(
        Filterable("name", lambda n: f"UsageSpecification {n:03d}"),
        Filterable("lifecycleStatus", catalog_status),
    ),
    range_attribute=None,
    nested_field="validFor.endDateTime",
    sort_keys=("lifecycleStatus", "name"),
    not_patchable={
        "id": "another-id",
        "href": "http://evil.test/x",
        "@baseType": "Entity",
        "lastUpdate": "2030-01-01T00:00:00.000Z",
    },
    wrong_types={"name": 42, "isBundle": "no", "specCharacteristic": {"name": "msisdn"}},
    bad_enums={},
    instant_keys=frozenset({"lastUpdate", "startDateTime", "endDateTime"}),
    server_set=frozenset({"lastUpdate"}),
)


def usage_type(n: int) -> str:
    return USAGE_TYPES[n % len(USAGE_TYPES)]


def usage_date(n: int) -> str:
    return instant(USAGE_START + timedelta(days=n, milliseconds=375))


def usage_body(n: int) -> dict[str, Any]:
    kind = usage_type(n)
    measure, amount = MEASURES[kind]
    return {
        "externalId": f"CDR-{n:04d}",
        "description": f"Usage number {n}",
        "usageType": kind,
        "usageDate": usage_date(n),
        "usageCharacteristic": [
            {"name": "msisdn", "value": msisdn(n), "valueType": "string"},
            {"name": measure, "value": amount + n, "valueType": "integer"},
        ],
        "usageSpecification": {"id": f"us-{kind}", "@referredType": "UsageSpecification"},
        "relatedParty": customer_ref(n),
    }


USAGE = ResourceCase(
    name="Usage",
    api=USAGE_API,
    path="usage",
    new_body=usage_body,
    change={"description": "Changed usage"},
    optional_attribute="description",
    list_attribute="usageCharacteristic",
    mandatory=("usageDate", "usageType"),
    state=StateRule(
        attribute="status",
        initial="received",
        allowed=None,  # rating rates; a client only recycles a rejected record
        illegal="recycled",
        allowed_from_initial=("guided", "rated", "rejected"),
    ),
    filterable=(
        Filterable("externalId", lambda n: f"CDR-{n:04d}"),
        Filterable("usageType", usage_type),
        Filterable("relatedParty.id", lambda n: f"customer-{n}"),
        Filterable("status", lambda n: "received"),
        Filterable("usageDate", usage_date),
    ),
    range_attribute="usageDate",
    nested_field="usageSpecification.id",
    sort_keys=("usageType", "usageDate"),
    not_patchable={
        "id": "another-id",
        "href": "http://evil.test/x",
        "@baseType": "Entity",
        "externalId": "CDR-9999",
        "usageDate": "2026-01-01T00:00:00.000Z",
        "usageType": "voice",
    },
    wrong_types={
        "description": 42,
        "usageCharacteristic": {"name": "msisdn"},
        "usageDate": 20260101,
    },
    # usageType is immutable (a patch naming it is refused as such, whatever the value),
    # and status is not part of a create body: no enumeration is refused by value both ways
    bad_enums={},
    instant_keys=frozenset({"usageDate", "ratingDate", "startDateTime", "endDateTime"}),
    operations=frozenset({CREATE, PATCH}),  # only a rejected record can be deleted
)


def period_start(n: int) -> str:
    return instant(datetime(2026, n + 1, 1, tzinfo=UTC))


def line_of(n: int) -> str:
    return f"line-{n % 2}"  # each line's balance of several periods: ties to sort by


def consumption_body(n: int) -> dict[str, Any]:
    line = {"id": line_of(n), "name": "SIM Only 5 GB", "@referredType": "Product"}
    initial, used = 5 * 1024**3, (n + 1) * 1_048_576
    return {
        "product": line,
        "msisdn": msisdn(n % 2),
        "billingAccount": billing_account(n % 2),
        "relatedParty": customer_ref(n % 2),
        "validFor": {"startDateTime": period_start(n), "endDateTime": period_start(n + 1)},
        "bucket": [
            {
                "name": "SIM Only 5 GB data",
                "usageType": "data",
                "zone": ["zone-eu", "zone-home"],
                "product": line,
                "initialValue": {"amount": initial, "units": "byte"},
                "usedValue": {"amount": used, "units": "byte"},
                "remainingValue": {"amount": initial - used, "units": "byte"},
            }
        ],
        "outOfBundleCharge": {
            "dutyFreeAmount": {"unit": "EUR", "value": 0},
            "taxIncludedAmount": {"unit": "EUR", "value": 0},
        },
        "barred": False,
        "alert": [],
        "lastUsageDate": instant(datetime(2026, n + 1, 9, 12, 30, tzinfo=UTC)),
    }


USAGE_CONSUMPTION = ResourceCase(
    name="UsageConsumption",
    api=USAGE_API,
    path="usageConsumption",
    new_body=consumption_body,
    change={"lastUsageDate": "2026-12-01T00:00:00.000Z"},  # never sent: `fields` selects it
    optional_attribute="lastUsageDate",
    list_attribute="bucket",
    mandatory=(),
    state=None,
    filterable=(Filterable("product.id", line_of),),  # the one filter a self-care app needs
    range_attribute=None,
    nested_field="product.id",
    sort_keys=("product.id", "id"),
    not_patchable={},
    wrong_types={},
    bad_enums={},
    instant_keys=frozenset({"startDateTime", "endDateTime", "reachedDate", "lastUsageDate"}),
    operations=frozenset(),  # rating writes balances; clients read them
    listed_by_id=True,
)

USAGE_CASES = (USAGE_SPECIFICATION, USAGE, USAGE_CONSUMPTION)

# --- TMF678 Customer Bill Management -------------------------------------------------------
# Bills and their lines are written by the bill run: samples are written by the app's own
# service for them. A client may only move a bill's state. A bill on demand for an account
# that does not exist is accepted and rejected at once by billing: samples end rejected.

BILL_API = "/tmf-api/customerBillManagement/v4"
BILL_START = datetime(2026, 1, 1, tzinfo=UTC)
RUN_TYPES = ("onCycle", "offCycle")
BILL_CATEGORIES = ("normal", "interim")
RATE_TYPES = ("recurring", "oneTime", "usage", "discount")


def euros(amount: int) -> dict[str, Any]:
    # whole amounts: exact both as stored (no float reaches storage) and as JSON
    return {"unit": "EUR", "value": amount}


def with_vat(excluded: int) -> tuple[int, int]:
    """The tax at 23% and the tax-included amount of a multiple of 100."""
    tax = excluded * 23 // 100
    return tax, excluded + tax


def bill_no(n: int) -> str:
    return f"{n + 1:06d}"


def bill_period_start(n: int) -> str:
    return instant(BILL_START + timedelta(days=31 * n))


def bill_date(n: int) -> str:
    return instant(BILL_START + timedelta(days=31 * (n + 1), hours=2, milliseconds=125))


def payment_due(n: int) -> str:
    return instant(BILL_START + timedelta(days=31 * (n + 1) + 14))


def run_type(n: int) -> str:
    return RUN_TYPES[n % len(RUN_TYPES)]


def bill_category(n: int) -> str:
    return BILL_CATEGORIES[n % len(BILL_CATEGORIES)]


def customer_bill_body(n: int) -> dict[str, Any]:
    excluded = 100 * (n + 1)
    tax, included = with_vat(excluded)
    return {
        "billNo": bill_no(n),
        "billDate": bill_date(n),
        "billingPeriod": {
            "startDateTime": bill_period_start(n),
            "endDateTime": bill_period_start(n + 1),
        },
        "paymentDueDate": payment_due(n),
        "nextBillDate": bill_period_start(n + 1),
        "runType": run_type(n),
        "category": bill_category(n),
        "state": "new",
        "amountDue": euros(included),
        "remainingAmount": euros(included),
        "taxExcludedAmount": euros(excluded),
        "taxIncludedAmount": euros(included),
        "taxItem": [{"taxCategory": "VAT", "taxRate": 23, "taxAmount": euros(tax)}],
        "billingAccount": billing_account(n),
        "relatedParty": customer_ref(n),
        "appliedPayment": [],
        "billDocument": [
            {
                "id": f"bill-{n}-pdf",
                "name": f"bill-{bill_no(n)}.pdf",
                "url": f"{PUBLIC_BASE}{BILL_API}/customerBill/bill-{n}/document",
                "mimeType": "application/pdf",
                "@type": "AttachmentRefOrValue",
            }
        ],
    }


CUSTOMER_BILL = ResourceCase(
    name="CustomerBill",
    api=BILL_API,
    path="customerBill",
    new_body=customer_bill_body,
    change={"state": "onHold"},
    optional_attribute=None,  # a client changes the state only
    list_attribute="taxItem",
    mandatory=("state",),
    state=StateRule(
        attribute="state",
        initial="new",
        allowed="validated",
        illegal="settled",  # payments settle a bill
        allowed_from_initial=("onHold", "validated"),
    ),
    filterable=(
        Filterable("billNo", bill_no),
        Filterable("state", lambda n: "new"),
        Filterable("billingAccount.id", lambda n: f"ba-{n}"),
        Filterable("relatedParty.id", lambda n: f"customer-{n}"),
        Filterable("runType", run_type),
        Filterable("category", bill_category),
        Filterable("billDate", bill_date),
        Filterable("billingPeriod.startDateTime", bill_period_start),
        Filterable("paymentDueDate", payment_due),
    ),
    range_attribute="billDate",
    nested_field="billingAccount.id",
    sort_keys=("runType", "billNo"),
    not_patchable={
        "id": "another-id",
        "href": "http://evil.test/x",
        "@baseType": "Entity",
        "lastUpdate": "2030-01-01T00:00:00.000Z",
        "billNo": "999999",
        "amountDue": euros(0),
        "remainingAmount": euros(0),
        "appliedPayment": [{"appliedAmount": euros(1), "payment": {"id": "p-1"}}],
    },
    wrong_types={"state": 42},
    bad_enums={"state": "paid"},
    instant_keys=frozenset(
        {"billDate", "lastUpdate", "nextBillDate", "paymentDueDate", "startDateTime", "endDateTime"}
    ),
    server_set=frozenset({"lastUpdate"}),
    operations=frozenset({PATCH}),  # the bill run issues bills; they are never deleted
)


def rate_type(n: int) -> str:
    return RATE_TYPES[n % len(RATE_TYPES)]


def rate_bill(n: int) -> str:
    return f"bill-{n // 2}"  # two lines per bill: ties to sort by


def coverage_start(n: int) -> str:
    return instant(BILL_START + timedelta(days=n, milliseconds=250))


def rate_body(n: int) -> dict[str, Any]:
    sign = -1 if rate_type(n) == "discount" else 1
    excluded = sign * 100 * (n + 1)
    tax, included = with_vat(excluded)
    return {
        "name": f"Charge {n:03d}",
        "description": f"Charge number {n}",
        "date": bill_date(n),
        "type": rate_type(n),
        "isBilled": True,
        "bill": {"id": rate_bill(n), "@referredType": "CustomerBill"},
        "billingAccount": billing_account(n % 2),
        "product": {"id": f"line-{n}", "name": "SIM Only 5 GB", "@referredType": "Product"},
        "periodCoverage": {
            "startDateTime": coverage_start(n),
            "endDateTime": instant(BILL_START + timedelta(days=n + 31)),
        },
        "taxExcludedAmount": euros(excluded),
        "taxIncludedAmount": euros(included),
        "appliedTax": [{"taxCategory": "VAT", "taxRate": 23, "taxAmount": euros(tax)}],
        "characteristic": [
            {"name": "chargedDays", "value": 31, "valueType": "integer"},
            {"name": "daysInPeriod", "value": 31, "valueType": "integer"},
        ],
    }


APPLIED_CUSTOMER_BILLING_RATE = ResourceCase(
    name="AppliedCustomerBillingRate",
    api=BILL_API,
    path="appliedCustomerBillingRate",
    new_body=rate_body,
    change={"name": "Renamed charge"},  # never sent: `fields` selects it
    optional_attribute="description",
    list_attribute="characteristic",
    mandatory=(),
    state=None,
    filterable=(
        Filterable("product.id", lambda n: f"line-{n}"),
        Filterable("type", rate_type),
        Filterable("bill.id", rate_bill),
        Filterable("billingAccount.id", lambda n: f"ba-{n % 2}"),
        Filterable("isBilled", lambda n: "true"),
        Filterable("periodCoverage.startDateTime", coverage_start),
    ),
    range_attribute="periodCoverage.startDateTime",
    nested_field="bill.id",
    sort_keys=("bill.id", "product.id"),
    not_patchable={},
    wrong_types={},
    bad_enums={},
    instant_keys=frozenset({"date", "startDateTime", "endDateTime"}),
    operations=frozenset(),  # written with their bill; read only
    listed_by_id=True,
)


def on_demand_body(n: int) -> dict[str, Any]:
    return {
        "name": f"Bill request {n:03d}",
        "billingAccount": billing_account(n),
        "relatedParty": customer_ref(n)[0],
    }


CUSTOMER_BILL_ON_DEMAND = ResourceCase(
    name="CustomerBillOnDemand",
    api=BILL_API,
    path="customerBillOnDemand",
    new_body=on_demand_body,
    change={"name": "Renamed request"},
    optional_attribute="name",
    list_attribute=None,
    mandatory=("billingAccount",),
    state=None,  # the server's to move: it starts inProgress, billing ends it
    filterable=(
        Filterable("billingAccount.id", lambda n: f"ba-{n}"),
        Filterable("state", lambda n: "rejected"),  # no such account
    ),
    range_attribute=None,  # lastUpdate, its only instant, is the server's
    nested_field="billingAccount.id",
    sort_keys=("state", "billingAccount.id"),
    not_patchable={},
    wrong_types={"name": 42, "billingAccount": "ba-1", "relatedParty": ["customer-1"]},
    bad_enums={"state": "Dormant"},
    instant_keys=frozenset({"lastUpdate"}),
    server_set=frozenset({"lastUpdate"}),
    operations=frozenset({CREATE}),
)

BILL_CASES = (CUSTOMER_BILL, APPLIED_CUSTOMER_BILLING_RATE, CUSTOMER_BILL_ON_DEMAND)

CASES = (CUSTOMER, *CATALOG_CASES, *ORDER_CASES, *ACCOUNT_CASES, *USAGE_CASES, *BILL_CASES)
