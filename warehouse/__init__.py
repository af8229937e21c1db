"""The state every package shares: the DuckDB warehouse as a Dagster resource with its pool
(`resource`), and which store a warehouse, export queue or dlt folder holds (`ownership`)."""
