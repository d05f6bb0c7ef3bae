-- Live changes from every writer (the forwarder, packages/forwarder): how far each model's changes have
-- been published to its subscribers. The forwarder reads each model's changes as a sync does, in windows
-- that end at the sync watermark (000004: nothing that commits late falls behind a window already read),
-- publishes the latest version of each item changed in the window, and only then moves the model's
-- position to the window's end. A restart resumes there: it neither misses a change nor replays a flood.
create table versioning.forwarder_positions (
  base_table        regclass primary key,
  published_through bigint not null,  -- every change stamped at or before this (ms) has been published
  updated_at        timestamptz not null default now()
);
comment on table versioning.forwarder_positions is 'datastore-pg: how far the forwarder has published each model''s changes';
grant select, insert, update on versioning.forwarder_positions to datastore_runtime;
