"""Revenue assurance on MongoDB: reads what domain/revenue_assurance.py checks, account by
account, and builds the report of a month.

Accounts go IN_GROUP at a time, each group's products, bill lines, bills, balances, usage
and payments read in a few queries (`$in` of at most IN_GROUP values: the embedded server
is slow on long ones), with only the attributes the checks need. Nothing is counted on the
server: the usage not rated is counted as it is read.
The report covers the accounts of the partner acted for (every partner's across partners).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo.database import Database

from adapters.billing import PRODUCT_FIELDS
from adapters.mongo import HIDDEN, IN_GROUP, MongoResources, groups
from adapters.partners import scoped
from domain.account import account_terms
from domain.errors import DomainError
from domain.instants import format_instant
from domain.payment import DONE
from domain.ports import Clock
from domain.resource import Lookup
from domain.revenue_assurance import (
    BALANCE_MISMATCH,
    NOT_RATED_STATES,
    OUT_OF_BUNDLE,
    RATED_STATES,
    AccountFacts,
    Month,
    Report,
    check_account,
)
from domain.usage import REJECTED

RATE_FIELDS = dict.fromkeys(
    ("id", "type", "product", "periodCoverage", "characteristic", "taxExcludedAmount",
     "taxIncludedAmount", "billingAccount.id"),
    1,
) | {"_id": 0}  # fmt: skip
BILL_FIELDS = dict.fromkeys(
    ("id", "billNo", "state", "category", "billDate", "billingPeriod", "billingAccount.id",
     "amountDue", "remainingAmount"),
    1,
) | {"_id": 0}  # fmt: skip
BALANCE_FIELDS = {"_id": 0, "id": 1, "product.id": 1, "validFor": 1, "outOfBundleCharge": 1}
USAGE_FIELDS = dict.fromkeys(
    ("id", "status", "ratedProductUsage.productRef", "ratedProductUsage.offerTariffType",
     "ratedProductUsage.billingPeriod", "ratedProductUsage.taxExcludedRatingAmount"),
    1,
) | {"_id": 0}  # fmt: skip
PAYMENT_FIELDS = dict.fromkeys(
    ("id", "account.id", "status", "paymentDate", "correlatorId", "totalAmount",
     "unallocatedAmount"),
    1,
) | {"_id": 0}  # fmt: skip


class RevenueAssurance:
    """The revenue assurance report of the accounts in one database."""

    def __init__(self, db: Database, repository: MongoResources, clock: Clock) -> None:
        self._db = db
        self._lookup = Lookup(repository)
        self._clock = clock

    def report(self, period: str) -> dict[str, Any]:
        """The report of the month `period` ("YYYY-MM"); InvalidRequest for another text."""
        month = Month.parse(period)
        report = Report(month)
        lookup = self._lookup.memoized()  # cycle specifications, read once
        accounts = self._db["billingAccount"].find(scoped("billingAccount", {}), HIDDEN)
        accounts = accounts.sort("_id", 1)
        for group in groups(accounts, IN_GROUP):
            for facts in self._facts(group, month, lookup, report):
                report.add(check_account(facts, month))
        for record in self._usage_not_rated(month):
            report.add_usage(record)
        return report.as_dict(self._clock.now())

    def _facts(
        self, accounts: Sequence[dict[str, Any]], month: Month, lookup: Lookup, report: Report
    ) -> Iterator[AccountFacts]:
        """What the checks read of each account of a group whose terms can be read."""
        terms = {}
        for account in accounts:
            try:
                terms[account["id"]] = account_terms(account, lookup)
            except DomainError as error:
                report.add_failure(str(account["id"]), str(error))
        if not terms:
            return
        ids = list(terms)
        window = _Window([month.period_for(found.cycle) for found in terms.values()])
        products = _by(self._find("product", "billingAccount.id", ids, {}, PRODUCT_FIELDS))
        owner = {str(p["id"]): account for account, found in products.items() for p in found}
        rates = _by(self._rates(ids, window))
        bills = _by(self._bills(ids, window))
        payments = _by(self._payments(ids), "account")
        balances = _by_owner(self._balances(list(owner), window), owner)
        usage = _by_owner(self._usage(list(owner), window), owner)
        for account_id, found in terms.items():
            yield AccountFacts(
                terms=found,
                products=products.get(account_id, []),
                rates=rates.get(account_id, []),
                balances=balances.get(account_id, []),
                usage=usage.get(account_id, []),
                bills=bills.get(account_id, []),
                payments=payments.get(account_id, []),
            )

    def _rates(self, account_ids: Sequence[str], window: _Window) -> Iterator[dict[str, Any]]:
        """The bill lines covering the accounts' periods (and some of other periods)."""
        where = {"periodCoverage.startDateTime": {"$gte": window.first, "$lte": window.last}}
        return self._find(
            "appliedCustomerBillingRate", "billingAccount.id", account_ids, where, RATE_FIELDS
        )

    def _bills(self, account_ids: Sequence[str], window: _Window) -> Iterator[dict[str, Any]]:
        """The bills of the accounts' periods and later (which settle them)."""
        where = {"billingPeriod.startDateTime": {"$gte": window.first}}
        return self._find("customerBill", "billingAccount.id", account_ids, where, BILL_FIELDS)

    def _payments(self, account_ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        where = {"status": DONE, "unallocatedAmount.value": {"$gt": 0}}
        return self._find("payment", "account.id", account_ids, where, PAYMENT_FIELDS)

    def _balances(self, product_ids: Sequence[str], window: _Window) -> Iterator[dict[str, Any]]:
        where = {"validFor.startDateTime": {"$gte": window.first, "$lt": window.end}}
        return self._find("usageConsumption", "product.id", product_ids, where, BALANCE_FIELDS)

    def _usage(self, product_ids: Sequence[str], window: _Window) -> Iterator[dict[str, Any]]:
        """Usage records rated out of bundle into balances starting in the periods."""
        rated_into = {"$gte": window.first, "$lt": window.end}
        where = {
            "status": {"$in": list(RATED_STATES)},
            "ratedProductUsage": {
                "$elemMatch": {
                    "offerTariffType": OUT_OF_BUNDLE,
                    "billingPeriod.startDateTime": rated_into,
                }
            },
        }
        key = "ratedProductUsage.productRef.id"
        return self._find("usage", key, product_ids, where, USAGE_FIELDS)

    def _find(
        self,
        collection: str,
        key: str,
        values: Sequence[str],
        where: Mapping[str, Any],
        fields: Mapping[str, Any],
    ) -> Iterator[dict[str, Any]]:
        """The documents whose `key` is one of `values` and that match `where`."""
        for group in groups(values, IN_GROUP):
            condition = scoped(collection, {key: {"$in": group}, **where})
            yield from self._db[collection].find(condition, fields)

    def _usage_not_rated(self, month: Month) -> Iterator[dict[str, Any]]:
        """Usage records dated in the month (UTC) still to rate, or rejected."""
        start, end = (format_instant(moment) for moment in month.bounds)
        yield from self._db["usage"].find(
            scoped(
                "usage",
                {
                    "status": {"$in": [*NOT_RATED_STATES, REJECTED]},
                    "usageDate": {"$gte": start, "$lt": end},
                },
            ),
            {"_id": 0, "id": 1, "status": 1, "statusReason": 1},
        )


def _by(documents: Iterable[dict[str, Any]], ref: str = "billingAccount") -> dict[str, list[Any]]:
    """Documents by the id of the account they name in `ref`."""
    found: dict[str, list[Any]] = defaultdict(list)
    for document in documents:
        found[str(document[ref]["id"])].append(document)
    return found


def _by_owner(
    documents: Iterable[dict[str, Any]], owner: Mapping[str, str]
) -> dict[str, list[Any]]:
    """Balances and usage records by the accounts of the products they name, each once
    per account (a record of two products may be read in two groups)."""
    found: dict[str, list[Any]] = defaultdict(list)
    seen = set()
    for document in documents:
        named = [document.get("product") or {}]
        named += [
            entry.get("productRef") or {} for entry in document.get("ratedProductUsage") or []
        ]
        for account_id in {owner[str(ref["id"])] for ref in named if str(ref.get("id")) in owner}:
            if (account_id, document["id"]) not in seen:
                seen.add((account_id, document["id"]))
                found[account_id].append(document)
    return found


class _Window:
    """The instants a group's periods span: their first start, last start and last end."""

    def __init__(self, periods: Sequence[tuple[datetime, datetime]]) -> None:
        self.first = format_instant(min(start for start, _ in periods))
        self.last = format_instant(max(start for start, _ in periods))
        self.end = format_instant(max(end for _, end in periods))


def report_text(report: dict[str, Any]) -> str:
    """The report for a reader (the CLI): totals per currency, then each list."""

    def money(amount: dict[str, Any]) -> str:
        return f"{amount['value']} {amount['unit']}"

    def discrepancy(item: dict[str, Any]) -> str:
        kind, charge = item["chargeType"], item["chargeKey"]
        found = (
            f"  {item['kind']}: account {item['billingAccount']['id']}, product "
            f"{item['product']['id']} ({item['product']['name']}), "
            f"{kind if charge == kind else f'{kind} {charge}'}, period from "
            f"{item['billingPeriod']['startDateTime']}: "
        )
        if item["kind"] == BALANCE_MISMATCH:
            found += f"rated {money(item['owed'])}, balance {money(item['balance'])}"
        else:
            found += f"owed {money(item['owed'])}, billed {money(item['billed'])}"
        found += f", difference {money(item['difference'])}"
        if item["appliedCustomerBillingRateId"]:
            found += f"; lines {', '.join(item['appliedCustomerBillingRateId'])}"
        if item.get("usageConsumptionId"):
            found += f"; balances {', '.join(item['usageConsumptionId'])}"
        if item.get("usageId"):
            found += f"; usage records ({item['usageCount']}) {', '.join(item['usageId'])}"
        return found

    lines = [
        f"revenue assurance {report['period']}: "
        f"{'clean' if report['clean'] else 'NOT CLEAN'}, {report['accountCount']} accounts, "
        f"{report['discrepancyCount']} discrepancies, {report['pendingCount']} pending"
    ]
    for total in report["total"]:
        lines.append(
            f"  {total['currency']}: owed {money(total['owed'])}, billed "
            f"{money(total['billed'])}, leakage {money(total['leakage'])}, pending "
            f"{money(total['pending'])}"
        )
    for title, key in (("discrepancies", "discrepancy"), ("pending", "pending")):
        if report[key]:
            lines += [f"{title}:", *map(discrepancy, report[key])]
    for title, key in (
        ("usage not rated yet", "notRatedUsage"),
        ("usage rejected", "rejectedUsage"),
    ):
        tally = report[key]
        if tally["count"]:
            lines.append(f"{title}: {tally['count']} ({', '.join(tally['usageId'])})")
            lines += [f"  {r['count']} x {r['reason']}" for r in tally.get("reason", [])]
    if report["unsentBill"]:
        lines.append(f"bills not sent yet: {report['unsentBillCount']}")
        lines += [
            f"  bill {b['billNo']} ({b['id']}), {b['state']}, account "
            f"{b['billingAccount']['id']}, amount due {money(b['amountDue'])}"
            for b in report["unsentBill"]
        ]
    if report["unallocatedPayment"]:
        lines.append(f"payments not allocated: {report['unallocatedPaymentCount']}")
        lines += [
            f"  payment {p['id']}, account {p['account']['id']}, unallocated "
            f"{money(p['unallocatedAmount'])}"
            for p in report["unallocatedPayment"]
        ]
    lines += [f"account {f['id']} not checked: {f['reason']}" for f in report["failedAccount"]]
    return "\n".join(lines)
