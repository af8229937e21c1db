-- Buyers whose silence since their last order is more than twice the gap between their last two.
select profile_id
from profiles
where second_last_order_at is not null
  and getvariable('as_of') - last_order_at > 2 * (last_order_at - second_last_order_at)
