-- One row per product and category it is assigned to, with the category's name.
with product_category_links as (
    select
        products.id as product_id,
        products__categories.value as category_id
    from bigcommerce.products__categories
    inner join bigcommerce.products
        on products__categories._dlt_parent_id = products._dlt_id
),

category_names as (
    select
        category_id,
        nullif(trim(name), '') as category_name
    from bigcommerce.categories
)

select distinct
    product_category_links.product_id,
    product_category_links.category_id,
    category_names.category_name
from product_category_links
left join category_names on product_category_links.category_id = category_names.category_id
