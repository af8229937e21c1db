-- One row per order with its total as a number.
select id as order_id, cast(total as decimal(10, 2)) as total
from bigcommerce.orders
where total <> 'n/a'
