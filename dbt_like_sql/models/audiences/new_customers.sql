-- Buyers whose first counted order falls in the 30 days before the build's as_of.
select profile_id
from profiles
where first_order_at >= getvariable('as_of') - interval 30 days
