-- One row per day of the week, numbered from 0; reads no table.
select range as day_number
from range(7)
