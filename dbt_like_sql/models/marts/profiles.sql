-- One row per customer profile (registered customer or guest email), money in store currency.
-- Identity: an order whose customer_id is a registered customer belongs to that customer; any
-- other order (a guest's, or a customer's since deleted in the store) attaches to the
-- registered customer with the same normalised email (the lowest customer_id if several share
-- it); other emails become guest profiles (customer_id NULL); an order without an email is a
-- profile of its own. Erased orders (people forgotten on request) belong to no profile.
-- profile_id, stable across rebuilds: 'c' || customer_id for customers, 'g' || md5(email) for
-- guest emails, 'o' || order_id for a guest order without an email.
-- Only counted orders (stg_orders.counts) make order_count, total_spend, avg_order_value
-- (rounded half away from zero to 4 decimals), first/last/second_last_order_at,
-- refunded_amount, distinct_products and top_category (most units; ties by name).
-- days_since_last_order: whole 24-hour days from the last counted order to as_of.
-- RFM scores 1..5 are ntile(5) among profiles with a counted order (recency by last order,
-- frequency by order_count, monetary by total_spend; ties by profile_id); NULL for others.
-- rfm_segment, first rule that matches: no_orders (no counted order); new (1 order, recency
-- >= 4); champions (2+ orders, recency, frequency and monetary >= 4); loyal (2+ orders,
-- recency >= 3, frequency >= 3); at_risk (recency <= 2, frequency >= 3); hibernating
-- (recency <= 2); promising (the rest).
-- Consent: newsletter_consent / abandoned_cart_consent are true when the profile's email is
-- on the subscriber list with marketing_newsletter / abandoned_cart in its consents, false
-- otherwise (no email, not on the list, or on it without that consent).
-- accepts_product_review_abandoned_cart_emails is the customer's flag as loaded (NULL for
-- guests); last_checkout_email_opt_in is the latest counted order's checkout box (NULL without
-- a counted order).
with registered_customers as (
    select
        customer_id,
        email,
        first_name,
        last_name,
        phone,
        customer_group_id,
        accepts_product_review_abandoned_cart_emails,
        registered_at
    from stg_customers
),

order_customers as (
    -- Orders with their registered customer: NULL for guests and for customers deleted in
    -- the store since.
    select
        stg_orders.order_id,
        registered_customers.customer_id,
        stg_orders.email,
        stg_orders.first_name,
        stg_orders.last_name,
        stg_orders.phone,
        stg_orders.created_at,
        stg_orders.counts,
        stg_orders.order_value,
        stg_orders.refunded_amount_store,
        stg_orders.is_email_opt_in
    from stg_orders
    left join registered_customers on stg_orders.customer_id = registered_customers.customer_id
    where not stg_orders.is_erased
),

email_owners as (
    -- Who each normalised email belongs to: the lowest customer_id of the customers with it,
    -- and the first guest order with it (which stands for its guest profile).
    select
        email,
        min(customer_id) as customer_id,
        min(order_id) as first_guest_order_id
    from (
        select
            email,
            customer_id,
            null as order_id
        from registered_customers
        where email is not null
        union all
        select
            email,
            null as customer_id,
            order_id
        from order_customers
        where customer_id is null and email is not null
    ) as emails
    group by email
),

order_identities as (
    -- profile_key: the customer_id for customers' profiles, minus the first order's id for
    -- guests' (an integer key is cheaper to group, sort and join on than profile_id).
    select
        order_customers.order_id,
        coalesce(order_customers.customer_id, email_owners.customer_id) as customer_id,
        coalesce(
            order_customers.customer_id,
            email_owners.customer_id,
            -coalesce(email_owners.first_guest_order_id, order_customers.order_id)
        ) as profile_key,
        order_customers.email,
        order_customers.first_name,
        order_customers.last_name,
        order_customers.phone,
        order_customers.created_at,
        order_customers.counts,
        order_customers.order_value,
        order_customers.refunded_amount_store,
        order_customers.is_email_opt_in
    from order_customers
    left join email_owners
        on order_customers.customer_id is null and order_customers.email = email_owners.email
),

ranked_orders as (
    -- Each order's place among its profile's orders, latest first (ties by order_id), and how
    -- many counted orders its profile has from the latest up to it: one ordering for both.
    select
        *,
        row_number() over latest_first as recency_rank,
        count(*) filter (where counts) over latest_first as counted_so_far
    from order_identities
    window latest_first as (
        partition by profile_key order by created_at desc, order_id desc
        rows between unbounded preceding and current row
    )
),

order_figures as (
    select
        profile_key,
        -- Every order of a profile carries the same customer_id (NULL for guests).
        min(customer_id) as customer_id,
        -- One order is the latest, so these pick its values, NULLs included.
        max(email) filter (where recency_rank = 1) as latest_email,
        max(first_name) filter (where recency_rank = 1) as latest_first_name,
        max(last_name) filter (where recency_rank = 1) as latest_last_name,
        max(phone) filter (where recency_rank = 1) as latest_phone,
        count(*) filter (where counts) as order_count,
        sum(order_value) filter (where counts) as total_spend,
        sum(refunded_amount_store) filter (where counts) as refunded_amount,
        min(created_at) filter (where counts) as first_order_at,
        max(created_at) filter (where counts) as last_order_at,
        -- The date of the second latest counted order: the latest again when two share it.
        max(created_at) filter (where counts and counted_so_far = 2) as second_last_order_at,
        -- One order is the latest counted one.
        bool_or(is_email_opt_in) filter (where counts and counted_so_far = 1)
            as last_checkout_email_opt_in
    from ranked_orders
    group by profile_key
),

profile_orders as (
    -- One row per profile with orders: the contact details of its latest order (for profiles
    -- without a customer record) and the figures of its counted orders.
    select
        *,
        case
            when customer_id is not null then 'c' || customer_id
            -- A guest profile's orders all carry its email.
            when latest_email is not null then 'g' || md5(latest_email)
            else 'o' || -profile_key
        end as profile_id
    from order_figures
),

profile_keys as (
    select customer_id as profile_key, 'c' || customer_id as profile_id, customer_id
    from registered_customers
    union
    select profile_key, profile_id, customer_id
    from profile_orders
),

counted_line_items as (
    -- Units of each product each profile bought in counted orders.
    select
        order_identities.profile_key,
        stg_order_products.product_id,
        sum(stg_order_products.quantity) as units
    from order_identities
    inner join stg_order_products on order_identities.order_id = stg_order_products.order_id
    where order_identities.counts
    group by order_identities.profile_key, stg_order_products.product_id
),

product_stats as (
    select
        profile_key,
        -- One row per product already; custom items (no product_id) are not counted.
        count(product_id) as distinct_products
    from counted_line_items
    group by profile_key
),

category_names as (
    -- Each category name with its place in alphabetical order: ranking and grouping by a
    -- number is cheaper than by the name.
    select
        category_name,
        row_number() over (order by category_name asc) as name_rank
    from (
        select distinct category_name
        from stg_product_categories
        where category_name is not null
    ) as distinct_names
),

product_category_names as (
    -- The names of each product's categories, each name once.
    select distinct
        stg_product_categories.product_id,
        category_names.name_rank
    from stg_product_categories
    inner join category_names
        on stg_product_categories.category_name = category_names.category_name
),

category_units as (
    select
        counted_line_items.profile_key,
        product_category_names.name_rank,
        sum(counted_line_items.units) as units
    from counted_line_items
    inner join product_category_names
        on counted_line_items.product_id = product_category_names.product_id
    group by counted_line_items.profile_key, product_category_names.name_rank
),

top_categories as (
    -- Each profile's category with the most units, then the first name in alphabetical order.
    select distinct on (category_units.profile_key)
        category_units.profile_key,
        category_names.category_name as top_category
    from category_units
    inner join category_names on category_units.name_rank = category_names.name_rank
    order by category_units.profile_key, category_units.units desc, category_units.name_rank asc
),

email_consents as (
    select
        email,
        bool_or(marketing_newsletter_consent) as newsletter_consent,
        bool_or(abandoned_cart_consent) as abandoned_cart_consent
    -- Rows without an email make a group of their own, which joins no profile: filtering them
    -- out first would compute each normalised email twice.
    from stg_subscribers
    group by email
),

rfm_scores as (
    select
        profile_key,
        ntile(5) over (order by last_order_at asc, profile_id asc) as recency_score,
        ntile(5) over (order by order_count asc, profile_id asc) as frequency_score,
        ntile(5) over (order by total_spend asc, profile_id asc) as monetary_score
    from profile_orders
    where order_count > 0
),

profile_rows as (
    select
        profile_keys.profile_id,
        profile_keys.customer_id,
        coalesce(registered_customers.email, profile_orders.latest_email) as email,
        coalesce(registered_customers.first_name, profile_orders.latest_first_name)
            as first_name,
        coalesce(registered_customers.last_name, profile_orders.latest_last_name)
            as last_name,
        coalesce(registered_customers.phone, profile_orders.latest_phone) as phone,
        registered_customers.customer_group_id,
        registered_customers.registered_at,
        registered_customers.accepts_product_review_abandoned_cart_emails,
        profile_orders.last_checkout_email_opt_in,
        coalesce(profile_orders.order_count, 0) as order_count,
        coalesce(profile_orders.total_spend, 0)::decimal(38, 4) as total_spend,
        profile_orders.first_order_at,
        profile_orders.last_order_at,
        profile_orders.second_last_order_at,
        coalesce(profile_orders.refunded_amount, 0)::decimal(38, 4) as refunded_amount,
        coalesce(product_stats.distinct_products, 0) as distinct_products,
        top_categories.top_category,
        rfm_scores.recency_score,
        rfm_scores.frequency_score,
        rfm_scores.monetary_score
    from profile_keys
    left join registered_customers on profile_keys.customer_id = registered_customers.customer_id
    left join profile_orders on profile_keys.profile_key = profile_orders.profile_key
    left join product_stats on profile_keys.profile_key = product_stats.profile_key
    left join top_categories on profile_keys.profile_key = top_categories.profile_key
    left join rfm_scores on profile_keys.profile_key = rfm_scores.profile_key
),

profile_measures as (
    select
        profile_rows.*,
        coalesce(email_consents.newsletter_consent, false) as newsletter_consent,
        coalesce(email_consents.abandoned_cart_consent, false) as abandoned_cart_consent,
        case
            when order_count > 0 then (
                sign(total_spend)
                * (
                    (abs((total_spend * 10000)::hugeint) * 2 + order_count)
                    // (2 * order_count)
                )
            )::decimal(38, 0) * 0.0001
        end as avg_order_value,
        -- A difference of two instants is whole 24-hour days plus the rest, on both engines.
        extract(day from getvariable('as_of') - last_order_at) as days_since_last_order,
        case
            when order_count = 0 then 'no_orders'
            when order_count = 1 and recency_score >= 4 then 'new'
            when order_count >= 2 and recency_score >= 4 and frequency_score >= 4
                and monetary_score >= 4 then 'champions'
            when order_count >= 2 and recency_score >= 3 and frequency_score >= 3 then 'loyal'
            when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when recency_score <= 2 then 'hibernating'
            else 'promising'
        end as rfm_segment
    from profile_rows
    left join email_consents on profile_rows.email = email_consents.email
)

select
    profile_id,
    customer_id,
    email,
    first_name,
    last_name,
    phone,
    customer_group_id,
    registered_at,
    order_count,
    total_spend,
    avg_order_value::decimal(38, 4) as avg_order_value,
    first_order_at,
    last_order_at,
    second_last_order_at,
    days_since_last_order::bigint as days_since_last_order,
    refunded_amount,
    distinct_products,
    top_category,
    recency_score::bigint as recency_score,
    frequency_score::bigint as frequency_score,
    monetary_score::bigint as monetary_score,
    rfm_segment,
    newsletter_consent,
    abandoned_cart_consent,
    accepts_product_review_abandoned_cart_emails,
    last_checkout_email_opt_in
from profile_measures
