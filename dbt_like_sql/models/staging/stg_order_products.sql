-- One row per order line item; product_id is NULL for custom items (the API's 0).
with raw_order_products as (
    select
        id,
        order_id,
        product_id,
        variant_id,
        name,
        sku,
        quantity,
        quantity_refunded,
        total_inc_tax
    from bigcommerce.order_products
)

select
    id as order_product_id,
    order_id,
    nullif(product_id, 0) as product_id,
    nullif(variant_id, 0) as variant_id,
    nullif(trim(name), '') as name,
    nullif(trim(sku), '') as sku,
    coalesce(quantity, 0) as quantity,
    coalesce(quantity_refunded, 0) as quantity_refunded,
    total_inc_tax
from raw_order_products
