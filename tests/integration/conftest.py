"""Builders shared by the adapter tests: customers and the events a write would carry."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from adapters.mongo import MongoResources
from domain.customer import CUSTOMER
from domain.events import Event, envelope

EVENT_TIME = "2026-11-25T10:00:00.000Z"


def customer(customer_id: str | None = None, **attributes: Any) -> dict[str, Any]:
    return {
        "id": customer_id or uuid.uuid4().hex,
        "@type": "Customer",
        "name": "Ada Lovelace",
        "status": "Initialized",
        **attributes,
    }


def customer_event(resource: dict[str, Any], sequence: int, kind: str = "Create") -> Event:
    body = envelope(
        uuid.uuid4().hex, EVENT_TIME, CUSTOMER.event_type(kind), CUSTOMER.event_key, resource
    )
    return Event(CUSTOMER.api, CUSTOMER.collection, resource["id"], sequence, body)


@pytest.fixture
def resources(db: Any) -> MongoResources:
    repository = MongoResources(db)
    repository.ensure_indexes(CUSTOMER)
    return repository
