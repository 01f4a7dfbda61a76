"""Fulfilment.advance: the per-order state machine, over fakes of the number pool, the SIM
stock and the network (domain/fulfilment.py)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.fulfilment import Step, product_id_for
from domain.patch import MERGE, Patch
from domain.ports import NetworkRequest
from tests.unit.fakes import ASSIGNED, AVAILABLE, QUARANTINED, RESERVED, RETIRED
from tests.unit.ordering_setup import (
    ACCOUNT_REF,
    GOLDEN,
    NUMBERS,
    POLL,
    SIMS,
    Shop,
    add_on,
    billing_account,
    change,
    customer,
    family,
    line,
)

NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
NOW_TEXT = "2026-11-25T10:00:00.000Z"
PLAN = "pos-sim-only-20gb"
ROAMING = "pos-eu-roaming-pack"


@pytest.fixture
def shop() -> Shop:
    return Shop()


class Crash(Exception):
    """A worker dying mid-way: no domain error, so nothing in fulfilment catches it."""


def crash_once(
    monkeypatch: pytest.MonkeyPatch,
    target: object,
    name: str,
    *,
    after: bool = False,
    when: Callable[..., bool] = lambda *args, **kwargs: True,
) -> None:
    """The next call of target.name (with arguments `when` accepts) crashes: before doing
    anything, or `after` doing it."""
    original: Callable[..., Any] = getattr(target, name)
    crashed: list[str] = []

    def crashing(*args: Any, **kwargs: Any) -> Any:
        if crashed or not when(*args, **kwargs):
            return original(*args, **kwargs)
        crashed.append(name)
        if after:
            original(*args, **kwargs)
        raise Crash(name)

    monkeypatch.setattr(target, name, crashing)


def states(shop: Shop, collection: str, resource_id: str, attribute: str) -> list[str]:
    """The states a resource went through, from its create and state change events."""
    return [
        event.envelope["event"][next(iter(event.envelope["event"]))][attribute]
        for event in shop.repository.events
        if event.resource_path == collection
        and event.resource_id == resource_id
        and event.event_type.endswith(("CreateEvent", "StateChangeEvent"))
    ]


def notes(shop: Shop, order_id: str) -> list[str]:
    return [entry["text"] for entry in shop.order(order_id).get("note") or []]


def item_states(shop: Shop, order_id: str) -> list[str]:
    return [item["state"] for item in shop.order(order_id)["productOrderItem"]]


def char(product: dict[str, Any], name: str) -> Any:
    found = [c["value"] for c in product["productCharacteristic"] if c["name"] == name]
    return found[0] if found else None


def no_reservation_left(shop: Shop) -> bool:
    return shop.numbers.count(RESERVED) == 0 and shop.sims.count(RESERVED) == 0


def euros(value: str) -> dict[str, Any]:
    return {"unit": "EUR", "value": Decimal(value)}


class TestALine:
    def test_goes_from_acknowledged_through_in_progress_to_completed(self, shop):
        order_id = shop.place(line())
        assert shop.advance(order_id) == Step("completed")
        order = shop.order(order_id)
        assert states(shop, "productOrder", order_id, "state") == [
            "acknowledged",
            "inProgress",
            "completed",
        ]
        assert item_states(shop, order_id) == ["completed"]
        assert order["completionDate"] == NOW_TEXT
        assert order["billingAccount"] == ACCOUNT_REF  # derived from the customer's account
        assert "note" not in order

    def test_creates_the_product_then_makes_it_active(self, shop):
        order_id = shop.place(line())
        shop.advance(order_id)
        product = shop.product_of(order_id)
        assert product["id"] == product_id_for(f"{order_id}/1")
        assert states(shop, "product", product["id"], "status") == ["created", "active"]
        assert product["status"] == "active"
        assert product["startDate"] == NOW_TEXT
        assert product["productOffering"] == {
            "id": PLAN,
            "name": "SIM Only 20 GB",
            "@referredType": "ProductOffering",
        }
        assert product["productSpecification"]["id"] == "ps-mobile-postpaid"
        assert product["relatedParty"] == [
            {"id": "c1", "role": "Customer", "@referredType": "Customer"}
        ]
        assert product["billingAccount"] == ACCOUNT_REF
        assert product["productOrderItem"] == [
            {
                "productOrderId": order_id,
                "orderItemId": "1",
                "orderItemAction": "add",
                "role": "ordered by",
                "@referredType": "ProductOrderItem",
            }
        ]
        assert product["productTerm"] == [
            {
                "name": "12-month commitment",
                "duration": {"amount": 12, "units": "month"},
                "validFor": {"startDateTime": NOW_TEXT},
            }
        ]
        item = shop.item(order_id)
        assert item["product"] == {
            "id": product["id"],
            "name": "SIM Only 20 GB",
            "@referredType": "Product",
        }

    def test_the_product_carries_its_number_and_sim(self, shop):
        order_id = shop.place(line())
        shop.advance(order_id)
        product = shop.product_of(order_id)
        msisdn, sim = NUMBERS[0], SIMS[0]
        assert (char(product, "msisdn"), char(product, "iccid")) == (msisdn, sim.iccid)
        assert char(product, "includedDataMB") == 20480
        assert product["realizingResource"] == [
            {"id": msisdn, "name": msisdn, "value": msisdn, "@referredType": "MSISDN"},
            {
                "id": sim.iccid,
                "name": f"SIM {sim.iccid}",
                "value": sim.imsi,
                "@referredType": "SIM",
            },
        ]

    def test_the_number_and_sim_are_assigned_to_the_product(self, shop):
        order_id = shop.place(line())
        shop.advance(order_id)
        product_id = shop.product_of(order_id)["id"]
        number, sim = shop.numbers.entries[NUMBERS[0]], shop.sims.entries[SIMS[0].iccid]
        assert (number.status, number.holder) == (ASSIGNED, product_id)
        assert (sim.status, sim.holder) == (ASSIGNED, product_id)
        assert no_reservation_left(shop)

    def test_the_line_is_activated_on_the_network_once(self, shop):
        order_id = shop.place(line())
        shop.advance(order_id)
        sim = SIMS[0]
        assert shop.network.submitted == [
            NetworkRequest(f"{order_id}/1", "activate", NUMBERS[0], sim.iccid, sim.imsi, (PLAN,))
        ]

    def test_prices_are_frozen_on_the_product_usage_prices_included(self, shop):
        order_id = shop.place(line())
        shop.advance(order_id)
        prices = shop.product_of(order_id)["productPrice"]
        monthly, activation, *usage = prices
        assert monthly == {
            "name": "SIM Only 20 GB monthly fee",
            "priceType": "recurring",
            "productOfferingPrice": {
                "id": "pop-sim-only-20gb-monthly",
                "name": "SIM Only 20 GB monthly fee",
                "@referredType": "ProductOfferingPrice",
            },
            "price": {
                "dutyFreeAmount": euros("16.26"),
                "taxIncludedAmount": euros("20.00"),
                "taxRate": Decimal("23"),
            },
            "recurringChargePeriod": "month",
            "@type": "ProductPrice",
        }
        assert activation["priceType"] == "oneTime"
        assert activation["price"]["taxIncludedAmount"] == euros("10.00")
        assert [price["priceType"] for price in usage] == ["usage"] * 9
        assert usage[0] == {
            "name": "Home data per MB",
            "priceType": "usage",
            "productOfferingPrice": {
                "id": "pop-home-data",
                "name": "Home data per MB",
                "@referredType": "ProductOfferingPrice",
            },
            "price": {
                "dutyFreeAmount": euros("0.04"),
                "taxIncludedAmount": euros("0.05"),
                "taxRate": Decimal("23"),
            },
            "unitOfMeasure": "1 MB",
            "@type": "ProductPrice",
        }

    def test_a_completed_order_has_nothing_left_to_do(self, shop):
        order_id = shop.place(line())
        shop.advance(order_id)
        writes = shop.repository.writes
        assert shop.advance(order_id) == Step("completed")
        assert shop.repository.writes == writes
        assert len(shop.network.submitted) == 1

    def test_a_golden_number_asked_for_is_the_line_s_number(self, shop):
        product = shop.fulfilled_line(msisdn=GOLDEN)
        assert char(product, "msisdn") == GOLDEN
        assert shop.numbers.status(GOLDEN) == ASSIGNED
        assert shop.numbers.status(NUMBERS[0]) == AVAILABLE


class TestRejectedAndPendingOrders:
    def test_an_unacceptable_order_is_rejected_with_every_reason_noted(self, shop):
        order_id = shop.place(line("1", offering="pos-nope"), line("2", iccid="8935"))
        assert shop.advance(order_id) == Step("rejected")
        assert item_states(shop, order_id) == ["rejected", "rejected"]
        assert notes(shop, order_id) == [
            "rejected: item 1: offering pos-nope does not exist",
            "rejected: item 2: the SIM (iccid) is assigned from SIM stock",
        ]
        assert shop.network.submitted == []
        assert shop.numbers.count(AVAILABLE) == 4
        assert shop.all_products() == []

    def test_a_rejected_order_is_not_priced(self, shop):
        order_id = shop.place(line("1", offering="pos-nope"))
        shop.advance(order_id)
        assert "orderTotalPrice" not in shop.order(order_id)

    def test_an_order_lacking_information_waits_for_the_client(self, shop):
        shop.repository.put("customer", {**customer(), "account": []})
        order_id = shop.place(line())
        assert shop.advance(order_id) == Step("pending")
        assert item_states(shop, order_id) == ["pending"]
        assert notes(shop, order_id) == ["information required: billingAccount"]
        required = [
            event.envelope
            for event in shop.repository.events
            if event.event_type == "ProductOrderInformationRequiredEvent"
        ]
        assert len(required) == 1
        assert required[0]["fieldPath"] == "billingAccount"
        assert required[0]["event"]["productOrder"]["state"] == "pending"
        assert shop.advance(order_id) == Step("pending")  # nothing to do until the client acts

    def test_the_client_supplying_what_was_missing_lets_it_go_on(self, shop):
        shop.repository.put("customer", {**customer(), "account": []})
        order_id = shop.place(line())
        shop.advance(order_id)
        shop.repository.put("billingAccount", billing_account("ba-9"))
        account = {"id": "ba-9", "@referredType": "BillingAccount"}
        patched = shop.orders.patch(order_id, Patch(MERGE, {"billingAccount": account}))
        assert patched["state"] == "acknowledged"
        assert shop.advance(order_id) == Step("completed")
        assert shop.product_of(order_id)["billingAccount"] == account
        assert states(shop, "productOrder", order_id, "state") == [
            "acknowledged",
            "pending",
            "acknowledged",
            "inProgress",
            "completed",
        ]


class TestHeldOrders:
    START = "2026-11-26T09:00:00.000Z"

    def test_waits_until_its_requested_start_date(self, shop):
        order_id = shop.place(line(), requestedStartDate=self.START)
        start = datetime(2026, 11, 26, 9, tzinfo=UTC)
        assert shop.advance(order_id) == Step("held", start)
        assert item_states(shop, order_id) == ["held"]
        assert shop.order(order_id)["orderTotalPrice"]  # priced when validated
        writes = shop.repository.writes
        shop.clock.set(start - timedelta(milliseconds=1))
        assert shop.advance(order_id) == Step("held", start)
        assert shop.repository.writes == writes
        assert shop.network.submitted == []

    def test_is_fulfilled_once_the_date_has_come(self, shop):
        order_id = shop.place(line(), requestedStartDate=self.START)
        shop.advance(order_id)
        shop.clock.set(datetime(2026, 11, 26, 9, tzinfo=UTC))
        assert shop.advance(order_id) == Step("completed")
        assert states(shop, "productOrder", order_id, "state") == [
            "acknowledged",
            "held",
            "inProgress",
            "completed",
        ]
        assert shop.product_of(order_id)["startDate"] == self.START

    def test_a_start_date_in_the_past_holds_nothing(self, shop):
        order_id = shop.place(line(), requestedStartDate="2026-11-25T09:00:00.000Z")
        assert shop.advance(order_id) == Step("completed")


class TestTheNetwork:
    def test_while_it_has_not_answered_the_order_is_looked_at_again_shortly(self, shop):
        shop.network.hold()
        order_id = shop.place(line())
        assert shop.advance(order_id) == Step("inProgress", NOW + POLL)
        assert item_states(shop, order_id) == ["inProgress"]
        assert shop.numbers.status(NUMBERS[0]) == RESERVED
        assert shop.sims.status(SIMS[0].iccid) == RESERVED
        assert shop.all_products() == []

    def test_its_answer_completes_the_line_on_a_later_advance(self, shop):
        shop.network.hold()
        order_id = shop.place(line())
        shop.advance(order_id)
        shop.clock.advance(seconds=1)
        shop.network.answer()
        assert shop.advance(order_id) == Step("completed")
        assert len(shop.network.submitted) == 1
        assert shop.network.submissions == 2  # submitted again: idempotent
        assert char(shop.product_of(order_id), "msisdn") == NUMBERS[0]
        assert no_reservation_left(shop)

    def test_a_refusal_releases_the_number_and_sim_and_fails_the_item(self, shop):
        shop.network.refuse("activate", "HLR: IMSI barred")
        order_id = shop.place(line())
        assert shop.advance(order_id) == Step("failed")
        assert item_states(shop, order_id) == ["failed"]
        assert notes(shop, order_id) == [
            "item 1 failed: the network refused the activate: HLR: IMSI barred"
        ]
        assert shop.numbers.status(NUMBERS[0]) == AVAILABLE
        assert shop.sims.status(SIMS[0].iccid) == AVAILABLE
        assert shop.all_products() == []
        assert shop.order(order_id)["completionDate"] == NOW_TEXT

    def test_one_line_failing_of_two_makes_the_order_partial(self, shop):
        shop.network.refuse("activate", "no coverage", msisdn=NUMBERS[1])
        order_id = shop.place(line("1"), line("2"))
        assert shop.advance(order_id) == Step("partial")
        assert item_states(shop, order_id) == ["completed", "failed"]
        assert notes(shop, order_id) == [
            "item 2 failed: the network refused the activate: no coverage"
        ]
        assert [char(p, "msisdn") for p in shop.all_products()] == [NUMBERS[0]]
        assert shop.numbers.status(NUMBERS[1]) == AVAILABLE
        assert shop.sims.status(SIMS[1].iccid) == AVAILABLE


class TestResourcePools:
    def test_no_number_left_fails_the_item_and_takes_no_sim(self, shop):
        for taker in range(4):
            shop.numbers.reserve(f"elsewhere/{taker}")
        order_id = shop.place(line())
        assert shop.advance(order_id) == Step("failed")
        assert notes(shop, order_id) == ["item 1 failed: no mobile number is available in the pool"]
        assert shop.sims.count(AVAILABLE) == 3
        assert shop.network.submitted == []

    def test_no_sim_left_fails_the_item_and_gives_the_number_back(self, shop):
        for taker in range(3):
            shop.sims.reserve(f"elsewhere/{taker}")
        order_id = shop.place(line())
        assert shop.advance(order_id) == Step("failed")
        assert notes(shop, order_id) == ["item 1 failed: no SIM card is available in stock"]
        assert shop.numbers.status(NUMBERS[0]) == AVAILABLE

    def test_a_golden_number_taken_meanwhile_fails_the_item(self, shop):
        shop.numbers.reserve("elsewhere/1", GOLDEN)
        order_id = shop.place(line(msisdn=GOLDEN))
        assert shop.advance(order_id) == Step("failed")
        assert notes(shop, order_id) == [f"item 1 failed: number {GOLDEN} is not available"]
        assert shop.sims.count(AVAILABLE) == 3

    def test_a_golden_number_outside_the_pools_fails_the_item(self, shop):
        order_id = shop.place(line(msisdn="+353851234567"))
        assert shop.advance(order_id) == Step("failed")
        assert notes(shop, order_id) == [
            "item 1 failed: number +353851234567 is not in any number pool"
        ]


class TestAddOnsPromotionsAndBundles:
    def test_an_add_on_ordered_with_its_line_relies_on_it(self, shop):
        order_id = shop.place(line(), add_on("2", ROAMING, on_item="1"))
        assert shop.advance(order_id) == Step("completed")
        plan, roaming = shop.product_of(order_id, "1"), shop.product_of(order_id, "2")
        assert roaming["productOffering"]["id"] == ROAMING
        assert roaming["status"] == "active"
        assert roaming["productRelationship"] == [
            {
                "relationshipType": "reliesOn",
                "product": {"id": plan["id"], "name": plan["name"], "@referredType": "Product"},
            }
        ]
        assert "realizingResource" not in roaming
        assert char(roaming, "roamingZone") == "zone-eu"
        assert shop.network.submitted[1] == NetworkRequest(
            f"{order_id}/2", "modify", NUMBERS[0], services=(PLAN, ROAMING)
        )

    def test_an_add_on_listed_before_its_line_waits_for_it(self, shop):
        order_id = shop.place(add_on("2", ROAMING, on_item="1"), line())
        assert shop.advance(order_id) == Step("completed")
        assert [r.action for r in shop.network.submitted] == ["activate", "modify"]

    def test_an_add_on_of_a_line_that_failed_fails_too(self, shop):
        shop.network.refuse("activate", "no coverage")
        order_id = shop.place(line(), add_on("2", ROAMING, on_item="1"))
        assert shop.advance(order_id) == Step("failed")
        assert notes(shop, order_id) == [
            "item 1 failed: the network refused the activate: no coverage",
            "item 2 failed: item 1, which it relies on, is failed",
        ]

    def test_an_add_on_to_a_line_the_customer_has(self, shop):
        plan = shop.fulfilled_line()
        item = {
            "id": "1",
            "action": "add",
            "productOffering": {"id": ROAMING},
            "product": {"productRelationship": [{"product": {"id": plan["id"]}}]},
        }
        order_id = shop.place(item)
        assert shop.advance(order_id) == Step("completed")
        roaming = shop.product_of(order_id)
        assert roaming["productRelationship"][0]["product"]["id"] == plan["id"]
        assert shop.network.submitted[-1].services == (PLAN, ROAMING)

    def test_the_welcome_promotion_discounts_the_line_and_makes_no_product(self, shop):
        order_id = shop.place(line(), add_on("2", "pos-welcome-promotion", on_item="1"))
        assert shop.advance(order_id) == Step("completed")
        plan = shop.product_of(order_id, "1")
        assert shop.item(order_id, "2")["product"]["id"] == plan["id"]
        assert [p["id"] for p in shop.all_products()] == [plan["id"]]
        monthly = plan["productPrice"][0]  # the list price, the discount beside it
        assert monthly["price"]["taxIncludedAmount"] == euros("20.00")
        [alteration] = monthly["productPriceAlteration"]
        assert alteration["productOfferingPrice"]["id"] == "pop-welcome-50-off"
        assert alteration["applicationDuration"] == 3
        assert alteration["price"]["percentage"] == Decimal("50")
        assert alteration["price"]["taxIncludedAmount"] == euros("-10.00")
        assert [r.action for r in shop.network.submitted] == ["activate"]

    def test_a_family_bundle_is_a_product_made_of_its_lines(self, shop):
        order_id = shop.place(family(line("l1"), line("l2")))
        assert shop.advance(order_id) == Step("completed")
        bundle = shop.product_of(order_id, "b")
        lines = [shop.product_of(order_id, item_id) for item_id in ("l1", "l2")]
        assert bundle["isBundle"] is True
        assert [part["id"] for part in bundle["product"]] == [p["id"] for p in lines]
        assert [char(p, "msisdn") for p in lines] == list(NUMBERS[:2])
        [alteration] = lines[0]["productPrice"][0]["productPriceAlteration"]
        assert alteration["productOfferingPrice"]["id"] == "pop-family-line-discount"
        assert alteration["price"]["taxIncludedAmount"] == euros("-4.00")  # 20 % off 20.00

    def test_a_family_bundle_is_made_of_the_lines_that_could_be_activated(self, shop):
        shop.network.refuse("activate", "no coverage", msisdn=NUMBERS[1])
        order_id = shop.place(family(line("l1"), line("l2")))
        assert shop.advance(order_id) == Step("partial")
        assert item_states(shop, order_id) == ["completed"]
        assert [shop.item(order_id, i)["state"] for i in ("l1", "l2")] == ["completed", "failed"]
        parts = shop.product_of(order_id, "b")["product"]
        assert [part["id"] for part in parts] == [shop.product_of(order_id, "l1")["id"]]

    def test_a_family_bundle_none_of_whose_lines_could_be_activated_fails(self, shop):
        shop.network.refuse("activate", "no coverage")
        order_id = shop.place(family(line("l1"), line("l2")))
        assert shop.advance(order_id) == Step("failed")
        assert notes(shop, order_id)[-1] == (
            "item b failed: none of the bundle's lines could be activated"
        )
        assert shop.all_products() == []


class TestChangingALine:
    def order(self, shop: Shop, *items: dict[str, Any]) -> str:
        order_id = shop.place(*items)
        assert shop.advance(order_id) == Step("completed"), notes(shop, order_id)
        return order_id

    def test_a_plan_change_keeps_the_number_and_sim(self, shop):
        plan = shop.fulfilled_line()
        order_id = self.order(shop, change("1", "modify", plan["id"], "pos-sim-only-5gb"))
        after = shop.product(plan["id"])
        assert after["status"] == "active"
        assert after["name"] == "SIM Only 5 GB"
        assert after["productOffering"]["id"] == "pos-sim-only-5gb"
        assert char(after, "includedDataMB") == 5120
        assert (char(after, "msisdn"), char(after, "iccid")) == (NUMBERS[0], SIMS[0].iccid)
        assert after["realizingResource"] == plan["realizingResource"]
        assert after["productTerm"][0]["name"] == "Monthly rolling"
        monthly, *usage = after["productPrice"]
        assert monthly["name"] == "SIM Only 5 GB monthly fee"
        assert monthly["price"]["taxIncludedAmount"] == euros("10.00")
        assert {price["priceType"] for price in usage} == {"usage"}
        assert [ref["productOrderId"] for ref in after["productOrderItem"]] == [
            plan["productOrderItem"][0]["productOrderId"],
            order_id,
        ]
        assert shop.network.submitted[-1] == NetworkRequest(
            f"{order_id}/1", "modify", NUMBERS[0], services=("pos-sim-only-5gb",)
        )
        assert shop.numbers.status(NUMBERS[0]) == ASSIGNED

    def test_a_plan_change_keeps_the_line_s_add_ons_on_the_network(self, shop):
        order_id = self.order(shop, line(), add_on("2", ROAMING, on_item="1"))
        plan = shop.product_of(order_id)
        self.order(shop, change("1", "modify", plan["id"], "pos-sim-only-5gb"))
        assert shop.network.submitted[-1].services == ("pos-sim-only-5gb", ROAMING)

    def test_a_plan_change_the_network_refuses_leaves_the_product_as_it_was(self, shop):
        plan = shop.fulfilled_line()
        shop.network.refuse("modify", "busy")
        order_id = shop.place(change("1", "modify", plan["id"], "pos-sim-only-5gb"))
        assert shop.advance(order_id) == Step("failed")
        assert notes(shop, order_id) == ["item 1 failed: the network refused the modify: busy"]
        assert shop.product(plan["id"]) == plan

    def test_a_line_is_suspended_then_resumed(self, shop):
        plan = shop.fulfilled_line()
        self.order(shop, change("1", "modify", plan["id"], status="suspended"))
        assert shop.product(plan["id"])["status"] == "suspended"
        self.order(shop, change("1", "modify", plan["id"], status="active"))
        assert shop.product(plan["id"])["status"] == "active"
        assert [r.action for r in shop.network.submitted] == ["activate", "suspend", "resume"]
        assert states(shop, "product", plan["id"], "status") == [
            "created",
            "active",
            "suspended",
            "active",
        ]

    def test_deleting_a_line_terminates_it_and_its_add_ons(self, shop):
        first = self.order(shop, line(), add_on("2", ROAMING, on_item="1"))
        plan, roaming = shop.product_of(first, "1"), shop.product_of(first, "2")
        shop.clock.advance(days=1)
        order_id = self.order(shop, change("1", "delete", plan["id"]))
        ended = "2026-11-26T10:00:00.000Z"
        for product_id in (plan["id"], roaming["id"]):
            product = shop.product(product_id)
            assert (product["status"], product["terminationDate"]) == ("terminated", ended)
            assert product["productOrderItem"][-1]["productOrderId"] == order_id
        assert shop.network.submitted[-1] == NetworkRequest(
            f"{order_id}/1", "deactivate", NUMBERS[0]
        )
        assert shop.numbers.status(NUMBERS[0]) == QUARANTINED
        assert shop.sims.status(SIMS[0].iccid) == RETIRED

    def test_a_number_in_quarantine_is_not_handed_out_again(self, shop):
        plan = shop.fulfilled_line()
        self.order(shop, change("1", "delete", plan["id"]))
        assert char(shop.fulfilled_line(), "msisdn") == NUMBERS[1]

    def test_deleting_an_add_on_takes_it_off_the_line(self, shop):
        first = self.order(shop, line(), add_on("2", ROAMING, on_item="1"))
        plan, roaming = shop.product_of(first, "1"), shop.product_of(first, "2")
        order_id = self.order(shop, change("1", "delete", roaming["id"]))
        assert shop.product(roaming["id"])["status"] == "terminated"
        assert shop.product(plan["id"])["status"] == "active"
        assert shop.network.submitted[-1] == NetworkRequest(
            f"{order_id}/1", "modify", NUMBERS[0], services=(PLAN,)
        )
        assert shop.numbers.status(NUMBERS[0]) == ASSIGNED

    def test_no_change_completes_at_once(self, shop):
        plan = shop.fulfilled_line()
        self.order(shop, change("1", "noChange", plan["id"]))
        assert len(shop.network.submitted) == 1


class TestCancellation:
    def cancel(self, shop: Shop, order_id: str, reason: str | None = None) -> str:
        body: dict[str, Any] = {"productOrder": {"id": order_id}}
        if reason:
            body["cancellationReason"] = reason
        return str(shop.cancellations.create(body)["id"])

    def test_before_fulfilment_cancels_the_order_and_its_items(self, shop):
        order_id = shop.place(line(), line("2"))
        cancellation_id = self.cancel(shop, order_id, "changed my mind")
        assert shop.advance(order_id, cancellation_id) == Step("cancelled")
        order = shop.order(order_id)
        assert item_states(shop, order_id) == ["cancelled", "cancelled"]
        assert (order["cancellationDate"], order["cancellationReason"]) == (
            NOW_TEXT,
            "changed my mind",
        )
        assert states(shop, "productOrder", order_id, "state") == [
            "acknowledged",
            "assessingCancellation",
            "pendingCancellation",
            "cancelled",
        ]
        request = shop.cancellations.get(cancellation_id)
        assert (request["state"], request["effectiveCancellationDate"]) == ("done", NOW_TEXT)
        assert states(shop, "cancelProductOrder", cancellation_id, "state") == [
            "acknowledged",
            "inProgress",
            "done",
        ]
        assert shop.network.submitted == []

    def test_releases_what_the_items_had_reserved(self, shop, monkeypatch):
        crash_once(monkeypatch, shop.network, "submit")  # reserved, never sent to the network
        order_id = shop.place(line())
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert shop.numbers.status(NUMBERS[0]) == RESERVED
        cancellation_id = self.cancel(shop, order_id)
        assert shop.advance(order_id, cancellation_id) == Step("cancelled")
        assert shop.numbers.status(NUMBERS[0]) == AVAILABLE
        assert shop.sims.status(SIMS[0].iccid) == AVAILABLE
        assert shop.network.submitted == []

    def test_is_refused_once_the_network_was_asked(self, shop):
        shop.network.hold()
        order_id = shop.place(line())
        shop.advance(order_id)
        cancellation_id = self.cancel(shop, order_id)
        assert shop.advance(order_id, cancellation_id) == Step("inProgress", NOW + POLL)
        assert notes(shop, order_id) == [
            f"cancellation {cancellation_id} refused: item 1 is already being provisioned "
            "on the network"
        ]
        assert states(shop, "productOrder", order_id, "state")[-3:] == [
            "inProgress",
            "assessingCancellation",
            "inProgress",
        ]
        assert shop.cancellations.get(cancellation_id)["state"] == "terminatedWithError"
        shop.network.answer()
        assert shop.advance(order_id) == Step("completed")

    def test_is_refused_once_an_item_is_completed(self, shop):
        shop.network.hold(NUMBERS[1])
        order_id = shop.place(line("1"), line("2"))
        assert shop.advance(order_id) == Step("inProgress", NOW + POLL)
        cancellation_id = self.cancel(shop, order_id)
        shop.advance(order_id, cancellation_id)
        assert notes(shop, order_id) == [
            f"cancellation {cancellation_id} refused: item 1 is already completed"
        ]
        assert item_states(shop, order_id) == ["completed", "inProgress"]
        assert shop.cancellations.get(cancellation_id)["state"] == "terminatedWithError"

    def test_a_held_order_is_cancelled(self, shop):
        order_id = shop.place(line(), requestedStartDate="2026-12-01T00:00:00.000Z")
        shop.advance(order_id)
        cancellation_id = self.cancel(shop, order_id)
        assert shop.advance(order_id, cancellation_id) == Step("cancelled")
        assert item_states(shop, order_id) == ["cancelled"]
        assert shop.network.submitted == []

    def test_of_an_order_completed_meanwhile_is_refused(self, shop):
        order_id = shop.place(line())
        cancellation_id = self.cancel(shop, order_id)
        assert shop.advance(order_id) == Step("completed")  # fulfilment came first
        assert shop.advance(order_id, cancellation_id) == Step("completed")
        assert shop.cancellations.get(cancellation_id)["state"] == "terminatedWithError"
        assert shop.order(order_id)["state"] == "completed"

    def test_a_pending_order_can_be_cancelled(self, shop):
        shop.repository.put("customer", {**customer(), "account": []})
        order_id = shop.place(line())
        shop.advance(order_id)
        cancellation_id = self.cancel(shop, order_id)
        assert shop.advance(order_id, cancellation_id) == Step("cancelled")

    def test_interrupted_it_is_finished_by_the_next_advance(self, shop, monkeypatch):
        order_id = shop.place(line())
        cancellation_id = self.cancel(shop, order_id)
        crash_once(monkeypatch, shop.numbers, "holding")
        with pytest.raises(Crash):
            shop.advance(order_id, cancellation_id)
        assert shop.order(order_id)["state"] == "pendingCancellation"
        assert shop.advance(order_id) == Step("cancelled")  # finds the open cancellation
        assert shop.cancellations.get(cancellation_id)["state"] == "done"


class TestResumingAfterACrash:
    """A worker that dies anywhere is replaced by one that advances the order again: it
    continues with the same number and SIM, makes one product and leaks no reservation."""

    def resume(self, shop: Shop, order_id: str) -> dict[str, Any]:
        assert shop.advance(order_id) == Step("completed")
        products = shop.all_products()
        assert len(products) == 1
        product = products[0]
        assert product["status"] == "active"
        assert (char(product, "msisdn"), char(product, "iccid")) == (NUMBERS[0], SIMS[0].iccid)
        assert shop.numbers.count(ASSIGNED) == shop.sims.count(ASSIGNED) == 1
        assert no_reservation_left(shop)
        assert len(shop.network.submitted) == 1
        return product

    def test_after_the_network_received_the_activation(self, shop, monkeypatch):
        crash_once(monkeypatch, shop.network, "submit", after=True)
        order_id = shop.place(line())
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert shop.all_products() == []
        self.resume(shop, order_id)

    def test_before_the_network_received_the_activation(self, shop, monkeypatch):
        crash_once(monkeypatch, shop.network, "submit")
        order_id = shop.place(line())
        with pytest.raises(Crash):
            shop.advance(order_id)
        self.resume(shop, order_id)

    def test_when_the_product_could_not_be_created(self, shop, monkeypatch):
        crash_once(monkeypatch, shop.system_products, "create")
        order_id = shop.place(line())
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert shop.all_products() == []
        self.resume(shop, order_id)

    def test_after_the_product_was_created_before_it_was_active(self, shop, monkeypatch):
        crash_once(monkeypatch, shop.numbers, "assign")
        order_id = shop.place(line())
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert [p["status"] for p in shop.all_products()] == ["created"]
        self.resume(shop, order_id)

    def test_when_the_product_was_created_but_not_recorded(self, shop, monkeypatch):
        crash_once(monkeypatch, shop.system_products, "create", after=True)
        order_id = shop.place(line())
        with pytest.raises(Crash):
            shop.advance(order_id)
        self.resume(shop, order_id)

    def test_before_the_completed_order_was_saved(self, shop, monkeypatch):
        shop.network.hold()
        order_id = shop.place(line())
        shop.advance(order_id)
        shop.network.answer()
        crash_once(monkeypatch, shop.system_orders, "change")
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert shop.order(order_id)["state"] == "inProgress"
        assert [p["status"] for p in shop.all_products()] == ["active"]
        self.resume(shop, order_id)

    def test_an_add_on_ordered_with_its_line_makes_one_line(self, shop, monkeypatch):
        def add_on_request(request: NetworkRequest) -> bool:
            return request.action == "modify"

        crash_once(monkeypatch, shop.network, "submit", after=True, when=add_on_request)
        order_id = shop.place(line(), add_on("2", ROAMING, on_item="1"))
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert shop.advance(order_id) == Step("completed")
        products = shop.all_products()
        assert [p["productOffering"]["id"] for p in products] == [PLAN, ROAMING]
        assert [r.action for r in shop.network.submitted] == ["activate", "modify"]
        assert no_reservation_left(shop)

    def test_a_plan_change_applied_but_not_recorded_on_the_order(self, shop, monkeypatch):
        plan = shop.fulfilled_line()
        shop.network.hold()
        order_id = shop.place(change("1", "modify", plan["id"], "pos-sim-only-5gb"))
        assert shop.advance(order_id) == Step("inProgress", NOW + POLL)
        shop.network.answer()
        crash_once(monkeypatch, shop.system_orders, "change")
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert shop.product(plan["id"])["productOffering"]["id"] == "pos-sim-only-5gb"
        assert shop.advance(order_id) == Step("completed")
        assert [r.action for r in shop.network.submitted] == ["activate", "modify"]
        after = shop.product(plan["id"])
        assert after["productOffering"]["id"] == "pos-sim-only-5gb"
        assert [ref["productOrderId"] for ref in after["productOrderItem"]][-1] == order_id
        assert len(after["productOrderItem"]) == 2

    def test_a_suspension_is_sent_once_and_applied_once(self, shop, monkeypatch):
        plan = shop.fulfilled_line()
        crash_once(monkeypatch, shop.system_products, "change")
        order_id = shop.place(change("1", "modify", plan["id"], status="suspended"))
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert shop.advance(order_id) == Step("completed")
        assert shop.product(plan["id"])["status"] == "suspended"
        assert [r.action for r in shop.network.submitted] == ["activate", "suspend"]

    def test_a_deletion_interrupted_before_the_release_still_releases(self, shop, monkeypatch):
        plan = shop.fulfilled_line()
        crash_once(monkeypatch, shop.numbers, "release")
        order_id = shop.place(change("1", "delete", plan["id"]))
        with pytest.raises(Crash):
            shop.advance(order_id)
        assert shop.product(plan["id"])["status"] == "terminated"
        assert shop.numbers.status(NUMBERS[0]) == ASSIGNED
        assert shop.advance(order_id) == Step("completed")
        assert shop.numbers.status(NUMBERS[0]) == QUARANTINED
        assert shop.sims.status(SIMS[0].iccid) == RETIRED
