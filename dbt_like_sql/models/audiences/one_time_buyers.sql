-- Profiles with exactly one counted order.
select profile_id
from profiles
where order_count = 1
