"""The fakes stand in for the real adapters, so they must keep the ports' promises too."""

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.errors import ConcurrentUpdate, Conflict
from domain.ports import (
    DONE,
    FAILED,
    PENDING,
    NetworkOutcome,
    NetworkRequest,
    PoolExhausted,
    ResourceUnavailable,
    Sim,
    Stored,
)
from domain.query import AttrType, Criterion, ListQuery, SortKey
from domain.resource import ResourceType
from tests.unit.fakes import (
    ASSIGNED,
    AVAILABLE,
    QUARANTINED,
    RETIRED,
    FakeClock,
    FakeNetwork,
    FakeNumberPool,
    FakeRepository,
    FakeSimStock,
)

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


class TestFakeNumberPool:
    @pytest.fixture
    def clock(self):
        return FakeClock()

    @pytest.fixture
    def pool(self, clock):
        return FakeNumberPool(["+353831000001", "+353831000002"], clock, timedelta(days=90))

    def test_a_holder_reserving_again_gets_the_same_number(self, pool):
        first = pool.reserve("o1/1")
        assert pool.reserve("o1/1") == first == "+353831000001"
        assert pool.reserve("o1/1", "+353831000002") == first  # whatever it asks for now
        assert pool.holding("o1/1") == first
        assert pool.holding("o2/1") is None

    def test_a_golden_number_is_given_only_when_free(self, pool):
        assert pool.reserve("o1/1", "+353831000002") == "+353831000002"
        with pytest.raises(ResourceUnavailable, match="is not available"):
            pool.reserve("o2/1", "+353831000002")
        with pytest.raises(ResourceUnavailable, match="is not in any number pool"):
            pool.reserve("o2/1", "+353859999999")

    def test_an_empty_pool_is_exhausted(self, pool):
        pool.reserve("o1/1")
        pool.reserve("o2/1")
        with pytest.raises(PoolExhausted):
            pool.reserve("o3/1")

    def test_an_assigned_number_stays_the_holder_s_and_is_released_by_its_product(self, pool):
        number = pool.reserve("o1/1")
        pool.assign(number, "o1/1", "p1")
        pool.assign(number, "o1/1", "p1")  # again: nothing changes
        assert (pool.status(number), pool.reserve("o1/1"), pool.holding("p1")) == (
            ASSIGNED,
            number,
            number,
        )
        pool.release(number, "o1/1")  # not the holder any more
        assert pool.status(number) == ASSIGNED
        pool.release(number, "p1")
        assert pool.status(number) == QUARANTINED
        assert pool.holding("o1/1") is None

    def test_assigning_a_number_not_reserved_by_the_holder_is_refused(self, pool):
        pool.reserve("o1/1")
        with pytest.raises(ResourceUnavailable):
            pool.assign("+353831000001", "o2/1", "p2")
        with pytest.raises(ResourceUnavailable):
            pool.assign("+353831000002", "o1/1", "p1")

    def test_a_released_reservation_is_available_at_once(self, pool):
        number = pool.reserve("o1/1")
        pool.release(number, "o1/1")
        pool.release(number, "o1/1")  # idempotent
        assert pool.status(number) == AVAILABLE
        assert pool.reserve("o2/1") == number

    def test_a_number_in_quarantine_is_reused_only_after_the_period(self, pool, clock):
        number = pool.reserve("o1/1")
        pool.assign(number, "o1/1", "p1")
        pool.release(number, "p1")
        assert pool.reserve("o2/1") == "+353831000002"
        with pytest.raises(PoolExhausted):
            pool.reserve("o3/1")
        clock.advance(days=90)
        assert pool.reserve("o3/1") == number


class TestFakeSimStock:
    def test_an_assigned_sim_once_released_is_retired_for_good(self):
        sim = Sim("8935301000000000001", "2721300000000001")
        stock = FakeSimStock([sim], FakeClock())
        assert stock.reserve("o1/1") == stock.reserve("o1/1") == sim
        assert stock.holding("o1/1") == sim
        stock.assign(sim.iccid, "o1/1", "p1")
        stock.release(sim.iccid, "p1")
        assert stock.status(sim.iccid) == RETIRED
        assert stock.holding("o1/1") is None
        with pytest.raises(PoolExhausted):
            stock.reserve("o2/1")


class TestFakeNetwork:
    REQUEST = NetworkRequest("o1/1", "activate", "+353831000001", "8935", "2721")

    def test_answers_done_at_once_and_submitting_again_changes_nothing(self):
        network = FakeNetwork()
        network.submit(self.REQUEST)
        network.submit(self.REQUEST)
        assert network.outcome("o1/1") == NetworkOutcome(DONE)
        assert (network.submitted, network.submissions) == ([self.REQUEST], 2)

    def test_an_unknown_request_has_no_outcome(self):
        with pytest.raises(KeyError):
            FakeNetwork().outcome("o1/1")

    def test_held_answers_are_pending_until_answered(self):
        network = FakeNetwork()
        network.hold()
        network.submit(self.REQUEST)
        assert network.outcome("o1/1") == NetworkOutcome(PENDING)
        network.answer()
        assert network.outcome("o1/1") == NetworkOutcome(DONE)

    def test_holds_the_answers_for_one_number(self):
        network = FakeNetwork()
        network.hold("+353831000002")
        network.submit(self.REQUEST)
        network.submit(NetworkRequest("o2/1", "activate", "+353831000002"))
        assert [network.outcome(i).status for i in ("o1/1", "o2/1")] == [DONE, PENDING]

    def test_refuses_an_action_of_one_number_or_of_any(self):
        network = FakeNetwork()
        network.refuse("activate", "busy", msisdn="+353831000002")
        network.refuse("suspend", "barred")
        network.submit(self.REQUEST)
        network.submit(NetworkRequest("o2/1", "activate", "+353831000002"))
        network.submit(NetworkRequest("o3/1", "suspend", "+353831000001"))
        assert [network.outcome(i) for i in ("o1/1", "o2/1", "o3/1")] == [
            NetworkOutcome(DONE),
            NetworkOutcome(FAILED, "busy"),
            NetworkOutcome(FAILED, "barred"),
        ]
