-- Expressions any model may call, written as DuckDB macros; dbt_like_sql/dialects.py inlines
-- them into each model's SQL, so they run the same on every engine.

-- An email as identities compare it: trimmed of all surrounding whitespace (spaces, tabs, line
-- breaks), lower-cased, and NULL when nothing is left. The class is spelled out because
-- PostgreSQL's [[:space:]] also matches Unicode spaces, which DuckDB's does not.
create or replace temp macro normalized_email(email) as
    nullif(lower(regexp_replace(email, '^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$', '', 'g')), '');

-- An amount in the order's currency converted to the store's, exactly, to 4 decimals (DuckDB
-- divides DECIMALs as DOUBLE). An amount with no rate to apply (none, or 1), and an amount of 0,
-- only need rounding, which DuckDB does half away from zero for DECIMALs. Otherwise amount /
-- rate in ten-thousandths is nanos * 10 / rate_units * 10^4 in integers (nanos: the amount in
-- billionths; rate_units: the rate in 10^-10), rounded half away from zero by adding half the
-- divisor before the truncating division. Only converted amounts pay for 128-bit arithmetic
-- (hugeint; PostgreSQL's numeric, which dialects.py writes in its place).
create or replace temp macro store_currency(amount, rate) as
    case
        when rate is null or rate = 1 or amount = 0 then round(amount, 4)
        else (
            sign(amount)
            * (
                (abs((amount * 1000000000)::hugeint) * 200000 + (rate * 10000000000)::hugeint)
                // (2 * (rate * 10000000000)::hugeint)
            )
        )::decimal(18, 0) * 0.0001
    end;
