delete from bigcommerce.customers where id = 1
