"""Event subscriptions (TMF hub): register, look up, remove, and match events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from domain.errors import InvalidRequest, NotFound
from domain.ports import IdGenerator, SubscriptionRepository
from domain.query import Criterion, matches

MAX_QUERY_LENGTH = 2000


class HubService:
    def __init__(self, api: str, repository: SubscriptionRepository, ids: IdGenerator) -> None:
        self.api = api
        self._repository = repository
        self._ids = ids

    def register(self, callback: str, query: str | None) -> dict[str, Any]:
        _check_callback(callback)
        parse_subscription_query(query or "")
        subscription = {"id": self._ids.new_id(), "callback": callback, "api": self.api}
        if query:
            subscription["query"] = query
        self._repository.add(subscription)
        return public(subscription)

    def get(self, subscription_id: str) -> dict[str, Any]:
        subscription = self._repository.get(self.api, subscription_id)
        if subscription is None:
            raise NotFound(f"no subscription with id '{subscription_id}'")
        return public(subscription)

    def unregister(self, subscription_id: str) -> None:
        if not self._repository.remove(self.api, subscription_id):
            raise NotFound(f"no subscription with id '{subscription_id}'")


def public(subscription: Mapping[str, Any]) -> dict[str, Any]:
    return {k: subscription[k] for k in ("id", "callback", "query") if k in subscription}


def parse_subscription_query(query: str) -> tuple[Criterion, ...]:
    """`eventType=A,B&status=Approved`: the list filter grammar, applied to an event.

    A key is looked up on the envelope first (eventType, eventId, ...), then on the resource
    it carries, so `status=Approved` and `event.customer.status=Approved` both work.
    """
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidRequest(f"query: longer than {MAX_QUERY_LENGTH} characters")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise InvalidRequest(f"query: '{query}' is not of the form key=value&key=value") from None
    criteria = []
    for key, raw in pairs:
        path, _, op = key.rpartition(".")
        if op not in ("gt", "gte", "lt", "lte") or not path:
            path, op = key, "eq"
        if not path:
            raise InvalidRequest("query: empty attribute name")
        values = tuple(raw.split(",")) if op == "eq" else (raw,)
        criteria.append(Criterion(path, op, values))
    return tuple(criteria)


def subscription_matches(subscription: Mapping[str, Any], envelope: Mapping[str, Any]) -> bool:
    criteria = parse_subscription_query(subscription.get("query") or "")
    resource: Mapping[str, Any] = next(iter(envelope.get("event", {}).values()), {})
    for criterion in criteria:
        root = envelope if criterion.path.split(".")[0] in envelope else resource
        if not matches(root, [criterion]):
            return False
    return True


def _check_callback(callback: str) -> None:
    try:
        parts = urlsplit(callback)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(f"callback: '{callback}' is not an absolute http(s) URL")
