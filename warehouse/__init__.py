"""The state every package shares: the warehouse (DuckDB or PostgreSQL) as a Dagster resource
with the pools each engine needs (`resource`), one way to run SQL on either (`connection`,
`postgres`), and which store a warehouse, export queue or dlt folder holds (`ownership`)."""
