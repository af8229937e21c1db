"""The Dagster UI end to end: headless Chromium drives a real `dagster dev` over the sandbox
store the way a user would, and leaves a screenshot of each step in test-artifacts/ui/."""

import re
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dbt_like_sql.project import MODELS_DIR

SECONDS = 1000  # Playwright timeouts are in milliseconds.
RUN_TIMEOUT = 180 * SECONDS
# Assertions wait as long as actions do (the page fixture's default). On a busy two-core CI
# machine an asset's description has taken longer than Playwright's 5 s to appear: its panel was
# open, its text not there yet.
expect.set_options(timeout=30 * SECONDS)
OUR_PACKAGES = ("bigcommerce_assets", "dbt_like_sql", "audience_jobs")
# README, "Running unattended": what is switched on in a new instance.
DEFAULT_STATUS = {
    "bigcommerce_every_15_minutes": False,
    "bigcommerce_hourly": False,
    "bigcommerce_daily": False,
    "rebuild_after_loads": True,
    "release_abandoned_runs": True,
    "audience_export_sensor": False,
}


@pytest.fixture(scope="module")
def screenshots(dagster_dev) -> Path:
    """test-artifacts/ui/, emptied of an earlier session's screenshots."""
    folder = dagster_dev.artifacts / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, dagster_dev) -> Iterator[Page]:
    """A fresh browser tab on the webserver; nothing outside it can be reached."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(30 * SECONDS)
    context.route(re.compile(rf"^(?!{re.escape(dagster_dev.url)}/)"), lambda route: route.abort())
    tab = context.new_page()
    # A fresh instance greets its first visitor with a newsletter dialog; close it whenever
    # it shows up, as a user would.
    tab.add_locator_handler(
        tab.get_by_text("Join the Dagster community"),
        lambda: tab.get_by_role("button", name="Skip").click(),
    )
    yield tab
    context.close()


def shoot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"))


def test_asset_graph_shows_the_three_groups_on_the_lineage_page(page, dagster_dev, screenshots):
    page.goto(dagster_dev.url)
    page.get_by_role("link", name=re.compile(r"Lineage$")).click()

    expect(page).to_have_url(re.compile(r"/asset-groups"))
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    graph = page.locator("svg")
    for group in ("bigcommerce", "models", "exports"):
        expect(graph.get_by_text(group, exact=True)).to_be_visible()
    shoot(page, screenshots, "01-asset-graph")


def test_profiles_page_shows_the_sql_comment_and_columns(page, dagster_dev, screenshots):
    first_line = (MODELS_DIR / "marts" / "profiles.sql").read_text().splitlines()[0]
    summary = first_line.removeprefix("--").strip()

    page.goto(f"{dagster_dev.url}/assets/analytics/profiles")

    expect(page.get_by_text(summary)).to_be_visible()
    shoot(page, screenshots, "02-profiles-description")
    columns = page.get_by_role("table").filter(has_text="Column name")
    for column in ("profile_id", "total_spend", "rfm_segment"):
        expect(columns.get_by_text(column, exact=True)).to_be_visible()
    columns.get_by_text("rfm_segment", exact=True).scroll_into_view_if_needed()
    shoot(page, screenshots, "03-profiles-columns")


def test_one_partition_launched_from_the_ui_succeeds(page, dagster_dev, screenshots):
    partition = dagster_dev.first_day

    page.goto(f"{dagster_dev.url}/assets/bigcommerce/customers")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Launch runs to materialize bigcommerce / customers")).to_be_visible()
    partitions = dialog.get_by_role("textbox").first
    partitions.fill(partition)
    partitions.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    shoot(page, screenshots, "04-launch-one-partition")
    dialog.get_by_role("button", name="Launch 1 run").click()
    toast = page.get_by_role("listitem").filter(has_text=re.compile(r"Launched run [0-9a-f]{8}"))
    expect(toast).to_be_visible()
    # The notification closes by itself after a few seconds unless the pointer rests on it.
    toast.hover()
    shoot(page, screenshots, "05-run-launched")
    toast.get_by_role("link", name="View").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT)
    expect(page.get_by_text(f"partition: {partition}")).to_be_visible()
    shoot(page, screenshots, "06-run-succeeded")

    with dagster_dev.instance() as instance:
        run = instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/partition"] == partition
    assert run.asset_selection == {dg.AssetKey(["bigcommerce", "customers"])}


def test_audience_page_plots_its_size_over_builds(page, dagster_dev, screenshots):
    with dagster_dev.instance() as instance:
        builds = instance.fetch_materializations(
            dg.AssetKey(["analytics", "repeat_buyers"]), limit=10
        ).records
    assert len(builds) >= 2

    page.goto(f"{dagster_dev.url}/assets/analytics/repeat_buyers")
    page.get_by_role("button", name="Plots").click()

    expect(page.get_by_text("dagster/row_count", exact=True)).to_be_visible()
    chart = page.locator("canvas").first
    expect(chart).to_be_visible()
    chart.scroll_into_view_if_needed()
    shoot(page, screenshots, "07-repeat-buyers-size-plot")


def test_automation_page_shows_the_documented_defaults(page, dagster_dev, screenshots):
    page.goto(dagster_dev.url)
    page.get_by_role("link", name=re.compile(r"Automation$")).click()

    expect(page).to_have_url(re.compile(r"/automation"))
    switches = {}
    for name in DEFAULT_STATUS:
        expect(page.get_by_text(name, exact=True)).to_be_visible()
        row = page.locator("[data-index]").filter(has=page.get_by_text(name, exact=True))
        # A row holds a selection checkbox, then, once its state has loaded, the on/off switch.
        expect(row.get_by_role("checkbox")).to_have_count(2)
        switches[name] = row.get_by_role("checkbox").last
    for name, running in DEFAULT_STATUS.items():
        expect(switches[name]).to_be_checked(checked=running)
    shoot(page, screenshots, "08-automation")


def test_code_location_loads_without_warnings_from_our_code(dagster_dev):
    ours = [
        line
        for line in dagster_dev.log().splitlines()
        if "warning" in line.lower() and any(package in line for package in OUR_PACKAGES)
    ]

    assert ours == []
