"""Validation and pricing of a product order against the starter catalog, one customer and
the inventory (domain/order_validation.py)."""

from decimal import Decimal
from typing import Any

import pytest

from domain.order_validation import ADDON, BUNDLE, LINE, PROMOTION, offer_of, price_order, validate
from tests.unit.ordering_setup import (
    CUSTOMER_ID,
    Shop,
    add_on,
    billing_account,
    change,
    customer,
    family,
    line,
    order_body,
    party,
)

EUR = "EUR"
VAT = Decimal("23")


@pytest.fixture
def shop() -> Shop:
    return Shop()


def verdict_of(shop: Shop, order: dict[str, Any]) -> tuple[list[str], list[str]]:
    verdict = validate(order, shop.lookup, shop.clock.now())
    return verdict.reasons, verdict.missing


def reasons(shop: Shop, *items: dict[str, Any], **attributes: Any) -> list[str]:
    found, missing = verdict_of(shop, order_body(*items, **attributes))
    assert missing == []
    return found


def change_offering(shop: Shop, offering_id: str, **attributes: Any) -> None:
    offering = shop.repository.stored("productOffering", offering_id)
    assert offering is not None
    shop.repository.put("productOffering", {**offering, **attributes})


class TestOfferKinds:
    @pytest.mark.parametrize(
        ("offering", "kind"),
        [
            ("pos-sim-only-20gb", LINE),
            ("pos-prepaid-15", LINE),
            ("pos-eu-roaming-pack", ADDON),
            ("pos-data-topup-10gb", ADDON),
            ("pos-family-bundle", BUNDLE),
            # its specification is the plan's (with an msisdn), its only price a discount
            ("pos-welcome-promotion", PROMOTION),
        ],
    )
    def test_an_offering_is_a_line_an_add_on_a_bundle_or_a_promotion(self, shop, offering, kind):
        offer = offer_of(shop.lookup, offering)
        assert offer is not None
        assert offer.kind == kind

    def test_an_unknown_offering_has_no_offer(self, shop):
        assert offer_of(shop.lookup, "pos-nope") is None


class TestAcceptedOrders:
    def test_a_line_of_an_approved_customer_is_accepted(self, shop):
        assert verdict_of(shop, order_body(line())) == ([], [])

    def test_a_validated_customer_may_order_too(self, shop):
        shop.repository.put("customer", customer(status="Validated"))
        assert verdict_of(shop, order_body(line())) == ([], [])

    def test_a_line_with_its_welcome_promotion_and_an_add_on_is_accepted(self, shop):
        order = order_body(
            line(),
            add_on("2", "pos-welcome-promotion", on_item="1"),
            add_on("3", "pos-eu-roaming-pack", on_item="1"),
        )
        assert verdict_of(shop, order) == ([], [])

    def test_a_golden_number_matching_the_numbering_plan_is_accepted(self, shop):
        assert verdict_of(shop, order_body(line(msisdn="+353831234567"))) == ([], [])

    @pytest.mark.parametrize("count", [2, 5])
    def test_a_family_bundle_of_two_to_five_lines_is_accepted(self, shop, count):
        lines = [line(f"l{n}") for n in range(count)]
        assert verdict_of(shop, order_body(family(*lines))) == ([], [])

    def test_a_plan_change_is_accepted(self, shop):
        shop.put_product("p1")
        order = order_body(change("1", "modify", "p1", offering="pos-sim-only-5gb"))
        assert verdict_of(shop, order) == ([], [])

    @pytest.mark.parametrize(
        ("status", "wanted"), [("active", "suspended"), ("suspended", "active")]
    )
    def test_a_suspension_or_resumption_is_accepted(self, shop, status, wanted):
        shop.put_product("p1", status=status)
        order = order_body(change("1", "modify", "p1", status=wanted))
        assert verdict_of(shop, order) == ([], [])

    def test_an_add_on_to_a_line_the_customer_has_is_accepted(self, shop):
        shop.put_product("p1")
        item = {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "pos-eu-roaming-pack"},
            "product": {
                "productRelationship": [{"relationshipType": "reliesOn", "product": {"id": "p1"}}]
            },
        }
        assert verdict_of(shop, order_body(item)) == ([], [])


class TestTheCustomer:
    def test_an_unknown_customer_is_a_reason(self, shop):
        order = order_body(line(), relatedParty=[party("c9")])
        # with no customer, no billing account can be derived either
        assert verdict_of(shop, order) == (["customer c9 does not exist"], ["billingAccount"])

    @pytest.mark.parametrize("status", ["Initialized", "Suspended", "Closed"])
    def test_a_customer_who_may_not_order_is_a_reason(self, shop, status):
        shop.repository.put("customer", customer(status=status))
        assert reasons(shop, line()) == [
            f"customer c1 is {status}: only a Validated or Approved customer may order"
        ]

    def test_without_a_party_of_role_customer_the_customer_and_account_are_missing(self, shop):
        someone = {"id": CUSTOMER_ID, "role": "Payer"}
        order = order_body(line(), relatedParty=[someone])
        assert verdict_of(shop, order) == ([], ["relatedParty", "billingAccount"])

    def test_two_customers_are_a_reason(self, shop):
        order = order_body(line(), relatedParty=[party(), party("c2")])
        assert verdict_of(shop, order) == (
            ["relatedParty: an order has one party with role Customer"],
            [],
        )

    def test_a_customer_without_an_account_leaves_the_billing_account_missing(self, shop):
        shop.repository.put("customer", {**customer(), "account": []})
        assert verdict_of(shop, order_body(line())) == ([], ["billingAccount"])

    def test_a_billing_account_on_the_order_needs_no_account_on_the_customer(self, shop):
        shop.repository.put("customer", {**customer(), "account": []})
        shop.repository.put("billingAccount", billing_account("ba-7"))
        order = order_body(line(), billingAccount={"id": "ba-7"})
        assert verdict_of(shop, order) == ([], [])


class TestTheBillingAccount:
    @pytest.mark.parametrize("state", ["Active", "Suspended"])
    def test_an_open_account_of_the_customer_is_accepted(self, shop, state):
        shop.repository.put("billingAccount", billing_account(state=state))
        assert verdict_of(shop, order_body(line())) == ([], [])

    def test_an_unknown_account_on_the_order_is_a_reason(self, shop):
        order = order_body(line(), billingAccount={"id": "ba-7"})
        assert verdict_of(shop, order) == (["billing account ba-7 does not exist"], [])

    def test_an_unknown_account_on_the_items_is_a_reason(self, shop):
        order = order_body({**line(), "billingAccount": {"id": "ba-7"}})
        assert verdict_of(shop, order) == (["billing account ba-7 does not exist"], [])

    def test_an_unknown_account_of_the_customer_record_is_a_reason(self, shop):
        shop.repository.put("customer", {**customer(), "account": [{"id": "ba-7"}]})
        assert verdict_of(shop, order_body(line())) == (["billing account ba-7 does not exist"], [])

    def test_another_customers_account_is_a_reason(self, shop):
        shop.repository.put("billingAccount", billing_account("ba-2", owner="c2"))
        order = order_body(line(), billingAccount={"id": "ba-2"})
        assert verdict_of(shop, order) == (["billing account ba-2 is not the customer's"], [])

    def test_an_account_naming_no_owner_is_not_the_customers(self, shop):
        shop.repository.put("billingAccount", {**billing_account(), "relatedParty": []})
        assert reasons(shop, line()) == ["billing account ba-1 is not the customer's"]

    def test_a_closed_account_is_a_reason(self, shop):
        shop.repository.put("billingAccount", billing_account(state="Closed"))
        assert reasons(shop, line()) == ["billing account ba-1 is Closed"]

    def test_every_reason_of_the_account_is_given(self, shop):
        shop.repository.put("billingAccount", billing_account("ba-2", "c2", "Closed"))
        assert reasons(shop, line(), billingAccount={"id": "ba-2"}) == [
            "billing account ba-2 is not the customer's",
            "billing account ba-2 is Closed",
        ]

    def test_with_no_customer_only_the_account_itself_is_checked(self, shop):
        shop.repository.put("billingAccount", billing_account(state="Closed"))
        order = order_body(line(), relatedParty=[party("c9")], billingAccount={"id": "ba-1"})
        assert verdict_of(shop, order) == (
            ["customer c9 does not exist", "billing account ba-1 is Closed"],
            [],
        )


class TestTheOffering:
    def test_an_unknown_offering_is_a_reason(self, shop):
        assert reasons(shop, line(offering="pos-nope")) == [
            "item 1: offering pos-nope does not exist"
        ]

    def test_an_item_adding_nothing_misses_its_offering(self, shop):
        order = order_body({"id": "1", "action": "add"})
        assert verdict_of(shop, order) == ([], ["productOrderItem[1].productOffering"])

    def test_an_offering_not_launched_is_a_reason(self, shop):
        change_offering(shop, "pos-sim-only-5gb", lifecycleStatus="Retired")
        assert reasons(shop, line(offering="pos-sim-only-5gb")) == [
            "item 1: offering pos-sim-only-5gb is Retired, not Launched"
        ]

    def test_an_offering_not_sellable_on_its_own_is_a_reason(self, shop):
        assert reasons(shop, line(offering="pos-row-roaming-rates")) == [
            "item 1: offering pos-row-roaming-rates is not sellable on its own"
        ]

    def test_an_offering_outside_its_validity_is_a_reason(self, shop):
        period = {
            "startDateTime": "2026-01-01T00:00:00.000Z",
            "endDateTime": "2026-06-01T00:00:00.000Z",
        }
        change_offering(shop, "pos-sim-only-5gb", validFor=period)
        assert reasons(shop, line(offering="pos-sim-only-5gb")) == [
            "item 1: offering pos-sim-only-5gb is not valid at 2026-11-25T10:00:00.000Z"
        ]

    def test_more_than_one_line_in_an_item_is_a_reason(self, shop):
        assert reasons(shop, {**line(), "quantity": 2}) == [
            "item 1: order one line per item (quantity 1)"
        ]


class TestCharacteristics:
    def test_an_unknown_characteristic_is_a_reason(self, shop):
        assert reasons(shop, line(colour="blue")) == [
            "item 1: characteristic 'colour' is not in specification ps-mobile-postpaid"
        ]

    def test_a_value_the_offering_fixes_cannot_be_changed(self, shop):
        assert reasons(shop, line(includedDataMB=999)) == [
            "item 1: includedDataMB is 20480 in offering pos-sim-only-20gb, not 999"
        ]

    def test_the_value_the_offering_fixes_may_be_repeated(self, shop):
        assert reasons(shop, line(includedDataMB=20480)) == []

    def test_a_characteristic_not_configurable_cannot_be_chosen(self, shop):
        assert reasons(shop, line(dataSpeedMbps=10)) == ["item 1: dataSpeedMbps cannot be chosen"]

    def test_a_golden_number_outside_the_numbering_plan_is_a_reason(self, shop):
        assert reasons(shop, line(msisdn="+447700900123")) == [
            r"item 1: msisdn: '+447700900123' does not match ^\+3538[35-9]\d{7}$"
        ]

    def test_a_golden_number_must_be_a_string(self, shop):
        assert reasons(shop, line(msisdn=353831234567)) == [
            "item 1: msisdn: '353831234567' is not a string"
        ]

    def test_the_sim_cannot_be_chosen(self, shop):
        assert reasons(shop, line(iccid="8935301000000000001")) == [
            "item 1: the SIM (iccid) is assigned from SIM stock"
        ]


class TestBundles:
    @pytest.mark.parametrize("count", [1, 6])
    def test_a_family_bundle_takes_two_to_five_lines(self, shop, count):
        lines = [line(f"l{n}") for n in range(count)]
        assert reasons(shop, family(*lines)) == [
            f"item b: bundle pos-family-bundle takes 2 to 5 items of pos-sim-only-20gb, not {count}"
        ]

    def test_a_foreign_offering_in_a_bundle_is_a_reason(self, shop):
        lines = [line("l1"), line("l2"), line("l3", offering="pos-sim-only-5gb")]
        assert reasons(shop, family(*lines)) == [
            "item b: pos-sim-only-5gb is not part of bundle pos-family-bundle (item l3)"
        ]

    def test_a_line_of_a_bundle_is_checked_like_any_line(self, shop):
        lines = [line("l1"), line("l2", msisdn="+1")]
        assert reasons(shop, family(*lines)) == [
            r"item l2: msisdn: '+1' does not match ^\+3538[35-9]\d{7}$"
        ]


class TestAddOnsAndPromotions:
    def test_an_add_on_without_a_line_is_a_reason(self, shop):
        assert reasons(shop, line("1", offering="pos-eu-roaming-pack")) == [
            "item 1: an add-on needs the line it applies to: a productOrderItemRelationship "
            "to the plan's item, or a productRelationship to the customer's plan product"
        ]

    def test_an_add_on_to_a_line_being_deleted_is_a_reason(self, shop):
        shop.put_product("p1")
        assert reasons(
            shop, change("1", "delete", "p1"), add_on("2", "pos-eu-roaming-pack", on_item="1")
        ) == ["item 2: item 1 is not a line this can apply to"]

    def test_an_add_on_to_a_terminated_line_is_a_reason(self, shop):
        shop.put_product("p1", status="terminated")
        item = {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "pos-eu-roaming-pack"},
            "product": {"productRelationship": [{"product": {"id": "p1"}}]},
        }
        assert reasons(shop, item) == ["item 1: product p1 is not an active line"]

    def test_a_promotion_applies_only_to_a_line_ordered_with_it(self, shop):
        shop.put_product("p1")
        item = {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "pos-welcome-promotion"},
            "product": {"productRelationship": [{"product": {"id": "p1"}}]},
        }
        assert reasons(shop, item) == ["item 1: a promotion applies to a line ordered with it"]


class TestChangesOfProducts:
    def test_a_product_of_another_customer_cannot_be_changed(self, shop):
        shop.put_product("p2", owner="c2")
        assert reasons(shop, change("1", "modify", "p2", status="suspended")) == [
            "item 1: product p2 is not the customer's"
        ]

    def test_a_terminated_product_cannot_be_changed(self, shop):
        shop.put_product("p1", status="terminated")
        assert reasons(shop, change("1", "modify", "p1", offering="pos-sim-only-5gb")) == [
            "item 1: product p1 is terminated"
        ]

    @pytest.mark.parametrize(
        ("offering", "status"), [(None, None), ("pos-sim-only-20gb", None), (None, "active")]
    )
    def test_a_modify_that_changes_nothing_is_a_reason(self, shop, offering, status):
        shop.put_product("p1")
        assert reasons(shop, change("1", "modify", "p1", offering, status)) == [
            "item 1: the modify changes nothing (give another productOffering, or "
            "product.status suspended/active)"
        ]

    def test_a_modify_sets_no_other_status(self, shop):
        shop.put_product("p1")
        assert reasons(shop, change("1", "modify", "p1", status="terminated")) == [
            "item 1: a modify can set status suspended or active only"
        ]

    def test_plan_and_status_change_in_separate_items(self, shop):
        shop.put_product("p1")
        assert reasons(shop, change("1", "modify", "p1", "pos-sim-only-5gb", "suspended")) == [
            "item 1: change the plan and the status in separate items"
        ]

    def test_only_a_line_is_suspended(self, shop):
        shop.put_product("p1", realizingResource=[])
        assert reasons(shop, change("1", "modify", "p1", status="suspended")) == [
            "item 1: product p1 is not a line; suspend or resume its line"
        ]

    def test_a_delete_naming_another_offering_is_a_reason(self, shop):
        shop.put_product("p1")
        assert reasons(shop, change("1", "delete", "p1", "pos-sim-only-5gb")) == [
            "item 1: product p1 is of offering pos-sim-only-20gb, not pos-sim-only-5gb"
        ]

    def test_only_a_plan_changes_to_another_offering(self, shop):
        shop.put_product("p1")
        assert reasons(shop, change("1", "modify", "p1", offering="pos-eu-roaming-pack")) == [
            "item 1: only a plan can be changed to another offering"
        ]

    def test_deleting_an_unknown_product_is_a_reason(self, shop):
        assert reasons(shop, change("1", "delete", "nope")) == [
            "item 1: product nope does not exist"
        ]

    def test_a_change_without_a_product_id_misses_it(self, shop):
        order = order_body({"id": "1", "action": "delete", "product": {}})
        assert verdict_of(shop, order) == ([], ["productOrderItem[1].product.id"])

    def test_one_product_is_changed_by_one_item(self, shop):
        shop.put_product("p1")
        assert reasons(
            shop, change("1", "modify", "p1", status="suspended"), change("2", "delete", "p1")
        ) == ["item 2: product p1 is already changed by item 1"]

    def test_a_new_product_names_no_id(self, shop):
        item = {**line(), "product": {"id": "p1"}}
        assert reasons(shop, item) == ["item 1: a new product cannot name an existing id"]


class TestSeveralReasons:
    def test_every_reason_and_everything_missing_are_collected(self, shop):
        shop.repository.put("customer", {**customer(status="Suspended"), "account": []})
        order = order_body(
            line("1", offering="pos-nope"),
            line("2", iccid="8935301000000000001", msisdn="+1"),
            {"id": "3", "action": "delete", "product": {}},
            change("4", "delete", "nope"),
        )
        assert verdict_of(shop, order) == (
            [
                "customer c1 is Suspended: only a Validated or Approved customer may order",
                "item 1: offering pos-nope does not exist",
                "item 2: the SIM (iccid) is assigned from SIM stock",
                r"item 2: msisdn: '+1' does not match ^\+3538[35-9]\d{7}$",
                "item 4: product nope does not exist",
            ],
            ["billingAccount", "productOrderItem[3].product.id"],
        )


# pricing -----------------------------------------------------------------------------------


def money(value: str) -> dict[str, Any]:
    return {"unit": EUR, "value": Decimal(value)}


def pop_ref(pop_id: str, name: str) -> dict[str, Any]:
    return {"id": pop_id, "name": name, "@referredType": "ProductOfferingPrice"}


MONTHLY_20GB = {
    "name": "SIM Only 20 GB monthly fee",
    "priceType": "recurring",
    "productOfferingPrice": pop_ref("pop-sim-only-20gb-monthly", "SIM Only 20 GB monthly fee"),
    "price": {
        "dutyFreeAmount": money("16.26"),
        "taxIncludedAmount": money("20.00"),
        "taxRate": VAT,
    },
    "recurringChargePeriod": "month",
    "@type": "OrderPrice",
}
ACTIVATION = {
    "name": "Activation fee",
    "priceType": "oneTime",
    "productOfferingPrice": pop_ref("pop-activation-fee", "Activation fee"),
    "price": {
        "dutyFreeAmount": money("8.13"),
        "taxIncludedAmount": money("10.00"),
        "taxRate": VAT,
    },
    "@type": "OrderPrice",
}
WELCOME = pop_ref("pop-welcome-50-off", "Welcome offer 50 % off")


def priced(shop: Shop, *items: dict[str, Any]) -> dict[str, Any]:
    order = order_body(*items)
    price_order(order, shop.lookup, shop.clock.now())
    return order


def total(price_type: str, duty_free: str, tax_included: str, period: str | None = None):
    shown: dict[str, Any] = {
        "name": f"Total {price_type}" + (f" per {period}" if period else ""),
        "priceType": price_type,
        "price": {"dutyFreeAmount": money(duty_free), "taxIncludedAmount": money(tax_included)},
        "@type": "OrderPrice",
    }
    if period:
        shown["recurringChargePeriod"] = period
    return shown


class TestPricing:
    def test_a_line_shows_its_monthly_fee_and_activation_fee(self, shop):
        item = priced(shop, line())["productOrderItem"][0]
        assert item["itemPrice"] == [MONTHLY_20GB, ACTIVATION]
        assert item["itemTotalPrice"] == [MONTHLY_20GB, ACTIVATION]

    def test_usage_prices_never_appear_on_the_order(self, shop):
        order = priced(shop, line(), line("2", offering="pos-prepaid-15"))
        types = {
            shown["priceType"]
            for item in order["productOrderItem"]
            for shown in item["itemPrice"] + item["itemTotalPrice"]
        }
        assert types == {"recurring", "oneTime"}

    def test_the_welcome_promotion_halves_the_monthly_fee_for_three_months(self, shop):
        order = priced(shop, line(), add_on("2", "pos-welcome-promotion", on_item="1"))
        plan, promotion = order["productOrderItem"]
        assert plan["itemPrice"] == [MONTHLY_20GB, ACTIVATION]
        alteration = {
            "name": "Welcome offer 50 % off",
            "priceType": "recurring",
            "productOfferingPrice": WELCOME,
            "price": {
                "percentage": Decimal("50"),
                "dutyFreeAmount": money("-8.13"),
                "taxIncludedAmount": money("-10.00"),
                "taxRate": VAT,
            },
            "applicationDuration": 3,
            "recurringChargePeriod": "month",
            "@type": "PriceAlteration",
        }
        discounted = {
            **MONTHLY_20GB,
            "price": {
                "dutyFreeAmount": money("8.13"),
                "taxIncludedAmount": money("10.00"),
                "taxRate": VAT,
            },
            "priceAlteration": [alteration],
        }
        assert plan["itemTotalPrice"] == [discounted, ACTIVATION]
        assert (promotion["itemPrice"], promotion["itemTotalPrice"]) == ([], [])
        assert order["orderTotalPrice"] == [
            total("recurring", "8.13", "10.00", "month"),
            total("oneTime", "8.13", "10.00"),
        ]

    def test_the_order_total_sums_by_price_type_and_period(self, shop):
        order = priced(
            shop,
            line(),
            add_on("2", "pos-eu-roaming-pack", on_item="1"),
            line("3", offering="pos-prepaid-15"),
        )
        # 16.26 + 4.88 a month (20.00 + 6.00), 8.13 once (10.00), 12.19 every 28 days (14.99)
        assert order["orderTotalPrice"] == [
            total("recurring", "21.14", "26.00", "month"),
            total("oneTime", "8.13", "10.00"),
            total("recurring", "12.19", "14.99", "28 days"),
        ]

    def test_a_quantity_multiplies_the_price(self, shop):
        order = priced(shop, line(), {**add_on("2", "pos-data-topup-10gb", "1"), "quantity": 2})
        top_up = order["productOrderItem"][1]["itemPrice"]
        assert [shown["price"]["dutyFreeAmount"] for shown in top_up] == [money("16.26")]
        assert [shown["price"]["taxIncludedAmount"] for shown in top_up] == [money("20.00")]

    def test_a_family_bundle_takes_20_percent_off_each_line(self, shop):
        order = priced(shop, family(line("l1"), line("l2")))
        bundle = order["productOrderItem"][0]
        assert bundle["itemPrice"] == []
        for member in bundle["productOrderItem"]:
            monthly, activation = member["itemTotalPrice"]
            # 16.26 * 0.8 = 13.008 -> 13.01 + VAT 2.99 = 16.00
            assert monthly["price"]["dutyFreeAmount"] == money("13.01")
            assert monthly["price"]["taxIncludedAmount"] == money("16.00")
            assert activation == ACTIVATION
        assert order["orderTotalPrice"] == [
            total("recurring", "26.02", "32.00", "month"),
            total("oneTime", "16.26", "20.00"),
        ]

    def test_a_plan_change_carries_no_one_time_fee(self, shop):
        shop.put_product("p1", productOffering={"id": "pos-sim-only-5gb"})
        order = priced(shop, change("1", "modify", "p1", offering="pos-sim-only-20gb"))
        item = order["productOrderItem"][0]
        assert item["itemPrice"] == [MONTHLY_20GB]
        assert order["orderTotalPrice"] == [total("recurring", "16.26", "20.00", "month")]

    def test_a_suspension_or_a_deletion_costs_nothing(self, shop):
        shop.put_product("p1")
        shop.put_product("p2")
        order = priced(
            shop, change("1", "modify", "p1", status="suspended"), change("2", "delete", "p2")
        )
        assert [item["itemPrice"] for item in order["productOrderItem"]] == [[], []]
        assert order["orderTotalPrice"] == []

    def test_prices_written_by_a_client_are_replaced(self, shop):
        cheap = {**MONTHLY_20GB, "price": {"dutyFreeAmount": money("0.01")}}
        order = priced(shop, {**line(), "itemPrice": [cheap], "itemTotalPrice": [cheap]})
        item = order["productOrderItem"][0]
        assert item["itemPrice"] == item["itemTotalPrice"] == [MONTHLY_20GB, ACTIVATION]
