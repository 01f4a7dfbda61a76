"""The audit trail on MongoDB (domain/audit.py): each entry is inserted in the transaction of
the write it records, attributed to the principal the write is done for (adapters/acting.py:
the request's, or SYSTEM in background work). An entry belongs to the partner of what was
written (hidden `_partner`, as every document): an operator acting for one partner reads
that partner's entries only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from bson import ObjectId
from pymongo.client_session import ClientSession
from pymongo.database import Database

from adapters import acting, partners
from domain.audit import AUDIT_ENTRY, Written, audit_entry
from domain.instants import format_instant


def record(
    db: Database,
    session: ClientSession,
    written: Written,
    resource_ids: Sequence[str],
    operation: str,
    changed_fields: Iterable[str] = (),
    partner: str | None = None,
) -> None:
    """Appends the entry of a write of `resource_ids` (nothing when there are none), which
    belong to `partner` (default: the partner the current work is for)."""
    if not resource_ids:
        return
    owner = partner or partners.owner()
    # an ObjectId's text sorts in creation order: the entries' key keeps them in time order
    entry = audit_entry(
        str(ObjectId()),
        format_instant(datetime.now(UTC)),
        acting.principal(),
        owner,
        written,
        resource_ids,
        operation,
        changed_fields,
    )
    document = {"_id": entry["id"], **entry, partners.PARTNER: owner}
    db[AUDIT_ENTRY.collection].insert_one(document, session=session)
