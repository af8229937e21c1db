"""What a load will cost, computed from counts and a quota: pages by the load's paging rules,
hours at a quota read from headers or a plan."""

import pytest

from bigcommerce_assets.forecast import Quota, v2_pages, v3_pages
from bigcommerce_assets.pacing import QuotaReading

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("total", "v3", "v2"),
    [(0, 1, 1), (1, 1, 1), (249, 1, 1), (250, 1, 2), (251, 2, 2), (500, 2, 3), (501, 3, 3)],
)
def test_pages_follow_the_loads_paging_rules(total, v3, v2):
    assert (v3_pages(total), v2_pages(total)) == (v3, v2)


def test_quota_from_rate_limit_headers_sets_the_pace():
    reading = QuotaReading.from_headers(
        {
            "X-Rate-Limit-Requests-Quota": "450",
            "X-Rate-Limit-Requests-Left": "17",
            "X-Rate-Limit-Time-Window-Ms": "30000",
        },
        refused=False,
    )

    quota = Quota.from_reading(reading)

    assert quota.hours(54_000) == 1.0
    assert quota.daily_share(54_000) == 1 / 24
    assert Quota.from_plan({"plan_level": "Enterprise", "plan_name": "Enterprise"}) is None
