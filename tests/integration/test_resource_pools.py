"""Number pool and SIM stock on the real database: claims that never hand one resource to two
holders, idempotence per holder, golden numbers, quarantine and retirement, seeding.

Time moves through an injected clock, never by sleeping."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.resource_pools import (
    DEMO_FIRST_ICCID_BODY,
    DEMO_FIRST_NUMBER,
    MongoNumberPool,
    MongoSimStock,
    luhn_digit,
    seed_demo_pools,
    seed_numbers,
    seed_sims,
)
from domain.ports import PoolExhausted, ResourceUnavailable, Sim

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
QUARANTINE = timedelta(days=30)
FIRST = "+353831000000"
IRISH_MOBILE = re.compile(r"^\+3538[35-9]\d{7}$")
ICCID = re.compile(r"^8935\d{15,16}$")
IMSI = re.compile(r"^27213\d{10}$")


class Clock:
    def __init__(self) -> None:
        self.moment = T0

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def numbers(db: Any, clock: Clock) -> MongoNumberPool:
    pool = MongoNumberPool(db, QUARANTINE, clock=clock)
    pool.ensure_indexes()
    seed_numbers(db, FIRST, 3)
    return pool


@pytest.fixture
def sims(db: Any, clock: Clock) -> MongoSimStock:
    stock = MongoSimStock(db, clock=clock)
    stock.ensure_indexes()
    seed_sims(db, DEMO_FIRST_ICCID_BODY, 3)
    return stock


def number(n: int) -> str:
    return f"+35383100000{n}"


def luhn_valid(digits: str) -> bool:
    """The Luhn test itself: every second digit from the right doubled, digits summed."""
    doubled = [int(d) * 2 for d in digits[-2::-2]]
    total = sum(int(d) for d in digits[::-2]) + sum(d // 10 + d % 10 for d in doubled)
    return total % 10 == 0


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in as many threads, released at once; each result, or the
    exception it raised."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


class TestReserveNumber:
    def test_a_holder_reserving_again_gets_the_number_it_already_has(self, numbers):
        first = numbers.reserve("item-1")

        assert numbers.reserve("item-1") == first
        assert numbers.reserve("item-2") != first
        assert numbers.status_of(first) == {
            "msisdn": first,
            "status": "reserved",
            "holder": "item-1",
            "product": None,
            "quarantineUntil": None,
            "updatedAt": T0,
        }
        assert numbers.counts() == {"available": 1, "reserved": 2, "assigned": 0, "quarantined": 0}

    def test_the_holder_that_reserved_a_number_still_gets_it_once_assigned(self, numbers):
        msisdn = numbers.reserve("item-1")
        numbers.assign(msisdn, "item-1", "product-1")

        assert numbers.reserve("item-1") == msisdn
        assert numbers.reserve("product-1") == msisdn
        assert numbers.counts()["reserved"] == 0

    def test_when_every_number_is_taken_the_pool_is_exhausted(self, numbers):
        for holder in ("a", "b", "c"):
            numbers.reserve(holder)

        with pytest.raises(PoolExhausted, match="no mobile number is available in the pool"):
            numbers.reserve("d")

    def test_a_free_golden_number_is_reserved_as_asked(self, numbers):
        assert numbers.reserve("item-1", requested=number(2)) == number(2)
        assert numbers.status_of(number(2))["holder"] == "item-1"

    def test_a_golden_number_held_by_another_is_unavailable(self, numbers):
        numbers.reserve("item-1", requested=number(2))

        with pytest.raises(ResourceUnavailable, match=r"number \+353831000002 is not available"):
            numbers.reserve("item-2", requested=number(2))

    def test_a_golden_number_outside_every_pool_is_unavailable(self, numbers):
        with pytest.raises(ResourceUnavailable, match=r"\+353839999999 is not in any number pool"):
            numbers.reserve("item-1", requested="+353839999999")

        assert numbers.counts()["available"] == 3

    def test_a_golden_number_is_free_again_only_once_out_of_quarantine(self, numbers, clock):
        numbers.reserve("item-1", requested=number(0))
        numbers.assign(number(0), "item-1", "product-1")
        numbers.release(number(0), "product-1")

        with pytest.raises(ResourceUnavailable, match="is not available"):
            numbers.reserve("item-2", requested=number(0))
        clock.moment = T0 + QUARANTINE

        assert numbers.reserve("item-2", requested=number(0)) == number(0)

    def test_of_sixteen_holders_racing_for_ten_numbers_ten_get_one_each(self, db, numbers):
        seed_numbers(db, FIRST, 10)

        results = race(16, lambda n: numbers.reserve(f"item-{n}"))

        won = [result for result in results if isinstance(result, str)]
        assert len(won) == 10
        assert len(set(won)) == 10
        assert all(isinstance(result, PoolExhausted) for result in results if result not in won)
        holders = {numbers.status_of(msisdn)["holder"] for msisdn in won}
        assert len(holders) == 10
        assert numbers.counts() == {
            "available": 0,
            "reserved": 10,
            "assigned": 0,
            "quarantined": 0,
        }

    def test_one_holder_reserving_from_many_threads_at_once_gets_one_number(self, numbers):
        results = race(8, lambda _: numbers.reserve("item-1"))

        assert len(set(results)) == 1
        assert numbers.counts()["reserved"] == 1


class TestAssignNumber:
    def test_the_product_becomes_the_holder_and_assigning_again_changes_nothing(self, numbers):
        msisdn = numbers.reserve("item-1")

        numbers.assign(msisdn, "item-1", "product-1")
        numbers.assign(msisdn, "item-1", "product-1")

        status = numbers.status_of(msisdn)
        assert (status["status"], status["holder"], status["product"]) == (
            "assigned",
            "product-1",
            "product-1",
        )

    def test_a_number_reserved_by_another_cannot_be_assigned(self, numbers):
        msisdn = numbers.reserve("item-1")

        with pytest.raises(ResourceUnavailable, match="is not reserved by item-2"):
            numbers.assign(msisdn, "item-2", "product-2")

        assert numbers.status_of(msisdn)["status"] == "reserved"

    def test_a_number_assigned_to_another_product_cannot_be_assigned(self, numbers):
        msisdn = numbers.reserve("item-1")
        numbers.assign(msisdn, "item-1", "product-1")

        with pytest.raises(ResourceUnavailable):
            numbers.assign(msisdn, "item-1", "product-2")

        assert numbers.status_of(msisdn)["product"] == "product-1"


class TestReleaseNumber:
    def test_a_reservation_released_is_available_at_once(self, numbers):
        msisdn = numbers.reserve("item-1", requested=number(1))

        numbers.release(msisdn, "item-1")

        assert numbers.status_of(msisdn)["status"] == "available"
        assert numbers.status_of(msisdn)["holder"] is None
        assert numbers.reserve("item-2", requested=number(1)) == msisdn

    def test_an_assigned_number_released_rests_in_quarantine_then_serves_again(
        self, numbers, clock
    ):
        for holder in ("item-1", "item-2", "item-3"):
            numbers.assign(numbers.reserve(holder), holder, f"product-of-{holder}")
        msisdn = numbers.status_of(number(0))["msisdn"]
        product = numbers.status_of(msisdn)["product"]

        numbers.release(msisdn, product)

        status = numbers.status_of(msisdn)
        assert (status["status"], status["holder"]) == ("quarantined", None)
        assert status["quarantineUntil"] == T0 + QUARANTINE
        clock.moment = T0 + QUARANTINE - timedelta(milliseconds=1)
        with pytest.raises(PoolExhausted):
            numbers.reserve("item-4")
        clock.moment = T0 + QUARANTINE

        assert numbers.reserve("item-4") == msisdn
        assert numbers.status_of(msisdn)["quarantineUntil"] is None

    def test_releasing_twice_changes_nothing_the_second_time(self, numbers, clock):
        msisdn = numbers.reserve("item-1")
        numbers.assign(msisdn, "item-1", "product-1")
        numbers.release(msisdn, "product-1")
        before = numbers.status_of(msisdn)
        clock.moment = T0 + timedelta(days=1)

        numbers.release(msisdn, "product-1")

        assert numbers.status_of(msisdn) == before

    def test_a_release_by_anyone_but_the_holder_changes_nothing(self, numbers):
        reserved = numbers.reserve("item-1")
        assigned = numbers.reserve("item-2")
        numbers.assign(assigned, "item-2", "product-2")

        numbers.release(reserved, "item-9")
        numbers.release(assigned, "item-2")  # the holder is the product now

        assert numbers.status_of(reserved)["status"] == "reserved"
        assert numbers.status_of(assigned)["status"] == "assigned"


class TestSimStock:
    def test_a_holder_reserving_again_gets_the_sim_it_already_has(self, sims):
        sim = sims.reserve("item-1")

        assert sims.reserve("item-1") == sim
        assert sims.reserve("item-2") != sim
        assert sims.status_of(sim.iccid) == {
            "iccid": sim.iccid,
            "imsi": sim.imsi,
            "status": "reserved",
            "holder": "item-1",
            "product": None,
            "updatedAt": T0,
        }

    def test_an_assigned_sim_released_is_retired_and_never_handed_out_again(self, sims):
        sim = sims.reserve("item-1")
        sims.assign(sim.iccid, "item-1", "product-1")
        sims.assign(sim.iccid, "item-1", "product-1")

        sims.release(sim.iccid, "product-1")
        sims.release(sim.iccid, "product-1")

        assert sims.status_of(sim.iccid)["status"] == "retired"
        handed_out = {sims.reserve("item-2"), sims.reserve("item-3")}
        assert sim not in handed_out
        with pytest.raises(PoolExhausted, match="no SIM card is available in stock"):
            sims.reserve("item-4")
        assert sims.counts() == {"available": 0, "reserved": 2, "assigned": 0, "retired": 1}

    def test_a_reservation_released_is_available_at_once(self, sims):
        sim = sims.reserve("item-1")

        sims.release(sim.iccid, "someone-else")
        assert sims.status_of(sim.iccid)["status"] == "reserved"
        sims.release(sim.iccid, "item-1")

        assert sims.status_of(sim.iccid)["status"] == "available"

    def test_a_sim_reserved_by_another_cannot_be_assigned(self, sims):
        sim = sims.reserve("item-1")

        with pytest.raises(ResourceUnavailable, match=f"SIM {sim.iccid} is not reserved"):
            sims.assign(sim.iccid, "item-2", "product-2")

    def test_of_sixteen_holders_racing_for_ten_sims_ten_get_one_each(self, db, sims):
        seed_sims(db, DEMO_FIRST_ICCID_BODY, 10)

        results = race(16, lambda n: sims.reserve(f"item-{n}"))

        won = [result for result in results if isinstance(result, Sim)]
        assert len({sim.iccid for sim in won}) == len(won) == 10
        assert sum(isinstance(result, PoolExhausted) for result in results) == 6
        assert len({sims.status_of(sim.iccid)["holder"] for sim in won}) == 10


class TestSeeding:
    def test_demo_numbers_are_irish_mobile_numbers_counting_up(self, db, clock):
        added = seed_numbers(db, DEMO_FIRST_NUMBER, 5)

        pool = MongoNumberPool(db, QUARANTINE, clock=clock)
        assert added == 5
        assert pool.status_of("+353831000004")["status"] == "available"
        assert pool.status_of("+353831000005") is None
        assert all(IRISH_MOBILE.match(n["_id"]) for n in db["msisdn"].find())

    def test_demo_sims_have_irish_iccids_with_a_luhn_check_digit_and_irish_imsis(self, db):
        seed_sims(db, DEMO_FIRST_ICCID_BODY, 25)

        stored = list(db["sim"].find())
        assert len({sim["_id"] for sim in stored}) == len({sim["imsi"] for sim in stored}) == 25
        for sim in stored:
            assert ICCID.match(sim["_id"]) and len(sim["_id"]) == 19
            assert luhn_valid(sim["_id"])
            assert IMSI.match(sim["imsi"])

    def test_the_luhn_digit_is_the_standard_one(self):
        assert luhn_digit("7992739871") == "3"  # the textbook example 79927398713
        assert luhn_valid("79927398713")
        assert not luhn_valid("79927398710")

    def test_seeding_again_adds_only_what_is_missing_and_leaves_numbers_in_use(self, db, numbers):
        msisdn = numbers.reserve("item-1")
        numbers.assign(msisdn, "item-1", "product-1")

        added = seed_demo_pools(db, numbers=5, sims=2) + seed_demo_pools(db, numbers=5, sims=2)

        assert added == 2 + 2  # numbers 3 and 4, then two SIMs; nothing the second time
        assert numbers.status_of(msisdn)["status"] == "assigned"
        assert numbers.counts() == {"available": 4, "reserved": 0, "assigned": 1, "quarantined": 0}
