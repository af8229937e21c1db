-- One row per newsletter subscriber: email trimmed of all surrounding whitespace and
-- lower-cased, and the consents the subscriber gave. Being on the list is not consent
-- (a checkout creates a row whether or not the shopper ticked the box; API.md section 12):
-- marketing_newsletter_consent is true only when `consents` holds `marketing_newsletter`,
-- abandoned_cart_consent only when it holds `abandoned_cart`.
with consents as (
    select
        _dlt_parent_id,
        bool_or(value = 'marketing_newsletter') as marketing_newsletter,
        bool_or(value = 'abandoned_cart') as abandoned_cart
    from bigcommerce.subscribers__consents
    group by _dlt_parent_id
)

select
    subscribers.id as subscriber_id,
    normalized_email(subscribers.email) as email,
    nullif(trim(subscribers.first_name), '') as first_name,
    nullif(trim(subscribers.last_name), '') as last_name,
    nullif(subscribers.source, '') as source,
    nullif(subscribers.order_id, 0) as order_id,
    subscribers.channel_id,
    coalesce(consents.marketing_newsletter, false) as marketing_newsletter_consent,
    coalesce(consents.abandoned_cart, false) as abandoned_cart_consent,
    subscribers.date_created as subscribed_at,
    subscribers.date_modified as modified_at
from bigcommerce.subscribers
left join consents on subscribers._dlt_id = consents._dlt_parent_id
