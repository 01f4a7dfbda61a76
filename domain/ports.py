"""What the domain needs from the outside world; adapters implement these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
