"""What a client may do with orders, cancellations and products, and the order's states
(domain/ordering.py, domain/inventory.py)."""

from typing import Any

import pytest

from domain.customer import CUSTOMER
from domain.errors import (
    Conflict,
    IllegalTransition,
    InUse,
    InvalidRequest,
    NotPatchable,
    Unprocessable,
)
from domain.inventory import PRODUCT, characteristic, realizing
from domain.ordering import ORDER_LIFECYCLE, PRODUCT_ORDER, roll_up, with_state
from domain.patch import MERGE, Patch
from domain.query import Criterion, PageLimits, parse_list_query
from domain.service import ResourceService
from tests.unit.ordering_setup import (
    CUSTOMER_ID,
    Shop,
    add_on,
    family,
    href_for,
    line,
    order_body,
)


@pytest.fixture
def shop() -> Shop:
    return Shop()


def merge(document: dict[str, Any]) -> Patch:
    return Patch(MERGE, document)


def in_state(shop: Shop, state: str) -> str:
    """An order stored in `state`, as fulfilment would have left it."""
    order_id = shop.place(line())
    order = shop.order(order_id)
    shop.repository.put("productOrder", with_state(order, state))
    return order_id


class TestCreatingAnOrder:
    def test_starts_acknowledged_with_its_items(self, shop):
        created = shop.orders.create(order_body(line(), line("2")))
        assert created["state"] == "acknowledged"
        assert created["orderDate"] == "2026-11-25T10:00:00.000Z"
        assert [item["state"] for item in created["productOrderItem"]] == ["acknowledged"] * 2

    def test_ignores_the_states_dates_and_prices_only_the_server_writes(self, shop):
        price = {"priceType": "recurring", "price": {"taxIncludedAmount": {"value": 0}}}
        item = {**line(), "state": "completed", "itemPrice": [price], "itemTotalPrice": [price]}
        body = order_body(
            item,
            state="completed",
            orderDate="2020-01-01T00:00:00.000Z",
            completionDate="2020-01-02T00:00:00.000Z",
            cancellationDate="2020-01-02T00:00:00.000Z",
            expectedCompletionDate="2020-01-02T00:00:00.000Z",
            orderTotalPrice=[price],
        )
        created = shop.orders.create(body)
        assert created["state"] == "acknowledged"
        assert created["orderDate"] == "2026-11-25T10:00:00.000Z"
        for name in ("completionDate", "cancellationDate", "expectedCompletionDate"):
            assert name not in created
        assert "orderTotalPrice" not in created
        assert created["productOrderItem"] == [{**line(), "state": "acknowledged"}]

    def test_nested_items_start_acknowledged_too(self, shop):
        bundle = family({**line("l1"), "state": "failed"}, line("l2"))
        created = shop.orders.create(order_body(bundle))
        children = created["productOrderItem"][0]["productOrderItem"]
        assert [child["state"] for child in children] == ["acknowledged", "acknowledged"]

    def test_refuses_an_item_id_used_twice(self, shop):
        with pytest.raises(InvalidRequest, match="productOrderItem: id '1' is used twice"):
            shop.orders.create(order_body(line("1"), line("1")))

    def test_refuses_an_item_id_used_twice_across_a_bundle(self, shop):
        with pytest.raises(InvalidRequest, match="id 'b' is used twice"):
            shop.orders.create(order_body(family(line("b"))))

    def test_refuses_a_relationship_to_an_item_not_in_the_order(self, shop):
        with pytest.raises(
            InvalidRequest,
            match="productOrderItem 2: productOrderItemRelationship names item '7', which "
            "is not in the order",
        ):
            shop.orders.create(order_body(line(), add_on("2", "pos-eu-roaming-pack", "7")))

    def test_refuses_an_item_relating_to_itself(self, shop):
        with pytest.raises(InvalidRequest, match="productOrderItem 2 cannot relate to itself"):
            shop.orders.create(order_body(line(), add_on("2", "pos-eu-roaming-pack", "2")))

    def test_stores_nothing_it_refuses(self, shop):
        with pytest.raises(InvalidRequest):
            shop.orders.create(order_body(line("1"), line("1")))
        assert shop.repository.writes == 0

    def test_an_unacceptable_but_well_formed_order_is_accepted_for_now(self, shop):
        # business validation is fulfilment's: the order is rejected later, with reasons
        created = shop.orders.create(order_body(line(offering="pos-nope")))
        assert created["state"] == "acknowledged"


class TestPatchingAnOrder:
    def test_its_state_is_not_patchable(self, shop):
        order_id = shop.place(line())
        with pytest.raises(NotPatchable) as refused:
            shop.orders.patch(order_id, merge({"state": "inProgress"}))
        assert refused.value.message == (
            "state: not patchable while the order is acknowledged; cancel it with "
            "cancelProductOrder"
        )

    def test_a_state_it_cannot_reach_is_an_illegal_transition(self, shop):
        order_id = shop.place(line())
        with pytest.raises(IllegalTransition):
            shop.orders.patch(order_id, merge({"state": "cancelled"}))
        assert shop.order(order_id)["state"] == "acknowledged"

    @pytest.mark.parametrize("state", ["acknowledged", "pending"])
    def test_the_billing_account_is_patchable_before_validation(self, shop, state):
        order_id = in_state(shop, state)
        account = {"id": "ba-2", "@referredType": "BillingAccount"}
        patched = shop.orders.patch(order_id, merge({"billingAccount": account}))
        assert patched["billingAccount"] == account
        assert patched["state"] == "acknowledged"  # a pending order is validated again

    @pytest.mark.parametrize("state", ["inProgress", "held", "completed"])
    def test_the_billing_account_is_not_patchable_once_validated(self, shop, state):
        order_id = in_state(shop, state)
        with pytest.raises(NotPatchable) as refused:
            shop.orders.patch(order_id, merge({"billingAccount": {"id": "ba-2"}}))
        assert refused.value.message == (
            f"billingAccount: not patchable while the order is {state}"
        )

    def test_items_patched_before_validation_start_again(self, shop):
        order_id = in_state(shop, "pending")
        patched = shop.orders.patch(
            order_id, merge({"productOrderItem": [line(offering="pos-sim-only-5gb")]})
        )
        assert patched["productOrderItem"] == [
            {**line(offering="pos-sim-only-5gb"), "state": "acknowledged"}
        ]

    def test_items_patched_are_checked_like_new_ones(self, shop):
        order_id = shop.place(line())
        with pytest.raises(InvalidRequest, match="used twice"):
            shop.orders.patch(order_id, merge({"productOrderItem": [line(), line()]}))

    def test_a_description_and_notes_are_patchable_at_any_time(self, shop):
        order_id = in_state(shop, "inProgress")
        note = {"text": "call before delivery", "author": "agent 7"}
        patched = shop.orders.patch(order_id, merge({"description": "x", "note": [note]}))
        assert (patched["description"], patched["note"], patched["state"]) == (
            "x",
            [note],
            "inProgress",
        )

    def test_prices_are_never_patchable(self, shop):
        order_id = shop.place(line())
        with pytest.raises(NotPatchable, match="orderTotalPrice"):
            shop.orders.patch(order_id, merge({"orderTotalPrice": []}))


class TestDeletingAnOrder:
    @pytest.mark.parametrize(
        "state", ["acknowledged", "pending", "held", "inProgress", "completed", "partial"]
    )
    def test_an_order_that_may_have_reached_the_customer_stays(self, shop, state):
        order_id = in_state(shop, state)
        with pytest.raises(Conflict, match=f"ProductOrder {order_id} is {state}"):
            shop.orders.delete(order_id)
        assert shop.order(order_id)["state"] == state

    @pytest.mark.parametrize("state", ["rejected", "cancelled", "failed"])
    def test_an_order_that_came_to_nothing_can_be_deleted(self, shop, state):
        order_id = in_state(shop, state)
        shop.orders.delete(order_id)
        assert shop.repository.stored("productOrder", order_id) is None
        assert shop.repository.events[-1].event_type == "ProductOrderDeleteEvent"


class TestCancelProductOrder:
    def cancel(self, shop: Shop, order_id: str) -> dict[str, Any]:
        return shop.cancellations.create({"productOrder": {"id": order_id}})

    def test_starts_acknowledged(self, shop):
        order_id = shop.place(line())
        created = self.cancel(shop, order_id)
        assert created["state"] == "acknowledged"
        assert created["@type"] == "CancelProductOrder"

    def test_ignores_a_state_and_effective_date_sent_by_the_client(self, shop):
        order_id = shop.place(line())
        created = shop.cancellations.create(
            {
                "productOrder": {"id": order_id},
                "state": "done",
                "effectiveCancellationDate": "2026-01-01T00:00:00.000Z",
            }
        )
        assert created["state"] == "acknowledged"
        assert "effectiveCancellationDate" not in created

    def test_of_an_unknown_order_is_unprocessable(self, shop):
        with pytest.raises(Unprocessable, match="productOrder: order 'nope' does not exist"):
            self.cancel(shop, "nope")

    @pytest.mark.parametrize("state", ["completed", "rejected", "failed", "partial", "cancelled"])
    def test_of_a_finished_order_is_a_conflict(self, shop, state):
        order_id = in_state(shop, state)
        with pytest.raises(Conflict) as refused:
            self.cancel(shop, order_id)
        assert refused.value.message == (
            f"order {order_id} is {state} and can no longer be cancelled"
        )

    @pytest.mark.parametrize("state", ["acknowledged", "pending", "held", "inProgress"])
    def test_of_an_order_not_yet_finished_is_accepted(self, shop, state):
        order_id = in_state(shop, state)
        assert self.cancel(shop, order_id)["state"] == "acknowledged"

    def test_a_second_open_cancellation_is_a_conflict(self, shop):
        order_id = shop.place(line())
        first = self.cancel(shop, order_id)
        with pytest.raises(Conflict) as refused:
            self.cancel(shop, order_id)
        assert refused.value.message == (
            f"order {order_id} already has an open cancellation: {first['id']}"
        )

    def test_a_new_cancellation_after_a_refused_one_is_accepted(self, shop):
        shop.network.hold()
        order_id = shop.place(line())
        shop.advance(order_id)
        first = self.cancel(shop, order_id)
        shop.advance(order_id, first["id"])  # refused: the network was asked
        assert shop.cancellations.get(first["id"])["state"] == "terminatedWithError"
        assert self.cancel(shop, order_id)["state"] == "acknowledged"


class TestProductsForClients:
    @pytest.fixture
    def product(self, shop: Shop) -> dict[str, Any]:
        return shop.fulfilled_line()

    @pytest.mark.parametrize(
        "change",
        [
            {"status": "suspended"},
            {"status": "terminated"},
            {"productOffering": {"id": "pos-sim-only-5gb"}},
            {"billingAccount": {"id": "ba-2"}},
            {"productCharacteristic": []},
        ],
    )
    def test_what_an_order_changes_is_not_patchable(self, shop, product, change):
        with pytest.raises(NotPatchable) as refused:
            shop.products.patch(product["id"], merge(change))
        assert refused.value.message == (
            f"{next(iter(change))}: a product changes through a product order (TMF622); "
            "only description, isCustomerVisible, name can be patched"
        )
        assert shop.product(product["id"]) == product

    def test_its_name_and_description_are_patchable(self, shop, product):
        patched = shop.products.patch(
            product["id"], merge({"name": "Mam's phone", "description": "the blue one"})
        )
        assert (patched["name"], patched["description"]) == ("Mam's phone", "the blue one")
        assert patched["status"] == "active"

    def test_is_found_by_msisdn_or_iccid_among_several(self, shop, product):
        other = shop.fulfilled_line()
        msisdn, iccid = realizing(product, "MSISDN"), realizing(other, "SIM")
        assert (msisdn, iccid) == (
            characteristic(product, "msisdn"),
            characteristic(other, "iccid"),
        )
        query = parse_list_query(
            [("msisdn", f"{msisdn},+353830000000")],
            PRODUCT.filters,
            PageLimits(),
            PRODUCT.derived_filters,
        )
        assert [found["id"] for found in shop.products.list(query)[0]] == [product["id"]]
        query = parse_list_query(
            [("iccid", iccid)], PRODUCT.filters, PageLimits(), PRODUCT.derived_filters
        )
        assert [found["id"] for found in shop.products.list(query)[0]] == [other["id"]]

    def test_msisdn_and_iccid_are_filters_on_the_realizing_resources(self):
        for name in ("msisdn", "iccid"):
            assert PRODUCT.derived_filters[name]("a,b") == (
                Criterion("realizingResource.id", "eq", ("a", "b")),
            )

    def test_a_customer_with_products_cannot_be_removed(self, shop, product):
        customers = ResourceService(CUSTOMER, shop.repository, shop.clock, shop.ids, href_for)
        order_id = product["productOrderItem"][0]["productOrderId"]
        shop.repository.remove(PRODUCT_ORDER, shop.system_orders.load(order_id), [])
        with pytest.raises(InUse, match=f"by product {product['id']}"):
            customers.delete(CUSTOMER_ID)


class TestOrderStates:
    @pytest.mark.parametrize(
        ("items", "state"),
        [
            (["completed", "completed"], "completed"),
            (["completed", "cancelled"], "completed"),
            (["completed", "failed"], "partial"),
            (["failed", "failed"], "failed"),
            (["failed", "rejected"], "failed"),
            (["cancelled", "rejected"], "failed"),
            (["completed", "inProgress"], None),
            (["acknowledged"], None),
        ],
    )
    def test_items_roll_up_to_the_order_once_all_are_final(self, items, state):
        assert roll_up([{"state": s} for s in items]) == state

    def test_with_state_moves_the_items_not_yet_final_along(self):
        order = {
            "id": "o1",
            "state": "inProgress",
            "productOrderItem": [
                {"id": "1", "state": "completed"},
                {
                    "id": "2",
                    "state": "inProgress",
                    "productOrderItem": [
                        {"id": "3", "state": "failed"},
                        {"id": "4", "state": "held"},
                    ],
                },
            ],
        }
        after = with_state(order, "cancelled")
        assert after["state"] == "cancelled"
        assert [item["state"] for item in after["productOrderItem"]] == ["completed", "cancelled"]
        nested = after["productOrderItem"][1]["productOrderItem"]
        assert [item["state"] for item in nested] == ["failed", "cancelled"]
        assert order["productOrderItem"][1]["state"] == "inProgress"  # a copy

    @pytest.mark.parametrize(
        ("before", "after"),
        [
            ("acknowledged", "inProgress"),
            ("pending", "acknowledged"),
            ("held", "inProgress"),
            ("inProgress", "partial"),
            ("assessingCancellation", "inProgress"),
            ("pendingCancellation", "cancelled"),
        ],
    )
    def test_allowed_transitions(self, before, after):
        ORDER_LIFECYCLE.check(before, after)

    @pytest.mark.parametrize(
        ("before", "after"),
        [
            ("acknowledged", "completed"),
            ("pending", "inProgress"),
            ("inProgress", "acknowledged"),
            ("pendingCancellation", "inProgress"),
            ("completed", "assessingCancellation"),
            ("rejected", "acknowledged"),
        ],
    )
    def test_refused_transitions(self, before, after):
        with pytest.raises(IllegalTransition):
            ORDER_LIFECYCLE.check(before, after)
