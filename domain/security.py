"""Who is calling: the principal a bearer token names, and what each API's scopes allow.

Every resource belongs to one MVNO partner (brand). A caller acts for the partner its token
names and sees only that partner's resources; an operator (scope OPERATOR) acts across
partners, for one of them when it says which. Background work (fulfilment, rating, bill runs)
acts as SYSTEM: for the partner of the resource it works on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

OPERATOR = "operator"  # the scope of the platform's operators: across partners
PLATFORM = "platform"  # the owner of shared catalog entries, visible to every partner
DEMO_PARTNER = "demo"  # the demo data's, and what was stored before partners existed

# API (base path segment) -> (scope to read, scope to write)
SCOPES: Mapping[str, tuple[str, str]] = {
    "customerManagement": ("customer:read", "customer:write"),
    "productCatalogManagement": ("catalog:read", "catalog:admin"),
    "productOrderingManagement": ("order:read", "order:write"),
    "productInventory": ("inventory:read", "inventory:write"),
    "accountManagement": ("billing:read", "billing:write"),
    "usageManagement": ("usage:read", "usage:write"),
    "customerBillManagement": ("billing:read", "billing:write"),
    "paymentManagement": ("payment:read", "payment:write"),
    "auditManagement": (OPERATOR, OPERATOR),  # the audit trail: operators only, read-only
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# what a token or an operator's X-Partner header may name: ids that are safe in keys and logs
PARTNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Principal:
    client_id: str  # the calling system (azp / client_id claim)
    subject: str  # the user or service it acts for (sub claim)
    partner: str | None  # the partner it acts for; None: an operator across partners
    scopes: frozenset[str]

    @property
    def operator(self) -> bool:
        return OPERATOR in self.scopes


SYSTEM = Principal("system", "system", None, frozenset({OPERATOR}))


def is_partner_id(value: object) -> bool:
    """Whether `value` can name a partner: PLATFORM owns shared entries and is no partner."""
    return isinstance(value, str) and bool(PARTNER_ID.fullmatch(value)) and value != PLATFORM


def required_scope(api: str, method: str) -> str:
    """The scope a request of `method` on `api` needs."""
    read, write = SCOPES[api]
    return read if method.upper() in READ_METHODS else write


def partner_key(partner: str | None, key: str) -> str:
    """A key a client chooses (a usage record's externalId, a payment's correlatorId) as
    unique among its partner's: two partners may use the same one. The demo partner's and
    keys given across partners keep the form they had before there were partners, so a
    record stored then and sent again is still recognised."""
    return key if partner in (None, DEMO_PARTNER) else f"{partner}/{key}"
