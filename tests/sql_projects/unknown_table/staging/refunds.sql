select id, amount
from bigcommerce.refunds
