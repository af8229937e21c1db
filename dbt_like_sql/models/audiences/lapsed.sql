-- Buyers whose last counted order is more than 180 days before the build's as_of.
select profile_id
from profiles
where order_count > 0
  and last_order_at < getvariable('as_of') - interval 180 days
