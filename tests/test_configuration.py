"""Bad configuration fails first, in one clear sentence, and the token never leaks."""

import socket

import dagster as dg
import pytest
from helpers.extraction import EXTRACTION, failure_message, load, rows
from helpers.store import resources


def loaded_tables(tmp_path) -> list[str]:
    """Tables holding store data (dlt may create its own bookkeeping tables first)."""
    tables = rows(
        tmp_path,
        """
        select table_name from information_schema.tables
        where table_schema = 'bigcommerce' and table_name not like '\\_dlt%' escape '\\'
    """,
    )
    return [name for (name,) in tables]


def test_store_hash_pasted_as_control_panel_url_is_reduced(server, store, tmp_path):
    pasted = f"https://store-{store.store_hash}.mybigcommerce.com/manage/dashboard"

    result = load(server, store, tmp_path, store_hash=pasted)

    assert result.success


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        ({"store_hash": "my store!"}, "is not a store hash"),
        ({"store_hash": ""}, "BIGCOMMERCE_STORE_HASH is empty"),
        ({"access_token": " "}, "BIGCOMMERCE_ACCESS_TOKEN is empty"),
    ],
)
def test_invalid_settings_fail_before_any_request(server, store, tmp_path, overrides, sentence):
    result = load(server, store, tmp_path, **overrides)

    assert not result.success
    assert sentence in failure_message(result)
    assert server.requests == []


def test_wrong_token_fails_with_401_sentence(server, store, tmp_path):
    result = load(server, store, tmp_path, access_token="wrong-token")

    assert not result.success
    assert "rejected the access token (401)" in failure_message(result)
    assert loaded_tables(tmp_path) == []


def test_missing_scope_fails_naming_the_scope(server, store, tmp_path):
    server.add_token(
        "no-transactions",
        scopes={
            "store_v2_customers_read_only",
            "store_v2_orders_read_only",
            "store_v2_products_read_only",
            "store_v2_information_read_only",
        },
    )

    result = load(server, store, tmp_path, access_token="no-transactions")

    assert not result.success
    assert "(403)" in failure_message(result)
    assert "Order Transactions (store_v2_transactions_read_only)" in failure_message(result)


def test_unknown_store_fails_with_404_sentence(server, store, tmp_path):
    result = load(server, store, tmp_path, store_hash="nosuchstore")

    assert not result.success
    assert "does not know this store (404" in failure_message(result)


def test_unreachable_api_url_fails_with_one_sentence(server, store, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    result = load(
        server, store, tmp_path, api_url=f"http://127.0.0.1:{closed_port}", max_attempts=2
    )

    assert not result.success
    message = failure_message(result)
    assert "Failure: Could not reach BigCommerce at http://127.0.0.1:" in message
    assert "\n" not in message.strip()


def test_missing_token_variable_is_named(server, store, tmp_path, monkeypatch):
    monkeypatch.delenv("BIGCOMMERCE_ACCESS_TOKEN", raising=False)
    bundle = resources(server, store, tmp_path, access_token=dg.EnvVar("BIGCOMMERCE_ACCESS_TOKEN"))

    with pytest.raises(Exception, match="BIGCOMMERCE_ACCESS_TOKEN"):
        dg.materialize([EXTRACTION], resources=bundle, partition_key="2026-11-20")


def test_token_never_lands_in_logs_tables_or_dlt_files(server, store, tmp_path, monkeypatch):
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", store.access_token)
    instance = dg.DagsterInstance.ephemeral()
    bundle = resources(server, store, tmp_path, access_token=dg.EnvVar("BIGCOMMERCE_ACCESS_TOKEN"))

    result = dg.materialize(
        [EXTRACTION], resources=bundle, instance=instance, partition_key="2026-11-20"
    )
    failed = load(server, store, tmp_path / "failed", store_hash="nosuchstore")

    assert result.success and not failed.success
    logs = "\n".join(str(r) for r in instance.all_logs(result.run_id))
    assert store.access_token not in logs
    assert store.access_token not in str(result.dagster_run.run_config)
    assert store.access_token not in failure_message(failed)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert store.access_token.encode() not in path.read_bytes(), path
