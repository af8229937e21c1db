select id from {{ source('bigcommerce', 'customers') }}
