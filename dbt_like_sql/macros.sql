-- DuckDB macros any model may call; the runner defines them on its connection before a build.

-- An email as identities compare it: trimmed of all surrounding whitespace (spaces, tabs, line
-- breaks), lower-cased, and NULL when nothing is left.
create or replace temp macro normalized_email(email) as
    nullif(lower(regexp_replace(email, '^[[:space:]]+|[[:space:]]+$', '', 'g')), '');
