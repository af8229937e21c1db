"""Synthetic people: registered customers (v3 `customer_Full`), unregistered guests, newsletter
readers who never order, and the shopper details an order copies into its billing address."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .formats import iso
from .randomness import CUSTOMER, GUEST, READER, mix, rng_for

# (display name, ASCII form used in email addresses)
FIRST_NAMES = (
    ("Anna", "anna"),
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("José", "jose"),
    ("Søren", "soren"),
    ("Chloé", "chloe"),
    ("Liam", "liam"),
    ("Olivia", "olivia"),
    ("Noah", "noah"),
    ("Emma", "emma"),
    ("Amélie", "amelie"),
    ("François", "francois"),
    ("Jürgen", "jurgen"),
    ("Björn", "bjorn"),
    ("Siobhán", "siobhan"),
    ("太郎", "taro"),
    ("花子", "hanako"),
    ("Małgorzata", "malgorzata"),
    ("Renée", "renee"),
    ("Ólafur", "olafur"),
    ("Mateo", "mateo"),
    ("Priya", "priya"),
    ("Dmitrij", "dmitrij"),
    ("Aoife", "aoife"),
)
LAST_NAMES = (
    ("Smith", "smith"),
    ("Müller", "muller"),
    ("Ørsted", "orsted"),
    ("山田", "yamada"),
    ("García", "garcia"),
    ("Nowak", "nowak"),
    ("O'Brien", "obrien"),
    ("Johnson", "johnson"),
    ("Dubois", "dubois"),
    ("Novák", "novak"),
    ("Jensen", "jensen"),
    ("Rossi", "rossi"),
    ("Nguyễn", "nguyen"),
    ("佐藤", "sato"),
    ("Schröder", "schroder"),
    ("van der Berg", "vanderberg"),
    ("Łęcka", "lecka"),
    ("Brown", "brown"),
    ("Fernández", "fernandez"),
    ("Kowalski", "kowalski"),
)
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "post.example.org")
COMPANIES = ("Acme Pty Ltd", "Müller & Söhne GmbH", "Nordlys ApS", "株式会社サンプル", "Initech")
STREETS = ("Main Street", "Rue de Rivoli", "Hauptstraße", "ul. Długa", "Strøget", "High Street")
# (city, state, zip, country, country_iso2, relative weight); the country decides the currency
PLACES = (
    ("Austin", "Texas", "78751", "United States", "US", 30),
    ("New York", "New York", "10001", "United States", "US", 15),
    ("Portland", "Oregon", "97201", "United States", "US", 10),
    ("Toronto", "Ontario", "M5H 2N2", "Canada", "CA", 5),
    ("東京", "東京都", "100-0001", "Japan", "JP", 5),
    ("Kraków", "Małopolskie", "30-001", "Poland", "PL", 5),
    ("Berlin", "Berlin", "10115", "Germany", "DE", 8),
    ("Paris", "Île-de-France", "75001", "France", "FR", 5),
    ("Madrid", "Madrid", "28001", "Spain", "ES", 4),
    ("Dublin", "Dublin", "D02 X285", "Ireland", "IE", 1),
    ("London", "England", "SW1A 1AA", "United Kingdom", "GB", 12),
)
_PLACE_WEIGHTS = tuple(place[5] for place in PLACES)
WHITESPACE = (" ", "\t", "\n", "  ", " \n", "\t ", "\r\n")
SHORT_NOTES = ("VIP", "Wholesale enquiry", "Asked for invoice by post", "Zoë's sister")
LONG_NOTE = "Prefers delivery after 6pm; call ahead. Très important: no substitutions. "


@dataclass(frozen=True)
class Address:
    """A postal address; shoppers keep one across their orders."""

    street_1: str
    street_2: str
    city: str
    state: str
    zip: str
    country: str
    country_iso2: str


@dataclass(frozen=True)
class Shopper:
    """The person behind an order, as the order records them."""

    customer_id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    company: str
    address: Address


def _email(first: str, last: str, local_suffix: str, domain: str, shout: bool) -> str:
    if shout:
        return f"{first.title()}.{last.title()}{local_suffix}@{domain.title()}"
    return f"{first}.{last}{local_suffix}@{domain}"


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return ""
    return f"+1 {rng.randint(200, 989)}-555-{rng.randint(0, 9999):04d}"


def home_address(seed: int, kind: int, person_id: int) -> Address:
    """The address a customer or guest always uses."""
    rng = random.Random(mix(seed, kind, person_id, 99))
    city, state, zip_code, country, iso2, _ = rng.choices(PLACES, weights=_PLACE_WEIGHTS)[0]
    street_2 = f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}" if rng.random() < 0.25 else ""
    return Address(
        f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
        street_2,
        city,
        state,
        zip_code,
        country,
        iso2,
    )


def build_customer(seed: int, customer_id: int, created: int, modified: int) -> dict:
    """One registered customer, shaped like `GET /v3/customers` returns it."""
    rng = rng_for(seed, CUSTOMER, customer_id)
    first, first_slug = rng.choice(FIRST_NAMES)
    last, last_slug = rng.choice(LAST_NAMES)
    draw = rng.random()
    notes = ""
    if draw < 0.02:
        notes = LONG_NOTE * rng.randint(30, 60)
    elif draw < 0.12:
        notes = rng.choice(SHORT_NOTES)
    return {
        "id": customer_id,
        "authentication": {"force_password_reset": rng.random() < 0.02},
        "company": rng.choice(COMPANIES) if rng.random() < 0.3 else "",
        "customer_group_id": rng.choice((0, 0, 0, 0, 1, 2)),
        "email": _email(
            first_slug, last_slug, str(customer_id), rng.choice(DOMAINS), shout=rng.random() < 0.12
        ),
        "first_name": first,
        "last_name": last,
        "notes": notes,
        "phone": _phone(rng),
        "registration_ip_address": f"203.0.{rng.randint(0, 113)}.{rng.randint(1, 254)}",
        "tax_exempt_category": "",
        "date_created": iso(created),
        "date_modified": iso(modified),
        "accepts_product_review_abandoned_cart_emails": rng.random() < 0.6,
        "origin_channel_id": 1,
        "channel_ids": [1],
        "address_count": rng.choice((0, 1, 1, 1, 2, 3)),
        "attribute_count": 0,
    }


def registered_shopper(seed: int, customer: dict, rng: random.Random) -> Shopper:
    """A registered customer checking out; the billing email sometimes differs in case."""
    email = customer["email"]
    if rng.random() < 0.15:
        email = email.lower() if email != email.lower() else email.upper()
    return Shopper(
        customer["id"],
        customer["first_name"],
        customer["last_name"],
        email,
        customer["phone"],
        customer["company"],
        home_address(seed, CUSTOMER, customer["id"]),
    )


def matching_guest(seed: int, customer: dict, rng: random.Random) -> Shopper:
    """A guest checking out with a registered customer's email, changed in case and/or
    wrapped in whitespace, as shoppers type it (e.g. `"\\tAnna.Smith@Example.com \\n"`)."""
    email = customer["email"]
    recase = rng.random() < 0.7
    if recase:
        email = rng.choice((email.upper(), email.lower(), email.title(), email.swapcase()))
    if not recase or email == customer["email"] or rng.random() < 0.7:
        email = f"{rng.choice(WHITESPACE)}{email}{rng.choice(WHITESPACE)}"
    return Shopper(
        0,
        customer["first_name"],
        customer["last_name"],
        email,
        customer["phone"],
        "",
        home_address(seed, CUSTOMER, customer["id"]),
    )


def unregistered_guest(seed: int, guest: int) -> Shopper:
    """A guest who never registered; the same guest number always has the same email."""
    rng = rng_for(seed, GUEST, guest)
    first, first_slug = rng.choice(FIRST_NAMES)
    last, last_slug = rng.choice(LAST_NAMES)
    email = _email(
        first_slug, last_slug, f".g{guest}", rng.choice(DOMAINS), shout=rng.random() < 0.1
    )
    return Shopper(0, first, last, email, _phone(rng), "", home_address(seed, GUEST, guest))


def customer_id_in_email(email: str) -> int | None:
    """The id a generated customer email ends its local part with (`anna.smith12@…` -> 12),
    so an email lookup needs no scan."""
    local = email.strip().partition("@")[0]
    digits = len(local) - len(local.rstrip("0123456789"))
    return int(local[-digits:]) if digits else None


def newsletter_reader(seed: int, reader: int) -> tuple[str, str, str]:
    """First name, last name and email of someone on the newsletter list who never ordered;
    the same reader number always has the same email (`….s{reader}@…`)."""
    rng = rng_for(seed, READER, reader)
    first, first_slug = rng.choice(FIRST_NAMES)
    last, last_slug = rng.choice(LAST_NAMES)
    email = _email(
        first_slug, last_slug, f".s{reader}", rng.choice(DOMAINS), shout=rng.random() < 0.1
    )
    return first, last, email


def person_in_email(email: str) -> tuple[str, int] | None:
    """Whose generated email this may be, read from the end of its local part, in any case:
    ("guest", 3) for `….g3@…`, ("reader", 3) for `….s3@…`, ("customer", 3) for `…3@…`."""
    local = email.strip().lower().partition("@")[0]
    digits = len(local) - len(local.rstrip("0123456789"))
    if not digits:
        return None
    marker = local[:-digits][-2:]
    return {".g": "guest", ".s": "reader"}.get(marker, "customer"), int(local[-digits:])
