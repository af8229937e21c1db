-- Profiles with two or more counted orders.
select profile_id
from profiles
where order_count >= 2
