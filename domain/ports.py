"""What the domain needs from the outside world; adapters implement these."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from domain.events import Event
from domain.query import ListQuery
from domain.resource import Referrer, ResourceType


@dataclass(frozen=True)
class Stored:
    resource: dict[str, Any]
    version: int


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...


class SchemaCheck(Protocol):
    """Checks a whole resource against the contract; raises InvalidRequest."""

    def __call__(self, resource: dict[str, Any]) -> None: ...


class ResourceRepository(Protocol):
    """Stores resources; each write stores its events with it, atomically."""

    def get(self, rtype: ResourceType, resource_id: str) -> Stored | None: ...

    def find(self, rtype: ResourceType, query: ListQuery) -> tuple[list[dict[str, Any]], int]: ...

    def add(self, rtype: ResourceType, resource: dict[str, Any], events: Sequence[Event]) -> None:
        """Raises Conflict when the id exists."""

    def replace(
        self, rtype: ResourceType, stored: Stored, resource: dict[str, Any], events: Sequence[Event]
    ) -> None:
        """Raises ConcurrentUpdate when the stored version is no longer current."""

    def remove(self, rtype: ResourceType, stored: Stored, events: Sequence[Event]) -> None:
        """Raises ConcurrentUpdate when the stored version is no longer current."""

    def get_document(self, collection: str, resource_id: str) -> dict[str, Any] | None:
        """Any resource by collection and id (for cross-resource rules)."""

    def find_referrers(self, referrer: Referrer, resource_id: str, limit: int) -> list[str]:
        """Ids of documents that refer to resource_id through the referrer's path."""


class SubscriptionRepository(Protocol):
    def add(self, subscription: dict[str, Any]) -> None: ...

    def get(self, api: str, subscription_id: str) -> dict[str, Any] | None: ...

    def remove(self, api: str, subscription_id: str) -> bool: ...


class ExportFiles(Protocol):
    """Where the files of export jobs are kept, by job id."""

    def put(self, job_id: str, document: dict[str, Any]) -> None:
        """Raises TransferFailed when the file cannot be kept (too large)."""

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def remove(self, job_id: str) -> None: ...


class ImportSource(Protocol):
    """Reads the file an import job names by URL."""

    def read(self, url: str) -> Any:
        """The JSON document at `url`; raises TransferFailed saying why it cannot."""


# Order fulfilment: resource pools and the network --------------------------------------


class PoolExhausted(Exception):
    """No resource of the kind is available (all assigned, reserved or in quarantine)."""


class ResourceUnavailable(Exception):
    """The resource asked for by name (a golden number) exists but is not available, or
    does not exist in any pool."""


@dataclass(frozen=True)
class Sim:
    iccid: str
    imsi: str


class NumberPool(Protocol):
    """MSISDNs (E.164). A number is available, reserved (by a holder: an order item),
    assigned (to a product) or in quarantine (released, reusable after a period).

    Every call is idempotent for its holder: reserving again returns the number the holder
    already has, so a fulfilment that crashed and resumes never takes a second number."""

    def reserve(self, holder: str, requested: str | None = None) -> str:
        """The holder's number: `requested` when given and free (a golden number), else any
        available one. Raises PoolExhausted or ResourceUnavailable."""

    def holding(self, holder: str) -> str | None:
        """The number the holder has reserved (or has assigned to it), if any."""

    def assign(self, msisdn: str, holder: str, product_id: str) -> None:
        """The reserved number now belongs to the product (activation succeeded)."""

    def release(self, msisdn: str, holder: str) -> None:
        """Give the number back: a reservation never activated is available again at once;
        an assigned number (holder: its product id) goes to quarantine. Idempotent."""


class SimStock(Protocol):
    """SIM cards (ICCID + IMSI): available, reserved (by an order item), assigned (to a
    product) or retired (used once: a deactivated SIM is never handed out again).
    Idempotent per holder like NumberPool."""

    def reserve(self, holder: str) -> Sim:
        """Raises PoolExhausted."""

    def holding(self, holder: str) -> Sim | None: ...

    def assign(self, iccid: str, holder: str, product_id: str) -> None: ...

    def release(self, iccid: str, holder: str) -> None:
        """A reservation never activated is available again; an assigned SIM is retired."""


PENDING, DONE, FAILED = "pending", "done", "failed"


@dataclass(frozen=True)
class NetworkRequest:
    """One change on the network (HLR/HSS and OSS): `id` makes submitting it idempotent."""

    id: str
    action: str  # activate | modify | suspend | resume | deactivate
    msisdn: str
    iccid: str | None = None
    imsi: str | None = None
    services: tuple[str, ...] = ()  # offering ids making up the line after the change


@dataclass(frozen=True)
class NetworkOutcome:
    status: str  # PENDING | DONE | FAILED
    reason: str | None = None


class Network(Protocol):
    """Provisioning on the network, asynchronous: submit, then ask for the outcome."""

    def submit(self, request: NetworkRequest) -> None:
        """Idempotent by request.id: submitting again changes nothing."""

    def outcome(self, request_id: str) -> NetworkOutcome:
        """PENDING until the network has answered; raises KeyError for an unknown id."""


# Payments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeOutcome:
    approved: bool
    authorization_code: str | None = None  # the gateway's, for reconciliation
    reason: str | None = None  # why it was declined


class PaymentGateway(Protocol):
    """The payment service provider that charges cards."""

    def charge(
        self, reference: str, amount: Decimal, currency: str, method: Mapping[str, Any]
    ) -> ChargeOutcome:
        """Charge `amount` to the card `method` names (its token is its id). Idempotent by
        `reference` (the payment's id): charging again answers as the first time and takes
        the money once."""
