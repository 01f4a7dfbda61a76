"""Bill runs on MongoDB: for each billing account, the bill of its current period.

What a bill charges is decided by domain/billing.py; this module reads what it needs (the
account, its products with their history, the usage balances, what earlier bills charged)
and writes the bill, its lines, its bill number, the account credit it uses and its events
in one transaction:

- **Never twice.** A period's bill has an id derived from the account and the period, so a
  rerun, a second worker or a resumed run finds it and moves on; the lines are computed as
  what is owed minus what bills charged, so nothing is charged twice either.
- **Gapless numbers.** The bill number comes from a counter incremented in the bill's
  transaction: a bill that is not written takes no number.
- **One account's failure is its own.** It is reported with its reason; the run goes on.
- **Per partner.** Accounts are billed in groups of one partner's, acting for it: what a
  bill reads is that partner's, and its number comes from that partner's own sequence.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pymongo
from pymongo.client_session import ClientSession
from pymongo.database import Database

from adapters import audit
from adapters.acting import acting_for
from adapters.dunning import Dunning
from adapters.leases import Leases
from adapters.mongo import (
    IN_GROUP,
    VERSION,
    WITH_PARTNER,
    MongoResources,
    groups,
    in_transaction,
)
from adapters.partners import PARTNER, owner, partner_of, scoped
from adapters.polling import PollingWorker
from domain import events as ev
from domain.account import ACTIVE, SUSPENDED, AccountTerms, account_terms, owner_of
from domain.audit import CREATE, changed_fields
from domain.bill import APPLIED_CUSTOMER_BILLING_RATE
from domain.billing import (
    BillDraft,
    UsageCharge,
    bill_lines,
    charged_by,
    draft_bill,
    periods_from,
    product_life,
    regular_bill_id,
)
from domain.errors import DomainError, NotFound, Unprocessable
from domain.instants import format_instant, parse_instant
from domain.money import money_value
from domain.ports import Clock
from domain.resource import Lookup
from domain.service import ResourceService

log = logging.getLogger("bss.billing")
COUNTERS = "counters"
BILL_NUMBER = "billNo"  # the counter of a partner's bill numbers: billNo:<partner>
LEASES = "billRunLease"
TURN = "turn"
FIRST_BILL_LOOKBACK = 12  # periods a first bill reaches back for products activated earlier
BILLED_STATES = (ACTIVE, SUSPENDED)  # closed accounts get no new bill
# what makes one account's bill fail (bad data, a refused write) without stopping the run
FAILURES = (DomainError, pymongo.errors.PyMongoError, ValueError, KeyError)
PRODUCT_FIELDS = dict.fromkeys(
    ("id", "name", "status", "startDate", "orderDate", "terminationDate", "productPrice",
     "billingAccount", "productHistory"),
    1,
) | {"_id": 0}  # fmt: skip


@dataclass
class RunReport:
    """What a bill run did, account by account."""

    at: str
    billed: list[str] = field(default_factory=list)  # bill ids
    already: int = 0  # accounts whose bill for the period exists
    empty: int = 0  # accounts with nothing to bill
    failed: list[dict[str, str]] = field(default_factory=list)  # {account, reason}

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "billed": len(self.billed),
            "alreadyBilled": self.already,
            "nothingToBill": self.empty,
            "failed": self.failed,
        }


# applies an account's credit to a new bill in the bill's transaction: the bill as paid
CreditApplier = Callable[[dict[str, Any], ClientSession], dict[str, Any]]


class Billing:
    """Bill runs and bills on demand for the accounts in one database."""

    def __init__(
        self,
        db: Database,
        repository: MongoResources,
        bills: ResourceService,
        on_demand: ResourceService,
        clock: Clock,
        document_url: Callable[[str], str],
        apply_credit: CreditApplier | None = None,
    ) -> None:
        self._db = db
        self._repository = repository
        self._bills = bills  # the system view: every attribute, every transition
        self._on_demand = on_demand
        self._clock = clock
        self._document_url = document_url
        self._apply_credit = apply_credit
        self._lookup = Lookup(repository)

    # bill runs ----------------------------------------------------------------------------

    def run(
        self,
        at: datetime | None = None,
        accounts: Sequence[str] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> RunReport:
        """Bill every account (or the given ones) for its period holding `at` (default
        now), skipping those already billed for it. Accounts go IN_GROUP at a time: their
        reads batched, their bills written in one transaction (one by one if it fails, so
        that a failing account is found and reported alone). A group is written while the
        next one is read and computed."""
        at = at or self._clock.now()
        report = RunReport(format_instant(at))
        lookups: dict[str, Lookup] = {}  # cycle specifications, read once per run and partner
        with ThreadPoolExecutor(1, thread_name_prefix="bill-writer") as writer:
            writing: Future[None] | None = None
            for partner, group in self._groups(accounts):
                if should_stop():
                    break
                with acting_for(partner):
                    lookup = lookups.setdefault(partner, self._lookup.memoized())
                    plans = self._plans(group, at, lookup, report)
                    where = {"id": {"$in": [plan.bill_id for plan in plans]}}
                    found = self._db["customerBill"].find(scoped("customerBill", where), {"id": 1})
                    existing = {doc["id"] for doc in found}
                    report.already += len(existing)
                    todo = [plan for plan in plans if plan.bill_id not in existing]
                    drafts = self._drafts(todo, report)
                    report.empty += len(todo) - len(drafts)
                    if writing is not None:
                        writing.result()
                    # written acting for the group's partner too
                    store = contextvars.copy_context().run
                    writing = writer.submit(store, self._store_group, drafts, report)
            if writing is not None:
                writing.result()
        return report

    def _groups(self, ids: Sequence[str] | None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """The accounts to bill in groups of up to IN_GROUP of one partner's, with it."""
        filling: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for account in self._accounts(ids):
            partner = partner_of(account)
            filling[partner].append(account)
            if len(filling[partner]) == IN_GROUP:
                yield partner, filling.pop(partner)
        yield from filling.items()

    def _accounts(self, ids: Sequence[str] | None) -> Iterator[dict[str, Any]]:
        """The accounts (with their partner) in the scope of the current principal."""
        if ids is None:
            where = scoped("billingAccount", {"state": {"$in": list(BILLED_STATES)}})
            yield from self._db["billingAccount"].find(where, WITH_PARTNER).sort("_id", 1)
            return
        found = {}
        for group in groups(ids):
            where = scoped("billingAccount", {"id": {"$in": group}})
            for account in self._db["billingAccount"].find(where, WITH_PARTNER):
                found[account["id"]] = account
        for account_id in ids:
            if account_id not in found:
                raise NotFound(f"BillingAccount with id '{account_id}' does not exist")
            yield found[account_id]

    def _plans(
        self, accounts: Sequence[dict[str, Any]], at: datetime, lookup: Lookup, report: RunReport
    ) -> list[_Plan]:
        plans = []
        for account in accounts:
            try:
                terms = account_terms(account, lookup)
            except DomainError as error:
                _failed(report, account["id"], error)
                continue
            period = terms.cycle.period(at)
            bill_id = regular_bill_id(terms.account_id, period)
            plans.append(_Plan(account, terms, period, bill_id, at))
        return plans

    def _drafts(
        self, plans: Sequence[_Plan], report: RunReport, *, interim: bool = False
    ) -> list[BillDraft]:
        """The bills of the planned accounts that have something to bill, their reads
        batched: previous bills, products, what was charged, usage balances."""
        if not plans:
            return []
        ids = [plan.terms.account_id for plan in plans]
        previous = self._previous_periods(ids)
        products = self._products(ids)
        for plan in plans:
            plan.products = products.get(plan.terms.account_id, [])
            plan.first = self._first_period(
                plan.terms, plan.period, previous.get(plan.terms.account_id), plan.products
            )
        since = format_instant(min(plan.first for plan in plans))
        charged = self._charged(ids, since)
        balances = self._balances([p["id"] for plan in plans for p in plan.products], since)
        drafts = []
        for plan in plans:
            try:
                draft = self._draft(plan, charged, balances, interim)
            except FAILURES as error:
                _failed(report, plan.terms.account_id, error)
                continue
            if draft is not None:
                drafts.append(draft)
        return drafts

    def _draft(
        self,
        plan: _Plan,
        charged: Mapping[str, list[dict[str, Any]]],
        balances: Mapping[str, list[dict[str, Any]]],
        interim: bool,
    ) -> BillDraft | None:
        terms, period = plan.terms, plan.period
        periods = periods_from(terms.cycle, plan.first, period)
        usage = _usage(terms, plan.products, balances, periods[0][0])
        lives = [product_life(product) for product in plan.products]
        rates = charged.get(terms.account_id, [])
        lines = bill_lines(terms, periods, lives, usage, charged_by(rates), interim=interim)
        if not lines:
            return None
        return draft_bill(
            bill_id=plan.bill_id,
            terms=terms,
            customer=_owner(plan.account),
            period=period,
            lines=lines,
            at=plan.at,
            interim=interim,
            payment_method=plan.account.get("defaultPaymentMethod"),
        )

    def _first_period(
        self,
        terms: AccountTerms,
        period: tuple[datetime, datetime],
        previous: datetime | None,
        products: Sequence[dict[str, Any]],
    ) -> datetime:
        """Where a bill's settling starts: the period of the previous bill, or for a first
        bill the period its earliest product became billable in (bounded)."""
        if previous is not None:
            return min(previous, period[0])
        starts = [life.activation for life in map(product_life, products) if life.activation]
        earliest = period[0]
        for _ in range(FIRST_BILL_LOOKBACK):
            earliest = terms.cycle.period(earliest - timedelta(seconds=1))[0]
        return max(min([*starts, period[0]]), earliest)

    def _previous_periods(self, account_ids: Sequence[str]) -> dict[str, datetime]:
        """The start of the period of each account's latest regular bill."""
        latest: dict[str, datetime] = {}
        found = self._db["customerBill"].find(
            scoped(
                "customerBill",
                {"billingAccount.id": {"$in": list(account_ids)}, "category": "normal"},
            ),
            {"_id": 0, "billingAccount.id": 1, "billingPeriod.startDateTime": 1},
        )
        for bill in found:
            start = parse_instant(bill["billingPeriod"]["startDateTime"])
            account_id = bill["billingAccount"]["id"]
            latest[account_id] = max(start, latest.get(account_id, start))
        return latest

    def _products(self, account_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        found = self._db["product"].find(
            scoped("product", {"billingAccount.id": {"$in": list(account_ids)}}), PRODUCT_FIELDS
        )
        for product in found:
            by_account[product["billingAccount"]["id"]].append(product)
        return by_account

    def _charged(self, account_ids: Sequence[str], since: str) -> dict[str, list[dict[str, Any]]]:
        by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        found = self._db["appliedCustomerBillingRate"].find(
            scoped(
                "appliedCustomerBillingRate",
                {
                    "billingAccount.id": {"$in": list(account_ids)},
                    "periodCoverage.startDateTime": {"$gte": since},
                },
            ),
            {"_id": 0, "billingAccount": 1, "product": 1, "type": 1, "characteristic": 1,
             "periodCoverage": 1, "taxExcludedAmount": 1, "taxIncludedAmount": 1},
        )  # fmt: skip
        for rate in found:
            by_account[rate["billingAccount"]["id"]].append(rate)
        return by_account

    def _balances(self, product_ids: Sequence[str], since: str) -> dict[str, list[dict[str, Any]]]:
        by_product: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for group in groups(product_ids):
            found = self._db["usageConsumption"].find(
                scoped(
                    "usageConsumption",
                    {"product.id": {"$in": group}, "validFor.startDateTime": {"$gte": since}},
                ),
                {"_id": 0, "product": 1, "validFor": 1, "outOfBundleCharge": 1},
            )
            for balance in found:
                if balance.get("outOfBundleCharge"):
                    by_product[balance["product"]["id"]].append(balance)
        return by_product

    # writing ------------------------------------------------------------------------------

    def _store_group(self, drafts: Sequence[BillDraft], report: RunReport) -> None:
        """The group's bills in one transaction; when it fails, each in its own, so that
        the others are billed and the failing account is reported."""
        if not drafts:
            return
        try:
            stored = in_transaction(self._db, lambda session: self._write(drafts, session))
        except FAILURES as error:
            if len(drafts) == 1:
                _failed(report, drafts[0].bill["billingAccount"]["id"], error)
            else:
                for draft in drafts:
                    self._store_group([draft], report)
            return
        report.billed += [bill["id"] for bill in stored]

    def _write(self, drafts: Sequence[BillDraft], session: ClientSession) -> list[dict[str, Any]]:
        """Numbers, bills, lines, credit applied and events of `drafts`, in `session`."""
        last = self._take_numbers(len(drafts), session)
        bills: list[dict[str, Any]] = []
        events: list[ev.Event] = []
        in_credit = self._in_credit([draft.bill["billingAccount"]["id"] for draft in drafts])
        # Like rating's: the events of a bill run are written only when someone subscribes
        # to the bill API (a subscriber registered later is owed nothing before it); at
        # 25 bills a group, unread events were a third of a run's database time.
        heard = bool(self._repository.heard([self._bills.rtype.api], session))
        for number, draft in enumerate(drafts, start=last - len(drafts) + 1):
            bill = {**draft.bill, "billNo": f"{number:06d}", "billDocument": self._document(draft)}
            if self._apply_credit is not None and bill["billingAccount"]["id"] in in_credit:
                bill = self._apply_credit(bill, session)
            bills.append(bill)
            if heard:
                events += self._bills.events(ev.CREATE, bill, 1, bill["billDate"])
        partner = owner()
        self._db["customerBill"].insert_many(
            [{**bill, VERSION: 1, PARTNER: partner} for bill in bills], session=session
        )
        rates = [
            {"_id": rate["id"], **rate, VERSION: 1, PARTNER: partner}
            for draft in drafts
            for rate in draft.rates
        ]
        if rates:
            self._db["appliedCustomerBillingRate"].insert_many(rates, session=session)
        self._audit(bills, [rate for draft in drafts for rate in draft.rates], session)
        self._repository.append_events(events, session)
        return bills

    def _audit(
        self, bills: Sequence[dict[str, Any]], rates: Sequence[Any], session: ClientSession
    ) -> None:
        """One entry for the group's bills and one for their lines, each listing them."""
        for rtype, written in ((self._bills.rtype, bills), (APPLIED_CUSTOMER_BILLING_RATE, rates)):
            ids = [resource["id"] for resource in written]
            fields = changed_fields(({}, resource) for resource in written)
            audit.record(self._db, session, rtype, ids, CREATE, fields)

    def _in_credit(self, account_ids: Sequence[str]) -> set[str]:
        """The accounts that may have credit to apply (payments not wholly allocated): the
        credit itself is read and taken in the bill's transaction."""
        found = self._db["payment"].find(
            scoped(
                "payment",
                {"account.id": {"$in": list(account_ids)}, "unallocatedAmount.value": {"$gt": 0}},
            ),
            {"_id": 0, "account.id": 1},
        )
        return {payment["account"]["id"] for payment in found}

    def _document(self, draft: BillDraft) -> list[dict[str, Any]]:
        bill_id = draft.bill["id"]
        return [
            {
                "id": f"{bill_id}-pdf",
                "name": f"bill-{bill_id}.pdf",
                "url": self._document_url(bill_id),
                "mimeType": "application/pdf",
                "@type": "AttachmentRefOrValue",
            }
        ]

    def _take_numbers(self, count: int, session: ClientSession) -> int:
        """Takes `count` bill numbers of the partner acted for; returns the last. In the
        bills' transaction: numbers of bills not written are given back with it, so numbers
        have no gaps."""
        counters = self._db[COUNTERS]
        counter = {"_id": f"{BILL_NUMBER}:{owner()}"}
        counters.update_one(counter, {"$inc": {"value": count}}, upsert=True, session=session)
        found = counters.find_one(counter, session=session)
        assert found is not None
        return int(found["value"])

    # bills on demand ----------------------------------------------------------------------

    def on_demand(self, request: dict[str, Any]) -> dict[str, Any]:
        """An interim bill of the usage so far: the request moves from inProgress to done
        with the bill, or to rejected when there is nothing to bill or the account cannot
        be billed."""
        account_id = str(request["billingAccount"]["id"])
        stored = self._repository.get(self._on_demand.rtype, request["id"])
        assert stored is not None
        where = scoped("billingAccount", {"id": account_id})
        account = self._db["billingAccount"].find_one(where, WITH_PARTNER)
        after = dict(stored.resource)
        if account is None or account.get("state") not in BILLED_STATES:
            after["state"] = "rejected"
            after["description"] = f"billing account '{account_id}' is not open for billing"
            return self._on_demand.change(stored, after)
        with acting_for(partner_of(account)):  # the bill is the account's partner's
            bill = self.interim_bill(account, self._clock.now())
        if bill is None:
            after["state"] = "rejected"
            after["description"] = "nothing to bill: no usage charges since the last bill"
        else:
            after["state"] = "done"
            after["customerBill"] = {
                "id": bill["id"],
                "href": self._bills_href(bill["id"]),
                "@referredType": "CustomerBill",
            }
        return self._on_demand.change(stored, after)

    def interim_bill(self, account: dict[str, Any], at: datetime) -> dict[str, Any] | None:
        """A bill now of the usage not yet billed, the open period's so far included."""
        terms = account_terms(account, self._lookup)
        plan = _Plan(account, terms, terms.cycle.period(at), str(uuid.uuid4()), at)
        report = RunReport(format_instant(at))
        drafts = self._drafts([plan], report, interim=True)
        if report.failed:
            raise Unprocessable(report.failed[0]["reason"])
        if not drafts:
            return None
        bills: list[dict[str, Any]] = in_transaction(
            self._db, lambda session: self._write(drafts, session)
        )
        return bills[0]

    def _bills_href(self, bill_id: str) -> str:
        return self._document_url(bill_id).rsplit("/", 1)[0]


class BillRunner(PollingWorker):
    """Bills the accounts whose period has begun, then (given `dunning`) takes the dunning
    steps due on overdue bills; one runner at a time, every `interval`."""

    thread_name = "bill-run"
    log = log

    def __init__(
        self, db: Database, billing: Billing, interval: timedelta, dunning: Dunning | None = None
    ) -> None:
        super().__init__()
        self._billing = billing
        self._dunning = dunning
        self.leases = Leases(db, LEASES, timedelta(minutes=10))
        self.idle_sleep = interval.total_seconds()

    def ensure_indexes(self) -> None:
        self.leases.ensure_indexes()

    def run_once(self) -> int:
        with self.leases.turn(TURN) as mine:
            if not mine:
                return 0
            report = self._billing.run(should_stop=lambda: self.stopping)
            dunned = self._dunning.run() if self._dunning and not self.stopping else None
        if report.billed or report.failed:
            log.info("bill run: %s", report.as_dict())
        if dunned and (dunned.reminded or dunned.suspended or dunned.failed):
            log.info("dunning: %s", dunned.as_dict())
        return 0  # then wait for the next interval


@dataclass
class _Plan:
    """An account to bill and what its bill is read from."""

    account: dict[str, Any]
    terms: AccountTerms
    period: tuple[datetime, datetime]
    bill_id: str
    at: datetime  # the bill date
    products: list[dict[str, Any]] = field(default_factory=list)
    first: datetime = datetime.min  # the start of the first period the bill settles


def _failed(report: RunReport, account_id: Any, error: Exception) -> None:
    log.warning("bill run: account %s failed: %s", account_id, error)
    report.failed.append({"account": str(account_id), "reason": str(error)})


def _usage(
    terms: AccountTerms,
    products: Sequence[Mapping[str, Any]],
    balances: Mapping[str, list[dict[str, Any]]],
    since: datetime,
) -> list[UsageCharge]:
    """The out-of-bundle charges of the products' balances by bill period, for the
    periods from `since` on."""
    totals: dict[tuple[str, datetime], list[Decimal]] = {}
    names = {}
    for product in products:
        product_id = str(product["id"])
        names[product_id] = str(product.get("name") or product_id)
        for balance in balances.get(product_id, []):
            period = terms.cycle.period(parse_instant(balance["validFor"]["startDateTime"]))
            if period[0] < since:
                continue
            charge = balance["outOfBundleCharge"]
            excluded = money_value(charge["dutyFreeAmount"], "dutyFreeAmount")
            included = money_value(charge["taxIncludedAmount"], "taxIncludedAmount")
            assert excluded is not None and included is not None
            total = totals.setdefault((product_id, period[0]), [Decimal(0), Decimal(0)])
            total[0] += excluded[0]
            total[1] += included[0]
    return [
        UsageCharge(product_id, names[product_id], start, excluded, included)
        for (product_id, start), (excluded, included) in totals.items()
    ]


def _owner(account: Mapping[str, Any]) -> dict[str, Any] | None:
    owner = owner_of(account)
    if owner is None:
        return None
    party = next(p for p in account.get("relatedParty") or [] if str(p.get("id")) == owner)
    return {"id": owner, "name": party.get("name", "")}
