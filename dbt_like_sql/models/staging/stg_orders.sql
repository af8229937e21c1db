-- One row per order (live and archived), money converted to the store's currency.
-- customer_id is NULL for guest orders (the API's 0). email is the billing email trimmed of all
-- surrounding whitespace and lower-cased. is_archived marks archived (deleted) orders.
-- is_email_opt_in: the shopper ticked the email opt-in box at this checkout (a snapshot, not
-- consent today). is_erased: the person asked to be forgotten; the order is kept for revenue
-- with every personal field emptied, and belongs to no profile.
-- counts: the order is not archived and its status_id is not 0 Incomplete, 4 Refunded,
-- 5 Cancelled or 6 Declined.
-- order_value = (total_inc_tax - refunded_amount) / store_default_to_transactional_exchange_rate
-- (taken as is when the rate is NULL or 0), rounded half away from zero to 4 decimals; the
-- division is done in integers so the value is an exact DECIMAL (the macro store_currency in
-- dbt_like_sql/macros.sql). refunded_amount_store is refunded_amount converted the same way.
with cleaned_orders as (
    select
        id as order_id,
        nullif(customer_id, 0) as customer_id,
        normalized_email(billing_address__email) as email,
        nullif(trim(billing_address__first_name), '') as first_name,
        nullif(trim(billing_address__last_name), '') as last_name,
        nullif(trim(billing_address__phone), '') as phone,
        date_created as created_at,
        date_modified as modified_at,
        status_id,
        nullif(status, '') as status,
        coalesce(is_deleted, false) as is_archived,
        is_email_opt_in,
        coalesce(personal_data_erased, false) as is_erased,
        nullif(currency_code, '') as currency_code,
        nullif(store_default_to_transactional_exchange_rate, 0) as exchange_rate,
        coalesce(total_inc_tax, 0) as total_inc_tax,
        coalesce(refunded_amount, 0) as refunded_amount,
        items_total
    from bigcommerce.orders
),

net_amounts as (
    select
        *,
        total_inc_tax - refunded_amount as net_amount
    from cleaned_orders
),

store_currency_amounts as (
    select
        *,
        store_currency(net_amount, exchange_rate) as order_value,
        store_currency(refunded_amount, exchange_rate) as refunded_amount_store
    from net_amounts
)

select
    order_id,
    customer_id,
    email,
    first_name,
    last_name,
    phone,
    created_at,
    modified_at,
    status_id,
    status,
    is_archived,
    is_email_opt_in,
    is_erased,
    not is_archived and status_id not in (0, 4, 5, 6) as counts,
    currency_code,
    exchange_rate,
    total_inc_tax,
    refunded_amount,
    order_value::decimal(18, 4) as order_value,
    refunded_amount_store::decimal(18, 4) as refunded_amount_store,
    items_total
from store_currency_amounts
