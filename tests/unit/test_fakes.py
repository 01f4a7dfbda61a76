"""The fakes stand in for the real adapters, so they must keep the ports' promises too."""

from decimal import Decimal

import pytest

from domain.errors import ConcurrentUpdate, Conflict
from domain.ports import Stored
from domain.query import AttrType, Criterion, ListQuery, SortKey
from domain.resource import ResourceType
from tests.unit.fakes import FakeRepository

THING = ResourceType(
    name="Thing",
    api="test",
    path="thing",
    attributes=frozenset({"name", "rank"}),
    filters={"name": AttrType.STRING, "rank": AttrType.NUMBER},
)


@pytest.fixture
def repository():
    repository = FakeRepository()
    for number, (name, rank) in enumerate([("b", 2), ("a", 10), ("c", 2), ("d", None)], 1):
        thing = {"id": f"t{number}", "name": name}
        if rank is not None:
            thing["rank"] = Decimal(rank)
        repository.add(THING, thing, [])
    return repository


def names(repository, **query):
    items, _ = repository.find(THING, ListQuery(**query))
    return [item["name"] for item in items]


class TestFakeRepository:
    def test_finds_in_creation_order_by_default(self, repository):
        assert names(repository) == ["b", "a", "c", "d"]

    def test_sorts_numbers_as_numbers_missing_values_first(self, repository):
        assert names(repository, sort=(SortKey("rank"),)) == ["d", "b", "c", "a"]

    def test_sorts_descending_with_later_keys_breaking_ties(self, repository):
        sort = (SortKey("rank", descending=True), SortKey("name", descending=True))
        assert names(repository, sort=sort) == ["a", "c", "b", "d"]

    def test_pages_and_counts_all_matches(self, repository):
        query = ListQuery(criteria=(Criterion("rank", "lt", (Decimal(5),)),), offset=1, limit=1)
        items, total = repository.find(THING, query)
        assert ([i["name"] for i in items], total) == (["c"], 2)

    def test_refuses_a_second_resource_with_the_same_id(self, repository):
        with pytest.raises(Conflict):
            repository.add(THING, {"id": "t1"}, [])

    def test_refuses_a_write_from_a_stale_version(self, repository):
        stale = repository.get(THING, "t1")
        repository.replace(THING, stale, {"id": "t1", "name": "newer"}, [])
        with pytest.raises(ConcurrentUpdate):
            repository.replace(THING, stale, {"id": "t1", "name": "lost"}, [])
        with pytest.raises(ConcurrentUpdate):
            repository.remove(THING, stale, [])
        assert repository.stored("thing", "t1") == {"id": "t1", "name": "newer"}

    def test_refuses_a_write_to_a_removed_resource(self, repository):
        stored = repository.get(THING, "t1")
        repository.remove(THING, stored, [])
        with pytest.raises(ConcurrentUpdate):
            repository.replace(THING, stored, {"id": "t1"}, [])

    def test_hands_out_copies(self, repository):
        repository.get(THING, "t1").resource["name"] = "changed"
        repository.find(THING, ListQuery())[0][0]["name"] = "changed"
        assert repository.get(THING, "t1") == Stored({"id": "t1", "name": "b", "rank": 2}, 1)
