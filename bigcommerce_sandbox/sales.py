"""Synthetic v2 orders: status, currency, totals that add up, and the lines and consignments
they carry."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from itertools import accumulate

from .catalog import DIGITAL_EVERY
from .formats import money, rate, rfc2822
from .lines import Pricing, build_consignments, build_lines, link
from .people import Shopper
from .randomness import ORDER, rng_for

STATUSES = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}
_STATUS_IDS = (10, 2, 11, 0, 4, 14, 5, 6, 1, 7, 9, 3, 8, 12, 13)
_STATUS_WEIGHTS = tuple(accumulate((40, 14, 14, 4, 4, 4, 3, 3, 3, 2, 3, 2, 2, 1, 1)))
_PAYMENT_STATUS = {
    0: "",
    1: "pending",
    4: "refunded",
    5: "void",
    6: "declined",
    7: "pending",
    12: "held for review",
    14: "partially refunded",
}
SHIPPED_STATUSES = frozenset({2, 4, 10, 13, 14})
# currency code -> (currency id, exchange rates from USD a shopper may have been charged at)
CURRENCIES = {"USD": (1, (1.0,)), "EUR": (2, (0.9, 0.91, 0.92, 0.93)), "GBP": (3, (0.78, 0.79))}
_COUNTRY_CURRENCY = {"DE": "EUR", "FR": "EUR", "ES": "EUR", "IE": "EUR", "GB": "GBP"}
_TAX_BPS = {
    "US": (0, 825),
    "CA": (1300,),
    "JP": (1000,),
    "PL": (2300,),
    "DE": (1900,),
    "FR": (2000,),
    "ES": (2100,),
    "IE": (2300,),
    "GB": (2000,),
}
_PAYMENT_METHODS = ("Credit Card", "PayPal", "Apple Pay", "Cash on Delivery", "Manual")
_LOCALES = {"DE": "de", "FR": "fr", "ES": "es", "PL": "pl", "JP": "ja"}


@dataclass(frozen=True)
class OrderBundle:
    """An order with its lines; the consignments hold the same line objects."""

    order: dict
    lines: list[dict]
    consignments: dict


def _consignment_kind(rng: random.Random, status_id: int, products: int) -> str:
    if status_id == 8:
        return "pickups"
    kind = rng.choices(
        ("shipping", "downloads", "pickups", "gift_certificates"), weights=(85, 8, 4, 3)
    )[0]
    if kind == "downloads" and products < DIGITAL_EVERY:
        return "shipping"
    return kind


def _apply_discount(lines: list[dict], discount: int, code: str | None) -> None:
    """Spread an order-level discount over the lines, in proportion to their totals."""
    totals = [round(float(line["total_inc_tax"]) * 100) for line in lines]
    remaining = discount
    for index, (line, total) in enumerate(zip(lines, totals, strict=True)):
        share = remaining if index == len(lines) - 1 else discount * total // max(sum(totals), 1)
        remaining -= share
        line["discounted_total_inc_tax"] = money(total - share)
        line["applied_discounts"] = [
            {
                "id": "coupon" if code else "total-discount",
                "amount": money(share),
                "name": "Order discount",
                "code": code,
                "target": "order",
            }
        ]


def build_order(
    seed: int,
    order_id: int,
    shopper: Shopper,
    created: int,
    modified: int,
    products: int,
    store_hash: str,
) -> OrderBundle:
    """One order as `GET /v2/orders` returns it (money as 4-decimal strings, RFC 2822 dates)."""
    rng = rng_for(seed, ORDER, order_id)
    status_id = rng.choices(_STATUS_IDS, cum_weights=_STATUS_WEIGHTS)[0]
    country = shopper.address.country_iso2
    currency = _COUNTRY_CURRENCY.get(country, "USD")
    currency_id, rates = CURRENCIES[currency]
    exchange = rng.choice(rates)
    pricing = Pricing(exchange, rng.choice(_TAX_BPS[country]))
    kind = _consignment_kind(rng, status_id, products)
    lines = build_lines(seed, order_id, kind, products, pricing, rng)

    sub_ex = sum(round(float(line["total_ex_tax"]) * 100) for line in lines)
    sub_inc = sum(round(float(line["total_inc_tax"]) * 100) for line in lines)
    ship_ex = round(rng.choice((499, 799, 1299, 2499)) * exchange) if kind == "shipping" else 0
    ship_tax = ship_ex * pricing.tax_bps // 10_000
    # A discounted order has either a coupon or a manual discount; both reduce the total.
    discount = sub_inc * rng.randint(5, 15) // 100 if rng.random() < 0.15 else 0
    coupon = discount if discount and rng.random() < 0.6 else 0
    if discount:
        _apply_discount(lines, discount, "SAVE10" if coupon else None)
    ship_inc = ship_ex + ship_tax
    total_ex = sub_ex + ship_ex - discount
    total_inc = sub_inc + ship_inc - discount
    refunded = {4: total_inc, 14: total_inc * rng.randint(10, 90) // 100}.get(status_id, 0)

    items_total = sum(line["quantity"] for line in lines)
    for line in lines:
        if status_id in SHIPPED_STATUSES or (status_id == 3 and line is not lines[-1]):
            line["quantity_shipped"] = line["quantity"]
        if status_id == 4:
            line.update(
                is_refunded=True,
                quantity_refunded=line["quantity"],
                refund_amount=line["discounted_total_inc_tax"],
            )
    items_shipped = sum(line["quantity_shipped"] for line in lines)
    shipped_at = created + rng.randint(0, max(modified - created, 0))
    consignments = build_consignments(
        order_id, kind, shopper, lines, (ship_ex, ship_tax), store_hash, rng
    )

    payment_method = (
        "" if status_id == 0 else rng.choices(_PAYMENT_METHODS, weights=(60, 15, 10, 5, 10))[0]
    )
    source = rng.choices(("www", "manual", "external", "checkout_api"), weights=(85, 5, 5, 5))[0]
    address = shopper.address
    order = {
        "id": order_id,
        "customer_id": shopper.customer_id,
        "date_created": rfc2822(created),
        "date_modified": rfc2822(modified),
        "date_shipped": rfc2822(shipped_at) if items_shipped else "",
        "status_id": status_id,
        "status": STATUSES[status_id],
        "custom_status": STATUSES[status_id],
        "payment_status": _PAYMENT_STATUS.get(status_id, "captured"),
        "subtotal_ex_tax": money(sub_ex),
        "subtotal_inc_tax": money(sub_inc),
        "subtotal_tax": money(sub_inc - sub_ex),
        "base_shipping_cost": money(ship_ex),
        "shipping_cost_ex_tax": money(ship_ex),
        "shipping_cost_inc_tax": money(ship_inc),
        "shipping_cost_tax": money(ship_tax),
        "shipping_cost_tax_class_id": 2,
        "base_handling_cost": "0.0000",
        "handling_cost_ex_tax": "0.0000",
        "handling_cost_inc_tax": "0.0000",
        "handling_cost_tax": "0.0000",
        "handling_cost_tax_class_id": 2,
        "base_wrapping_cost": "0.0000",
        "wrapping_cost_ex_tax": "0.0000",
        "wrapping_cost_inc_tax": "0.0000",
        "wrapping_cost_tax": "0.0000",
        "wrapping_cost_tax_class_id": 3,
        "total_ex_tax": money(total_ex),
        "total_inc_tax": money(total_inc),
        "total_tax": money(total_inc - total_ex),
        "items_total": items_total,
        "items_shipped": items_shipped,
        "payment_method": payment_method,
        "payment_provider_id": f"pi_{rng.getrandbits(64):016x}" if payment_method else None,
        "refunded_amount": money(refunded),
        "order_is_digital": kind in ("downloads", "gift_certificates"),
        "store_credit_amount": "0.0000",
        "gift_certificate_amount": "0.0000",
        "ip_address": f"198.51.100.{rng.randint(1, 254)}",
        "ip_address_v6": "",
        "geoip_country": address.country,
        "geoip_country_iso2": country,
        "currency_id": currency_id,
        "currency_code": currency,
        "currency_exchange_rate": "1.0000000000",
        "default_currency_id": currency_id,
        "default_currency_code": currency,
        "store_default_currency_code": "USD",
        # multi-currency stores report the USD rate; some USD orders leave it empty
        "store_default_to_transactional_exchange_rate": ""
        if currency == "USD" and rng.random() < 0.5
        else rate(exchange),
        "staff_notes": "",
        "customer_message": "",
        "discount_amount": money(discount - coupon),
        "coupon_discount": money(coupon),
        "shipping_address_count": len(consignments["shipping"]),
        "is_deleted": False,
        "is_email_opt_in": rng.random() < 0.3,
        "credit_card_type": None,
        "ebay_order_id": "0",
        "billing_address": {
            "first_name": shopper.first_name,
            "last_name": shopper.last_name,
            "company": shopper.company,
            "street_1": address.street_1,
            "street_2": address.street_2,
            "city": address.city,
            "state": address.state,
            "zip": address.zip,
            "country": address.country,
            "country_iso2": country,
            "phone": shopper.phone,
            "email": shopper.email,
            "form_fields": [],
        },
        "order_source": source,
        "external_source": "POS (Square)" if source == "external" else None,
        "external_id": f"sq-{order_id}" if source == "external" else None,
        "external_merchant_id": None,
        "channel_id": 1,
        "tax_provider_id": "BasicTaxProvider",
        "customer_locale": _LOCALES.get(country, "en"),
        "external_order_id": "",
        "cart_id": str(uuid.UUID(int=rng.getrandbits(128))) if source == "www" else "",
        "products": link(store_hash, f"/orders/{order_id}/products"),
        "shipping_addresses": link(store_hash, f"/orders/{order_id}/shipping_addresses"),
        "coupons": link(store_hash, f"/orders/{order_id}/coupons"),
    }
    return OrderBundle(order, lines, consignments)
