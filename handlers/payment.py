"""TMF676 Payment Management: operationIds of openapi/payment.yaml."""

from collections.abc import Mapping
from typing import Any

from handlers.tmf import hub_endpoints, present, resource_endpoints, services

listPayment, retrievePayment, _, _, _ = resource_endpoints("payment")
listRefund, retrieveRefund, _, _, _ = resource_endpoints("refund")
registerListener, retrieveListener, unregisterListener = hub_endpoints("paymentManagement")


def createPayment(body: Mapping[str, Any], **_: Any) -> Any:
    """Charged (a card), stored and allocated to the account's bills at once; a request
    sent again with the same correlatorId gets the payment it made, with 200."""
    payment, created = services().extra["payments"].pay(body)
    return _answer("payment", payment, created)


def createRefund(body: Mapping[str, Any], **_: Any) -> Any:
    """Stored with the credit it takes off its payment; idempotent like createPayment."""
    refund, created = services().extra["payments"].refund(body)
    return _answer("refund", refund, created)


def _answer(path: str, resource: Mapping[str, Any], created: bool) -> Any:
    shown = present(services().resources[path].rtype, resource)
    if not created:
        return shown, 200
    return shown, 201, {"Location": shown["href"]}
