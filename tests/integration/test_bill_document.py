"""Bill documents: the PDF of a stored bill, read back with pypdf."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from adapters.bill_document import BillDocuments, render_bill_pdf
from adapters.settings import Settings
from domain.bill import APPLIED_CUSTOMER_BILLING_RATE, CUSTOMER_BILL
from domain.errors import NotFound
from tests.integration.conftest import customer

BILL_ID = "bill-42"
PERIOD = {  # October 2026 in Dublin (summer time until the 25th): 1 Oct 00:00 IST is 30 Sep UTC
    "startDateTime": "2026-09-30T23:00:00.000Z",
    "endDateTime": "2026-11-01T00:00:00.000Z",
}


def money(value: str, unit: str = "EUR") -> dict[str, Any]:
    return {"unit": unit, "value": Decimal(value)}


def line(
    product: tuple[str, str] | None,
    kind: str,
    name: str,
    amount: str,
    rate: str = "23",
    unit: str = "EUR",
) -> dict[str, Any]:
    """An AppliedCustomerBillingRate of the bill (its tax amounts are not shown per line)."""
    tax = Decimal(amount) * Decimal(rate) / 100
    return {
        "id": uuid.uuid4().hex,
        "name": name,
        "type": kind,
        "isBilled": True,
        "bill": {"id": BILL_ID, "@referredType": "CustomerBill"},
        "billingAccount": {"id": "ba-1", "@referredType": "BillingAccount"},
        **({"product": {"id": product[0], "name": product[1]}} if product else {}),
        "periodCoverage": PERIOD,
        "taxExcludedAmount": money(amount, unit),
        "taxIncludedAmount": money(str(Decimal(amount) + tax), unit),
        "appliedTax": [
            {"taxCategory": "VAT", "taxRate": Decimal(rate), "taxAmount": money(str(tax), unit)}
        ],
        "@type": "AppliedCustomerBillingRate",
    }


SIM_20, SIM_5, ROAMING, TOP_UP = (
    ("p-1", "SIM Only 20GB"),
    ("p-2", "SIM Only 5GB"),
    ("p-3", "EU Roaming Pack"),
    ("p-4", "Data Top-up 10GB"),
)
# A typical bill: four products, a discount, an account-level fee, VAT at 23% and 13.5%.
# 23%: base 42.50, VAT 9.775 -> 9.78; 13.5%: base 4.00, VAT 0.54.
LINES = [
    line(SIM_20, "recurring", "SIM Only 20GB monthly fee", "20.00"),
    line(SIM_20, "usage", "Calls to international numbers", "3.50"),
    line(SIM_20, "discount", "Welcome promotion", "-5.00"),
    line(SIM_5, "recurring", "SIM Only 5GB monthly fee", "10.00"),
    line(SIM_5, "oneTime", "SIM card", "5.00"),
    line(ROAMING, "recurring", "EU Roaming Pack monthly fee", "4.00", rate="13.5"),
    line(TOP_UP, "oneTime", "Data top-up 10GB", "7.00"),
    line(None, "oneTime", "Paper bill fee", "2.00"),
]


def bill(**changes: Any) -> dict[str, Any]:
    return {
        "id": BILL_ID,
        "billNo": "000042",
        "billDate": "2026-11-01T00:30:00.000Z",
        "billingPeriod": PERIOD,
        "paymentDueDate": "2026-11-15T00:00:00.000Z",
        "runType": "onCycle",
        "category": "normal",
        "state": "partiallyPaid",
        "taxExcludedAmount": money("46.50"),
        "taxIncludedAmount": money("56.82"),
        "amountDue": money("56.82"),
        "remainingAmount": money("46.82"),
        "taxItem": [
            {"taxCategory": "VAT", "taxRate": Decimal("23"), "taxAmount": money("9.78")},
            {"taxCategory": "VAT", "taxRate": Decimal("13.5"), "taxAmount": money("0.54")},
        ],
        "appliedPayment": [
            {
                "appliedAmount": money("10.00"),
                "payment": {"id": "pay-1", "@referredType": "Payment"},
            }
        ],
        "billingAccount": {
            "id": "ba-1",
            "name": "Bloem & Zoon account",
            "@referredType": "BillingAccount",
        },
        "relatedParty": [
            {
                "id": "cust-1",
                "name": "Bloem & Zoon",
                "role": "customer",
                "@referredType": "Customer",
            }
        ],
        "@type": "CustomerBill",
        **changes,
    }


ACCOUNT = {
    "id": "ba-1",
    "name": "Bloem & Zoon account",
    "currency": "EUR",
    "timeZone": "Europe/Dublin",
    "relatedParty": [{"id": "cust-1", "role": "owner", "@referredType": "Customer"}],
}
CUSTOMER = customer(
    "cust-1",
    name="Bloem & Zoon Hoveniers V.O.F.",
    contactMedium=[
        {"mediumType": "email", "characteristic": {"emailAddress": "info@bloem.example"}},
        {
            "mediumType": "postalAddress",
            "characteristic": {
                "street1": "Prinsengracht 12",
                "city": "Amsterdam",
                "postCode": "1015 DX",
                "stateOrProvince": "Noord-Holland",
                "country": "NL",
            },
        },
    ],
)


def text_of(pdf: bytes) -> list[str]:
    """The text of each page, its table cells and lines separated by single spaces."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture
def documents(db: Any, settings: Settings) -> BillDocuments:
    db[CUSTOMER_BILL.collection].insert_one(bill())
    rates = [{**rate, "_id": rate["id"]} for rate in LINES]  # the collection is keyed by id
    db[APPLIED_CUSTOMER_BILLING_RATE.collection].insert_many(rates)
    db["billingAccount"].insert_one(dict(ACCOUNT))
    db["customer"].insert_one(dict(CUSTOMER))
    return BillDocuments(db, settings)


def test_a_stored_bill_shows_who_what_and_how_much(documents: BillDocuments) -> None:
    pdf = documents.pdf(BILL_ID)
    assert pdf.startswith(b"%PDF-")
    (text,) = text_of(pdf)
    for expected in (
        "Demo Mobile",
        "Bloem & Zoon Hoveniers V.O.F.",
        "Prinsengracht 12",
        "1015 DX Amsterdam",
        "000042",
        "2026-11-01",  # bill date, in Dublin
        "2026-10-01 - 2026-10-31",  # the period as local days, its end exclusive
        "2026-11-15",  # due
        "46.50 EUR",  # tax excluded
        "10.32 EUR",  # VAT
        "56.82 EUR",  # tax included and due
        "-10.00 EUR",  # paid
        "46.82 EUR",  # remaining
        "Please pay 46.82 EUR by 2026-11-15, quoting the payment reference 000042.",
        "-5.00",  # the discount
        "Account charges",
        "Paper bill fee",
    ):
        assert expected in text, expected
    for product in (SIM_20, SIM_5, ROAMING, TOP_UP):
        assert product[1] in text, product
    assert "23% 42.50 9.78" in text
    assert "13.5% 4.00 0.54" in text


def test_an_unknown_bill_has_no_document(documents: BillDocuments) -> None:
    with pytest.raises(NotFound):
        documents.pdf("no-such-bill")


def test_the_same_bill_renders_the_same_bytes() -> None:
    first = render_bill_pdf(bill(), LINES, ACCOUNT, CUSTOMER, "Demo Mobile")
    again = render_bill_pdf(bill(), list(reversed(LINES)), ACCOUNT, CUSTOMER, "Demo Mobile")
    assert first == again


def test_a_discount_lowers_the_bill_whatever_its_stored_sign() -> None:
    lines = [
        line(SIM_20, "recurring", "SIM Only 20GB monthly fee", "20.00"),
        line(SIM_20, "discount", "Welcome promotion", "5.00"),
    ]
    (text,) = text_of(render_bill_pdf(bill(), lines, ACCOUNT, CUSTOMER, "Demo Mobile"))
    assert "SIM Only 20GB product p-1 15.00" in text
    assert "Welcome promotion Discount 2026-10-01 - 2026-10-31 23% -5.00" in text


def test_many_lines_span_pages_and_keep_the_totals() -> None:
    calls = [line(SIM_20, "usage", f"Call {n:03d}", "0.10") for n in range(120)]
    # 120 x 0.10 = 12.00; VAT 23% = 2.76
    many = bill(
        taxExcludedAmount=money("12.00"),
        taxIncludedAmount=money("14.76"),
        amountDue=money("14.76"),
        remainingAmount=money("14.76"),
        taxItem=[{"taxCategory": "VAT", "taxRate": 23, "taxAmount": money("2.76")}],
        appliedPayment=[],
    )
    pages = text_of(render_bill_pdf(many, calls, ACCOUNT, CUSTOMER, "Demo Mobile"))
    assert len(pages) >= 3
    assert "Remaining to pay 14.76 EUR" in pages[0]
    assert all(f"Call {n:03d} Usage" in " ".join(pages) for n in range(120))
    assert all("Description Type Period VAT" in page for page in pages)  # the header repeats
    assert all(f"bill 000042 - page {n}" in page for n, page in enumerate(pages, 1))
    assert "Total excluding VAT 12.00" in pages[-1]
    assert "23% 12.00 2.76 Total 12.00 2.76" in pages[-1]


def test_amounts_use_the_currency_minor_units() -> None:
    yen = line(SIM_20, "recurring", "SIM Only 20GB monthly fee", "3980", rate="10", unit="JPY")
    jpy = bill(
        taxExcludedAmount=money("3980", "JPY"),
        taxIncludedAmount=money("4378", "JPY"),
        amountDue=money("4378", "JPY"),
        remainingAmount=money("4378", "JPY"),
        taxItem=[{"taxCategory": "VAT", "taxRate": 10, "taxAmount": money("398", "JPY")}],
        appliedPayment=[],
    )
    (text,) = text_of(render_bill_pdf(jpy, [yen], {**ACCOUNT, "currency": "JPY"}, CUSTOMER, "Demo"))
    assert "4,378 JPY" in text
    assert "10% 3,980 398" in text
    assert ".00" not in text
