-- One row: the moment the models were built for.
select getvariable('as_of') as as_of
