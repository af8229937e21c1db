"""A scratch database on a PostgreSQL server the person running a benchmark names, created for
one measurement and dropped after it, so every load starts from an empty warehouse."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from warehouse.postgres import connect, parse_url

# Child processes of a benchmark find the server here.
WAREHOUSE_URL_VARIABLE = "BENCHMARK_WAREHOUSE_URL"


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """The URL of a new, empty database on `url`'s server; dropped on the way out."""
    address = parse_url(url)
    name = f"benchmark_{uuid.uuid4().hex[:12]}"
    admin = connect(address)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"create database {name}")
        yield urlunsplit(urlsplit(url.strip())._replace(path=f"/{name}"))
        with admin.cursor() as cursor:
            cursor.execute(f"drop database {name} with (force)")
    finally:
        admin.close()
