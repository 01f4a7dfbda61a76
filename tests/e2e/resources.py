"""The resource types the TMF rule tests run against: one row per resource type.

A new resource (product offering, product order, ...) joins every rule test of
test_tmf_rules.py and test_bad_input.py by adding a `ResourceCase` to `CASES`.

Sample bodies are numbered: sample `n` differs from every other sample in each filterable
attribute (except where `value_of` repeats on purpose, to give sorts ties), and its instants
grow with `n`, so range filters and sorts have a known answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    allowed: str  # a state the initial state may move to
    illegal: str  # a state the initial state may not move to
    allowed_from_initial: tuple[str, ...]  # what a refused transition must name


@dataclass(frozen=True)
class ResourceCase:
    name: str  # TMF resource name and default @type
    api: str  # base path of its API
    path: str  # collection path under the API
    new_body: Callable[[int], dict[str, Any]]  # a valid create body: sample n
    change: Mapping[str, Any]  # a merge patch that changes an attribute of any sample
    optional_attribute: str  # present in every sample and removable (merge patch null)
    list_attribute: str  # an array attribute of objects
    mandatory: tuple[str, ...]  # required in a create body
    state: StateRule
    filterable: tuple[Filterable, ...]
    range_attribute: str  # an instant filter, for .gte/.lt
    nested_field: str  # a nested attribute for ?fields=
    sort_keys: tuple[str, str]  # two sortable attributes; the first has ties among samples
    not_patchable: Mapping[str, Any]  # attribute -> a value a client might try to set
    wrong_types: Mapping[str, Any]  # attribute -> a value of the wrong JSON type
    bad_enums: Mapping[str, str]  # attribute -> a value outside its enumeration
    instant_keys: frozenset[str]  # attribute names that hold instants, at any depth

    def __str__(self) -> str:
        return self.name

    @property
    def collection_url(self) -> str:
        return f"{self.api}/{self.path}"

    def url(self, resource_id: str) -> str:
        return f"{self.collection_url}/{resource_id}"

    def href(self, resource_id: str) -> str:
        return f"{PUBLIC_BASE}{self.url(resource_id)}"

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

CASES = (CUSTOMER,)
