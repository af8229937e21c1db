"""Export jobs files: what loads, what the defaults are, and how each mistake is reported."""

from pathlib import Path

import pytest

from audience_jobs.jobs import EXPORTS_FILE, ExportJob, ExportJobsError, load_export_jobs
from bigcommerce_assets.assets import RAW_TABLE_KEYS
from dbt_like_sql.audiences import AUDIENCE_LAYER
from dbt_like_sql.project import MODELS_DIR, load_project

pytestmark = pytest.mark.unit

AUDIENCES = frozenset({"repeat_buyers", "vip"})
PROFILE_COLUMNS = frozenset(
    {
        "email",
        "first_name",
        "phone",
        "total_spend",
        "last_order_at",
        "newsletter_consent",
        *(f"c{i}" for i in range(10)),
    }
)


def write_jobs(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exports.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path) -> tuple[ExportJob, ...]:
    return load_export_jobs(path, audiences=AUDIENCES, profile_columns=PROFILE_COLUMNS)


def load_error(path: Path) -> str:
    with pytest.raises(ExportJobsError) as raised:
        load(path)
    return str(raised.value)


def assert_names(message: str, path: Path, job_id: str, key: str) -> None:
    assert str(path) in message
    assert f"job {job_id!r}" in message
    assert f"key {key}" in message


def custom_attributes(prefix: str, count: int) -> str:
    """A flow mapping of `count` profile columns to distinct string attributes."""
    return ", ".join(f"c{i}: {{name: {prefix}_{i}}}" for i in range(count))


@pytest.fixture(scope="module")
def shipped_jobs() -> tuple[ExportJob, ...]:
    project = load_project(MODELS_DIR, RAW_TABLE_KEYS)
    return load_export_jobs(
        EXPORTS_FILE,
        audiences={model.name for model in project.models if model.layer == AUDIENCE_LAYER},
        profile_columns=set(project.model("profiles").columns),
    )


def test_shipped_exports_file_loads_against_models(shipped_jobs):
    assert shipped_jobs


def test_shipped_exports_file_exports_repeat_buyers(shipped_jobs):
    assert "repeat_buyers" in {job.audience for job in shipped_jobs}


def test_job_defaults_apply_when_only_id_and_audience_given(tmp_path):
    path = write_jobs(tmp_path, "jobs:\n  - {id: vip_export, audience: vip}\n")

    (job,) = load(path)

    assert (job.attribute_name, job.existing_members, job.enabled) == (
        "Audience_vip_export",
        False,
        True,
    )


def test_attribute_name_is_taken_from_file_when_given(tmp_path):
    path = write_jobs(tmp_path, "jobs:\n  - {id: vip_export, audience: vip, attribute: VIP}\n")

    (job,) = load(path)

    assert job.attribute_name == "VIP"


def test_disabled_jobs_are_not_returned(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - {id: vip_export, audience: vip}\n"
        "  - {id: repeat_export, audience: repeat_buyers, enabled: false}\n",
    )

    assert [job.id for job in load(path)] == ["vip_export"]


def test_empty_file_has_no_jobs(tmp_path):
    path = write_jobs(tmp_path, "")

    assert load(path) == ()


def test_unknown_audience_is_refused(tmp_path):
    path = write_jobs(tmp_path, "jobs:\n  - {id: vip_export, audience: vips}\n")

    message = load_error(path)

    assert_names(message, path, "vip_export", "audience")
    assert "'vips'" in message


def test_unknown_profile_column_in_standard_fields_is_refused(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        "    map_standard_fields: {given_name: first_name}\n",
    )

    assert_names(load_error(path), path, "vip_export", "map_standard_fields.given_name")


def test_unknown_profile_column_in_custom_attributes_is_refused(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        "    map_custom_attributes: {lifetime_spend: {name: Lifetime_spend, type: number}}\n",
    )

    assert_names(load_error(path), path, "vip_export", "map_custom_attributes.lifetime_spend")


def test_email_is_refused_as_standard_field(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n  - {id: vip_export, audience: vip, map_standard_fields: {email: email}}\n",
    )

    assert_names(load_error(path), path, "vip_export", "map_standard_fields.email")


def test_unknown_attribute_type_is_refused(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        "    map_custom_attributes: {total_spend: {name: Lifetime_spend, type: money}}\n",
    )

    assert_names(load_error(path), path, "vip_export", "map_custom_attributes.total_spend.type")


@pytest.mark.parametrize("job_id", ["Vip_export", "vip export", "1vip", "vip-export"])
def test_job_id_is_refused_when_not_a_lowercase_slug(tmp_path, job_id):
    path = write_jobs(tmp_path, f"jobs:\n  - {{id: '{job_id}', audience: vip}}\n")

    assert_names(load_error(path), path, job_id, "id")


@pytest.mark.parametrize(
    "attribute",
    ['""', '"   "', '"Audience\\nvip"', '"Audience_vip\\n"', '"\\tAudience"'],
    ids=["empty", "whitespace", "inner-newline", "trailing-newline", "tab"],
)
def test_attribute_name_is_refused_when_blank_or_holding_control_characters(tmp_path, attribute):
    path = write_jobs(
        tmp_path, f"jobs:\n  - {{id: vip_export, audience: vip, attribute: {attribute}}}\n"
    )

    assert_names(load_error(path), path, "vip_export", "attribute")


def test_custom_attribute_name_is_refused_when_blank(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        "    map_custom_attributes: {total_spend: {name: ' '}}\n",
    )

    assert_names(load_error(path), path, "vip_export", "map_custom_attributes.total_spend.name")


def test_duplicate_job_id_is_refused(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - {id: vip_export, audience: vip, attribute: VIP_a}\n"
        "  - {id: vip_export, audience: vip, attribute: VIP_b}\n",
    )

    assert_names(load_error(path), path, "vip_export", "id")


def test_reserved_job_id_is_refused(tmp_path):
    path = write_jobs(tmp_path, "jobs:\n  - {id: membership_changes, audience: vip}\n")

    assert_names(load_error(path), path, "membership_changes", "id")


def test_require_consent_is_none_unless_given(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - {id: vip_export, audience: vip}\n"
        "  - {id: repeat_export, audience: repeat_buyers, require_consent: null}\n",
    )

    assert [(job.require_consent, job.consent_column) for job in load(path)] == [
        (None, None),
        (None, None),
    ]


def test_require_consent_takes_marketing_newsletter(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n  - {id: vip_export, audience: vip, require_consent: marketing_newsletter}\n",
    )

    (job,) = load(path)

    assert (job.require_consent, job.consent_column) == (
        "marketing_newsletter",
        "newsletter_consent",
    )


@pytest.mark.parametrize(
    "value", ["abandoned_cart", "yes", "true", "1", "''", "[marketing_newsletter]"]
)
def test_require_consent_is_refused_naming_the_allowed_values(tmp_path, value):
    path = write_jobs(
        tmp_path, f"jobs:\n  - {{id: vip_export, audience: vip, require_consent: {value}}}\n"
    )

    message = load_error(path)

    assert_names(message, path, "vip_export", "require_consent")
    assert "the allowed values are marketing_newsletter, or null (or no key) for none" in message


def test_require_consent_is_refused_when_profiles_do_not_record_it(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n  - {id: vip_export, audience: vip, require_consent: marketing_newsletter}\n",
    )

    with pytest.raises(ExportJobsError) as raised:
        load_export_jobs(
            path, audiences=AUDIENCES, profile_columns=PROFILE_COLUMNS - {"newsletter_consent"}
        )

    assert_names(str(raised.value), path, "vip_export", "require_consent")
    assert "profiles has no column 'newsletter_consent'" in str(raised.value)


def test_unknown_key_in_job_is_refused(tmp_path):
    path = write_jobs(tmp_path, "jobs:\n  - {id: vip_export, audience: vip, atribute: VIP}\n")

    assert_names(load_error(path), path, "vip_export", "atribute")


def test_two_jobs_writing_one_audience_attribute_are_refused(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - {id: vip_export, audience: vip, attribute: Segment}\n"
        "  - {id: repeat_export, audience: repeat_buyers, attribute: Segment}\n",
    )

    message = load_error(path)

    assert str(path) in message
    assert "'repeat_export'" in message and "'vip_export'" in message
    assert "'Segment'" in message


def test_audience_attribute_reused_as_custom_attribute_is_refused(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - {id: vip_export, audience: vip}\n"
        "  - id: repeat_export\n"
        "    audience: repeat_buyers\n"
        "    map_custom_attributes: {first_name: {name: Audience_vip_export}}\n",
    )

    message = load_error(path)

    assert "'repeat_export'" in message and "'vip_export'" in message
    assert "'Audience_vip_export'" in message


def test_custom_attribute_is_shared_when_types_agree(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        "    map_custom_attributes: {total_spend: {name: Lifetime_spend, type: number}}\n"
        "  - id: repeat_export\n"
        "    audience: repeat_buyers\n"
        "    map_custom_attributes: {total_spend: {name: Lifetime_spend, type: number}}\n",
    )

    assert [job.id for job in load(path)] == ["vip_export", "repeat_export"]


def test_custom_attribute_with_different_types_across_jobs_is_refused(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        "    map_custom_attributes: {total_spend: {name: Lifetime_spend, type: number}}\n"
        "  - id: repeat_export\n"
        "    audience: repeat_buyers\n"
        "    map_custom_attributes: {total_spend: {name: Lifetime_spend, type: string}}\n",
    )

    message = load_error(path)

    assert str(path) in message
    assert "'repeat_export'" in message and "'vip_export'" in message
    assert "'Lifetime_spend'" in message


def test_custom_attribute_type_conflict_names_the_key(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        "    map_custom_attributes: {total_spend: {name: Lifetime_spend, type: number}}\n"
        "  - id: repeat_export\n"
        "    audience: repeat_buyers\n"
        "    map_custom_attributes: {total_spend: {name: Lifetime_spend, type: string}}\n",
    )

    assert "map_custom_attributes.total_spend" in load_error(path)


def test_ten_attributes_in_one_job_are_allowed(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        f"    map_custom_attributes: {{{custom_attributes('Vip', 9)}}}\n",
    )

    (job,) = load(path)

    assert len(job.attribute_types()) == 10


def test_more_than_ten_attributes_in_one_job_are_refused(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        f"    map_custom_attributes: {{{custom_attributes('Vip', 10)}}}\n",
    )

    assert_names(load_error(path), path, "vip_export", "map_custom_attributes")


def fifty_attribute_jobs(extra_enabled: bool) -> str:
    """Five jobs of ten distinct attributes each, then one more job of one attribute."""
    jobs = [
        f"  - id: job_{j}\n"
        f"    audience: vip\n"
        f"    map_custom_attributes: {{{custom_attributes(f'Job{j}', 9)}}}\n"
        for j in range(5)
    ]
    enabled = "true" if extra_enabled else "false"
    jobs.append(f"  - {{id: job_extra, audience: vip, enabled: {enabled}}}\n")
    return "jobs:\n" + "".join(jobs)


def test_more_than_fifty_attributes_across_enabled_jobs_are_refused(tmp_path):
    path = write_jobs(tmp_path, fifty_attribute_jobs(extra_enabled=True))

    message = load_error(path)

    assert str(path) in message
    assert "51" in message


def test_disabled_jobs_do_not_count_toward_fifty_attributes(tmp_path):
    path = write_jobs(tmp_path, fifty_attribute_jobs(extra_enabled=False))

    assert len(load(path)) == 5


def test_every_problem_is_reported_at_once(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - {id: vip_export, audience: vips}\n"
        "  - {id: repeat_export, audience: repeat_buyers, map_standard_fields: {x: phone}}\n",
    )

    message = load_error(path)

    assert "key audience" in message
    assert "key map_standard_fields.x" in message


def test_missing_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "missing.yaml"

    assert str(path) in load_error(path)


def test_invalid_yaml_is_refused_with_its_path(tmp_path):
    path = write_jobs(tmp_path, "jobs:\n  - {id: vip_export, audience: vip\n")

    assert str(path) in load_error(path)


def test_top_level_list_is_refused_with_its_path(tmp_path):
    path = write_jobs(tmp_path, "- {id: vip_export, audience: vip}\n")

    assert str(path) in load_error(path)


def test_file_not_in_utf8_is_refused_with_its_path(tmp_path):
    path = tmp_path / "exports.yaml"
    path.write_bytes(
        "jobs:\n  - {id: vip_export, audience: vip, attribute: Caf\u00e9}\n".encode("cp1252")
    )

    assert str(path) in load_error(path)


def test_unknown_column_in_both_maps_is_named_under_each_map(tmp_path):
    path = write_jobs(
        tmp_path,
        "jobs:\n"
        "  - id: vip_export\n"
        "    audience: vip\n"
        "    map_standard_fields: {mobile: phone}\n"
        "    map_custom_attributes: {mobile: {name: Mobile}}\n",
    )

    message = load_error(path)

    assert "key map_standard_fields.mobile" in message
    assert "key map_custom_attributes.mobile" in message
