"""Rating on MongoDB: usage records in, rated records and balances out, in chunks.

Two ways in, one way through (`UsageRating._rate_chunk`):
- bulk ingestion (`ingest`: the usageBatch API and the `rate-usage` command) parses, rates
  and inserts new records a chunk at a time;
- records POSTed one by one are stored `received` (or sent back `recycled`) with a due mark;
  the `RatingRunner` rates the due ones a chunk at a time.

Exactly once: a record's id is derived from its externalId (source record id), so a record
sent twice collides on the unique id and is reported as a duplicate, never rated twice.
Each chunk's records, its balance changes and its events are written in one transaction;
balances carry a version, so two raters touching the same balance cannot both win: the loser
rolls back, forgets what it had cached, and rates the chunk again.

Reads are batched: the embedded server answers an `$in` of n ids in time growing with n², so
lookups go by groups of IN_GROUP ids. Products, accounts and balances are cached between
chunks: a product or account read at instant L describes its dates correctly for any usage
before L (later changes start later), so the cache answers for records older than L - SKEW
and is refreshed for newer ones; and it is refreshed after CACHE_TTL whatever the records, so
that an undated change (a suspension, new account terms) is seen within seconds. Balances are
checked by version when written.
"""

from __future__ import annotations

import contextvars
import copy
import itertools
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pymongo
import pymongo.errors
from pymongo.client_session import ClientSession
from pymongo.database import Database

from adapters import acting, audit
from adapters.acting import acting_for
from adapters.leases import Leases
from adapters.mongo import (
    DUE,
    HIDDEN,
    VERSION,
    MongoResources,
    check_storable,
    groups,
    in_transaction,
)
from adapters.partners import PARTNER, owner, partner_of, scoped
from adapters.polling import PollingWorker
from adapters.usage_files import Malformed
from domain import events as ev
from domain.account import BILLING_ACCOUNT, AccountTerms, account_terms
from domain.audit import CREATE, UPDATE, changed_fields
from domain.errors import ConcurrentUpdate, DomainError
from domain.events import Event
from domain.instants import format_instant
from domain.inventory import MSISDN
from domain.ports import Clock
from domain.rating import Rater, Rating
from domain.resource import Lookup, ReferenceReader
from domain.security import PLATFORM
from domain.service import ResourceService, differences
from domain.usage import (
    ALERT,
    PERIOD_MARK,
    REJECTED,
    UsageRecord,
    parse_record,
    usage_id_for,
)

log = logging.getLogger("bss.rating")
SKEW = timedelta(seconds=5)
CACHE_TTL = timedelta(seconds=60)
CACHE_LIMIT = 200_000  # entries per cache; cleared when exceeded (memory stays bounded)
ATTEMPTS = 5
LEASES = "ratingLease"
TURN = "turn"
UNIQUE = frozenset({"msisdn", "iccid"})  # characteristics no two products share
# what rating reads of a product (the cache holds thousands: not their order history)
PRODUCT_FIELDS = dict.fromkeys(
    (
        "id", "name", "status", "startDate", "terminationDate", "billingAccount",
        "relatedParty", "productPrice", "productCharacteristic", "realizingResource",
        "productTerm", "productRelationship", PARTNER,
    ),
    1,
) | {"_id": 0}  # fmt: skip


class _Timed:
    """A cache whose entries describe the world as it was when read (see the module doc)."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[datetime, Any]] = {}

    def fresh_for(self, key: str, at: datetime, now: datetime) -> bool:
        """Whether the entry may answer for a record dated `at`: read after it happened, and
        recently enough that an undated change (a suspension, new account terms) shows."""
        entry = self.entries.get(key)
        return entry is not None and at < entry[0] - SKEW and now - entry[0] < CACHE_TTL

    def trim(self) -> None:
        """Empties a full cache before a chunk's reads, never during them: a chunk's rating
        relies on every entry its prefetch found fresh or put."""
        if len(self.entries) >= CACHE_LIMIT:
            self.entries.clear()

    def put(self, key: str, read_at: datetime, value: Any) -> None:
        self.entries[key] = (read_at, value)

    def get(self, key: str) -> Any:
        entry = self.entries.get(key)
        return entry[1] if entry else None


class _View:
    """What the directory read for one partner acted for (or across partners): a partner's
    rating never finds another's lines."""

    def __init__(self) -> None:
        self.lines = _Timed()  # msisdn -> [line products]
        self.add_ons = _Timed()  # line id -> [add-on products]
        self.accounts = _Timed()  # account id -> AccountTerms | None


class MongoRatingDirectory:
    """RatingDirectory over the product, billing account and catalog collections, as seen
    by the partner acted for (adapters/acting.py)."""

    def __init__(self, db: Database, catalog: ReferenceReader, clock: Clock) -> None:
        self._db = db
        self._catalog = Lookup(catalog)
        self._clock = clock
        self._views: dict[str | None, _View] = {}
        self._owners: dict[str, str] = {}  # product id -> its partner
        self._shared: dict[str, Any] = {}  # parts of products that many have alike

    @property
    def _view(self) -> _View:
        return self._views.setdefault(acting.partner(), _View())

    def prefetch(self, records: Sequence[UsageRecord]) -> None:
        """Reads what rating the records needs and the cache cannot answer, in batches."""
        if len(self._owners) >= CACHE_LIMIT:
            self._owners.clear()
            self._views.clear()  # the products are read again with their owners
        view = self._view
        for cache in (view.lines, view.add_ons, view.accounts):
            cache.trim()
        read_at = self._clock.now()
        numbers: dict[str, datetime] = {}  # the latest usage instant per number
        for record in records:
            numbers[record.msisdn] = max(numbers.get(record.msisdn, record.at), record.at)
        stale = {m for m, at in numbers.items() if not view.lines.fresh_for(m, at, read_at)}
        for msisdn in stale:
            view.lines.put(msisdn, read_at, [])
        for chunk in groups(stale):
            where = scoped("product", {"realizingResource.id": {"$in": chunk}})
            for product in self._db.product.find(where, PRODUCT_FIELDS):
                for ref in product.get("realizingResource") or []:
                    if ref.get("@referredType") == MSISDN and ref.get("id") in stale:
                        view.lines.get(ref["id"]).append(self._compact(product))
        lines: dict[str, datetime] = {}
        accounts: dict[str, datetime] = {}
        for msisdn, at in numbers.items():
            for line in view.lines.get(msisdn):
                lines[line["id"]] = max(lines.get(line["id"], at), at)
                if account_id := (line.get("billingAccount") or {}).get("id"):
                    accounts[account_id] = max(accounts.get(account_id, at), at)
        stale = {i for i, at in lines.items() if not view.add_ons.fresh_for(i, at, read_at)}
        for line_id in stale:
            view.add_ons.put(line_id, read_at, [])
        for chunk in groups(stale):
            where = scoped("product", {"productRelationship.product.id": {"$in": chunk}})
            for product in self._db.product.find(where, PRODUCT_FIELDS):
                for relation in product.get("productRelationship") or []:
                    if (target := (relation.get("product") or {}).get("id")) in stale:
                        view.add_ons.get(target).append(self._compact(product))
        stale = {a for a, at in accounts.items() if not view.accounts.fresh_for(a, at, read_at)}
        for account_id in stale:
            view.accounts.put(account_id, read_at, None)
        for chunk in groups(stale):
            where = scoped(BILLING_ACCOUNT.collection, {"id": {"$in": chunk}})
            for account in self._db[BILLING_ACCOUNT.collection].find(where, HIDDEN):
                view.accounts.put(account["id"], read_at, self._terms(account))

    def _compact(self, product: dict[str, Any]) -> dict[str, Any]:
        """The product with the parts many products share (their frozen prices, their
        characteristics) held once: ten thousand lines of a few plans take a few MB, not
        hundreds (a product decodes to some 30 KB of Python objects). Its partner is kept
        aside (what rating writes for the product is that partner's)."""
        self._owners[product["id"]] = partner_of(product)
        product["productCharacteristic"] = [  # its number and SIM: in realizingResource
            c for c in product.get("productCharacteristic") or [] if c.get("name") not in UNIQUE
        ]
        for key in ("productPrice", "productCharacteristic", "productTerm"):
            if key in product:
                shared = json.dumps(product[key], sort_keys=True, default=str)
                product[key] = self._shared.setdefault(shared, product[key])
        if len(self._shared) > CACHE_LIMIT:
            self._shared.clear()
        return product

    def products_of(self, records: Sequence[UsageRecord]) -> set[str]:
        """Ids of the lines of the records' numbers and of their add-ons (after prefetch)."""
        view = self._view
        lines = {line["id"] for r in records for line in view.lines.get(r.msisdn) or []}
        return lines | {p["id"] for line in lines for p in view.add_ons.get(line) or []}

    def owner(self, product_id: str) -> str:
        """The partner of a product read by prefetch."""
        return self._owners[product_id]

    def number_owner(self, msisdn: str) -> str | None:
        """The partner of the lines of a number (after prefetch), if it has any."""
        lines = self.lines(msisdn)
        return self.owner(lines[0]["id"]) if lines else None

    def _terms(self, account: Mapping[str, Any]) -> AccountTerms | None:
        try:
            return account_terms(account, self._catalog)
        except DomainError:
            return None

    def lines(self, msisdn: str) -> Sequence[Mapping[str, Any]]:
        return self._view.lines.get(msisdn) or []

    def add_ons(self, line_id: str) -> Sequence[Mapping[str, Any]]:
        return self._view.add_ons.get(line_id) or []

    def account(self, account_id: str) -> AccountTerms | None:
        terms: AccountTerms | None = self._view.accounts.get(account_id)
        return terms

    def price(self, pop_id: str) -> Mapping[str, Any] | None:
        return self._catalog.get("productOfferingPrice", pop_id)


class Balances:
    """usageConsumption documents with their versions, kept between chunks. Read for the
    products the directory found (the partner acted for's), written with their partner."""

    def __init__(self, db: Database) -> None:
        self._collection = db["usageConsumption"]
        self._kept: dict[str, tuple[dict[str, Any], int]] = {}
        self._complete: set[str] = set()  # products all of whose balances are kept

    def prefetch(self, product_ids: Iterable[str]) -> None:
        """Reads the balances of the products in batches (the first time they are rated):
        afterwards a balance of theirs that is not kept does not exist yet."""
        if len(self._kept) >= CACHE_LIMIT:
            self._kept.clear()
            self._complete.clear()
        wanted = {product_id for product_id in product_ids if product_id not in self._complete}
        for chunk in groups(wanted):
            where = scoped(self._collection.name, {"product.id": {"$in": chunk}})
            for document in self._collection.find(where, {PARTNER: 0}):
                consumption_id = document.pop("_id")
                self._kept.setdefault(consumption_id, (document, document.pop(VERSION, 0)))
        self._complete |= wanted

    def get(self, consumption_id: str) -> tuple[dict[str, Any], int] | None:
        if consumption_id not in self._kept:
            if _product_of(consumption_id) in self._complete:
                return None
            where = scoped(self._collection.name, {"_id": consumption_id})
            document = self._collection.find_one(where, {PARTNER: 0})
            if document is None:
                return None
            document.pop("_id")
            version = document.pop(VERSION, 0)
            self._kept[consumption_id] = (document, version)
        return self._kept[consumption_id]

    def written(self, documents: Mapping[str, tuple[dict[str, Any], int]]) -> None:
        for consumption_id, (document, version) in documents.items():
            self._kept[consumption_id] = (document, version + 1)

    def forget(self, consumption_ids: Iterable[str]) -> None:
        for consumption_id in consumption_ids:
            self._kept.pop(consumption_id, None)
            self._complete.discard(_product_of(consumption_id))

    def writes(
        self, documents: Mapping[str, tuple[dict[str, Any], int]], owner: Callable[[str], str]
    ) -> list[Any]:
        """The writes of the changed balances, each of the partner `owner` (product id ->
        partner) names."""
        return [
            pymongo.ReplaceOne(
                {"_id": consumption_id, VERSION: version},
                {
                    **document,
                    "_id": consumption_id,
                    VERSION: version + 1,
                    PARTNER: owner(document["product"]["id"]),
                },
                upsert=version == 0,
            )
            for consumption_id, (document, version) in documents.items()
        ]


def _product_of(consumption_id: str) -> str:
    """The product of a balance id (domain.usage.consumption_id)."""
    return consumption_id.rsplit(PERIOD_MARK, 1)[0]


class _ChunkBook:
    """The ConsumptionBook of one chunk: copies of the kept balances, so that a chunk that
    fails leaves the kept ones as they were."""

    def __init__(self, balances: Balances) -> None:
        self._balances = balances
        self.read: dict[str, tuple[dict[str, Any], int]] = {}
        self.changed: dict[str, tuple[dict[str, Any], int]] = {}
        self.before: dict[str, dict[str, Any]] = {}  # as read, for the audit trail

    def get(self, consumption_id: str) -> dict[str, Any] | None:
        if consumption_id not in self.read:
            kept = self._balances.get(consumption_id)
            if kept is None:
                return None
            document, version = kept
            self.read[consumption_id] = (_copy(document), version)
            self.before[consumption_id] = document
        return self.read[consumption_id][0]

    def put(self, consumption: dict[str, Any]) -> None:
        consumption_id = consumption["id"]
        version = self.read[consumption_id][1] if consumption_id in self.read else 0
        self.read[consumption_id] = (consumption, version)
        self.changed[consumption_id] = (consumption, version)


def _copy(document: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough for rating to change counters, totals and alerts."""
    copied = dict(document)
    copied["bucket"] = [
        {**bucket, "usedValue": dict(bucket["usedValue"]),
         "remainingValue": dict(bucket["remainingValue"])}
        for bucket in document.get("bucket") or []
    ]  # fmt: skip
    if "outOfBundleCharge" in document:
        copied["outOfBundleCharge"] = dict(document["outOfBundleCharge"])
    copied["alert"] = list(document.get("alert") or [])
    return copied


@dataclass
class _Item:
    """One record of a chunk on its way through rating."""

    index: int
    usage: dict[str, Any]
    record: UsageRecord | None  # None: stored, but no longer well-formed (rejected)
    version: int = 0  # of the stored record (the runner's), 0 for a new one
    # the partner it belongs to until rating finds its number's: the stored record's, or
    # the sender's for a new one (the platform's when sent across partners)
    owner: str = PLATFORM


@dataclass
class _Prepared:
    """A rated chunk, ready to be written."""

    book: _ChunkBook
    new: bool  # inserted (bulk) or replacing stored records (the runner)
    documents: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)  # the partner of each document
    events: dict[str, list[Event]] = field(default_factory=dict)  # by partner
    changed: set[str] = field(default_factory=set)  # attributes of the records rating wrote
    rated: int = 0
    rejected: int = 0


@dataclass
class BatchReport:
    total: int = 0
    rated: int = 0
    rejected: int = 0
    duplicate: int = 0
    malformed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.rated + self.rejected

    def error(self, index: int, usage: Any, reason: str) -> None:
        entry: dict[str, Any] = {"index": index, "reason": reason}
        if isinstance(usage, Mapping) and isinstance(usage.get("externalId"), str):
            entry["externalId"] = usage["externalId"]
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(entry)


MAX_ERRORS_LISTED = 1000


class Duplicates(Exception):
    pass


class UsageRating:
    def __init__(
        self,
        db: Database,
        resources: MongoResources,
        services: Mapping[str, ResourceService],
        directory: MongoRatingDirectory,
        clock: Clock,
        chunk: int = 1000,
    ) -> None:
        self._db = db
        self._resources = resources
        self._usage = services["usage"]
        self._consumption = services["usageConsumption"]
        self._batches = services["usageBatch"]
        self._directory = directory
        self._clock = clock
        self._balances = Balances(db)
        self.chunk = chunk

    # bulk ---------------------------------------------------------------------------------

    def ingest(
        self, records: Iterable[Any], source: str, description: str | None = None
    ) -> dict[str, Any]:
        """Rates and stores new records, chunk by chunk; returns the UsageBatch report.

        Pipelined: while one chunk is written (the database works), the next is parsed and
        rated (this process works) against the balances the first left. Should the write
        fail (records already received, a balance another rater changed), both chunks are
        rated again from what the database holds. Once a chunk held records already
        received (a file sent again), the next ones are checked for them before rating,
        until one holds none.
        """
        started = format_instant(self._clock.now())
        report = BatchReport()
        numbered = enumerate(records)
        resent = False
        with ThreadPoolExecutor(1, thread_name_prefix="rating-writer") as writer:
            pending: tuple[list[_Item], _Prepared, Future[None]] | None = None
            while chunk := list(itertools.islice(numbered, self.chunk)):
                report.total += len(chunk)
                items = self._parse(chunk, report)
                if resent:
                    before = report.duplicate
                    items = self._without_stored(items, report)
                    resent = report.duplicate > before
                prepared = self._prepare(items, new=True)
                if pending is not None and not self._settled(pending, report):
                    self._balances.forget(prepared.book.read)  # rated on what failed
                    before = report.duplicate
                    items = self._without_stored(items, report)
                    resent = report.duplicate > before
                    prepared = self._prepare(items, new=True)
                # the writer acts for whoever ingests (its audit entries name them)
                written = writer.submit(contextvars.copy_context().run, self._commit, prepared)
                pending = (items, prepared, written)
            if pending is not None:
                self._settled(pending, report)
        batch = {
            "description": description,
            "source": source,
            "state": "done",
            "creationDate": started,
            "completionDate": format_instant(self._clock.now()),
            "total": report.total,
            "stored": report.stored,
            "rated": report.rated,
            "rejected": report.rejected,
            "duplicate": report.duplicate,
            "malformed": report.malformed,
            "error": report.errors,
        }
        return self._batches.create({k: v for k, v in batch.items() if v is not None})

    def _settled(
        self, pending: tuple[list[_Item], _Prepared, Future[None]], report: BatchReport
    ) -> bool:
        """Waits for a chunk's write: True when it went in as rated; otherwise the chunk
        was rated and written again (False: what was rated after it must be too)."""
        items, prepared, written = pending
        try:
            written.result()
        except (ConcurrentUpdate, Duplicates, pymongo.errors.PyMongoError) as error:
            self._balances.forget(prepared.book.read)
            if isinstance(error, Duplicates):
                items = self._without_stored(items, report)
            self._rate_until_written(items, report)
            return False
        report.rated += prepared.rated
        report.rejected += prepared.rejected
        return True

    def _rate_until_written(self, items: list[_Item], report: BatchReport) -> None:
        for _ in range(ATTEMPTS):
            try:
                self._rate_chunk(items, report, new=True)
                return
            except Duplicates:
                items = self._without_stored(items, report)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate("rating kept colliding with another rater; send the rest again")

    def _parse(self, chunk: list[tuple[int, Any]], report: BatchReport) -> list[_Item]:
        """The chunk's well-formed records; the others are reported."""
        items: list[_Item] = []
        seen: set[str] = set()
        now = self._clock.now()
        for index, body in chunk:
            if not isinstance(body, Mapping):
                report.malformed += 1
                reason = body.reason if isinstance(body, Malformed) else "not a JSON object"
                report.error(index, body, reason)
                continue
            try:
                check_storable(body)
                external = body.get("externalId")
                usage_id = usage_id_for(external, acting.partner())
                usage = self._usage.new_resource(body, resource_id=usage_id)
                record = parse_record(usage, now)
            except DomainError as error:
                report.malformed += 1
                report.error(index, body, str(error))
                continue
            if usage["id"] in seen:
                report.duplicate += 1
                report.error(index, body, "duplicate: sent twice in this batch")
                continue
            seen.add(usage["id"])
            items.append(_Item(index, usage, record, owner=owner()))
        return items

    def _without_stored(self, items: list[_Item], report: BatchReport) -> list[_Item]:
        """The items whose records are not stored yet. Across partners (only ids are read):
        ids are unique in the database, so a record whose id another partner's record has
        can never be stored; it is reported a duplicate."""
        stored: set[str] = set()
        for chunk in groups([item.usage["id"] for item in items]):
            for found in self._db.usage.find({"id": {"$in": chunk}}, {"_id": 0, "id": 1}):
                stored.add(found["id"])
        kept = []
        for item in items:
            if item.usage["id"] in stored:
                report.duplicate += 1
                report.error(item.index, item.usage, "duplicate: already received")
            else:
                kept.append(item)
        return kept

    # one by one ---------------------------------------------------------------------------

    def rate_due(self, limit: int) -> int:
        """Rates the records stored as received or recycled; returns how many. Each is
        rated for its partner: the sender's lines only, except that the platform's records
        (sent across partners) are rated for whoever owns their numbers."""
        by_partner: dict[str, list[str]] = defaultdict(list)
        for usage_id, partner in self._resources.due(self._usage.rtype, self._clock.now(), limit):
            by_partner[partner].append(usage_id)
        rated = 0
        for partner, ids in by_partner.items():
            with acting_for(None if partner == PLATFORM else partner):
                rated += self._rate_stored(ids)
        return rated

    def _rate_stored(self, ids: list[str]) -> int:
        items = []
        for chunk in groups(ids):
            where = scoped("usage", {"id": {"$in": chunk}})
            for document in self._db.usage.find(where, {"_id": 0, DUE: 0}):
                version = document.pop(VERSION, 0)
                owned_by = partner_of(document)
                try:
                    record = parse_record(document)
                except DomainError as error:  # stored before a rule got stricter
                    record = None
                    document["statusReason"] = str(error)
                items.append(_Item(0, document, record, version, owned_by))
        rated = 0
        for chunk in groups(items, self.chunk):
            try:
                self._rate_chunk(chunk, BatchReport(), new=False)
                rated += len(chunk)
            except ConcurrentUpdate:  # a record or balance changed: read again next pass
                continue
        return rated

    # the way through ----------------------------------------------------------------------

    def _rate_chunk(self, items: list[_Item], report: BatchReport, *, new: bool) -> None:
        """Rates the items and writes them, their balances and events in one transaction."""
        prepared = self._prepare(items, new=new)
        try:
            self._commit(prepared)
        except (ConcurrentUpdate, Duplicates, pymongo.errors.PyMongoError):
            self._balances.forget(prepared.book.read)
            raise
        report.rated += prepared.rated
        report.rejected += prepared.rejected

    def _prepare(self, items: list[_Item], *, new: bool) -> _Prepared:
        """Rates the items in memory. The balances they change are kept as if written
        (the next chunk is rated against them); a failed write must forget them."""
        records = [item.record for item in items if item.record is not None]
        self._directory.prefetch(records)
        self._balances.prefetch(self._directory.products_of(records))
        book = _ChunkBook(self._balances)
        rater = Rater(self._directory, book, self._clock.now)
        prepared = _Prepared(book, new)
        # events nobody subscribes to are not written at all: usage comes in millions, and a
        # subscription registered later is owed nothing that happened before
        heard = bool(self._resources.heard([self._usage.rtype.api]))
        for item in items:
            if item.record is None:
                rating = Rating(REJECTED, item.usage.get("statusReason"))
            else:
                rating = rater.rate(item.record, item.usage["id"])
            usage = _rated(item.usage, rating)
            if rating.status == REJECTED:
                prepared.rejected += 1
            else:
                prepared.rated += 1
            # a record is its number's partner's once rating found the number's lines
            number = item.record and self._directory.number_owner(item.record.msisdn)
            owned_by = number or item.owner
            prepared.documents.append((usage, item.version))
            prepared.owners.append(owned_by)
            prepared.changed.update(differences({} if new else item.usage, usage))
            if not heard:
                continue
            events = prepared.events.setdefault(owned_by, [])
            stamp = format_instant(self._clock.now())
            if new:
                events += self._usage.events(ev.CREATE, usage, 1, stamp)
            else:
                events += self._usage.events(ev.STATE_CHANGE, usage, item.version + 1, stamp)
            for doc, alert in rating.alerts:  # the balance as it was when the alert was raised
                field_path = f"alert.{alert['type']}.{alert['threshold']}"
                events += self._consumption.events(ALERT, copy.deepcopy(doc), 1, stamp, field_path)
        stamp = format_instant(self._clock.now())
        for doc, version in book.changed.values() if heard else ():
            if version == 0:
                owned_by = self._directory.owner(doc["product"]["id"])
                created = self._consumption.events(ev.CREATE, doc, 1, stamp)
                prepared.events.setdefault(owned_by, []).extend(created)
        self._balances.written(book.changed)
        return prepared

    def _commit(self, prepared: _Prepared) -> None:
        if prepared.documents:
            in_transaction(self._db, lambda session: self._write(prepared, session))

    def _write(self, prepared: _Prepared, session: ClientSession) -> None:
        documents, book = prepared.documents, prepared.book
        if prepared.new:
            stored = [
                {**usage, VERSION: 1, PARTNER: owned_by}
                for (usage, _), owned_by in zip(documents, prepared.owners, strict=True)
            ]
            try:
                self._db.usage.insert_many(stored, session=session)
            except pymongo.errors.BulkWriteError as error:
                if _duplicate_key(error):
                    raise Duplicates() from None
                raise
        else:
            replaced = [
                pymongo.ReplaceOne(
                    {"id": usage["id"], VERSION: version},
                    {**usage, VERSION: version + 1, PARTNER: owned_by},
                )
                for (usage, version), owned_by in zip(documents, prepared.owners, strict=True)
            ]
            result = self._db.usage.bulk_write(replaced, session=session)
            if result.matched_count != len(replaced):
                raise ConcurrentUpdate("a usage record changed while it was rated")
        writes = self._balances.writes(book.changed, self._directory.owner)
        if writes:
            try:
                result = self._db["usageConsumption"].bulk_write(writes, session=session)
            except pymongo.errors.BulkWriteError as error:
                if _duplicate_key(error):  # created meanwhile by another rater
                    raise ConcurrentUpdate("a balance changed while records were rated") from None
                raise
            if result.matched_count + len(result.upserted_ids) != len(writes):
                raise ConcurrentUpdate("a balance changed while records were rated")
        self._audit(prepared, session)
        for partner, events in prepared.events.items():
            self._resources.append_events(events, session, partner)

    def _audit(self, prepared: _Prepared, session: ClientSession) -> None:
        """For each partner of what the chunk wrote, one entry for its records, one for the
        balances it created and one for those it changed, listing them: not an entry (an
        insert) per record."""
        operation = CREATE if prepared.new else UPDATE
        records: dict[str, list[str]] = defaultdict(list)
        for (usage, _), owned_by in zip(prepared.documents, prepared.owners, strict=True):
            records[owned_by].append(usage["id"])
        for partner, ids in records.items():
            rtype = self._usage.rtype
            audit.record(self._db, session, rtype, ids, operation, prepared.changed, partner)
        book = prepared.book
        balances: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
        for balance_id, (document, version) in book.changed.items():
            owned_by = self._directory.owner(document["product"]["id"])
            balances[(UPDATE if version else CREATE, owned_by)][balance_id] = document
        for (operation, partner), written in balances.items():
            fields = changed_fields((book.before.get(i, {}), doc) for i, doc in written.items())
            rtype = self._consumption.rtype
            audit.record(self._db, session, rtype, list(written), operation, fields, partner)


def _duplicate_key(error: pymongo.errors.BulkWriteError) -> bool:
    return any(e.get("code") == 11000 for e in error.details.get("writeErrors") or [])


def _rated(usage: dict[str, Any], rating: Rating) -> dict[str, Any]:
    """The usage record as rating leaves it."""
    rated = dict(usage)
    rated["status"] = rating.status
    if rating.reason:
        rated["statusReason"] = rating.reason
    else:
        rated.pop("statusReason", None)
    if rating.rated:
        rated["ratedProductUsage"] = rating.rated
    parties = list(rated.get("relatedParty") or [])
    known = {party.get("id") for party in parties}
    parties += [party for party in rating.party if party.get("id") not in known]
    if parties:
        rated["relatedParty"] = parties
    return rated


class RatingRunner(PollingWorker):
    """Rates records POSTed one by one, shortly after they arrive. One runner at a time
    takes a turn, as order fulfilment does: raters in parallel would collide on balances."""

    thread_name = "usage-rating"
    log = log
    idle_sleep = 0.05

    def __init__(self, db: Database, rating: UsageRating, batch: int = 2000) -> None:
        super().__init__()
        self._rating = rating
        self._batch = batch
        self.leases = Leases(db, LEASES, timedelta(seconds=30))

    def ensure_indexes(self) -> None:
        self.leases.ensure_indexes()

    def run_once(self) -> int:
        with self.leases.turn(TURN) as mine:
            return self._rating.rate_due(self._batch) if mine else 0
