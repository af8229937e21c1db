-- Customers who registered in the 30 days up to the as_of moment.
select
    customer_id,
    email
from analytics.stg_customers
where date_created > getvariable('as_of') - interval 30 days
    and date_created <= getvariable('as_of')
