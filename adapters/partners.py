"""Partner isolation in the database: which documents the current unit of work may read, and
which partner a document it writes belongs to.

Every stored document of a partner's (resources, numbers, SIMs, outbox entries, counters,
export files, hub subscriptions) carries the hidden attribute `_partner`. Reads add
`scope(collection)` to their filter and writes stamp `owner()`, both from the principal the
unit of work acts for (adapters/acting.py): a caller with a partner sees and writes only
that partner's documents, plus the platform's shared entries (catalog, usage specifications,
billing cycles), which only operators write. An operator or a worker acting across partners
(partner None) reads everything; what it creates belongs to the partner of what the new
document refers to (an operator's order for a partner's customer is that partner's), else
to the platform. Workers act for the partner of each resource they work on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo.database import Database

from adapters import acting
from domain.account import BILLING_CYCLE_SPECIFICATION
from domain.catalog import CATALOG_TYPES
from domain.errors import Unprocessable
from domain.security import DEMO_PARTNER, PLATFORM
from domain.usage import USAGE_SPECIFICATION

PARTNER = "_partner"
# Collections whose platform entries every partner reads (and only operators write).
SHARED = frozenset(
    rtype.collection for rtype in (*CATALOG_TYPES, USAGE_SPECIFICATION, BILLING_CYCLE_SPECIFICATION)
)
# What a document created across partners belongs to: the partner of the documents it
# refers to, by (collection, path of the reference's id).
OWNED_THROUGH: Mapping[str, tuple[tuple[str, str], ...]] = {
    "billingAccount": (("customer", "relatedParty.id"),),
    "productOrder": (("customer", "relatedParty.id"), ("billingAccount", "billingAccount.id")),
    "cancelProductOrder": (("productOrder", "productOrder.id"),),
    "product": (("billingAccount", "billingAccount.id"), ("customer", "relatedParty.id")),
    "customerBill": (("billingAccount", "billingAccount.id"),),
    "appliedCustomerBillingRate": (("billingAccount", "billingAccount.id"),),
    "customerBillOnDemand": (("billingAccount", "billingAccount.id"),),
    "payment": (("billingAccount", "account.id"),),
    "refund": (("payment", "payment.id"),),
    "usageConsumption": (("product", "product.id"),),
}
# what the platform's documents have as `_partner`: a document written without one is the
# platform's (until adopt_unowned gives what was stored before partners to the demo partner)
PLATFORMS = [PLATFORM, None]
MIGRATIONS = "migrations"
PARTNERS_MIGRATION = "partners"


def scope(collection: str) -> dict[str, Any]:
    """The condition that keeps a read of `collection` to what the current principal may
    see: nothing to add across partners."""
    partner = acting.partner()
    if partner is None:
        return {}
    if collection in SHARED:
        return {PARTNER: {"$in": [partner, *PLATFORMS]}}
    return {PARTNER: _of(partner)}


def scoped(collection: str, where: Mapping[str, Any]) -> dict[str, Any]:
    """`where`, kept to the current principal's documents. The scope comes last: the
    embedded server picks the index of a filter's first field."""
    return {**where, **scope(collection)}


def own() -> dict[str, Any]:
    """The condition of a change or removal: the current partner's own documents only (a
    partner reads the platform's shared entries but never writes them)."""
    partner = acting.partner()
    return {} if partner is None else {PARTNER: _of(partner)}


def _of(partner: str) -> Any:
    """The value of `_partner` of a partner's documents (null: the platform's, written
    directly, unstamped)."""
    return {"$in": PLATFORMS} if partner == PLATFORM else partner


def owner() -> str:
    """The partner a document written now belongs to, when nothing says otherwise: the
    current one, or the platform for work across partners."""
    return acting.partner() or PLATFORM


def partner_of(document: dict[str, Any]) -> str:
    """Takes the partner out of a document read with it (the platform's when unstamped)."""
    return str(document.pop(PARTNER, None) or PLATFORM)


def owner_for(db: Database, collection: str, document: Mapping[str, Any]) -> str:
    """The partner a new document of `collection` belongs to: the current one; across
    partners, the platform for a shared entry, else the one partner of the documents it
    refers to (OWNED_THROUGH), else the platform. 422 when those belong to several."""
    partner = acting.partner()
    if partner is not None:
        return partner
    if collection in SHARED:
        return PLATFORM
    found = set()
    for referred, path in OWNED_THROUGH.get(collection, ()):
        for resource_id in _ids_at(document, path.split(".")):
            stored = db[referred].find_one({"id": resource_id}, {"_id": 0, PARTNER: 1})
            if stored is not None:
                found.add(stored.get(PARTNER) or PLATFORM)
    if len(found) > 1:
        raise Unprocessable(
            f"refers to resources of different partners ({', '.join(sorted(found))})"
        )
    return found.pop() if found else PLATFORM


def _ids_at(value: Any, parts: list[str]) -> list[str]:
    """The string values at a dotted path, through lists."""
    if isinstance(value, list):
        return [found for item in value for found in _ids_at(item, parts)]
    if not parts:
        return [value] if isinstance(value, str) else []
    if isinstance(value, Mapping) and parts[0] in value:
        return _ids_at(value[parts[0]], parts[1:])
    return []


def adopt_unowned(db: Database, collections: Iterable[str], counters: str) -> None:
    """Once per database: documents stored before partners existed (no `_partner`) become
    the demo partner's, shared entries the platform's; the one bill number counter becomes
    the demo partner's. Idempotent, so processes starting at once may both run it."""
    if db[MIGRATIONS].find_one({"_id": PARTNERS_MIGRATION}) is not None:
        return
    for collection in collections:
        partner = PLATFORM if collection in SHARED else DEMO_PARTNER
        db[collection].update_many({PARTNER: {"$exists": False}}, {"$set": {PARTNER: partner}})
    old = db[counters].find_one({"_id": "billNo"})
    if old is not None:
        demo = {"_id": f"billNo:{DEMO_PARTNER}"}
        db[counters].update_one(demo, {"$max": {"value": old["value"]}}, upsert=True)
        db[counters].delete_one({"_id": "billNo"})
    db[MIGRATIONS].update_one({"_id": PARTNERS_MIGRATION}, {"$set": {"done": True}}, upsert=True)
