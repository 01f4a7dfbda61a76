"""Revenue assurance: for a month, whether each billing account was billed what it owes.

The checks (also in openapi/bill.yaml, RevenueAssuranceReport). Amounts are tax excluded,
in the account's currency.

- **Which period.** Each account is checked for its bill period that starts in the month:
  accounts have their own cycle day and time zone.
- **Recurring, one-time and discount charges.** What each product owes for the period, as
  the billing engine computes it from the product's history (domain/billing.py, each charge
  rounded as on a bill), against what the account's bills charged for it (the lines
  covering the period, summed per charge). A product billed less than it owes is
  `unbilled`, one billed more `overbilled`.
- **Usage.** The out-of-bundle charges rated into the period, summed from the usage records
  themselves, against the usage billed for it (`usageUnbilled`, `usageOverbilled`), and
  against the product's balances, which bills are made from (`usageBalanceMismatch`: the
  records and the balance disagree; its difference is rated minus balance).
- **Pending, not leakage.** A period is settled by a later bill of the cycle (the next
  one charges what the period's own bill could not know). Until there is one, a difference
  of billing is listed as `pending`: it is still to be billed or credited in the normal
  course.
- **Leakage**, per currency, is the sum of the differences of the billing discrepancies:
  unbilled amounts count positive, overbilled negative. The report is clean when there is
  no discrepancy and every account could be read.
- **To follow up** (not discrepancies): usage dated in the month (UTC) that is not rated
  yet or was rejected, the period's bills not sent yet, and payments made by the end of the
  period whose money is not (yet) allocated to a bill.

Lists stop at LISTED items (usage ids at IDS_LISTED); their counts are complete.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.account import AccountTerms, Cycle
from domain.bill import NEW, ON_HOLD, VALIDATED
from domain.billing import (
    USAGE,
    ChargeKey,
    Period,
    bill_lines,
    charged_by,
    product_life,
)
from domain.errors import InvalidRequest
from domain.instants import format_instant, parse_instant
from domain.money import money_value, round_money
from domain.payment import DONE
from domain.usage import BILLED, GUIDED, RATED, RECEIVED, RECYCLED, REJECTED, RERATED

UNBILLED, OVERBILLED = "unbilled", "overbilled"
USAGE_UNBILLED, USAGE_OVERBILLED = "usageUnbilled", "usageOverbilled"
BALANCE_MISMATCH = "usageBalanceMismatch"
RATED_STATES = (RATED, RERATED, BILLED)  # records whose charges count
NOT_RATED_STATES = (RECEIVED, GUIDED, RECYCLED)  # records still to rate
UNSENT = (NEW, ON_HOLD, VALIDATED)
OUT_OF_BUNDLE = "outOfBundle"
LISTED = 1000
IDS_LISTED = 100
REASONS_LISTED = 20
MONTH = re.compile(r"(\d{4})-(\d{2})")
FIRST_YEAR, LAST_YEAR = 2000, 2999


@dataclass(frozen=True)
class Month:
    """A calendar month, "YYYY-MM"."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = MONTH.fullmatch(text.strip())
        if not found:
            raise InvalidRequest(f"period: '{text}' is not a month (YYYY-MM, e.g. 2026-11)")
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12 or not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidRequest(
                f"period: '{text}' is not a month between {FIRST_YEAR}-01 and {LAST_YEAR}-12"
            )
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def period_for(self, cycle: Cycle) -> Period:
        """An account's bill period that starts in the month: the one holding noon of its
        cycle day (noon: no time zone changes its clocks then)."""
        return cycle.period(datetime(self.year, self.month, cycle.day, 12, tzinfo=cycle.zone))

    @property
    def bounds(self) -> Period:
        """The month in UTC, for what belongs to no account yet (usage not rated)."""
        following = (self.year + self.month // 12, self.month % 12 + 1)
        return datetime(self.year, self.month, 1, tzinfo=UTC), datetime(*following, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AccountFacts:
    """What the checks read of one billing account, as stored. Each list may hold more
    than the period's (e.g. the rates and bills of later periods); the checks pick."""

    terms: AccountTerms
    products: Sequence[Mapping[str, Any]]  # billed to the account, with productHistory
    rates: Sequence[Mapping[str, Any]]  # its applied customer billing rates
    balances: Sequence[Mapping[str, Any]]  # usage consumption of its products
    usage: Sequence[Mapping[str, Any]]  # usage records rated to its products
    bills: Sequence[Mapping[str, Any]]  # its bills
    payments: Sequence[Mapping[str, Any]]  # its payments


@dataclass(frozen=True)
class Discrepancy:
    """One charge of one product and period that is not billed as owed."""

    kind: str
    terms: AccountTerms
    product_id: str
    product_name: str
    charge_type: str  # recurring | oneTime | discount | usage
    charge_key: str
    period: Period
    owed: Decimal  # usage: as rated by the records
    billed: Decimal
    difference: Decimal
    rate_ids: tuple[str, ...] = ()
    balance: Decimal | None = None  # usage only, like the ids below
    balance_ids: tuple[str, ...] = ()
    usage_ids: tuple[str, ...] = ()  # the first IDS_LISTED
    usage_count: int = 0

    @property
    def currency(self) -> str:
        return self.terms.currency

    @property
    def leaks(self) -> bool:
        """Counts in the leakage: a difference between what is owed and what is billed."""
        return self.kind != BALANCE_MISMATCH

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "kind": self.kind,
            "billingAccount": {"id": self.terms.account_id, "name": self.terms.name},
            "product": {"id": self.product_id, "name": self.product_name},
            "chargeType": self.charge_type,
            "chargeKey": self.charge_key,
            "billingPeriod": _period(self.period),
            "owed": _money(self.owed, self.currency),
            "billed": _money(self.billed, self.currency),
            "difference": _money(self.difference, self.currency),
            "appliedCustomerBillingRateId": list(self.rate_ids),
        }
        if self.charge_type == USAGE:
            found["balance"] = _money(self.balance or Decimal(0), self.currency)
            found["usageConsumptionId"] = list(self.balance_ids)
            found["usageCount"] = self.usage_count
            found["usageId"] = list(self.usage_ids)
        return found


@dataclass
class AccountCheck:
    """The outcome for one account and its period."""

    terms: AccountTerms
    period: Period
    owed: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    pending: list[Discrepancy] = field(default_factory=list)
    unsent_bills: list[dict[str, Any]] = field(default_factory=list)
    unallocated_payments: list[dict[str, Any]] = field(default_factory=list)


def check_account(facts: AccountFacts, month: Month) -> AccountCheck:
    """The checks of one account for its period starting in `month`."""
    terms = facts.terms
    period = month.period_for(terms.cycle)
    check = AccountCheck(terms, period)
    settled = _settled(facts.bills, period)
    for part in (_charges(facts, period), _usage(facts, period)):
        check.owed += part.owed
        check.billed += part.billed
        for discrepancy in part.discrepancies:
            pending = discrepancy.leaks and not settled
            (check.pending if pending else check.discrepancies).append(discrepancy)
    check.unsent_bills = [
        _unsent(bill)
        for bill in facts.bills
        if _starts(bill, "billingPeriod") == period[0] and bill.get("state") in UNSENT
    ]
    check.unallocated_payments = [
        _unallocated(payment, terms.currency)
        for payment in facts.payments
        if _credit(payment, terms.currency) > 0 and _made_before(payment, period[1])
    ]
    return check


@dataclass
class _Part:
    """What one check found: the totals it compared and where they differ."""

    owed: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)
    discrepancies: list[Discrepancy] = field(default_factory=list)


def _settled(bills: Iterable[Mapping[str, Any]], period: Period) -> bool:
    """Whether a later bill of the cycle settled the period."""
    for bill in bills:
        start = _starts(bill, "billingPeriod")
        if bill.get("category") == "normal" and start is not None and start > period[0]:
            return True
    return False


def _charges(facts: AccountFacts, period: Period) -> _Part:
    """Recurring, one-time and discount charges: owed (the engine's lines of the period
    with nothing charged before) against what the period's lines charged."""
    lives = [product_life(product) for product in facts.products]
    owed = {line.charge_key: line for line in bill_lines(facts.terms, [period], lives, [], {})}
    rates = [
        rate
        for rate in facts.rates
        if rate.get("type") != USAGE and _starts(rate, "periodCoverage") == period[0]
    ]
    billed = charged_by(rates)
    rate_ids = _ids_by_key(rates)
    names = {str(rate["product"]["id"]): str(rate["product"].get("name") or "") for rate in rates}
    names.update({life.product_id: life.name for life in lives})
    part = _Part()
    for key in sorted(owed.keys() | billed.keys(), key=lambda k: k[:3]):
        product_id, kind, charge_key, _ = key
        due = owed[key].amounts.tax_excluded if key in owed else Decimal(0)
        charged = billed[key].tax_excluded if key in billed else Decimal(0)
        part.owed += due
        part.billed += charged
        if due == charged:
            continue
        part.discrepancies.append(
            Discrepancy(
                kind=UNBILLED if due > charged else OVERBILLED,
                terms=facts.terms,
                product_id=product_id,
                product_name=names.get(product_id) or product_id,
                charge_type=kind,
                charge_key=charge_key,
                period=period,
                owed=due,
                billed=charged,
                difference=due - charged,
                rate_ids=tuple(rate_ids.get(key, ())),
            )
        )
    return part


def _ids_by_key(rates: Iterable[Mapping[str, Any]]) -> dict[ChargeKey, list[str]]:
    """The ids of the rates of each charge (keyed as billing keys them)."""
    found: dict[ChargeKey, list[str]] = defaultdict(list)
    for rate in rates:
        for key in charged_by([rate]):
            found[key].append(str(rate["id"]))
    return found


@dataclass
class _UsageSums:
    """One product's usage of the period, from each source."""

    name: str = ""
    rated: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)
    balance: Decimal = Decimal(0)
    usage_ids: list[str] = field(default_factory=list)
    usage_count: int = 0
    rate_ids: list[str] = field(default_factory=list)
    balance_ids: list[str] = field(default_factory=list)


def _usage(facts: AccountFacts, period: Period) -> _Part:
    """Usage charges rated into the period: by the records, billed, in the balances."""
    sums = _usage_sums(facts, period)
    part = _Part()
    for product_id in sorted(sums):
        found = sums[product_id]
        part.owed += found.rated
        part.billed += found.billed
        base = Discrepancy(
            kind=BALANCE_MISMATCH,
            terms=facts.terms,
            product_id=product_id,
            product_name=found.name or product_id,
            charge_type=USAGE,
            charge_key=USAGE,
            period=period,
            owed=found.rated,
            billed=found.billed,
            difference=found.rated - found.balance,
            rate_ids=tuple(found.rate_ids),
            balance=found.balance,
            balance_ids=tuple(found.balance_ids),
            usage_ids=tuple(found.usage_ids),
            usage_count=found.usage_count,
        )
        if found.rated != found.billed:
            kind = USAGE_UNBILLED if found.rated > found.billed else USAGE_OVERBILLED
            part.discrepancies.append(
                replace(base, kind=kind, difference=found.rated - found.billed)
            )
        if found.rated != found.balance:
            part.discrepancies.append(base)
    return part


def _usage_sums(facts: AccountFacts, period: Period) -> dict[str, _UsageSums]:
    cycle = facts.terms.cycle
    sums: dict[str, _UsageSums] = defaultdict(_UsageSums)

    def in_period(start: Any) -> bool:
        # as billing does: a balance counts in the bill period its own period starts in
        return bool(start) and cycle.period(parse_instant(str(start)))[0] == period[0]

    for record in facts.usage:
        if record.get("status") not in RATED_STATES:
            continue
        for entry in record.get("ratedProductUsage") or []:
            if entry.get("offerTariffType") != OUT_OF_BUNDLE or not in_period(
                (entry.get("billingPeriod") or {}).get("startDateTime")
            ):
                continue
            found = sums[str(entry["productRef"]["id"])]
            found.name = found.name or str(entry["productRef"].get("name") or "")
            found.rated += _amount(entry.get("taxExcludedRatingAmount"))
            found.usage_count += 1
            if len(found.usage_ids) < IDS_LISTED:
                found.usage_ids.append(str(record["id"]))
    for balance in facts.balances:
        charge = balance.get("outOfBundleCharge")
        if not charge or not in_period((balance.get("validFor") or {}).get("startDateTime")):
            continue
        found = sums[str(balance["product"]["id"])]
        found.balance += _amount(charge.get("dutyFreeAmount"))
        found.balance_ids.append(str(balance["id"]))
    for rate in facts.rates:
        if rate.get("type") == USAGE and _starts(rate, "periodCoverage") == period[0]:
            found = sums[str(rate["product"]["id"])]
            found.name = found.name or str(rate["product"].get("name") or "")
            found.billed += _amount(rate.get("taxExcludedAmount"))
            found.rate_ids.append(str(rate["id"]))
    names = {str(product["id"]): str(product.get("name") or "") for product in facts.products}
    for product_id, found in sums.items():
        found.name = names.get(product_id) or found.name
    return sums


def _made_before(payment: Mapping[str, Any], end: datetime) -> bool:
    made = payment.get("paymentDate")
    return made is None or parse_instant(str(made)) < end


def _unsent(bill: Mapping[str, Any]) -> dict[str, Any]:
    return _given(
        id=bill["id"],
        billNo=bill.get("billNo"),
        state=bill.get("state"),
        category=bill.get("category"),
        billDate=bill.get("billDate"),
        billingAccount={"id": bill["billingAccount"]["id"]},
        amountDue=bill.get("amountDue"),
        remainingAmount=bill.get("remainingAmount"),
    )


def _credit(payment: Mapping[str, Any], currency: str) -> Decimal:
    """The money of a payment done that is not allocated to a bill."""
    found = money_value(payment.get("unallocatedAmount"), "unallocatedAmount")
    if payment.get("status") != DONE or found is None or found[1] != currency:
        return Decimal(0)
    return found[0]


def _unallocated(payment: Mapping[str, Any], currency: str) -> dict[str, Any]:
    return _given(
        id=payment["id"],
        account={"id": payment["account"]["id"]},
        paymentDate=payment.get("paymentDate"),
        correlatorId=payment.get("correlatorId"),
        totalAmount=payment.get("totalAmount"),
        unallocatedAmount=_money(_credit(payment, currency), currency),
    )


# the report -----------------------------------------------------------------------------


@dataclass
class _Tally:
    """Usage records of the month in one state."""

    count: int = 0
    ids: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, record: Mapping[str, Any]) -> None:
        self.count += 1
        if len(self.ids) < IDS_LISTED:
            self.ids.append(str(record["id"]))
        if record.get("statusReason"):
            self.reasons[str(record["statusReason"])] += 1

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"count": self.count, "usageId": self.ids}
        if self.reasons:
            found["reason"] = [
                {"reason": reason, "count": count}
                for reason, count in self.reasons.most_common(REASONS_LISTED)
            ]
        return found


@dataclass
class _Totals:
    owed: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)
    leakage: Decimal = Decimal(0)
    pending: Decimal = Decimal(0)


@dataclass
class _Listed:
    """A list kept to LISTED items, counting them all."""

    count: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            self.count += 1
            if len(self.items) < LISTED:
                self.items.append(item)


@dataclass
class Report:
    """The report of a month, built account by account."""

    month: Month
    accounts: int = 0
    totals: dict[str, _Totals] = field(default_factory=lambda: defaultdict(_Totals))
    discrepancies: _Listed = field(default_factory=_Listed)
    pending: _Listed = field(default_factory=_Listed)
    unsent_bills: _Listed = field(default_factory=_Listed)
    unallocated_payments: _Listed = field(default_factory=_Listed)
    failed: _Listed = field(default_factory=_Listed)
    not_rated: _Tally = field(default_factory=_Tally)
    rejected: _Tally = field(default_factory=_Tally)

    def add(self, check: AccountCheck) -> None:
        self.accounts += 1
        totals = self.totals[check.terms.currency]
        totals.owed += check.owed
        totals.billed += check.billed
        totals.leakage += sum((d.difference for d in check.discrepancies if d.leaks), Decimal(0))
        totals.pending += sum((d.difference for d in check.pending), Decimal(0))
        self.discrepancies.extend(d.as_dict() for d in check.discrepancies)
        self.pending.extend(d.as_dict() for d in check.pending)
        self.unsent_bills.extend(check.unsent_bills)
        self.unallocated_payments.extend(check.unallocated_payments)

    def add_failure(self, account_id: str, reason: str) -> None:
        """An account whose terms cannot be read: it could not be checked."""
        self.accounts += 1
        self.failed.extend([{"id": account_id, "reason": reason}])

    def add_usage(self, record: Mapping[str, Any]) -> None:
        """A usage record of the month not rated (yet)."""
        if record.get("status") == REJECTED:
            self.rejected.add(record)
        elif record.get("status") in NOT_RATED_STATES:
            self.not_rated.add(record)

    @property
    def clean(self) -> bool:
        return self.discrepancies.count == 0 and self.failed.count == 0

    def as_dict(self, generated_at: datetime) -> dict[str, Any]:
        return {
            "period": str(self.month),
            "generatedAt": format_instant(generated_at),
            "clean": self.clean,
            "accountCount": self.accounts,
            "discrepancyCount": self.discrepancies.count,
            "pendingCount": self.pending.count,
            "unsentBillCount": self.unsent_bills.count,
            "unallocatedPaymentCount": self.unallocated_payments.count,
            "total": [
                {
                    "currency": currency,
                    "owed": _money(totals.owed, currency),
                    "billed": _money(totals.billed, currency),
                    "leakage": _money(totals.leakage, currency),
                    "pending": _money(totals.pending, currency),
                }
                for currency, totals in sorted(self.totals.items())
            ],
            "discrepancy": self.discrepancies.items,
            "pending": self.pending.items,
            "notRatedUsage": self.not_rated.as_dict(),
            "rejectedUsage": self.rejected.as_dict(),
            "unsentBill": self.unsent_bills.items,
            "unallocatedPayment": self.unallocated_payments.items,
            "failedAccount": self.failed.items,
            "@type": "RevenueAssuranceReport",
        }


# helpers --------------------------------------------------------------------------------


def _starts(resource: Mapping[str, Any], name: str) -> datetime | None:
    start = (resource.get(name) or {}).get("startDateTime")
    return parse_instant(str(start)) if start else None


def _amount(money: Mapping[str, Any] | None) -> Decimal:
    found = money_value(money, "amount")
    return found[0] if found else Decimal(0)


def _given(**attributes: Any) -> dict[str, Any]:
    """The attributes that have a value (a stored resource may lack an optional one)."""
    return {name: value for name, value in attributes.items() if value is not None}


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"unit": currency, "value": round_money(amount, currency)}


def _period(period: Period) -> dict[str, str]:
    return {"startDateTime": format_instant(period[0]), "endDateTime": format_instant(period[1])}
