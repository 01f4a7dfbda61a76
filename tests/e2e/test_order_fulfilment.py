"""Fulfilment beyond the happy path: held orders, failures, cancellation, and a fulfilment
that stops half way (a restart, a crash) and is taken up again without allocating twice."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import adapters.fulfilment_runner
from adapters.network import LINES, REQUESTS, SimulatedNetwork
from adapters.resource_pools import MongoNumberPool, MongoSimStock
from domain.fulfilment import holder_of
from domain.service import ResourceService
from tests.e2e.checks import INSTANT, assert_tmf_error
from tests.e2e.conftest import database_of, running_app
from tests.e2e.ordering_setup import (
    CANCELLATIONS,
    ORDERS,
    PLAN,
    add,
    cancel,
    characteristic,
    fulfil,
    item_states,
    network_answers_now,
    new_customer,
    notes,
    number_pool,
    order,
    order_body,
    ordering_app,
    place,
    products_of,
    run_until,
    runner,
    settle,
    sim_stock,
)
from tests.e2e.resources import instant

SLOW_NETWORK = {"network_latency_ms": 60_000}  # answers only once a test says time passed


@pytest.fixture(scope="module")
def shop(mongo_uri: str) -> Iterator[tuple[Any, Any]]:
    with ordering_app(mongo_uri) as application, application.test_client() as client:
        yield application, client


@pytest.fixture(scope="module")
def slow_shop(mongo_uri: str) -> Iterator[tuple[Any, Any]]:
    """An app whose network has not answered yet: orders stay inProgress."""
    with (
        ordering_app(mongo_uri, **SLOW_NETWORK) as application,
        application.test_client() as client,
    ):
        yield application, client


def cancellation(client: Any, cancellation_id: str) -> dict[str, Any]:
    response = client.get(f"{CANCELLATIONS}/{cancellation_id}")
    assert response.status_code == 200, response.text
    return response.json()


def nothing_allocated(application: Any) -> None:
    """Every number and SIM of the pools is available."""
    numbers, sims = number_pool(application).counts(), sim_stock(application).counts()
    assert {status for status, n in numbers.items() if n} == {"available"}, numbers
    assert {status for status, n in sims.items() if n} == {"available"}, sims


def waiting_on_the_network(application: Any, client: Any, body: dict[str, Any]) -> dict:
    """An order placed and taken by one fulfilment pass, now waiting for the network."""
    placed = place(client, body)
    runner(application).run_once()
    waiting = order(client, placed["id"])
    assert waiting["state"] == "inProgress", waiting
    return waiting


class TestHeld:
    def test_an_order_starts_at_its_requested_start_date(self, shop):
        application, client = shop
        customer = new_customer(client)
        start = datetime.now(UTC) + timedelta(seconds=2)
        body = order_body(customer, add("1", PLAN), requestedStartDate=instant(start))
        placed = place(client, body)
        fulfil(application)  # nothing more is due until the start date
        held = order(client, placed["id"])
        assert held["state"] == "held", held
        assert item_states(held) == ["held"]
        assert held["orderTotalPrice"]  # validated and priced already
        assert products_of(client, customer) == []
        run_until(application, lambda: order(client, placed["id"])["state"] == "completed")
        assert datetime.now(UTC) >= start
        [line] = products_of(client, customer)
        assert line["status"] == "active"


class TestFailures:
    def test_a_refused_activation_fails_the_order_and_frees_its_number_and_sim(self, mongo_uri):
        with (
            ordering_app(mongo_uri, numbers=5, sims=5, network_failure_percent=100) as app,
            app.test_client() as client,
        ):
            customer = new_customer(client)
            done = settle(app, client, order_body(customer, add("1", PLAN)))
            assert done["state"] == "failed", done
            assert item_states(done) == ["failed"]
            [request] = database_of(app)[REQUESTS].find()
            assert request["action"] == "activate"
            msisdn, iccid = request["msisdn"], request["iccid"]
            assert notes(done) == [
                f"item 1 failed: the network refused the activate: network rejected the "
                f"activate of {msisdn} (simulated failure)"
            ]
            assert done["completionDate"]
            assert number_pool(app).status_of(msisdn)["status"] == "available"
            assert sim_stock(app).status_of(iccid)["status"] == "available"
            nothing_allocated(app)
            assert products_of(client, customer) == []
            assert database_of(app)[LINES].count_documents({}) == 0

    def test_lines_beyond_the_number_pool_fail_and_the_order_is_partial(self, mongo_uri):
        with ordering_app(mongo_uri, numbers=1) as app, app.test_client() as client:
            customer = new_customer(client)
            done = settle(app, client, order_body(customer, add("1", PLAN), add("2", PLAN)))
            assert done["state"] == "partial", done
            assert sorted(item_states(done)) == ["completed", "failed"]
            failed = next(i for i in done["productOrderItem"] if i["state"] == "failed")
            assert notes(done) == [
                f"item {failed['id']} failed: no mobile number is available in the pool"
            ]
            [line] = products_of(client, customer)
            assert line["status"] == "active"
            assert number_pool(app).counts()["assigned"] == 1
            assert sim_stock(app).counts() == {
                "available": 49,
                "reserved": 0,
                "assigned": 1,
                "retired": 0,
            }


class TestCancellation:
    def test_an_order_not_yet_fulfilled_is_cancelled_and_nothing_is_allocated(self, shop):
        application, client = shop
        customer = new_customer(client)
        before = number_pool(application).counts(), sim_stock(application).counts()
        placed = place(client, order_body(customer, add("1", PLAN)))
        response = cancel(client, placed["id"], "Changed my mind")
        assert response.status_code == 201, response.text
        request = response.json()
        assert request["state"] == "acknowledged"
        assert response.headers["location"] == request["href"]
        fulfil(application)
        cancelled = order(client, placed["id"])
        assert cancelled["state"] == "cancelled", cancelled
        assert item_states(cancelled) == ["cancelled"]
        assert INSTANT.match(cancelled["cancellationDate"])
        assert cancelled["cancellationReason"] == "Changed my mind"
        done = cancellation(client, request["id"])
        assert done["state"] == "done"
        assert INSTANT.match(done["effectiveCancellationDate"])
        assert products_of(client, customer) == []
        assert (number_pool(application).counts(), sim_stock(application).counts()) == before

    def test_a_completed_order_cannot_be_cancelled(self, shop):
        application, client = shop
        done = settle(application, client, order_body(new_customer(client), add("1", PLAN)))
        assert done["state"] == "completed"
        error = assert_tmf_error(cancel(client, done["id"]), 409)
        assert "completed" in error["message"]
        assert client.get(CANCELLATIONS, params={"productOrder.id": done["id"]}).json() == []

    def test_an_order_has_one_open_cancellation_at_a_time(self, shop):
        application, client = shop
        placed = place(client, order_body(new_customer(client), add("1", PLAN)))
        first = cancel(client, placed["id"])
        assert first.status_code == 201, first.text
        error = assert_tmf_error(cancel(client, placed["id"]), 409)
        assert first.json()["id"] in error["message"]
        fulfil(application)
        assert order(client, placed["id"])["state"] == "cancelled"
        # a cancelled order is final: nothing to cancel any more
        assert_tmf_error(cancel(client, placed["id"]), 409)

    def test_a_cancellation_of_an_unknown_order_is_refused(self, shop):
        _, client = shop
        error = assert_tmf_error(cancel(client, "no-such-order"), 422)
        assert "no-such-order" in error["message"]

    def test_an_order_already_on_the_network_is_not_cancelled(self, slow_shop):
        application, client = slow_shop
        waiting = waiting_on_the_network(
            application, client, order_body(new_customer(client), add("1", PLAN))
        )
        response = cancel(client, waiting["id"], "Too slow")
        assert response.status_code == 201, response.text
        runner(application).run_once()
        refused = cancellation(client, response.json()["id"])
        assert refused["state"] == "terminatedWithError"
        assert "effectiveCancellationDate" not in refused
        after = order(client, waiting["id"])
        assert after["state"] == "inProgress"
        assert "cancellationDate" not in after and "cancellationReason" not in after
        assert notes(after)[-1] == (
            f"cancellation {refused['id']} refused: item 1 is already being provisioned on "
            "the network"
        )

    def test_the_billing_account_is_fixed_while_the_order_is_in_progress(self, slow_shop):
        application, client = slow_shop
        waiting = waiting_on_the_network(
            application, client, order_body(new_customer(client), add("1", PLAN))
        )
        account = {"id": "ba-too-late", "@referredType": "BillingAccount"}
        response = client.patch(f"{ORDERS}/{waiting['id']}", json={"billingAccount": account})
        message = assert_tmf_error(response, 400)["message"]
        assert "billingAccount" in message and "inProgress" in message
        assert order(client, waiting["id"]) == waiting


def assert_one_line_holding(application: Any, client: Any, customer: str, held: tuple) -> None:
    """The customer has one active line, realized by the number and SIM `held` (reserved
    before the interruption), and the pools have lent out nothing else."""
    msisdn, iccid = held
    [line] = products_of(client, customer)
    assert line["status"] == "active"
    assert (characteristic(line, "msisdn"), characteristic(line, "iccid")) == (msisdn, iccid)
    numbers, sims = number_pool(application), sim_stock(application)
    assert numbers.status_of(msisdn)["product"] == line["id"]
    assert sims.status_of(iccid)["product"] == line["id"]
    assert numbers.counts() == {"available": 49, "reserved": 0, "assigned": 1, "quarantined": 0}
    assert sims.counts() == {"available": 49, "reserved": 0, "assigned": 1, "retired": 0}
    db = database_of(application)
    assert db[REQUESTS].count_documents({}) == 1  # activated once
    assert db[LINES].find_one({"_id": msisdn})["iccid"] == iccid


class TestInterruptedFulfilment:
    def test_another_app_on_the_same_database_finishes_what_a_stopped_one_began(self, mongo_uri):
        with ordering_app(mongo_uri, **SLOW_NETWORK) as first, first.test_client() as client:
            customer = new_customer(client)
            waiting = waiting_on_the_network(first, client, order_body(customer, add("1", PLAN)))
            holder = holder_of(waiting["id"], "1")
            held = number_pool(first).holding(holder), sim_stock(first).holding(holder).iccid
            assert None not in held
            # the first app stops here; the network answers while nobody listens
            network_answers_now(first)
            name = database_of(first).name
            with running_app(mongo_uri, name, network_latency_ms=0) as second:
                run_until(second, lambda: order(client, waiting["id"])["state"] != "inProgress")
                done = order(client, waiting["id"])
                assert done["state"] == "completed", done
                assert_one_line_holding(second, client, customer, held)

    @pytest.mark.parametrize(
        "owner, method",
        [
            (MongoNumberPool, "reserve"),
            (MongoSimStock, "reserve"),
            (SimulatedNetwork, "outcome"),
            (ResourceService, "create"),
            (MongoNumberPool, "assign"),
            (MongoSimStock, "assign"),
        ],
        ids=lambda v: getattr(v, "__name__", v),
    )
    def test_a_crash_in_a_step_is_retried_without_allocating_twice(
        self, shop, monkeypatch, caplog, owner, method
    ):
        application, client = shop
        monkeypatch.setattr(adapters.fulfilment_runner, "RETRY_AFTER_ERROR", timedelta(0))
        customer = new_customer(client)
        before = number_pool(application).counts(), sim_stock(application).counts()
        placed = place(client, order_body(customer, add("1", PLAN)))
        crash_once(monkeypatch, owner, method)
        with caplog.at_level(logging.ERROR, logger="bss.fulfilment"):
            runner(application).run_once()
        assert f"order {placed['id']}: fulfilment stopped" in caplog.text
        assert order(client, placed["id"])["state"] == "inProgress"
        fulfil(application)
        done = order(client, placed["id"])
        assert done["state"] == "completed", done
        [line] = products_of(client, customer)
        assert line["status"] == "active"
        numbers, sims = number_pool(application), sim_stock(application)
        assert numbers.status_of(characteristic(line, "msisdn"))["product"] == line["id"]
        assert sims.status_of(characteristic(line, "iccid"))["product"] == line["id"]
        for pool, counts in ((numbers, before[0]), (sims, before[1])):
            assert pool.counts()["assigned"] == counts["assigned"] + 1
            assert pool.counts()["reserved"] == 0
        requests = database_of(application)[REQUESTS]
        assert requests.count_documents({"_id": holder_of(placed["id"], "1")}) == 1


def crash_once(monkeypatch: Any, owner: type, method: str) -> None:
    """The next call of owner.method raises, as if the process died there."""
    real = getattr(owner, method)
    calls = []

    def crashing(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        if len(calls) == 1:
            raise RuntimeError(f"crash in {owner.__name__}.{method}")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, crashing)
