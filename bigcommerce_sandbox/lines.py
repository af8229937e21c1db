"""Order lines (v2 order products) and the consignments that group them: every line sits in
exactly one shipping, pickup, download or gift-certificate consignment."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .catalog import DIGITAL_EVERY, product_basics
from .formats import money
from .people import Shopper

LINES_PER_ORDER = 4  # line ids are allotted in slots of 4 per order, so they are unique
BRANDS = ("", "Common Good", "Sagaform", "Ofs")
LINE_TYPES = {"downloads": "digital", "gift_certificates": "giftcertificate"}
API_ROOT = "https://api.bigcommerce.com/stores/{store_hash}/v2"
# The custom line a shopper describes in a text option (product_options).
ENGRAVING = "Custom engraving"


@dataclass(frozen=True)
class Pricing:
    """How an order prices its lines: the exchange rate into the transactional currency and
    the tax rate in basis points."""

    exchange_rate: float
    tax_bps: int


def link(store_hash: str, resource: str) -> dict:
    """A v2 `{url, resource}` reference to a sub-resource."""
    return {"url": API_ROOT.format(store_hash=store_hash) + resource, "resource": resource}


def _engraving(line: int) -> list[dict]:
    """The text field a shopper fills in for an engraving: what they typed is theirs, so an
    erased order must not keep it."""
    text = f"With love, line {line}"
    return [
        {
            "id": line,
            "option_id": 1,
            "order_product_id": line,
            "product_option_id": 1,
            "display_name": "Engraving text",
            "display_value": text,
            "value": text,
            "type": "Text field",
            "name": "engraving",
            "display_style": "",
        }
    ]


def line_id(order_id: int, position: int) -> int:
    """Globally unique id of an order's line at a 0-based position."""
    return (order_id - 1) * LINES_PER_ORDER + position + 1


def _pick_product(rng: random.Random, products: int, kind: str) -> int:
    """A product id fitting the consignment kind; 0 means a custom (non-catalog) product."""
    if kind == "gift_certificates":
        return 0
    if kind == "downloads":
        return DIGITAL_EVERY * rng.randint(1, products // DIGITAL_EVERY)
    if products == 0 or rng.random() < 0.04:
        return 0
    product_id = rng.randint(1, products)
    if product_id % DIGITAL_EVERY == 0:
        product_id -= 1
    return product_id


def build_lines(
    seed: int, order_id: int, kind: str, products: int, pricing: Pricing, rng: random.Random
) -> list[dict]:
    """1 to 4 order lines, priced in the transactional currency."""
    count = rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0]
    lines = []
    for position in range(count):
        product_id = _pick_product(rng, products, kind)
        if product_id:
            basics = product_basics(seed, product_id)
            name, sku = basics.name, basics.sku
            price_usd, cost_usd = basics.price_cents, basics.cost_cents
        elif kind == "gift_certificates":
            price_usd = rng.choice((2500, 5000, 10000))
            name, sku, cost_usd = f"${price_usd // 100} Gift Certificate", "", 0
        else:
            price_usd = rng.randint(500, 9000)
            name, sku, cost_usd = ENGRAVING, "", price_usd // 3
        price_ex = round(price_usd * pricing.exchange_rate)
        price_tax = price_ex * pricing.tax_bps // 10_000
        quantity = (
            1
            if kind == "gift_certificates"
            else rng.choices((1, 2, 3, 5), weights=(60, 25, 10, 5))[0]
        )
        identifier = line_id(order_id, position)
        lines.append(
            {
                "id": identifier,
                "order_id": order_id,
                "product_id": product_id,
                "variant_id": product_id,
                "order_address_id": 0,
                "name": name,
                "name_customer": name,
                "name_merchant": name,
                "sku": sku,
                "upc": "",
                "type": LINE_TYPES.get(kind, "physical"),
                "base_price": money(price_ex),
                "price_ex_tax": money(price_ex),
                "price_inc_tax": money(price_ex + price_tax),
                "price_tax": money(price_tax),
                "base_total": money(price_ex * quantity),
                "total_ex_tax": money(price_ex * quantity),
                "total_inc_tax": money((price_ex + price_tax) * quantity),
                "total_tax": money(price_tax * quantity),
                "discounted_total_inc_tax": money((price_ex + price_tax) * quantity),
                "quantity": quantity,
                "base_cost_price": money(round(cost_usd * pricing.exchange_rate)),
                "is_refunded": False,
                "quantity_refunded": 0,
                "refund_amount": "0.0000",
                "return_id": 0,
                "quantity_shipped": 0,
                "fixed_shipping_cost": "0.0000",
                "brand": rng.choice(BRANDS) if product_id else "",
                "applied_discounts": [],
                "product_options": _engraving(identifier) if name == ENGRAVING else [],
                "configurable_fields": [],
                "option_set_id": None,
                "parent_order_product_id": None,
                "is_bundled_product": False,
                "bin_picking_number": "",
                "gift_certificate_id": identifier if kind == "gift_certificates" else None,
                "external_id": None,
                "fulfillment_source": "",
            }
        )
    return lines


def _shipping(
    address_id: int,
    shopper: Shopper,
    lines: list[dict],
    costs: dict,
    store_hash: str,
    order_id: int,
) -> dict:
    for line in lines:
        line["order_address_id"] = address_id
    address = shopper.address
    return {
        "id": address_id,
        "first_name": shopper.first_name,
        "last_name": shopper.last_name,
        "company": shopper.company,
        "street_1": address.street_1,
        "street_2": address.street_2,
        "city": address.city,
        "zip": address.zip,
        "country": address.country,
        "country_iso2": address.country_iso2,
        "state": address.state,
        "email": shopper.email,
        "phone": shopper.phone,
        "form_fields": [],
        "shipping_method": "Flat Rate" if costs["base_cost"] != "0.0000" else "Free Shipping",
        "shipping_zone_id": 1,
        "shipping_zone_name": address.country,
        **costs,
        "cost_tax_class_id": 2,
        "base_handling_cost": "0.0000",
        "handling_cost_ex_tax": "0.0000",
        "handling_cost_inc_tax": "0.0000",
        "handling_cost_tax": "0.0000",
        "handling_cost_tax_class_id": 2,
        "items_total": sum(line["quantity"] for line in lines),
        "items_shipped": sum(line["quantity_shipped"] for line in lines),
        "shipping_quotes": link(
            store_hash, f"/orders/{order_id}/shipping_addresses/{address_id}/shipping_quotes"
        ),
        "line_items": lines,
    }


def build_consignments(
    order_id: int,
    kind: str,
    shopper: Shopper,
    lines: list[dict],
    shipping_cents: tuple[int, int],
    store_hash: str,
    rng: random.Random,
) -> dict:
    """The `consignment_structure=object` form, with full lines in each consignment."""
    consignments: dict = {
        "pickups": [],
        "shipping": [],
        "downloads": [],
        "email": {"gift_certificates": []},
    }
    email = shopper.email.strip()
    if kind == "shipping":
        ship_ex, ship_tax = shipping_cents
        split = len(lines) // 2 if len(lines) > 1 and rng.random() < 0.1 else len(lines)
        parts = [lines[:split], lines[split:]] if split < len(lines) else [lines]
        for number, part in enumerate(parts):
            cost_ex, cost_tax = (ship_ex, ship_tax) if number == 0 else (0, 0)
            costs = {
                "base_cost": money(cost_ex),
                "cost_ex_tax": money(cost_ex),
                "cost_inc_tax": money(cost_ex + cost_tax),
                "cost_tax": money(cost_tax),
            }
            consignments["shipping"].append(
                _shipping(order_id * 2 - 1 + number, shopper, part, costs, store_hash, order_id)
            )
    elif kind == "pickups":
        consignments["pickups"].append(
            {
                "id": order_id,
                "pickup_method_id": 1,
                "pickup_method_display_name": "Pick up in store",
                "collection_instructions": "Bring your order number.",
                "collection_time_description": "Ready within 2 hours",
                "location": {
                    "id": 1,
                    "code": "AUS-1",
                    "name": "Austin shop",
                    "address_line_1": "123 Main Street",
                    "address_line_2": "",
                    "city": "Austin",
                    "state": "Texas",
                    "postal_code": "78751",
                    "country_alpha2": "US",
                    "email": "pickup@example.com",
                    "phone": "+1 512-555-0100",
                },
                "line_items": lines,
            }
        )
    elif kind == "downloads":
        consignments["downloads"].append(
            {"id": order_id, "recipient_email": email, "line_items": lines}
        )
    else:
        consignments["email"]["gift_certificates"].append(
            {"id": order_id, "recipient_email": email, "line_items": lines}
        )
    return consignments
