"""Synthetic v3 order transactions, derived from the order they pay for."""

from __future__ import annotations

from decimal import Decimal

from .formats import iso, parse_rfc2822
from .randomness import TRANSACTION, rng_for

UNPAID_STATUSES = frozenset({0, 1, 5, 7})  # Incomplete, Pending, Cancelled, Awaiting Payment
# order payment_method -> (transaction method, gateway, payment_method_id)
_GATEWAYS = {
    "Credit Card": ("credit_card", "stripe", "stripe.card"),
    "PayPal": ("electronic_wallet", "paypalexpress", "paypalexpress"),
    "Apple Pay": ("apple_pay_card", "braintree", "braintree.applepay"),
    "Cash on Delivery": ("offline", "custom", "cod"),
    "Manual": ("custom", "custom", "custom"),
}
_CARD_TYPES = ("visa", "mastercard", "amex")


def _amount(value: str) -> float:
    return float(Decimal(value))


def build_transactions(seed: int, order: dict) -> list[dict]:
    """The transactions of an order, as `GET /v3/orders/{id}/transactions` lists them.

    None for unpaid orders; a purchase (status `error` when declined) for the rest, plus a
    refund for refunded and partially refunded orders. Ids: 2n-1 purchase, 2n refund.
    """
    status_id = order["status_id"]
    if status_id in UNPAID_STATUSES:
        return []
    order_id = order["id"]
    rng = rng_for(seed, TRANSACTION, order_id)
    method, gateway, method_id = _GATEWAYS.get(order["payment_method"], _GATEWAYS["Manual"])
    card = None
    if method in ("credit_card", "apple_pay_card"):
        card = {
            "card_type": rng.choice(_CARD_TYPES),
            "card_iin": f"{rng.randint(400000, 559999)}",
            "card_last4": f"{rng.randint(0, 9999):04d}",
            "card_expiry_month": rng.randint(1, 12),
            "card_expiry_year": rng.randint(2027, 2031),
        }
    created = parse_rfc2822(order["date_created"])
    purchase = {
        "id": order_id * 2 - 1,
        "order_id": str(order_id),
        "event": "purchase",
        "method": method,
        "amount": _amount(order["total_inc_tax"]),
        "currency": order["default_currency_code"],
        "gateway": gateway,
        "gateway_transaction_id": order["payment_provider_id"] or "",
        "date_created": iso(created + rng.randint(0, 30)),
        "payment_method_id": method_id,
        "test": False,
        "status": "error" if status_id == 6 else "ok",
        "fraud_review": False,
        "reference_transaction_id": None,
        "offline": {"display_name": order["payment_method"]} if method == "offline" else None,
        "custom": {"payment_method": order["payment_method"]} if method == "custom" else None,
        "payment_instrument_token": None,
        "avs_result": {
            "code": "Y",
            "message": "Street and postal code match",
            "street_match": "Match",
            "postal_match": "Match",
        },
        "cvv_result": {"code": "M", "message": "CVV matches"},
        "credit_card": card,
        "gift_certificate": None,
        "store_credit": None,
    }
    transactions = [purchase]
    refunded = _amount(order["refunded_amount"])
    if refunded > 0:
        transactions.append(
            {
                **purchase,
                "id": order_id * 2,
                "event": "refund",
                "amount": refunded,
                "date_created": iso(parse_rfc2822(order["date_modified"])),
                "reference_transaction_id": purchase["id"],
                "gateway_transaction_id": f"re_{rng.getrandbits(48):012x}",
            }
        )
    return transactions
