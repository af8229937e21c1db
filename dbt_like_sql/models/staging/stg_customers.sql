-- One row per registered customer: email trimmed of all surrounding whitespace (spaces, tabs,
-- line breaks) and lower-cased, empty strings as NULL.
-- accepts_product_review_abandoned_cart_emails is the customer's flag as loaded: product-review
-- and abandoned-cart emails, not the newsletter (API.md section 13).
with raw_customers as (
    select
        id,
        email,
        first_name,
        last_name,
        phone,
        company,
        customer_group_id,
        accepts_product_review_abandoned_cart_emails,
        date_created,
        date_modified
    from bigcommerce.customers
),

cleaned_customers as (
    select
        id as customer_id,
        normalized_email(email) as email,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        nullif(trim(phone), '') as phone,
        nullif(trim(company), '') as company,
        customer_group_id,
        accepts_product_review_abandoned_cart_emails,
        date_created as registered_at,
        date_modified as modified_at
    from raw_customers
)

select
    customer_id,
    email,
    first_name,
    last_name,
    phone,
    company,
    customer_group_id,
    accepts_product_review_abandoned_cart_emails,
    registered_at,
    modified_at
from cleaned_customers
