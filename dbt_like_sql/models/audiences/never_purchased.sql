-- Registered customers without a counted order.
select profile_id
from profiles
where customer_id is not null
  and order_count = 0
