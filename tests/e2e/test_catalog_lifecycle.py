"""TMF620 lifecycleStatus over HTTP: every transition, creatable states, and the attributes
the server maintains on each change (version, lastUpdate).

All tests share one app; each works on entities of its own. Transitions are checked on
categories without a parent, whose launch needs nothing but validFor.startDateTime.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from domain.instants import parse_instant
from tests.e2e.catalog_setup import START, STATES, Catalog, catalog_app
from tests.e2e.checks import INSTANT, JSON_PATCH, assert_tmf_error, send_json

# The lifecycle as the API description states it, independent of the implementation.
NEXT = {
    "In Study": {"In Design", "Rejected"},
    "In Design": {"In Test", "Rejected"},
    "In Test": {"Active", "Rejected"},
    "Active": {"Launched", "Retired"},
    "Launched": {"Retired"},
    "Retired": {"Obsolete"},
    "Obsolete": set(),
    "Rejected": set(),
}
CREATABLE = ("In Study", "In Design", "In Test", "Active")
SERVER_SET = ("version", "lastUpdate")  # maintained by the server, never by a client
PAIRS = [(current, target) for current in NEXT for target in NEXT if target != current]
ALLOWED = [pair for pair in PAIRS if pair[1] in NEXT[pair[0]]]
REFUSED = [pair for pair in PAIRS if pair[1] not in NEXT[pair[0]]]
MINIMAL = {
    "catalog": {},
    "category": {},
    "productSpecification": {},
    "productOfferingPrice": {"priceType": "oneTime"},
    "productOffering": {},
}


@pytest.fixture(scope="module")
def catalog(mongo_uri: str) -> Iterator[Catalog]:
    with catalog_app(mongo_uri) as application:
        yield Catalog(application)


def pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}->{pair[1]}"


def bumped(version: str) -> str:
    major, minor = version.split(".")
    return f"{major}.{int(minor) + 1}"


class TestTransitions:
    def test_the_lifecycle_expected_here_has_every_state_the_server_knows(self):
        assert set(NEXT) == set(STATES)

    @pytest.mark.parametrize("current, target", ALLOWED, ids=map(pair_id, ALLOWED))
    def test_an_allowed_transition_is_applied(self, catalog, current, target):
        before = catalog.category(current)
        response = catalog.patch("category", before["id"], lifecycleStatus=target)
        assert response.status_code == 200, response.text
        after = response.json()
        assert after == {
            **before,
            "lifecycleStatus": target,
            "version": bumped(before["version"]),
            "lastUpdate": after["lastUpdate"],
        }
        assert after["lastUpdate"] >= before["lastUpdate"]
        assert catalog.get("category", before["id"]) == after

    @pytest.mark.parametrize("current, target", REFUSED, ids=map(pair_id, REFUSED))
    def test_a_refused_transition_is_400_naming_the_allowed_next_states(
        self, catalog, current, target
    ):
        before = catalog.category(current)
        events = catalog.outbox_count()
        response = catalog.patch("category", before["id"], lifecycleStatus=target)
        error = assert_tmf_error(response, 400)
        assert f"{current} -> {target}" in error["message"]
        for allowed in NEXT[current]:
            assert allowed in error["message"]
        if not NEXT[current]:
            assert "final" in error["message"]
        assert catalog.get("category", before["id"]) == before
        assert catalog.outbox_count() == events

    @pytest.mark.parametrize("state", list(NEXT))
    def test_setting_the_current_state_again_changes_nothing(self, catalog, state):
        before = catalog.category(state)
        events = catalog.outbox_count()
        response = catalog.patch("category", before["id"], lifecycleStatus=state)
        assert response.status_code == 200, response.text
        assert response.json() == before
        assert catalog.outbox_count() == events

    def test_an_unknown_state_is_400(self, catalog):
        before = catalog.category("In Study")
        error = assert_tmf_error(
            catalog.patch("category", before["id"], lifecycleStatus="Done"), 400
        )
        assert "Done" in error["message"]
        assert catalog.get("category", before["id"]) == before

    def test_the_state_cannot_be_removed(self, catalog):
        before = catalog.category("In Design")
        error = assert_tmf_error(catalog.patch("category", before["id"], lifecycleStatus=None), 400)
        assert "lifecycleStatus" in error["message"]
        assert catalog.get("category", before["id"]) == before

    def test_a_whole_life_from_study_to_obsolete(self, catalog):
        entity = catalog.create("category", validFor={"startDateTime": START})
        assert entity["lifecycleStatus"] == "In Study"
        path = ["In Design", "In Test", "Active", "Launched", "Retired", "Obsolete"]
        for number, state in enumerate(path, start=1):
            response = catalog.patch("category", entity["id"], lifecycleStatus=state)
            assert response.status_code == 200, response.text
            entity = response.json()
            assert (entity["lifecycleStatus"], entity["version"]) == (state, f"1.{number}")


class TestCreation:
    @pytest.mark.parametrize("state", CREATABLE)
    def test_a_draft_state_is_creatable(self, catalog, state):
        created = catalog.create("category", lifecycleStatus=state)
        assert created["lifecycleStatus"] == state
        assert catalog.get("category", created["id"]) == created

    @pytest.mark.parametrize("state", [s for s in NEXT if s not in CREATABLE])
    def test_other_states_are_refused_naming_the_creatable_ones(self, catalog, state):
        name = f"Created {state}"
        body = {"name": name, "lifecycleStatus": state, "validFor": {"startDateTime": START}}
        error = assert_tmf_error(catalog.client.post(catalog.url("category"), json=body), 400)
        for creatable in CREATABLE:
            assert creatable in error["message"]
        assert catalog.client.get(catalog.url("category"), params={"name": name}).json() == []

    @pytest.mark.parametrize("path", MINIMAL)
    def test_without_a_state_an_entity_starts_in_study_at_version_1_0(self, catalog, path):
        moment = datetime.now(UTC).replace(microsecond=0)
        created = catalog.create(path, **MINIMAL[path])
        assert (created["lifecycleStatus"], created["version"]) == ("In Study", "1.0")
        assert INSTANT.match(created["lastUpdate"])
        assert moment <= parse_instant(created["lastUpdate"]) <= datetime.now(UTC)


def later(instant: str) -> None:
    """Wait until the clock has moved past `instant` (millisecond resolution)."""
    while datetime.now(UTC) <= parse_instant(instant):
        time.sleep(0.001)


class TestServerMaintainedAttributes:
    @pytest.mark.parametrize("path", MINIMAL)
    def test_every_change_bumps_the_minor_version_and_moves_last_update(self, catalog, path):
        entity = catalog.create(path, **MINIMAL[path])
        changes = [
            {"name": "Renamed"},
            {"lifecycleStatus": "In Design"},
            {"description": "Described", "lifecycleStatus": "In Test"},
        ]
        for number, change in enumerate(changes, start=1):
            later(entity["lastUpdate"])
            response = catalog.patch(path, entity["id"], **change)
            assert response.status_code == 200, response.text
            after = response.json()
            assert after["version"] == f"1.{number}"
            assert INSTANT.match(after["lastUpdate"])
            assert after["lastUpdate"] > entity["lastUpdate"]
            entity = after
        assert catalog.get(path, entity["id"]) == entity

    def test_a_last_update_sent_on_create_is_ignored(self, catalog):
        moment = datetime.now(UTC).replace(microsecond=0)
        created = catalog.create("category", lastUpdate="2020-01-01T00:00:00.000Z")
        assert moment <= parse_instant(created["lastUpdate"]) <= datetime.now(UTC)

    def test_last_update_filters_by_the_exact_value_and_by_range(self, catalog):
        first = catalog.create("category", name="Filtered first")
        later(first["lastUpdate"])
        second = catalog.create("category", name="Filtered second")
        listed = catalog.client.get(
            catalog.url("category"), params={"lastUpdate": first["lastUpdate"]}
        ).json()
        assert first["id"] in [item["id"] for item in listed]
        assert second["id"] not in [item["id"] for item in listed]
        newer = catalog.client.get(
            catalog.url("category"), params={"lastUpdate.gt": first["lastUpdate"]}
        ).json()
        assert second["id"] in [item["id"] for item in newer]
        assert first["id"] not in [item["id"] for item in newer]

    @pytest.mark.parametrize("attribute", SERVER_SET)
    @pytest.mark.parametrize("kind", ["merge", "json-patch"])
    def test_are_not_patchable_and_nothing_else_is_written(self, catalog, attribute, kind):
        before = catalog.create("category", validFor={"startDateTime": START})
        value = "2.0" if attribute == "version" else "2030-01-01T00:00:00.000Z"
        if kind == "merge":
            response = catalog.patch("category", before["id"], name="Other", **{attribute: value})
        else:
            document = [
                {"op": "replace", "path": "/name", "value": "Other"},
                {"op": "replace", "path": f"/{attribute}", "value": value},
            ]
            response = send_json(
                catalog.client, "PATCH", catalog.url("category", before["id"]), document, JSON_PATCH
            )
        assert attribute in assert_tmf_error(response, 400)["message"]
        assert catalog.get("category", before["id"]) == before

    def test_a_change_that_changes_nothing_keeps_version_and_last_update(self, catalog):
        before = catalog.create("category", name="Same", description="Same")
        response = catalog.patch("category", before["id"], name="Same", description="Same")
        assert response.status_code == 200
        assert response.json() == before

    def test_a_refused_change_keeps_version_and_last_update(self, catalog):
        before = catalog.create("category")
        assert_tmf_error(catalog.patch("category", before["id"], lifecycleStatus="Retired"), 400)
        assert catalog.get("category", before["id"]) == before
