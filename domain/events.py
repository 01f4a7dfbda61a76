"""TMF notifications: what changed, as the envelope subscribers receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CREATE = "Create"
ATTRIBUTE_VALUE_CHANGE = "AttributeValueChange"
STATE_CHANGE = "StateChange"
DELETE = "Delete"


@dataclass(frozen=True)
class Event:
    api: str
    resource_path: str
    resource_id: str
    sequence: int  # order of the events of one resource
    envelope: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.envelope["eventId"])

    @property
    def event_type(self) -> str:
        return str(self.envelope["eventType"])


def envelope(
    event_id: str,
    event_time: str,
    event_type: str,
    event_key: str,
    resource: dict[str, Any],
    field_path: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventId": event_id,
        "eventTime": event_time,
        "eventType": event_type,
        "event": {event_key: resource},
    }
    if field_path:
        body["fieldPath"] = field_path
    return body
