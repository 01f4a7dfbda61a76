"""Optimistic concurrency over HTTP: of two writes based on the same version, one is a 409.

`ReadersMeetBeforeWriting` holds the racing requests after their read until both have read,
so their writes are certain to start from the same version: a lost update cannot hide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from adapters.mongo import MongoResources
from app import SystemClock, UuidIds
from domain.service import ResourceService
from handlers.specs import load_spec
from handlers.tmf import href
from handlers.validation import ResourceSchemaCheck
from tests.e2e.checks import JSON_PATCH, assert_tmf_error, send_json
from tests.e2e.conftest import database_of
from tests.e2e.resources import CUSTOMER, PUBLIC_BASE


class ReadersMeetBeforeWriting:
    """The real repository, except that the first `parties` reads wait for each other."""

    def __init__(self, inner: MongoResources, parties: int = 2) -> None:
        self._inner = inner
        self._armed = True
        self._barrier = threading.Barrier(parties, action=self._disarm, timeout=10)

    def _disarm(self) -> None:
        self._armed = False

    def get(self, rtype: Any, resource_id: str) -> Any:
        stored = self._inner.get(rtype, resource_id)
        if self._armed:
            self._barrier.wait()
        return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def racing_client(app: Any, client: Any) -> Iterator[Any]:
    """The app's client, its customers served from a repository whose readers meet."""
    resources = app.app.extensions["bss"].resources
    served = resources[CUSTOMER.path]
    resources[CUSTOMER.path] = ResourceService(
        served.rtype,
        ReadersMeetBeforeWriting(MongoResources(database_of(app))),
        SystemClock(),
        UuidIds(),
        lambda rtype, resource_id: href(PUBLIC_BASE, rtype, resource_id),
        ResourceSchemaCheck(load_spec("customer.yaml"), "Customer_Create"),
    )
    yield client
    resources[CUSTOMER.path] = served  # the app is shared by later tests


def new_customer(client: Any) -> dict[str, Any]:
    response = client.post(CUSTOMER.collection_url, json=CUSTOMER.new_body(0))
    assert response.status_code == 201
    return response.json()


def at_once(*requests: Callable[[], Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [pool.submit(request) for request in requests]
        return [future.result(timeout=30) for future in futures]


class TestLostUpdates:
    def test_of_two_patches_from_the_same_version_one_is_a_409(self, client, racing_client):
        customer = new_customer(client)
        url = CUSTOMER.url(customer["id"])
        renamed = {"name": "Renamed by A"}
        reason = {"statusReason": "Changed by B"}
        first, second = at_once(
            lambda: racing_client.patch(url, json=renamed),
            lambda: racing_client.patch(url, json=reason),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        winner, loser = (first, second) if first.status_code == 200 else (second, first)
        assert assert_tmf_error(loser, 409)["code"] == "ERR_CONCURRENT_UPDATE"
        stored = client.get(url).json()
        assert stored == winner.json()
        lost_change = reason if winner is first else renamed
        assert all(stored.get(k) != v for k, v in lost_change.items())
        # the refused client re-reads and retries: now both changes hold
        assert client.patch(url, json=lost_change).status_code == 200
        assert client.get(url).json() == {**stored, **renamed, **reason}

    def test_a_delete_racing_a_patch_never_resurrects_or_loses_silently(
        self, client, racing_client
    ):
        customer = new_customer(client)
        url = CUSTOMER.url(customer["id"])
        patched, deleted = at_once(
            lambda: racing_client.patch(url, json={"name": "Renamed"}),
            lambda: racing_client.delete(url),
        )
        assert sorted([patched.status_code, deleted.status_code]) in ([200, 409], [204, 409])
        after = client.get(url)
        if deleted.status_code == 204:
            assert_tmf_error(patched, 409)
            assert_tmf_error(after, 404)
        else:
            assert_tmf_error(deleted, 409)
            assert after.json() == patched.json()

    def test_concurrent_appends_are_each_kept_or_refused(self, client):
        customer = new_customer(client)
        url = CUSTOMER.url(customer["id"])
        writers = 8

        def append(n: int) -> Any:
            item = {"name": f"note-{n}", "value": n}
            operation = [{"op": "add", "path": "/characteristic/-", "value": item}]
            return send_json(client, "PATCH", url, operation, JSON_PATCH)

        responses = at_once(*[lambda n=n: append(n) for n in range(writers)])
        assert {response.status_code for response in responses} <= {200, 409}
        kept = {r.json()["characteristic"][-1]["name"] for r in responses if r.status_code == 200}
        assert kept, "at least one writer must win"
        stored = client.get(url).json()["characteristic"]
        assert stored[: len(customer["characteristic"])] == customer["characteristic"]
        appended = [item["name"] for item in stored[len(customer["characteristic"]) :]]
        assert sorted(appended) == sorted(kept)
