"""The warehouse switch: `WAREHOUSE_URL` names a PostgreSQL database, and every way it can be
wrong fails in one sentence, without the password, before anything is written."""

import dagster as dg
import pytest
from helpers.extraction import failure_message, load
from helpers.postgres import PASSWORD

from warehouse.connection import postgres_placeholders
from warehouse.postgres import WarehouseUrlError, parse_url
from warehouse.resource import WarehouseResource


@pytest.mark.unit
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://cdp:secret@db.internal/",  # no database
        "mysql://cdp:secret@db.internal/cdp",  # another engine
        "postgresql://db.internal/cdp",  # no user
        "postgresql://cdp:secret@db.internal:port/cdp",  # a port that is no number
        "db.internal/cdp",
    ],
)
def test_a_url_that_names_no_database_is_one_sentence_without_the_password(url):
    with pytest.raises(WarehouseUrlError) as refused:
        parse_url(url)

    message = str(refused.value)
    assert message.startswith("WAREHOUSE_URL ") and message.endswith(".")
    assert "secret" not in message


@pytest.mark.unit
def test_placeholders_become_psycopg2s_outside_quotes_and_percent_signs_are_escaped():
    sql = "select '?', \"a?\" from t where x = ? and y like '50%' and z = ?"

    assert postgres_placeholders(sql) == (
        "select '?', \"a?\" from t where x = %s and y like '50%%' and z = %s"
    )


@pytest.mark.unit
def test_a_warehouse_is_named_without_its_password():
    warehouse = WarehouseResource(url="postgresql://cdp:s3cr3t@db.internal:6543/shop")

    assert warehouse.dialect == "postgres"
    assert warehouse.describe() == "postgresql://cdp@db.internal:6543/shop"
    assert WarehouseResource(path="data/warehouse.duckdb").dialect == "duckdb"


def _failure(url: str) -> str:
    with pytest.raises(dg.Failure) as failed, WarehouseResource(url=url).connect():
        pass
    return failed.value.description or ""


def test_each_way_a_server_refuses_is_one_sentence_without_the_password(postgres):
    url = postgres.create_database()
    database = url.rsplit("/", 1)[1]
    wrong = url.replace(PASSWORD, "not-the-password-71")
    unreachable = url.replace(f":{postgres.port}/", ":9/")
    missing = url.rsplit("/", 1)[0] + "/no_such_database"

    reasons = {
        "login": _failure(wrong),
        "unreachable": _failure(unreachable),
        "missing": _failure(missing),
    }

    assert reasons["login"] == (
        f"The warehouse postgresql://cdp@127.0.0.1:{postgres.port}/{database} refused the login "
        "(check the user and password)."
    )
    assert reasons["unreachable"].startswith(
        f"The warehouse postgresql://cdp@127.0.0.1:9/{database} cannot be reached ("
    )
    assert reasons["missing"] == (
        f"The warehouse postgresql://cdp@127.0.0.1:{postgres.port}/no_such_database has no such "
        "database (create it first)."
    )
    for reason in reasons.values():
        assert PASSWORD not in reason and "not-the-password-71" not in reason
        assert reason.count(". ") == 0


def test_a_load_with_a_refused_login_fails_before_any_request_or_file(
    server, store, tmp_path, postgres
):
    url = postgres.create_database().replace(PASSWORD, "not-the-password-71")

    result = load(server, store, tmp_path, warehouse=WarehouseResource(url=url))

    assert not result.success
    assert "refused the login (check the user and password)" in failure_message(result)
    assert server.requests == []
    assert not (tmp_path / "dlt").exists() or not any((tmp_path / "dlt").iterdir())
