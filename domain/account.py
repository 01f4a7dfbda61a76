"""TMF666 billing accounts and billing cycle specifications, and the terms rating and billing
read from an account: currency, bill cycle in the account's time zone, tax, spend cap.

Extensions to TMF666 (documented in openapi/account.yaml): `currency`, `timeZone`,
`taxProfile {country, vatRate, exempt}`, `spendCap` and `barAtSpendCap` on the account. The
bill cycle is the TMF `billStructure.cycleSpecification` (a reference to a
billingCycleSpecification or its value): monthly, periods starting on day
`billingDateShift + 1` of each month (0..27, so every month has the day).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidRequest, Unprocessable
from domain.lifecycle import Lifecycle
from domain.money import money_value, to_decimal
from domain.query import AttrType
from domain.resource import Lookup, Referrer, ResourceType, Rules

ACTIVE, SUSPENDED, CLOSED = "Active", "Suspended", "Closed"
DEFAULT_CURRENCY, DEFAULT_TIME_ZONE, DEFAULT_COUNTRY = "EUR", "Europe/Dublin", "IE"
MONTHLY = "monthly"
MAX_SHIFT = 27  # a period starts on day 1..28: a day every month has

# Standard VAT rates (percent) of the countries an account's tax profile may name without
# giving its own rate.
VAT_RATES: Mapping[str, Decimal] = {
    country: Decimal(rate)
    for country, rate in {
        "AT": "20", "BE": "21", "BG": "20", "CY": "19", "CZ": "21", "DE": "19", "DK": "25",
        "EE": "22", "ES": "21", "FI": "25.5", "FR": "20", "GR": "24", "HR": "25", "HU": "27",
        "IE": "23", "IT": "22", "LT": "21", "LU": "17", "LV": "21", "MT": "18", "NL": "21",
        "PL": "23", "PT": "23", "RO": "19", "SE": "25", "SI": "22", "SK": "23", "GB": "20",
        "NO": "25", "IS": "24", "CH": "8.1", "LI": "8.1",
    }.items()
}  # fmt: skip

ACCOUNT_LIFECYCLE = Lifecycle(
    attribute="state",
    transitions={
        ACTIVE: frozenset({SUSPENDED, CLOSED}),
        SUSPENDED: frozenset({ACTIVE, CLOSED}),
        CLOSED: frozenset(),
    },
    initial=ACTIVE,
    creatable=frozenset({ACTIVE, SUSPENDED}),
)


@dataclass(frozen=True)
class Cycle:
    """A monthly bill cycle whose periods start on `day` at midnight in `zone`."""

    day: int
    zone: ZoneInfo

    def period(self, at: datetime) -> tuple[datetime, datetime]:
        """The bill period [start, end) holding the instant, in UTC."""
        local = at.astimezone(self.zone)
        year, month = local.year, local.month
        if local.day < self.day:
            year, month = _add_months(year, month, -1)
        start = self._start(year, month)
        if start > at:  # before midnight of the cycle day (a DST edge): the period before
            year, month = _add_months(year, month, -1)
            start = self._start(year, month)
        return start, self._start(*_add_months(year, month, 1))

    def _start(self, year: int, month: int) -> datetime:
        return datetime(year, month, self.day, tzinfo=self.zone).astimezone(UTC)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


@dataclass(frozen=True)
class AccountTerms:
    """What rating and billing need of a billing account."""

    account_id: str
    name: str
    state: str
    currency: str
    cycle: Cycle
    vat_rate: Decimal  # percent; 0 when exempt
    tax_exempt: bool
    spend_cap: Decimal | None
    bar_at_spend_cap: bool
    payment_due_days: int

    @property
    def ref(self) -> dict[str, Any]:
        return {"id": self.account_id, "name": self.name, "@referredType": "BillingAccount"}


def account_terms(account: Mapping[str, Any], lookup: Lookup) -> AccountTerms:
    """The terms of a stored (valid) account, its cycle specification read when referenced."""
    currency = str(account.get("currency") or DEFAULT_CURRENCY)
    cycle_spec = _cycle_specification(account, lookup)
    profile = account.get("taxProfile") or {}
    exempt = bool(profile.get("exempt"))
    cap = money_value(account.get("spendCap"), "spendCap")
    return AccountTerms(
        account_id=str(account["id"]),
        name=str(account.get("name", "")),
        state=str(account.get("state", ACTIVE)),
        currency=currency,
        cycle=Cycle(
            int(cycle_spec.get("billingDateShift") or 0) + 1,
            _zone(account.get("timeZone") or DEFAULT_TIME_ZONE),
        ),
        vat_rate=Decimal(0) if exempt else vat_rate(profile),
        tax_exempt=exempt,
        spend_cap=cap[0] if cap else None,
        bar_at_spend_cap=bool(account.get("barAtSpendCap")),
        payment_due_days=int(cycle_spec.get("paymentDueDateOffset") or 14),
    )


def vat_rate(profile: Mapping[str, Any]) -> Decimal:
    if profile.get("vatRate") is not None:
        return to_decimal(profile["vatRate"], "taxProfile.vatRate")
    country = str(profile.get("country") or DEFAULT_COUNTRY)
    if country not in VAT_RATES:
        raise Unprocessable(f"taxProfile: no VAT rate known for '{country}'; give vatRate")
    return VAT_RATES[country]


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"timeZone: '{name}' is not an IANA time zone") from None


def _cycle_specification(account: Mapping[str, Any], lookup: Lookup) -> Mapping[str, Any]:
    given = (account.get("billStructure") or {}).get("cycleSpecification") or {}
    if "billingDateShift" in given or "frequency" in given or not given.get("id"):
        return given
    stored = lookup.get(BILLING_CYCLE_SPECIFICATION.collection, str(given["id"]))
    if stored is None:
        raise Unprocessable(
            f"billStructure.cycleSpecification: billingCycleSpecification "
            f"'{given['id']}' does not exist"
        )
    return stored


def check_cycle(spec: Mapping[str, Any], where: str) -> None:
    frequency = spec.get("frequency")
    if frequency is not None and frequency != MONTHLY:
        raise Unprocessable(f"{where}.frequency: only '{MONTHLY}' cycles are supported")
    shift = spec.get("billingDateShift")
    if shift is not None and not 0 <= shift <= MAX_SHIFT:
        raise Unprocessable(
            f"{where}.billingDateShift: {shift} is outside 0..{MAX_SHIFT} "
            f"(periods start on day billingDateShift + 1, 1..28)"
        )


class BillingAccountRules(Rules):
    """An account belongs to an existing customer, and its money is in its own currency."""

    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        resource.setdefault("currency", DEFAULT_CURRENCY)
        resource.setdefault("timeZone", DEFAULT_TIME_ZONE)
        self._check(resource, lookup)

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        if after.get("currency") != before.get("currency"):
            raise Unprocessable("currency: an account's currency cannot change; open a new one")
        self._check(after, lookup)

    def _check(self, account: dict[str, Any], lookup: Lookup) -> None:
        if owner_of(account) is None:
            raise Unprocessable("relatedParty: name the owning customer (@referredType Customer)")
        owner = str(owner_of(account))
        if lookup.get("customer", owner) is None:
            raise Unprocessable(f"relatedParty: customer '{owner}' does not exist")
        cycle = (account.get("billStructure") or {}).get("cycleSpecification") or {}
        check_cycle(cycle, "billStructure.cycleSpecification")
        terms = account_terms(account, lookup)
        for name in ("creditLimit", "spendCap"):
            money = money_value(account.get(name), name)
            if money and money[1] != terms.currency:
                raise Unprocessable(f"{name}: {money[1]} is not the account currency")
            if money and money[0] < 0:
                raise InvalidRequest(f"{name}: must not be negative")


class CycleSpecificationRules(Rules):
    def on_create(self, resource: dict[str, Any], lookup: Lookup) -> None:
        resource.setdefault("frequency", MONTHLY)
        resource.setdefault("billingDateShift", 0)
        check_cycle(resource, "billingCycleSpecification")

    def on_update(self, before: Mapping[str, Any], after: dict[str, Any], lookup: Lookup) -> None:
        check_cycle(after, "billingCycleSpecification")


def owner_of(account: Mapping[str, Any]) -> str | None:
    """The id of the customer who owns the account (its Customer relatedParty)."""
    for party in account.get("relatedParty") or []:
        if party.get("@referredType") == "Customer" or party.get("role") in ("owner", "customer"):
            return str(party.get("id"))
    return None


BILLING_CYCLE_SPECIFICATION = ResourceType(
    name="BillingCycleSpecification",
    api="accountManagement",
    path="billingCycleSpecification",
    attributes=frozenset(
        {
            "name",
            "description",
            "billingDateShift",
            "billingPeriod",
            "chargeDateOffset",
            "creditDateOffset",
            "frequency",
            "mailingDateOffset",
            "paymentDueDateOffset",
            "validFor",
        }
    ),
    filters={"id": AttrType.STRING, "name": AttrType.STRING, "frequency": AttrType.STRING},
    rules=CycleSpecificationRules(),
    referrers=(Referrer("billingAccount", "billStructure.cycleSpecification.id"),),
)

BILLING_ACCOUNT = ResourceType(
    name="BillingAccount",
    api="accountManagement",
    path="billingAccount",
    attributes=frozenset(
        {
            "name",
            "description",
            "accountType",
            "state",
            "lastModified",
            "paymentStatus",
            "relatedParty",
            "accountBalance",
            "accountRelationship",
            "billStructure",
            "contact",
            "creditLimit",
            "defaultPaymentMethod",
            "financialAccount",
            "paymentPlan",
            "taxExemption",
            "currency",
            "timeZone",
            "taxProfile",
            "spendCap",
            "barAtSpendCap",
        }
    ),
    filters={
        "id": AttrType.STRING,
        "name": AttrType.STRING,
        "state": AttrType.STRING,
        "accountType": AttrType.STRING,
        "currency": AttrType.STRING,
        "relatedParty.id": AttrType.STRING,
        "lastModified": AttrType.INSTANT,
    },
    instant_keys=frozenset({"startDateTime", "endDateTime", "lastModified"}),
    server_dates=("lastModified",),
    lifecycle=ACCOUNT_LIFECYCLE,
    rules=BillingAccountRules(),
    # An account that products or orders are billed to stays: close it instead.
    referrers=(
        Referrer("product", "billingAccount.id"),
        Referrer("productOrder", "billingAccount.id"),
    ),
)

ACCOUNT_TYPES = (BILLING_ACCOUNT, BILLING_CYCLE_SPECIFICATION)
