-- One row per order with its total as a number; fails on the order whose total is 'n/a'.
select id as order_id, cast(total as decimal(10, 2)) as total
from bigcommerce.orders
