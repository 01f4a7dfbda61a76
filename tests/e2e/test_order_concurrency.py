"""Orders placed at once and fulfilled by the runners of two apps (taking turns, each
taking over what the other left) share a scarce number pool without handing a number or a
SIM out twice. Reservations racing from many threads are tested on the pools themselves
(tests/integration/test_resource_pools.py)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from adapters.mongo import DUE
from tests.e2e.conftest import database_of, running_app
from tests.e2e.ordering_setup import (
    ORDERS,
    PLAN,
    PRODUCTS,
    add,
    characteristic,
    item_states,
    new_customer,
    notes,
    number_pool,
    order_body,
    ordering_app,
    place,
    runner,
    sim_stock,
)

NUMBERS, SIMS, ORDERS_PLACED, CLIENTS, RUNNERS = 20, 40, 30, 8, 2
EXHAUSTED = "item 1 failed: no mobile number is available in the pool"


def until_idle(application: Any) -> int:
    """Run fulfilment passes until no order is due any more (a pass may also find that it
    is the other runner's turn); how many orders this runner advanced."""
    advanced = 0
    orders = database_of(application)["productOrder"]
    for _ in range(2000):
        advanced += runner(application).run_once()
        if orders.count_documents({DUE: {"$exists": True}}) == 0:
            return advanced
    raise AssertionError("fulfilment never ran out of work")


def test_two_runners_share_a_scarce_pool_without_double_allocation(mongo_uri):
    with (
        ordering_app(mongo_uri, numbers=NUMBERS, sims=SIMS) as first,
        first.test_client() as client,
        running_app(mongo_uri, database_of(first).name) as second,
    ):
        customers = [new_customer(client, account=f"ba-{n}") for n in range(ORDERS_PLACED)]
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            placed = list(
                pool.map(lambda c: place(client, order_body(c, add("1", PLAN))), customers)
            )
        assert len({o["id"] for o in placed}) == ORDERS_PLACED

        with ThreadPoolExecutor(max_workers=RUNNERS) as pool:
            advanced = list(pool.map(until_idle, [first, second]))
        assert sum(advanced) >= ORDERS_PLACED  # an order may be looked at again once final
        assert runner(first).run_once() == runner(second).run_once() == 0

        orders = client.get(ORDERS, params={"limit": 100}).json()
        assert Counter(o["state"] for o in orders) == {"completed": NUMBERS, "failed": 10}
        for failed in (o for o in orders if o["state"] == "failed"):
            assert item_states(failed) == ["failed"]
            assert notes(failed) == [EXHAUSTED]

        products = client.get(PRODUCTS, params={"limit": 100}).json()
        assert len(products) == NUMBERS
        assert {p["status"] for p in products} == {"active"}
        completed_by = {o["relatedParty"][0]["id"] for o in orders if o["state"] == "completed"}
        assert {p["relatedParty"][0]["id"] for p in products} == completed_by
        msisdns = {characteristic(p, "msisdn") for p in products}
        iccids = {characteristic(p, "iccid") for p in products}
        assert len(msisdns) == len(iccids) == NUMBERS

        numbers, sims = number_pool(first), sim_stock(first)
        assert numbers.counts() == {
            "available": 0,
            "reserved": 0,
            "assigned": NUMBERS,
            "quarantined": 0,
        }
        assert sims.counts() == {
            "available": SIMS - NUMBERS,
            "reserved": 0,
            "assigned": NUMBERS,
            "retired": 0,
        }
        for line in products:  # each number and SIM is lent to the product that has it
            assert numbers.status_of(characteristic(line, "msisdn"))["product"] == line["id"]
            assert sims.status_of(characteristic(line, "iccid"))["product"] == line["id"]
