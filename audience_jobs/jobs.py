"""Export jobs: which audience goes to which BigCommerce customer attribute, declared in YAML.

The file is checked when the code location loads, against the audiences and profile columns
the SQL models produce, so a typo fails at once with the file, the job and the key named,
instead of at the first export run.

Keys of a job: `id`, `audience`, `attribute` (default `Audience_<id>`), `existing_members`,
`map_standard_fields`, `map_custom_attributes`, `enabled`, and `require_consent`: absent or null
sends every member; `marketing_newsletter` sends only members whose profile has
`newsletter_consent` true, and a member who loses that consent leaves the export exactly as a
member who leaves the audience does (their values of the job's attributes are deleted).
"""

from collections import Counter
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

EXPORTS_FILE = Path(__file__).parent / "exports.yaml"
# API.md §3: a store holds at most 50 customer attributes; names are 1 to 255 characters.
MAX_STORE_ATTRIBUTES = 50
# A member's values go out in one attribute-values upsert, which takes 10 items (API.md §3).
MAX_JOB_ATTRIBUTES = 10
# `exports/<id>` sits beside the queue asset, so a job may not take the queue's name.
RESERVED_IDS = frozenset({"membership_changes"})

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
AttributeName = Annotated[
    str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$")
]
AttributeType = Literal["string", "number", "date"]
# Fields `PUT /v3/customers` accepts that a profile can sensibly own (API.md §3). The email is
# left out on purpose: it is the shopper's login, and profiles hold it normalised.
StandardField = Literal[
    "first_name",
    "last_name",
    "company",
    "phone",
    "notes",
    "customer_group_id",
    "tax_exempt_category",
]
Consent = Literal["marketing_newsletter"]
# The consents a job may require, each with the boolean profile column that records it (API.md
# §12: marketing consent is a subscriber's `consents` holding `marketing_newsletter`).
CONSENT_COLUMNS: dict[Consent, str] = {"marketing_newsletter": "newsletter_consent"}


class ExportJobsError(Exception):
    """The export jobs file is wrong; the message names the file, the job and the key."""


class CustomAttribute(BaseModel):
    """A customer attribute that carries one profile column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[AttributeName, Field(max_length=255)]
    type: AttributeType = "string"


class ExportJob(BaseModel):
    """One audience written to one customer attribute, with optional field mapping.

    `require_consent` (None, or `marketing_newsletter`) limits the members sent to those whose
    profile records that consent; losing it counts as leaving the audience.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    audience: Slug
    attribute: Annotated[AttributeName, Field(max_length=255)] | None = None
    existing_members: bool = False
    map_standard_fields: dict[str, StandardField] = {}
    map_custom_attributes: dict[str, CustomAttribute] = {}
    enabled: bool = True
    require_consent: Consent | None = None

    @property
    def attribute_name(self) -> str:
        """The attribute whose value is the audience slug for members."""
        return self.attribute or f"Audience_{self.id}"

    @property
    def consent_column(self) -> str | None:
        """The profile column a member needs true to be sent; None when no consent is needed."""
        return None if self.require_consent is None else CONSENT_COLUMNS[self.require_consent]

    def attribute_types(self) -> dict[str, str]:
        """Every attribute the job writes, with its type."""
        return {name: kind for name, (kind, _) in _attribute_entries(self)}


class _ExportJobsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[ExportJob] = []


def load_export_jobs(
    path: Path, *, audiences: Set[str], profile_columns: Set[str]
) -> tuple[ExportJob, ...]:
    """The enabled jobs of an exports file, checked against what the models produce.

    Raises:
        ExportJobsError: listing every problem, each naming the file, the job and the key.
    """
    raw = _read(path)
    try:
        declared = _ExportJobsFile.model_validate(raw)
    except ValidationError as error:
        problems = [_describe(raw, issue) for issue in error.errors()]
        raise ExportJobsError(_report(path, problems)) from None
    problems = _check(declared.jobs, audiences=audiences, profile_columns=profile_columns)
    if problems:
        raise ExportJobsError(_report(path, problems))
    return tuple(job for job in declared.jobs if job.enabled)


def _read(path: Path) -> Any:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ExportJobsError(f"{path}: cannot read the export jobs file ({error}).") from None
    except UnicodeDecodeError as error:
        raise ExportJobsError(f"{path}: not UTF-8 text ({error}).") from None
    except yaml.YAMLError as error:
        raise ExportJobsError(f"{path}: not valid YAML: {error}") from None
    return {} if raw is None else raw


def _check(jobs: list[ExportJob], *, audiences: Set[str], profile_columns: Set[str]) -> list[str]:
    """What is wrong with jobs that are each well formed on their own."""
    problems = []
    for job_id, count in Counter(job.id for job in jobs).items():
        if count > 1:
            problems.append(f"job {job_id!r}, key id: declared {count} times.")
    enabled = [job for job in jobs if job.enabled]
    for job in jobs:
        where = f"job {job.id!r}"
        if job.id in RESERVED_IDS:
            problems.append(f"{where}, key id: {job.id!r} is reserved for the queue asset.")
        if job.audience not in audiences:
            known = ", ".join(sorted(audiences)) or "none"
            problems.append(
                f"{where}, key audience: no audience model named {job.audience!r} "
                f"(audiences: {known})."
            )
        for key, columns in (
            ("map_standard_fields", job.map_standard_fields),
            ("map_custom_attributes", job.map_custom_attributes),
        ):
            problems.extend(
                f"{where}, key {key}.{column}: profiles has no column {column!r}."
                for column in columns
                if column not in profile_columns
            )
        if job.consent_column is not None and job.consent_column not in profile_columns:
            problems.append(
                f"{where}, key require_consent: profiles has no column {job.consent_column!r}, "
                f"which records the consent {job.require_consent!r}."
            )
        for field, count in Counter(job.map_standard_fields.values()).items():
            if count > 1:
                problems.append(
                    f"{where}, key map_standard_fields: {count} columns map to {field!r}."
                )
        names = [name for name, _ in _attribute_entries(job)]
        if len(names) > MAX_JOB_ATTRIBUTES:
            problems.append(
                f"{where}, key map_custom_attributes: the job writes {len(names)} attributes; "
                f"at most {MAX_JOB_ATTRIBUTES} (one upsert request per member, API.md §3)."
            )
        for name, count in Counter(names).items():
            if count > 1:
                keys = ", ".join(k for n, (_, k) in _attribute_entries(job) if n == name)
                problems.append(
                    f"{where}, keys {keys}: the attribute {name!r} is written {count} times."
                )
    problems.extend(_shared_attributes(enabled))
    total = len({name for job in enabled for name in job.attribute_types()})
    if total > MAX_STORE_ATTRIBUTES:
        problems.append(
            f"the enabled jobs write {total} customer attributes; a store holds at most "
            f"{MAX_STORE_ATTRIBUTES} (API.md §3)."
        )
    return problems


def _shared_attributes(jobs: list[ExportJob]) -> list[str]:
    """Two jobs may share a custom attribute of one type, but never an audience attribute."""
    problems = []
    owners: dict[str, tuple[ExportJob, str, str]] = {}
    for job in jobs:
        for name, (kind, key) in _attribute_entries(job):
            if name not in owners:
                owners[name] = (job, kind, key)
                continue
            other, other_kind, other_key = owners[name]
            where = f"job {job.id!r}, key {key}"
            if job.attribute_name == name or other.attribute_name == name:
                problems.append(
                    f"{where}: the attribute {name!r} is also written by job {other.id!r} "
                    f"(key {other_key}); each job needs its own audience attribute."
                )
            elif kind != other_kind:
                problems.append(
                    f"{where}: the attribute {name!r} is {kind} here but {other_kind} in job "
                    f"{other.id!r} (key {other_key})."
                )
    return problems


def _attribute_entries(job: ExportJob) -> list[tuple[str, tuple[str, str]]]:
    """Each attribute the job writes as (name, (type, the key that declares it))."""
    return [
        (job.attribute_name, ("string", "attribute")),
        *(
            (custom.name, (custom.type, f"map_custom_attributes.{column}"))
            for column, custom in job.map_custom_attributes.items()
        ),
    ]


def _describe(raw: Any, issue: Mapping[str, Any]) -> str:
    """One pydantic error as `job '<id>', key <path>: <message>`."""
    location = list(issue["loc"])
    if len(location) >= 2 and location[0] == "jobs" and isinstance(location[1], int):
        index = location[1]
        job = _raw_job(raw, index)
        job_id = job.get("id") if isinstance(job, dict) else None
        where = f"job {job_id!r}" if isinstance(job_id, str) else f"job #{index + 1}"
        key = ".".join(str(part) for part in location[2:]) or "(the job itself)"
        if key == "require_consent":
            allowed = ", ".join(CONSENT_COLUMNS)
            return (
                f"{where}, key require_consent: {issue.get('input')!r} is not a consent; the "
                f"allowed values are {allowed}, or null (or no key) for none."
            )
        return f"{where}, key {key}: {issue['msg']}."
    return f"key {'.'.join(str(part) for part in location) or '(top level)'}: {issue['msg']}."


def _raw_job(raw: Any, index: int) -> Any:
    jobs = raw.get("jobs") if isinstance(raw, dict) else None
    return jobs[index] if isinstance(jobs, list) and index < len(jobs) else None


def _report(path: Path, problems: list[str]) -> str:
    lines = "\n".join(f"- {problem}" for problem in problems)
    return f"{path}: the export jobs are not valid:\n{lines}"
