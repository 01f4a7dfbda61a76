"""The PaymentGateway port as a simulator of a card payment service provider.

It approves every charge, except that it declines a card whose token (the payment method's
id) or name contains "decline" (a test card), and a share of the others set by
`failure_percent`. Each decision is drawn from the charge's reference, not at random: the
same reference always gets the same answer (a charge sent again is answered as the first
time, as a real provider's idempotency key would), and tests are deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from domain.ports import ChargeOutcome

DECLINED_CARD = "decline"


class SimulatedGateway:
    def __init__(self, failure_percent: int = 0) -> None:
        self.failure_percent = failure_percent  # of the other cards, declined

    def charge(
        self, reference: str, amount: Decimal, currency: str, method: Mapping[str, Any]
    ) -> ChargeOutcome:
        card = f"{method.get('id') or ''} {method.get('name') or ''}".lower()
        if DECLINED_CARD in card:
            return ChargeOutcome(False, reason="card declined by its issuer (test card)")
        digest = hashlib.sha256(reference.encode()).hexdigest()
        if int(digest, 16) % 100 < self.failure_percent:
            return ChargeOutcome(False, reason="charge declined by the payment gateway (simulated)")
        return ChargeOutcome(True, authorization_code=f"SIM-{digest[:10].upper()}")
