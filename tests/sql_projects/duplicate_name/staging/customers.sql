select id from bigcommerce.customers
