"""Leases: which worker process handles which piece of work right now.

One document per key in a collection, claimed atomically by find_one_and_update with upsert:
the unique _id lets exactly one claimant win, and a lease whose holder crashed expires so that
another worker takes the work over. Used by the catalog job runner and order fulfilment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pymongo.errors
from pymongo.database import Database


class LeaseLost(Exception):
    """Another worker took the work over (this one was too slow to renew its lease)."""


class Leases:
    def __init__(self, db: Database, collection: str, duration: timedelta) -> None:
        self._leases = db[collection]
        self.duration = duration
        self.owner = uuid.uuid4().hex

    def ensure_indexes(self) -> None:
        self._leases.create_index("leaseUntil")

    def held(self, now: datetime) -> set[str]:
        """Keys leased by anyone and not yet expired."""
        return {
            lease["_id"] for lease in self._leases.find({"leaseUntil": {"$gt": now}}, {"_id": 1})
        }

    def claim(self, key: str, now: datetime | None = None) -> bool:
        now = now or _now()
        try:  # an update, not find_one_and_update: the embedded server does it 10x faster
            self._leases.update_one(
                {"_id": key, "leaseUntil": {"$lte": now}},
                {"$set": {"leaseUntil": now + self.duration, "owner": self.owner}},
                upsert=True,
            )
        except pymongo.errors.DuplicateKeyError:  # held by another worker
            return False
        return True

    def renew(self, key: str) -> None:
        renewed = self._leases.update_one(
            {"_id": key, "owner": self.owner}, {"$set": {"leaseUntil": _now() + self.duration}}
        )
        if renewed.matched_count == 0:
            raise LeaseLost(key)

    def release(self, key: str) -> None:
        self._leases.delete_one({"_id": key, "owner": self.owner})

    @contextmanager
    def turn(self, key: str) -> Iterator[bool]:
        """Holds `key` while the block runs, when no one else holds it: yields whether it
        does (a worker's turn: `if not turn: return`)."""
        if not self.claim(key):
            yield False
            return
        try:
            yield True
        finally:
            self.release(key)


def _now() -> datetime:
    return datetime.now(UTC)
