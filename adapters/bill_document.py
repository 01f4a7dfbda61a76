"""Bill documents: the PDF a customer gets for a TMF678 CustomerBill, rendered with ReportLab on
request from the stored bill and its lines (AppliedCustomerBillingRate). Lines never change once
billed; the bill's payments and remaining amount are shown as they are at rendering time.

The output is deterministic: ReportLab's invariant mode fixes the creation date and document
id, and lines are laid out in an order of their own (product, type, period), not the order they
were read in, so the same bill renders to the same bytes.

Text is set in the PDF standard Helvetica fonts, which need no font file but cover only
Windows-1252 (Western European letters and the euro sign); other letters show as boxes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from pymongo.database import Database
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from adapters.mongo import HIDDEN, MongoResources
from adapters.partners import scoped
from adapters.settings import Settings
from domain.account import BILLING_ACCOUNT, DEFAULT_TIME_ZONE, owner_of
from domain.bill import APPLIED_CUSTOMER_BILLING_RATE, CUSTOMER_BILL
from domain.customer import CUSTOMER
from domain.errors import NotFound
from domain.instants import parse_instant
from domain.money import minor_units, money_value, round_money, to_decimal
from domain.resource import ResourceType

DISCOUNT = "discount"
# How line types are named on the document; a product's lines follow this order.
TYPE_LABELS = {
    "recurring": "Recurring",
    "oneTime": "One-time",
    "usage": "Usage",
    DISCOUNT: "Discount",
}
ACCOUNT_GROUP = "Account charges"  # the heading of lines billed to no product

MARGIN = 18 * mm
FRAME_PADDING = 6  # points: the padding of SimpleDocTemplate's page frame
WIDTH = A4[0] - 2 * (MARGIN + FRAME_PADDING)
LINE_COLUMNS = [56 * mm, 18 * mm, 40 * mm, 14 * mm, WIDTH - 128 * mm]
GRID, SHADE, TINT = (
    colors.HexColor("#b0b0b0"),
    colors.HexColor("#e4e4e4"),
    colors.HexColor("#f4f4f4"),
)
TIGHT = [("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]

BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=9, leading=11.5)
LINE = ParagraphStyle("line", parent=BODY, fontSize=8.5, leading=10, leftIndent=4 * mm)
STRONG = ParagraphStyle("strong", parent=BODY, fontName="Helvetica-Bold")
BRAND = ParagraphStyle("brand", parent=STRONG, fontSize=20, leading=24)
TITLE = ParagraphStyle("title", parent=STRONG, fontSize=16, leading=20, alignment=TA_RIGHT)
HEADING = ParagraphStyle(
    "heading", parent=STRONG, fontSize=11, leading=14, spaceBefore=8, spaceAfter=2
)


class BillDocuments:
    """The document of a stored bill, read with its lines, account and customer."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._resources = MongoResources(db)
        self._brand = settings.brand_name

    def pdf(self, bill_id: str) -> bytes:
        bill = self._stored(CUSTOMER_BILL, bill_id)
        if bill is None:
            raise NotFound(f"CustomerBill '{bill_id}' does not exist")
        collection = APPLIED_CUSTOMER_BILLING_RATE.collection
        lines = list(self._db[collection].find(scoped(collection, {"bill.id": bill_id}), HIDDEN))
        # The bill's own references stand in for an account or a customer no longer stored.
        account_ref = bill.get("billingAccount") or {}
        account = self._stored(BILLING_ACCOUNT, account_ref.get("id")) or account_ref
        customer_id = owner_of(bill) or owner_of(account)
        parties = bill.get("relatedParty") or []
        customer_ref = next((party for party in parties if party.get("id") == customer_id), {})
        customer = self._stored(CUSTOMER, customer_id) or customer_ref
        return render_bill_pdf(bill, lines, account, customer, self._brand)

    def _stored(self, rtype: ResourceType, resource_id: Any) -> dict[str, Any] | None:
        if not resource_id:
            return None
        return self._resources.get_document(rtype.collection, str(resource_id))


def render_bill_pdf(
    bill: Mapping[str, Any],
    rates: Sequence[Mapping[str, Any]],
    account: Mapping[str, Any],
    customer: Mapping[str, Any],
    brand: str,
) -> bytes:
    """The PDF of a bill: `rates` are its lines, `account` its billing account (for the time
    zone its dates are shown in), `customer` the TMF629 customer it is addressed to."""
    sheet = _Sheet(_currency(bill), ZoneInfo(str(account.get("timeZone") or DEFAULT_TIME_ZONE)))
    bill_no = str(bill.get("billNo", ""))
    story: list[Flowable] = [
        _header(brand, bill_no),
        Spacer(1, 8 * mm),
        _addressee_and_facts(sheet, bill, account, customer),
        Paragraph("Summary", HEADING),
        _summary(sheet, bill),
        Spacer(1, 3 * mm),
        Paragraph(escape(_instruction(sheet, bill)), BODY),
        Paragraph("Charges", HEADING),
        _charges(sheet, bill, rates),
        KeepTogether([Paragraph("VAT summary", HEADING), _tax_summary(sheet, bill, rates)]),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 6 * mm,
        title=f"Bill {bill_no}",
        author=brand,
        creator=brand,
        invariant=True,
    )

    def footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.grey)
        text = f"{brand} - bill {bill_no} - page {doc.page}"
        canvas.drawRightString(A4[0] - MARGIN - FRAME_PADDING, MARGIN, text)
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


@dataclass(frozen=True)
class _Sheet:
    """How the bill's amounts and dates are written: its currency, the account's time zone."""

    currency: str
    zone: ZoneInfo

    def amount(self, value: Decimal) -> str:
        """`1,234.50`: grouped, with the currency's minor units (none for JPY)."""
        return f"{round_money(value, self.currency):,.{minor_units(self.currency)}f}"

    def day(self, instant: str | None) -> str:
        return self._local_day(parse_instant(instant)).isoformat() if instant else ""

    def period(self, period: Mapping[str, Any] | None) -> str:
        """A period [start, end) as the local days it covers: an end at midnight is the end
        of the day before."""
        start, end = (period or {}).get("startDateTime"), (period or {}).get("endDateTime")
        if not start or not end:
            return self.day(start or end)
        first = self._local_day(parse_instant(start))
        last = max(first, self._local_day(parse_instant(end) - timedelta(milliseconds=1)))
        return first.isoformat() if last == first else f"{first.isoformat()} - {last.isoformat()}"

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


def _currency(bill: Mapping[str, Any]) -> str:
    amount = money_value(bill.get("taxIncludedAmount"), "taxIncludedAmount")
    return amount[1] if amount else "EUR"


def _value(money: Mapping[str, Any] | None, where: str) -> Decimal:
    amount = money_value(money, where)
    return amount[0] if amount else Decimal(0)


def _line_amount(rate: Mapping[str, Any]) -> Decimal:
    """A line's tax-excluded amount; a discount lowers the bill whatever its stored sign."""
    amount = _value(rate.get("taxExcludedAmount"), "taxExcludedAmount")
    return -abs(amount) if rate.get("type") == DISCOUNT else amount


def _line_rates(rate: Mapping[str, Any]) -> list[Decimal]:
    """The VAT rates (percent) applied to a line; none for an untaxed line."""
    return [
        to_decimal(tax.get("taxRate", 0), "appliedTax.taxRate")
        for tax in rate.get("appliedTax") or []
    ]


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}%"


def _header(brand: str, bill_no: str) -> Table:
    cells = [[Paragraph(escape(brand), BRAND), Paragraph(f"Bill {escape(bill_no)}", TITLE)]]
    table = Table(cells, colWidths=[WIDTH * 0.6, WIDTH * 0.4])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LINEBELOW", (0, 0), (-1, 0), 1, colors.black),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _addressee_and_facts(
    sheet: _Sheet, bill: Mapping[str, Any], account: Mapping[str, Any], customer: Mapping[str, Any]
) -> Table:
    name = customer.get("name") or account.get("name") or ""
    address = "<br/>".join(escape(line) for line in [name, *_postal_address(customer)])
    facts = [
        ("Bill number", str(bill.get("billNo", ""))),
        ("Bill date", sheet.day(bill.get("billDate"))),
        ("Billing period", sheet.period(bill.get("billingPeriod"))),
        ("Payment due date", sheet.day(bill.get("paymentDueDate"))),
        ("Billing account", str(account.get("name") or account.get("id") or "")),
        ("Payment reference", str(bill.get("billNo", ""))),
    ]
    facts_table = Table(
        [[label, Paragraph(escape(value), BODY)] for label, value in facts],
        colWidths=[32 * mm, 58 * mm],
    )
    facts_table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (0, -1), "Helvetica-Bold", 9),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *TIGHT,
            ]
        )
    )
    table = Table([[Paragraph(address, BODY), facts_table]], colWidths=[WIDTH - 90 * mm, 90 * mm])
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)])
    )
    return table


def _postal_address(customer: Mapping[str, Any]) -> list[str]:
    """The lines of the customer's postal address (the preferred one first), if it has one."""
    media = [
        medium
        for medium in customer.get("contactMedium") or []
        if medium.get("mediumType") == "postalAddress"
    ]
    if not media:
        return []
    media.sort(key=lambda medium: not medium.get("preferred"))
    place = media[0].get("characteristic") or {}
    town = " ".join(str(place[key]) for key in ("postCode", "city") if place.get(key))
    keys = ("street1", "street2", "town", "stateOrProvince", "country")
    lines = {**place, "town": town}
    return [str(lines[key]) for key in keys if lines.get(key)]


def _summary(sheet: _Sheet, bill: Mapping[str, Any]) -> Table:
    excluded = _value(bill.get("taxExcludedAmount"), "taxExcludedAmount")
    included = _value(bill.get("taxIncludedAmount"), "taxIncludedAmount")
    payments = bill.get("appliedPayment") or []
    paid = sum(
        (_value(item.get("appliedAmount"), "appliedAmount") for item in payments), Decimal(0)
    )
    rows = [
        ("Total excluding VAT", excluded),
        ("VAT", included - excluded),
        ("Total including VAT", included),
        ("Amount due", _value(bill.get("amountDue"), "amountDue")),
        ("Payments and credit applied", -paid),
        ("Remaining to pay", _value(bill.get("remainingAmount"), "remainingAmount")),
    ]
    cells = [[label, f"{sheet.amount(amount)} {sheet.currency}"] for label, amount in rows]
    table = Table(cells, colWidths=[60 * mm, 40 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, 2), (-1, 2), 0.5, GRID),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, GRID),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 10),
                ("BACKGROUND", (0, -1), (-1, -1), SHADE),
                *TIGHT,
            ]
        )
    )
    return table


def _instruction(sheet: _Sheet, bill: Mapping[str, Any]) -> str:
    """How to pay the bill, quoting its number as the payment reference."""
    remaining = _value(bill.get("remainingAmount"), "remainingAmount")
    if remaining <= 0:
        return "Nothing is left to pay on this bill. Thank you."
    method = (bill.get("paymentMethod") or {}).get("name")
    text = (
        f"Please pay {sheet.amount(remaining)} {sheet.currency} by "
        f"{sheet.day(bill.get('paymentDueDate')) or 'the due date'}, quoting the payment "
        f"reference {bill.get('billNo', '')}."
    )
    return f"{text} Payment method on file: {method}." if method else text


def _group_key(rate: Mapping[str, Any]) -> tuple[bool, str, str]:
    """Products by name, then id; the lines of no product (the account's) last."""
    product = rate.get("product") or {}
    if not product.get("id"):
        return (True, "", "")
    return (False, str(product.get("name") or ""), str(product["id"]))


def _line_key(rate: Mapping[str, Any]) -> tuple[Any, ...]:
    kinds = list(TYPE_LABELS)
    kind = rate.get("type")
    return (
        kinds.index(kind) if kind in kinds else len(kinds),
        # stored instants are UTC strings of one format: their text order is their time order
        str((rate.get("periodCoverage") or {}).get("startDateTime") or ""),
        str(rate.get("name") or ""),
        str(rate.get("id") or ""),
    )


def _by_product(
    rates: Iterable[Mapping[str, Any]],
) -> list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]:
    """The lines grouped by product, each group in line order."""
    groups: dict[tuple[bool, str, str], list[Mapping[str, Any]]] = {}
    for rate in rates:
        groups.setdefault(_group_key(rate), []).append(rate)
    return [
        (groups[key][0].get("product") or {}, sorted(groups[key], key=_line_key))
        for key in sorted(groups)
    ]


def _charges(sheet: _Sheet, bill: Mapping[str, Any], rates: Sequence[Mapping[str, Any]]) -> Table:
    """One table of every line, under a heading per product that carries its subtotal; its
    header row repeats on every page it spans."""
    header = ["Description", "Type", "Period", "VAT", f"Amount excl. VAT ({sheet.currency})"]
    rows: list[list[Any]] = [header]
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, GRID),
        ("ALIGN", (3, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        *TIGHT,
    ]
    for product, lines in _by_product(rates):
        heading = escape(str(product.get("name") or product.get("id") or ACCOUNT_GROUP))
        if product.get("id"):
            heading += f' <font size="7" color="grey">product {escape(str(product["id"]))}</font>'
        subtotal = sum((_line_amount(rate) for rate in lines), Decimal(0))
        at = len(rows)
        style += [
            ("SPAN", (0, at), (-2, at)),
            ("BACKGROUND", (0, at), (-1, at), TINT),
            ("FONT", (-1, at), (-1, at), "Helvetica-Bold", 8.5),
        ]
        rows.append([Paragraph(heading, STRONG), "", "", "", sheet.amount(subtotal)])
        for rate in lines:
            rows.append(
                [
                    Paragraph(escape(str(rate.get("description") or rate.get("name") or "")), LINE),
                    TYPE_LABELS.get(str(rate.get("type")), str(rate.get("type") or "")),
                    sheet.period(rate.get("periodCoverage")),
                    ", ".join(_percent(percent) for percent in _line_rates(rate)),
                    sheet.amount(_line_amount(rate)),
                ]
            )
    style += [
        ("LINEABOVE", (0, len(rows)), (-1, len(rows)), 1, colors.black),
        ("FONT", (0, len(rows)), (-1, len(rows)), "Helvetica-Bold", 9),
    ]
    total = _value(bill.get("taxExcludedAmount"), "taxExcludedAmount")
    rows.append(["Total excluding VAT", "", "", "", sheet.amount(total)])
    table = Table(rows, colWidths=LINE_COLUMNS, repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def _tax_summary(
    sheet: _Sheet, bill: Mapping[str, Any], rates: Sequence[Mapping[str, Any]]
) -> Table:
    """Per VAT rate: the tax-excluded amount of the lines taxed at it, and the VAT the bill
    charges at it (the bill's taxItem, which the bill's totals are made of)."""
    bases: dict[Decimal, Decimal] = {}
    for rate in rates:
        for percent in _line_rates(rate) or [Decimal(0)]:
            bases[percent] = bases.get(percent, Decimal(0)) + _line_amount(rate)
    taxes: dict[Decimal, Decimal] = {}
    for item in bill.get("taxItem") or []:
        percent = to_decimal(item.get("taxRate", 0), "taxItem.taxRate")
        taxes[percent] = taxes.get(percent, Decimal(0)) + _value(item.get("taxAmount"), "taxAmount")
    currency = sheet.currency
    rows: list[list[str]] = [["VAT rate", f"Amount excl. VAT ({currency})", f"VAT ({currency})"]]
    for percent in sorted(bases.keys() | taxes.keys()):
        base, tax = bases.get(percent, Decimal(0)), taxes.get(percent, Decimal(0))
        rows.append([_percent(percent), sheet.amount(base), sheet.amount(tax)])
    totals = (sum(bases.values(), Decimal(0)), sum(taxes.values(), Decimal(0)))
    rows.append(["Total", *(sheet.amount(total) for total in totals)])
    table = Table(rows, colWidths=[30 * mm, 40 * mm, 30 * mm], hAlign="LEFT", repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, GRID),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                *TIGHT,
            ]
        )
    )
    return table
