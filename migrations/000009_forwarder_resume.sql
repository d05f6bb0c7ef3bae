-- The forwarder publishes a window page by page. A window can be larger than one run publishes (an ERP's
-- bulk UPDATE of 20,000 rows commits them all with one stamp): the signed cursor of the next page is kept,
-- so the next run goes on from there instead of publishing the window from its start again, for ever.
alter table versioning.forwarder_positions add column resume_token text;
comment on column versioning.forwarder_positions.resume_token is 'datastore-pg: the next page of the window being published after published_through (a sync nextToken), or null';
