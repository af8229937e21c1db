"""What each export job's members should hold in BigCommerce, read from the built models.

A job that requires consent (`require_consent`) counts only members whose profile records it;
one without it is no member, so losing consent makes the queue send their exit.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from audience_jobs.changes import MemberState
from audience_jobs.jobs import ExportJob
from dbt_like_sql.audiences import MEMBERS, PROFILES
from warehouse.connection import WarehouseConnection
from warehouse.suppressions import load_suppressions


class MembersUnavailableError(Exception):
    """The audience tables are not there yet; the models have to be built first."""


class ConsentUnavailableError(Exception):
    """The profiles were built by models that did not record the consent a job requires."""


@dataclass(frozen=True)
class JobMembers:
    """A job's members with a BigCommerce customer id, how many guests were skipped, and how
    many registered members were left out for lack of the consent the job requires."""

    members: dict[int, MemberState]
    guests_skipped: int
    without_consent: int = 0


def read_members(connection: WarehouseConnection, job: ExportJob) -> JobMembers:
    """Each current member's attribute values and mapped fields; guests have no customer id,
    and with `require_consent` a member whose consent column is not true (false or NULL) is
    left out, as is anyone on the suppression list (people forgotten on request).

    Raises:
        MembersUnavailableError: the audience tables were not built yet.
        ConsentUnavailableError: the job requires consent and the profiles have no column
            recording it (a warehouse built by older models).
    """
    for table in (MEMBERS, PROFILES):
        schema, name = table.split(".")
        if not connection.table_exists(schema, name):
            raise MembersUnavailableError(
                f"Cannot read audience members: the warehouse has no table {table}; build the "
                "`models` group first."
            )
    consent = "true"
    if job.consent_column is not None:
        if not _has_column(connection, PROFILES, job.consent_column):
            raise ConsentUnavailableError(
                f"Export job {job.id!r} requires the consent {job.require_consent!r}, but "
                f"{PROFILES} has no column {job.consent_column!r}: rebuild the `models` group "
                "with the current models before this job can export."
            )
        consent = f'profiles."{job.consent_column}"'
    columns = sorted({*job.map_standard_fields, *job.map_custom_attributes})
    mapped = "".join(f', profiles."{column}"' for column in columns)
    rows = connection.execute(
        f"select members.customer_id, {consent}{mapped} from {MEMBERS} as members "
        f"join {PROFILES} as profiles using (profile_id) where members.audience = ?",
        [job.audience],
    ).fetchall()
    members: dict[int, MemberState] = {}
    guests = without_consent = 0
    # Loads keep forgotten people out already; an export never sends one, whatever it reads.
    suppressed = load_suppressions(connection).customer_ids
    for customer_id, consented, *values in rows:
        if customer_id is None:
            guests += 1
            continue
        if customer_id in suppressed:
            continue
        if consented is not True:
            without_consent += 1
            continue
        row = dict(zip(columns, values, strict=True))
        attribute_values = {job.attribute_name: job.audience}
        for column, custom in job.map_custom_attributes.items():
            attribute_values[custom.name] = attribute_text(row[column], custom.type)
        fields: dict[str, Any] = {
            field: _field_value(field, row[column])
            for column, field in job.map_standard_fields.items()
            if row[column] is not None
        }
        members[customer_id] = MemberState(attribute_values, fields)
    return JobMembers(members, guests, without_consent)


def _has_column(connection: WarehouseConnection, table: str, column: str) -> bool:
    schema, name = table.split(".")
    return (
        connection.execute(
            "select 1 from information_schema.columns "
            "where table_schema = ? and table_name = ? and column_name = ?",
            [schema, name, column],
        ).fetchone()
        is not None
    )


def attribute_text(value: Any, kind: str) -> str:
    """A profile value as BigCommerce stores it: always a string (API.md §3); '' for none.

    Numbers lose trailing zeros and never use exponents; dates are ISO `YYYY-MM-DD` in UTC.
    """
    if value is None:
        return ""
    if kind == "number" and isinstance(value, int | float | Decimal):
        text = format(Decimal(str(value)).normalize(), "f")
        return "0" if text == "-0" else text
    if kind == "date" and isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.date().isoformat()
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    return str(value)


def _field_value(field: str, value: Any) -> Any:
    """`customer_group_id` is an integer in `PUT /v3/customers`; the other fields are text."""
    return int(value) if field == "customer_group_id" else str(value)
