"""Synthetic catalog and store settings: products (v3), the category tree (v3 trees) and the
store information object (v2)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache

from .formats import iso
from .randomness import CATEGORY, PRODUCT, STORE, mix, rng_for

FIRST_CATEGORY_ID = 18  # a fresh store's own categories start above the demo ones
DIGITAL_EVERY = 7  # every 7th product is a digital download
ADJECTIVES = ("Classic", "Organic", "Vintage", "Nordic", "Artisan", "Everyday", "Ultralight")
NOUNS = (
    "Coffee Mug",
    "Tote Bag",
    "Hoodie",
    "Notebook",
    "Candle",
    "Backpack",
    "Tea Set",
    "Poster",
    "Scarf",
    "Water Bottle",
)
DIGITAL_NOUNS = ("E-book", "Sewing Pattern", "Recipe Pack", "Font Licence")
CATEGORY_NAMES = (
    "Shop All",
    "Kitchen",
    "Apparel",
    "Garden",
    "Books",
    "Électronique",
    "Outdoor",
    "Sale",
    "Gifts",
    "Stationery",
    "Home",
    "Accessories",
)


@dataclass(frozen=True)
class ProductBasics:
    """What an order line copies from the catalog."""

    product_id: int
    name: str
    sku: str
    price_cents: int
    cost_cents: int
    is_digital: bool


def is_digital(product_id: int) -> bool:
    """Whether a base product is a digital download."""
    return product_id % DIGITAL_EVERY == 0


@lru_cache(maxsize=8192)
def product_basics(seed: int, product_id: int) -> ProductBasics:
    """Name, SKU and price of a base product (cached: orders look them up constantly)."""
    rng = rng_for(seed, PRODUCT, product_id)
    digital = is_digital(product_id)
    noun = rng.choice(DIGITAL_NOUNS if digital else NOUNS)
    price = rng.randint(3, 180) * 100 + rng.choice((0, 50, 95, 99))
    return ProductBasics(
        product_id,
        f"{rng.choice(ADJECTIVES)} {noun}",
        f"SKU-{product_id:05d}",
        price,
        price * rng.randint(35, 60) // 100,
        digital,
    )


def category_id(index: int) -> int:
    """The id of the index-th category (1-based)."""
    return FIRST_CATEGORY_ID + index - 1


def build_product(seed: int, product_id: int, categories: int, created: int, modified: int) -> dict:
    """One product, shaped like `GET /v3/catalog/products` returns it (prices are numbers)."""
    basics = product_basics(seed, product_id)
    rng = rng_for(seed, PRODUCT, -product_id)
    price = basics.price_cents / 100
    on_sale = rng.random() < 0.2
    picked = rng.sample(range(1, categories + 1), k=min(categories, rng.randint(1, 3)))
    slug = basics.name.lower().replace(" ", "-")
    return {
        "id": product_id,
        "name": basics.name,
        "type": "digital" if basics.is_digital else "physical",
        "sku": basics.sku,
        "description": f"<p>{basics.name}, made to last.</p>",
        "weight": 0 if basics.is_digital else round(rng.uniform(0.1, 4.0), 2),
        "width": 0,
        "depth": 0,
        "height": 0,
        "price": price,
        "cost_price": basics.cost_cents / 100,
        "retail_price": round(price * 1.2, 2),
        "sale_price": round(price * 0.85, 2) if on_sale else 0,
        "map_price": 0,
        "tax_class_id": 0,
        "product_tax_code": "",
        "calculated_price": round(price * 0.85, 2) if on_sale else price,
        "categories": sorted(category_id(index) for index in picked),
        "brand_id": rng.choice((0, 1, 2, 3)),
        "inventory_level": 0 if basics.is_digital else rng.randint(0, 500),
        "inventory_warning_level": 0,
        "inventory_tracking": "none" if basics.is_digital else "product",
        "reviews_rating_sum": (reviews := rng.randint(0, 40)) * 4,
        "reviews_count": reviews,
        "total_sold": rng.randint(0, 5000),
        "is_free_shipping": basics.is_digital,
        "is_visible": rng.random() < 0.9,
        "is_featured": rng.random() < 0.1,
        "upc": f"{mix(seed, PRODUCT, product_id) % 10**12:012d}",
        "mpn": "",
        "gtin": "",
        "search_keywords": "",
        "availability": "available",
        "condition": "New",
        "sort_order": 0,
        "view_count": rng.randint(0, 20000),
        "custom_url": {"url": f"/{slug}-{product_id}/", "is_customized": False},
        "base_variant_id": product_id,
        "date_created": iso(created),
        "date_modified": iso(modified),
    }


def build_categories(seed: int, count: int) -> list[dict]:
    """The category tree (tree 1), shaped like `GET /v3/catalog/trees/categories` items."""
    roots = max(1, count // 3)
    categories = []
    for index in range(1, count + 1):
        rng = rng_for(seed, CATEGORY, index)
        parent = 0 if index <= roots else category_id(rng.randint(1, index - 1))
        base_name = CATEGORY_NAMES[(index - 1) % len(CATEGORY_NAMES)]
        name = base_name if index <= len(CATEGORY_NAMES) else f"{base_name} {index}"
        slug = name.lower().replace(" ", "-")
        categories.append(
            {
                "category_id": category_id(index),
                "category_uuid": str(uuid.UUID(int=mix(seed, CATEGORY, index) << 64 | index)),
                "parent_id": parent,
                "tree_id": 1,
                "name": name,
                "description": f"<p>{name}</p>",
                "views": rng.randint(0, 10000),
                "sort_order": index,
                "page_title": name,
                "search_keywords": "",
                "meta_keywords": [name.lower()],
                "meta_description": "",
                "layout_file": "category.html",
                "is_visible": rng.random() < 0.9,
                "default_product_sort": "use_store_settings",
                "url": {"path": f"/{slug}/", "is_customized": False},
                "image_url": "",
            }
        )
    return categories


def build_store_info(seed: int, store_hash: str) -> dict:
    """The store information object of `GET /v2/store`."""
    domain = f"sandbox-{store_hash}.example.com"
    return {
        "id": store_hash,
        "account_uuid": str(uuid.UUID(int=mix(seed, STORE, 1) << 64 | mix(seed, STORE, 2))),
        "domain": domain,
        "secure_url": f"https://{domain}",
        "control_panel_base_url": f"https://store-{store_hash}.mybigcommerce.com",
        "status": "live",
        "name": f"Sandbox Store {seed}",
        "first_name": "Jane",
        "last_name": "Doe",
        "address": "123 Main Street\nAustin, Texas 78751",
        "country": "United States",
        "country_code": "US",
        "phone": "+1 512-555-0100",
        "admin_email": f"admin@{domain}",
        "order_email": f"orders@{domain}",
        "favicon_url": "",
        "timezone": {
            "name": "America/Chicago",
            "raw_offset": -21600,
            "dst_offset": -18000,
            "dst_correction": True,
            "date_format": {
                "display": "jS M Y",
                "export": "M jS Y",
                "extended_display": "M jS Y @ g:i A",
            },
        },
        "language": "en",
        "currency": "USD",
        "currency_symbol": "$",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "decimal_places": 2,
        "currency_symbol_location": "left",
        "weight_units": "LBS",
        "dimension_units": "Inches",
        "plan_name": "Standard",
        "plan_level": "Standard",
        "plan_is_trial": False,
        "industry": "Apparel & Accessories",
        "logo": [],
        "is_price_entered_with_tax": False,
        "store_id": 1000000 + mix(seed, STORE, 3) % 9000000,
        "default_channel_id": 1,
        "default_site_id": 1000,
        "infrastructure_region": "us-central1",
        "features": {
            "stencil_enabled": True,
            "sitewidehttps_enabled": True,
            "checkout_type": "optimized",
            "wishlists_enabled": True,
            "multi_storefront_enabled": True,
            "storefront_limits": {"active": 1, "total_including_inactive": 1},
        },
    }
