"""Money: Decimal amounts rounded to their currency's minor unit, never float."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidRequest

# ISO 4217 minor units that differ from 2; every other currency has cents.
MINOR_UNITS = {
    "BHD": 3, "CLP": 0, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "OMR": 3,
    "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}  # fmt: skip


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency.upper(), 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Commercial rounding (half up) to the currency's minor unit."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def to_decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise InvalidRequest(f"{where}: '{value}' is not an exact number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidRequest(f"{where}: '{value}' is not a number") from None
    if not number.is_finite():
        raise InvalidRequest(f"{where}: '{value}' is not a finite number")
    return number


def money_value(money: Mapping[str, Any] | None, where: str) -> tuple[Decimal, str] | None:
    """(amount, currency) of a TMF Money {unit, value}, or None when absent."""
    if not money:
        return None
    unit = money.get("unit")
    if not isinstance(unit, str) or len(unit) != 3 or not unit.isalpha():
        raise InvalidRequest(f"{where}.unit: '{unit}' is not an ISO 4217 currency code")
    if "value" not in money:
        raise InvalidRequest(f"{where}.value is missing")
    return to_decimal(money["value"], f"{where}.value"), unit.upper()
