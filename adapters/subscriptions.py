"""Hub subscriptions: a small fixed-schema document, declared and validated with mongoengine.

mongoengine describes and checks the document (fields, indexes); the I/O goes through the
app's own pymongo database, so each app (and each test) can use its own database without
mongoengine's process-wide connection registry.

A subscription belongs to the partner of whoever registered it and receives only the events
of that partner's resources (adapters/dispatcher.py); an operator's, registered across
partners (partner null), receives every partner's. A partner sees and removes only its own.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import mongoengine as me
import pymongo.errors
from pymongo.client_session import ClientSession
from pymongo.database import Database

from adapters import acting, audit
from adapters.mongo import HUB, check_storable, in_transaction
from adapters.partners import PARTNER, own
from domain.audit import CREATE, DELETE, SUBSCRIPTION, Kind
from domain.errors import Conflict, InvalidRequest

# An absolute http(s) URI. The host need not have a dot: callbacks often name a service of the
# same network (http://crm-listener:8080/events).
CALLBACK_URL = re.compile(
    r"^https?://(?:[a-z0-9_.~%!$&'()*+,;=:-]+@)?(?:[a-z0-9_.~-]+|\[[0-9a-f:.]+\])"
    r"(?::\d{1,5})?(?:[/?#][!-~]*)?$",
    re.IGNORECASE,
)


class HubSubscription(me.Document):
    sub_id = me.StringField(required=True, db_field="_id", primary_key=True)
    api = me.StringField(required=True)
    # mongoengine's URLField would skip max_length and refuse hosts without a dot
    callback = me.StringField(required=True, max_length=2000, regex=CALLBACK_URL)
    query = me.StringField(max_length=2000)
    partner = me.StringField(db_field=PARTNER)  # None: an operator's, of every partner

    meta: ClassVar[dict[str, Any]] = {"collection": HUB, "indexes": ["api"]}

    def as_dict(self) -> dict[str, Any]:
        data = {"id": self.sub_id, "api": self.api, "callback": self.callback}
        if self.query:
            data["query"] = self.query
        if self.partner:
            data["partner"] = self.partner
        return data


class MongoSubscriptions:
    """The SubscriptionRepository port."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._collection = db[HubSubscription._meta["collection"]]

    def ensure_indexes(self) -> None:
        for spec in HubSubscription._meta["index_specs"]:
            options = {k: v for k, v in spec.items() if k != "fields"}
            self._collection.create_index(spec["fields"], **options)

    def add(self, subscription: dict[str, Any]) -> None:
        document = HubSubscription(
            sub_id=subscription["id"],
            api=subscription["api"],
            callback=subscription["callback"],
            query=subscription.get("query"),
            partner=acting.partner(),
        )
        try:
            document.validate()
        except me.ValidationError as error:
            raise InvalidRequest(f"subscription: {error.to_dict() or error}") from None
        stored = {**document.to_mongo().to_dict(), PARTNER: document.partner}
        check_storable(stored)
        kind = Kind(subscription["api"], SUBSCRIPTION)

        def write(session: ClientSession) -> None:
            self._collection.insert_one(stored, session=session)
            audit.record(self._db, session, kind, [subscription["id"]], CREATE, subscription)

        try:
            in_transaction(self._db, write)
        except pymongo.errors.DuplicateKeyError:
            raise Conflict(f"subscription '{subscription['id']}' exists") from None

    def get(self, api: str, subscription_id: str) -> dict[str, Any] | None:
        raw = self._collection.find_one({"_id": subscription_id, "api": api, **own()})
        return HubSubscription._from_son(raw).as_dict() if raw else None

    def apis(self) -> set[str]:
        """The APIs that have at least one subscription."""
        return set(self._collection.distinct("api"))

    def exists(self, subscription_id: str) -> bool:
        return self._collection.count_documents({"_id": subscription_id}, limit=1) > 0

    def remove(self, api: str, subscription_id: str) -> bool:
        def write(session: ClientSession) -> bool:
            where = {"_id": subscription_id, "api": api, **own()}
            if self._collection.delete_one(where, session=session).deleted_count == 0:
                return False
            audit.record(self._db, session, Kind(api, SUBSCRIPTION), [subscription_id], DELETE)
            return True

        return bool(in_transaction(self._db, write))

    def for_api(self, api: str) -> list[dict[str, Any]]:
        return [
            HubSubscription._from_son(raw).as_dict() for raw in self._collection.find({"api": api})
        ]
