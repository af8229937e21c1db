-- One row per product and category it is listed in.
select
    products.id as product_id,
    products.name as product_name,
    categories.value as category_id
from bigcommerce.products as products
join bigcommerce.products__categories as categories
    on categories._dlt_parent_id = products._dlt_id
