-- One row per registered customer, email lowercased.
-- Test accounts (addresses at example.test) are left out.
with raw_customers as (
    select id, email, date_created
    from bigcommerce.customers
),

real_customers as (
    with test_accounts as (
        select id
        from raw_customers
        where email like '%@example.test'
    )

    select *
    from raw_customers
    where id not in (select id from test_accounts)
)

select
    id as customer_id,
    lower(email) as email,
    date_created
from real_customers
