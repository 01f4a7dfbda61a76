"""UsageRating on the real embedded database (adapters/rating.py): what a chunk's transaction
stores, what a collision with another rater does, what the directory cache reuses, and that a
record is stored once however often it is sent.

The services are the app's (app.build_services); rating and its directory talk to the
database through a client of their own that records the commands it sends, so that a test
can see a transaction being aborted or a product being read. Catalog prices, the billing
account and the line product are written directly, shaped as the unit tests of the rater
build them (tests/unit/test_rating.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pymongo
import pymongo.errors
import pytest
from pymongo import monitoring
from pymongo.database import Database

import adapters.rating
from adapters.clock import SystemClock
from adapters.fulfilment_runner import CatalogCache
from adapters.mongo import CODEC_OPTIONS, OUTBOX, VERSION, MongoResources
from adapters.rating import MongoRatingDirectory, UsageRating
from adapters.settings import Settings
from adapters.usage_files import read_usage_file
from app import build_services
from domain.account import BILLING_ACCOUNT
from domain.errors import Conflict
from domain.instants import format_instant
from domain.rating import MB
from domain.usage import RATED, REJECTED, usage_id_for
from handlers.tmf import Services
from tests.unit.test_rating import ACCOUNT, CUSTOMER, MSISDN, catalog_prices, line

LINE = "line-1"


class Commands(monitoring.CommandListener):
    """The commands a client sent, as (command name, its target: a collection, or 1)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def count(self, name: str, target: Any = 1) -> int:
        return self.sent.count((name, target))


@pytest.fixture
def services(settings: Settings, db: Database) -> Iterator[Services]:
    built = build_services(settings)
    yield built  # the db fixture drops the database afterwards
    built.extra["db"].client.close()


@pytest.fixture
def commands() -> Commands:
    return Commands()


@pytest.fixture
def watched_db(mongo_uri: str, database_name: str, commands: Commands) -> Iterator[Database]:
    client: pymongo.MongoClient = pymongo.MongoClient(
        mongo_uri, event_listeners=[commands], tz_aware=True
    )
    yield client.get_database(database_name, codec_options=CODEC_OPTIONS)
    client.close()


@pytest.fixture
def repository(watched_db: Database) -> MongoResources:
    return MongoResources(watched_db)


def rating_of(
    services: Services, watched_db: Database, repository: MongoResources, chunk: int = 1000
) -> UsageRating:
    clock = SystemClock()
    directory = MongoRatingDirectory(watched_db, CatalogCache(repository), clock)
    return UsageRating(watched_db, repository, services.resources, directory, clock, chunk)


@pytest.fixture
def rating(services: Services, watched_db: Database, repository: MongoResources) -> UsageRating:
    return rating_of(services, watched_db, repository)


@pytest.fixture
def listener(services: Services) -> None:
    """A hub subscription to the usage API: rating writes the events of what it stores
    (nobody listening, it writes none)."""
    services.hubs["usageManagement"].register("http://listener.invalid/events", None)


@pytest.fixture
def now(db: Database) -> datetime:
    """The instant the tests rate around; the line has been in service for ten days."""
    moment = datetime.now(UTC)
    seed_line(db, start=moment - timedelta(days=10))
    return moment


def seed_line(db: Database, start: datetime) -> None:
    """The catalog's usage prices, the billing account, and the line with 1 GB of data."""
    db.productOfferingPrice.insert_many(catalog_prices())
    db[BILLING_ACCOUNT.collection].insert_one(
        {
            **ACCOUNT,
            "state": "Active",
            "currency": "EUR",
            "timeZone": "Europe/Dublin",
            "taxProfile": {"country": "IE"},
            "relatedParty": [{**CUSTOMER, "role": "owner"}],
            "@type": "BillingAccount",
        }
    )
    db.product.insert_one(line(LINE, data_mb=1024, start=format_instant(start)))


def data(external_id: str, megabytes: int, at: datetime, msisdn: str = MSISDN) -> dict[str, Any]:
    """A data record of the line (or another one), within its allowance."""
    return {
        "externalId": external_id,
        "usageType": "data",
        "usageDate": format_instant(at),
        "usageCharacteristic": [
            {"name": "msisdn", "value": msisdn, "valueType": "string"},
            {"name": "bytes", "value": megabytes * MB, "valueType": "integer"},
        ],
    }


def used_mb(db: Database) -> float:
    """The line's data used, over every balance it has (records may fall in two periods)."""
    balances = db.usageConsumption.find({"product.id": LINE})
    used = [
        b["usedValue"]["amount"]
        for doc in balances
        for b in doc["bucket"]
        if b["usageType"] == "data"
    ]
    return sum(used) / MB


def stored(db: Database) -> list[dict[str, Any]]:
    return list(db.usage.find({}, {"_id": 0, "externalId": 1, "status": 1}))


def events(db: Database) -> list[str]:
    return [document["eventType"] for document in db[OUTBOX].find()]


@pytest.mark.usefixtures("listener")
class TestAChunkIsOneTransaction:
    def test_a_chunk_whose_write_fails_leaves_nothing_and_its_retry_stores_it_once(
        self,
        rating: UsageRating,
        repository: MongoResources,
        db: Database,
        now: datetime,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        rating.ingest([data("first", 1, now - timedelta(hours=3))], source="first.jsonl")
        balances_before = list(db.usageConsumption.find())
        events_before = events(db)
        chunk = [data(f"r{n}", n, now - timedelta(hours=2)) for n in (2, 3, 4)]

        def broken_outbox(*_: Any) -> None:  # the last write of a chunk, after usage and balances
            raise pymongo.errors.PyMongoError("injected failure")

        monkeypatch.setattr(repository, "append_events", broken_outbox)
        with pytest.raises(pymongo.errors.PyMongoError, match="injected"):
            rating.ingest(chunk, source="cdr.jsonl")

        assert [usage["externalId"] for usage in stored(db)] == ["first"]
        assert list(db.usageConsumption.find()) == balances_before  # used and version as were
        assert events(db) == events_before
        assert db.usageBatch.count_documents({}) == 1

        monkeypatch.undo()
        report = rating.ingest(chunk, source="cdr.jsonl")

        assert (report["rated"], report["duplicate"], report["stored"]) == (3, 0, 3)
        assert sorted(usage["externalId"] for usage in stored(db)) == ["first", "r2", "r3", "r4"]
        assert used_mb(db) == 1 + 2 + 3 + 4
        assert events(db).count("UsageCreateEvent") == 4

    def test_a_balance_another_rater_changed_meanwhile_rolls_the_chunk_back_and_it_is_rated_again(
        self, rating: UsageRating, db: Database, commands: Commands, now: datetime
    ) -> None:
        at = now - timedelta(hours=2)
        rating.ingest([data("first", 1, at)], source="first.jsonl")  # the balance is kept
        [balance] = db.usageConsumption.find()
        # another rater rates 5 MB of another record on the same balance
        [bucket] = [b for b in balance["bucket"] if b["usageType"] == "data"]
        bucket["usedValue"]["amount"] += 5 * MB
        bucket["remainingValue"]["amount"] -= 5 * MB
        balance[VERSION] += 1
        db.usageConsumption.replace_one({"_id": balance["_id"]}, balance)
        aborted, inserted = commands.count("abortTransaction"), commands.count("insert", "usage")

        report = rating.ingest(
            [data("second", 2, at + timedelta(seconds=1)), data("third", 3, at)], source="b.jsonl"
        )

        assert commands.count("abortTransaction") == aborted + 1
        assert commands.count("insert", "usage") == inserted + 2  # rated, rolled back, again
        assert (report["rated"], report["duplicate"], report["stored"]) == (2, 0, 2)
        assert used_mb(db) == 1 + 5 + 2 + 3
        assert (
            db.usageConsumption.find_one({"_id": balance["_id"]})[VERSION] == balance[VERSION] + 1
        )
        assert sorted(u["externalId"] for u in stored(db)) == ["first", "second", "third"]
        assert events(db).count("UsageCreateEvent") == 3


class TestTheDirectoryCache:
    def test_a_product_read_is_reused_for_older_records_and_read_again_for_newer_ones(
        self, rating: UsageRating, db: Database, commands: Commands, now: datetime
    ) -> None:
        rating.ingest([data("first", 1, now - timedelta(hours=2))], source="first.jsonl")
        terminated = datetime.now(UTC)  # after the line was read
        db.product.update_one(
            {"id": LINE},
            {"$set": {"status": "terminated", "terminationDate": format_instant(terminated)}},
        )
        product_reads = commands.count("find", "product")

        older = rating.ingest([data("older", 2, now - timedelta(hours=1))], source="older.jsonl")

        assert older["rated"] == 1
        assert commands.count("find", "product") == product_reads  # answered by the cache

        newer = rating.ingest([data("newer", 3, terminated + timedelta(seconds=1))], source="n")

        assert commands.count("find", "product") > product_reads
        assert (newer["rated"], newer["rejected"]) == (0, 1)
        [rejected] = db.usage.find({"externalId": "newer"})
        assert rejected["status"] == REJECTED
        assert rejected["statusReason"].startswith(f"no product held {MSISDN}")
        assert used_mb(db) == 1 + 2

    def test_a_full_cache_is_emptied_before_a_chunk_is_read_never_while_it_is(
        self, rating: UsageRating, db: Database, now: datetime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rating.ingest([data("first", 1, now - timedelta(hours=2))], source="first.jsonl")
        monkeypatch.setattr(adapters.rating, "CACHE_LIMIT", 2)  # full with two numbers
        others = ["+353831000002", "+353831000003"]
        for n, number in enumerate(others, start=2):
            db.product.insert_one(line(f"line-{n}", number, start=format_instant(now)))
        # the line's number is answered by the cache, the two others are read
        records = [data("older", 2, now - timedelta(hours=1))]
        records += [data(f"of {number}", 1, now, number) for number in others]

        report = rating.ingest(records, source="three-lines.jsonl")

        assert (report["rated"], report["rejected"]) == (3, 0)
        assert used_mb(db) == 1 + 2


def write_file(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


class TestDuplicates:
    def test_a_record_twice_in_a_file_is_counted_and_stored_once(
        self,
        services: Services,
        watched_db: Database,
        repository: MongoResources,
        db: Database,
        now: datetime,
        tmp_path: Path,
    ) -> None:
        rating = rating_of(services, watched_db, repository, chunk=3)
        a, b, c = (
            data(name, mb, now - timedelta(hours=1))
            for name, mb in zip("abc", (1, 2, 3), strict=True)
        )
        # chunks [a, b, a] and [c, b]: once in the same chunk, once in an earlier one
        cdr = write_file(tmp_path / "cdr.jsonl", [a, b, a, c, b])

        report = rating.ingest(read_usage_file(cdr), source=cdr.name)

        assert (report["total"], report["rated"], report["duplicate"]) == (5, 3, 2)
        assert report["stored"] == 3
        assert report["error"] == [
            {"index": 2, "externalId": "a", "reason": "duplicate: sent twice in this batch"},
            {"index": 4, "externalId": "b", "reason": "duplicate: already received"},
        ]
        assert sorted(u["externalId"] for u in stored(db)) == ["a", "b", "c"]
        assert used_mb(db) == 1 + 2 + 3

    def test_a_file_sent_again_stores_only_its_new_records(
        self, rating: UsageRating, services: Services, db: Database, now: datetime, tmp_path: Path
    ) -> None:
        a, b, c = (
            data(name, mb, now - timedelta(hours=1))
            for name, mb in zip("abc", (1, 2, 3), strict=True)
        )
        rating.ingest(read_usage_file(write_file(tmp_path / "1.jsonl", [a, b])), source="1.jsonl")

        again = rating.ingest(read_usage_file(tmp_path / "1.jsonl"), source="1.jsonl")
        more = rating.ingest(read_usage_file(write_file(tmp_path / "2.jsonl", [b, c])), "2.jsonl")

        assert (again["total"], again["rated"], again["duplicate"], again["stored"]) == (2, 0, 2, 0)
        assert (more["total"], more["rated"], more["duplicate"], more["stored"]) == (2, 1, 1, 1)
        assert [error["externalId"] for error in more["error"]] == ["b"]
        assert sorted(u["externalId"] for u in stored(db)) == ["a", "b", "c"]
        assert {u["status"] for u in stored(db)} == {RATED}
        assert used_mb(db) == 1 + 2 + 3
        with pytest.raises(Conflict):  # nor POSTed one by one
            services.resources["usage"].create(c, resource_id=usage_id_for("c"))
