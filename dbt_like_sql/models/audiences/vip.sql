-- The top decile of buyers by total spend in the store's currency.
with ranked_buyers as (
    select
        profile_id,
        ntile(10) over (order by total_spend desc, profile_id) as spend_decile
    from profiles
    where order_count > 0
)

select profile_id
from ranked_buyers
where spend_decile = 1
