"""Reaching a PostgreSQL warehouse from `WAREHOUSE_URL`, and saying in one sentence why not.

The URL carries a password, so nothing here puts the URL itself into a message: messages name
the server as `postgresql://user@host:port/database`, and psycopg2's own reasons never quote
the password.
"""

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg2
import psycopg2.extensions

SCHEMES = ("postgresql", "postgres")
DEFAULT_PORT = 5432
CONNECT_TIMEOUT_SECONDS = 10
# psycopg2's reason for each way a connection fails, and what the sentence says instead.
_REASONS = (
    ("does not exist", "has no such database (create it first)"),
    ("password authentication failed", "refused the login (check the user and password)"),
    ("no password supplied", "refused the login: it wants a password"),
    ("no pg_hba.conf entry", "refused the login: pg_hba.conf has no entry for this client"),
    ("role", "refused the login: no such user"),
)


class WarehouseUrlError(Exception):
    """The warehouse cannot be used; the message is one sentence without the password."""


@dataclass(frozen=True)
class PostgresAddress:
    """A PostgreSQL database as `WAREHOUSE_URL` names it."""

    url: str
    user: str
    host: str
    port: int
    database: str

    def __str__(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


def parse_url(url: str) -> PostgresAddress:
    """The database `url` names; raises WarehouseUrlError, without the URL, when it names none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise WarehouseUrlError(
            "WAREHOUSE_URL is not a URL of the form postgresql://user:password@host:port/database."
        ) from None
    database = unquote(parts.path.lstrip("/"))
    if parts.scheme not in SCHEMES or not parts.hostname or not parts.username or not database:
        raise WarehouseUrlError(
            "WAREHOUSE_URL must be postgresql://user:password@host:port/database (scheme "
            f"{parts.scheme or 'missing'}, host {parts.hostname or 'missing'}, user "
            f"{'given' if parts.username else 'missing'}, database {database or 'missing'})."
        )
    return PostgresAddress(url.strip(), unquote(parts.username), parts.hostname, port, database)


def connect(address: PostgresAddress, *, read_only: bool = False) -> psycopg2.extensions.connection:
    """A connection in autocommit mode (statements commit one by one unless a transaction is
    begun); raises WarehouseUrlError naming the server and the reason when there is none."""
    options = "-c default_transaction_read_only=on" if read_only else None
    try:
        connection = psycopg2.connect(
            address.url,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="bigcommerce-cdp",
            options=options,
        )
    except psycopg2.OperationalError as error:
        raise WarehouseUrlError(f"The warehouse {address} {_reason(error)}.") from None
    connection.autocommit = True
    return connection


def _reason(error: psycopg2.OperationalError) -> str:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    for marker, reason in _REASONS:
        if marker in detail and (marker != "does not exist" or "database" in detail):
            return reason
    return f"cannot be reached ({detail})"
