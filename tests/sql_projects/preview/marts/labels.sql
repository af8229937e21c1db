-- One row whose values hold a pipe and a line break.
select 'a|b' as label, 'line one
line two' as note
