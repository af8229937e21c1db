-- One row per email domain, with how many customers use it.
select
    domain,
    count(*) as customers
from (
    select split_part(email, '@', 2) as domain
    from stg_customers
) as emails
group by domain
