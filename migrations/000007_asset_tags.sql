-- Assets carry tags (hazardous, under warranty, ...) that technicians and the back office add and remove
-- independently: the example domain's list field, merged element by element (README, "Conflicts").
alter table assets add column tags text[];
