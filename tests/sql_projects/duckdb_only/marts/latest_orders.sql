-- One row per customer with the id of their latest order; arg_max exists in DuckDB only.
select
    customer_id,
    arg_max(id, date_created) as latest_order_id
from bigcommerce.orders
group by customer_id
