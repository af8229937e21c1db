-- One row per order (live and archived), money converted to the store's currency.
-- customer_id is NULL for guest orders (the API's 0). email is the billing email trimmed of all
-- surrounding whitespace and lower-cased. is_archived marks archived (deleted) orders.
-- counts: the order is not archived and its status_id is not 0 Incomplete, 4 Refunded,
-- 5 Cancelled or 6 Declined.
-- order_value = (total_inc_tax - refunded_amount) / store_default_to_transactional_exchange_rate
-- (taken as is when the rate is NULL or 0), rounded half away from zero to 4 decimals; the
-- division is done in integers so the value is an exact DECIMAL (DuckDB divides DECIMALs as
-- DOUBLE). refunded_amount_store is refunded_amount converted the same way.
with raw_orders as (
    select
        id,
        customer_id,
        date_created,
        date_modified,
        status_id,
        status,
        is_deleted,
        currency_code,
        store_default_to_transactional_exchange_rate,
        total_inc_tax,
        refunded_amount,
        items_total,
        billing_address__email,
        billing_address__first_name,
        billing_address__last_name,
        billing_address__phone
    from bigcommerce.orders
),

cleaned_orders as (
    select
        id as order_id,
        nullif(customer_id, 0) as customer_id,
        nullif(
            lower(regexp_replace(billing_address__email, '^[[:space:]]+|[[:space:]]+$', '', 'g')),
            ''
        ) as email,
        nullif(trim(billing_address__first_name), '') as first_name,
        nullif(trim(billing_address__last_name), '') as last_name,
        nullif(trim(billing_address__phone), '') as phone,
        date_created as created_at,
        date_modified as modified_at,
        status_id,
        nullif(status, '') as status,
        coalesce(is_deleted, false) as is_archived,
        nullif(currency_code, '') as currency_code,
        nullif(store_default_to_transactional_exchange_rate, 0) as exchange_rate,
        coalesce(total_inc_tax, 0) as total_inc_tax,
        coalesce(refunded_amount, 0) as refunded_amount,
        items_total
    from raw_orders
),

scaled_amounts as (
    -- Amounts as integers: money in billionths, the rate in 10^-10 units (1 when absent).
    select
        order_id,
        ((total_inc_tax - refunded_amount) * 1000000000)::hugeint as net_nanos,
        (refunded_amount * 1000000000)::hugeint as refunded_nanos,
        (coalesce(exchange_rate, 1) * 10000000000)::hugeint as rate_units
    from cleaned_orders
),

store_currency_amounts as (
    -- amount / rate in ten-thousandths = nanos * 10 / rate_units * 10^4, rounded half away
    -- from zero by adding half the divisor before the truncating integer division.
    select
        order_id,
        (
            sign(net_nanos)
            * ((abs(net_nanos) * 200000 + rate_units) // (2 * rate_units))
        )::decimal(18, 0) * 0.0001 as order_value,
        (
            sign(refunded_nanos)
            * ((abs(refunded_nanos) * 200000 + rate_units) // (2 * rate_units))
        )::decimal(18, 0) * 0.0001 as refunded_amount_store
    from scaled_amounts
)

select
    cleaned_orders.order_id,
    cleaned_orders.customer_id,
    cleaned_orders.email,
    cleaned_orders.first_name,
    cleaned_orders.last_name,
    cleaned_orders.phone,
    cleaned_orders.created_at,
    cleaned_orders.modified_at,
    cleaned_orders.status_id,
    cleaned_orders.status,
    cleaned_orders.is_archived,
    not cleaned_orders.is_archived
    and cleaned_orders.status_id not in (0, 4, 5, 6) as counts,
    cleaned_orders.currency_code,
    cleaned_orders.exchange_rate,
    cleaned_orders.total_inc_tax,
    cleaned_orders.refunded_amount,
    store_currency_amounts.order_value::decimal(18, 4) as order_value,
    store_currency_amounts.refunded_amount_store::decimal(18, 4) as refunded_amount_store,
    cleaned_orders.items_total
from cleaned_orders
inner join store_currency_amounts on cleaned_orders.order_id = store_currency_amounts.order_id
