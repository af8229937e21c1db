"""What each export job's members should hold in BigCommerce, read from the built models."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from audience_jobs.changes import MemberState
from audience_jobs.jobs import ExportJob
from dbt_like_sql.audiences import MEMBERS, PROFILES
from warehouse.connection import WarehouseConnection


class MembersUnavailableError(Exception):
    """The audience tables are not there yet; the models have to be built first."""


@dataclass(frozen=True)
class JobMembers:
    """A job's members with a BigCommerce customer id, and how many guests were skipped."""

    members: dict[int, MemberState]
    guests_skipped: int


def read_members(connection: WarehouseConnection, job: ExportJob) -> JobMembers:
    """Each current member's attribute values and mapped fields; guests have no customer id.

    Raises MembersUnavailableError when the audience tables were not built yet."""
    for table in (MEMBERS, PROFILES):
        schema, name = table.split(".")
        if not connection.table_exists(schema, name):
            raise MembersUnavailableError(
                f"Cannot read audience members: the warehouse has no table {table}; build the "
                "`models` group first."
            )
    columns = sorted({*job.map_standard_fields, *job.map_custom_attributes})
    mapped = "".join(f', profiles."{column}"' for column in columns)
    rows = connection.execute(
        f"select members.customer_id{mapped} from {MEMBERS} as members "
        f"join {PROFILES} as profiles using (profile_id) where members.audience = ?",
        [job.audience],
    ).fetchall()
    members: dict[int, MemberState] = {}
    guests = 0
    for customer_id, *values in rows:
        if customer_id is None:
            guests += 1
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
    return JobMembers(members, guests)


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
