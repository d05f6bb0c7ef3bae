-- The graveyard (issue 15): no ghost rows on devices that come back after a long absence.
--
-- DataStore never removes a local row the server stops returning (design.md §4, §6): once purge has
-- removed a tombstone from its base table (BaseTableTTL after the delete, 30 days by default), nothing
-- can tell a device that was away longer that the row is gone, and its full sync only upserts. So purge
-- no longer just deletes an expired tombstone: it moves it, in the same statement, into a slim per-model
-- graveyard, versioning_graveyard.<table> (its id, version, stamp and row image: what a tombstone item
-- needs to be valid for the model's GraphQL type), kept for the model's graveyard_ttl (default 1 year,
-- counted from the delete). Every full and base sync then also returns the graveyard entries changed
-- after its lastSync (all of them for a full sync), as tombstones, after the base table's rows
-- (packages/versioning/src/sync.ts), and a device that syncs within that time loses its ghosts.
--
-- The graveyard is a third journal beside the delta table and the merge history (000012): partitioned by
-- _last_changed_at (weekly for a year), its expired partitions detached and dropped by the purge, the
-- straddling one emptied row by row. An id buried twice (deleted, purged, created again with the same id,
-- deleted and purged again) keeps only its newest entry; an id that lives again in the base table is
-- never returned from the graveyard (the sync checks).

create schema versioning_graveyard;
comment on schema versioning_graveyard is 'datastore-pg: one graveyard per versioned table (purged tombstones, returned to devices as deletions)';
grant usage on schema versioning_graveyard to datastore_runtime;

alter table versioning.models
  add column graveyard_ttl interval not null default '1 year',
  add constraint models_graveyard_ttl_longer check (graveyard_ttl > base_table_ttl);
comment on column versioning.models.graveyard_ttl is
  'how long a purged tombstone stays in the graveyard, from its delete (default 1 year); a device that syncs within it loses the deleted row';

-- The graveyard of a table: beside its delta table, under the same name, in versioning_graveyard.
create function versioning.graveyard_table(base_table regclass) returns regclass
language sql stable
as $$
  select to_regclass(format('versioning_graveyard.%I', c.relname))
    from versioning.models m join pg_class c on c.oid = m.delta_table
   where m.base_table = graveyard_table.base_table
$$;

-- As in 000012, with the graveyard's shape.
create or replace function versioning.create_journal(journal text, kind text) returns regclass
language plpgsql
as $$
declare
  v_name name := (parse_ident(journal))[2];
begin
  if kind = 'delta' then
    execute format($ddl$
      create table %s (
        seq              bigint generated always as identity,
        id               text not null,
        _version         bigint not null,
        _deleted         boolean not null,
        _last_changed_at bigint not null,
        item             jsonb not null
      ) partition by range (_last_changed_at)
    $ddl$, journal);
    -- Delta sync reads a window of changes; purge removes the oldest.
    execute format('create index %I on %s (_last_changed_at, seq)', v_name || '_last_changed_at_idx', journal);
    -- Delta sync returns only the latest version of each item: "is there a newer change of this id?"
    execute format('create index %I on %s (id, seq)', v_name || '_id_seq_idx', journal);
  elsif kind = 'merge' then
    execute format($ddl$
      create table %s (
        id               text not null,
        _version         bigint not null,
        _last_changed_at bigint not null,
        changed          jsonb not null,  -- previous values of the columns this version changed
        writer           text,            -- the API caller; null for any other writer
        base_version     bigint,          -- the _version the API write was based on
        sent             jsonb            -- the fields the API write sent, as sent
      ) partition by range (_last_changed_at)
    $ddl$, journal);
    -- The handlers read an item's versions after a base; purge removes the oldest changes.
    execute format('create index %I on %s (id, _version)', v_name || '_id_version_idx', journal);
    execute format('create index %I on %s (_last_changed_at)', v_name || '_last_changed_at_idx', journal);
  elsif kind = 'graveyard' then
    execute format($ddl$
      create table %s (
        id               text not null,
        _version         bigint not null,
        _last_changed_at bigint not null,  -- the delete's stamp: the entry expires graveyard_ttl after it
        item             jsonb not null    -- the tombstone's row image, as the delta table keeps one
      ) partition by range (_last_changed_at)
    $ddl$, journal);
    -- A full sync reads it in id order; a tombstone buried again replaces the entry of its id.
    execute format('create index %I on %s (id)', v_name || '_id_idx', journal);
    -- Purge removes the oldest entries.
    execute format('create index %I on %s (_last_changed_at)', v_name || '_last_changed_at_idx', journal);
  else
    raise exception 'unknown journal kind %', kind using errcode = '22023';
  end if;
  return journal::regclass;
end
$$;

-- The graveyard of a table, created if missing with its ranges from the oldest delete a purge can move
-- in now (BaseTableTTL ago) onwards.
create function versioning.ensure_graveyard(base_table regclass) returns regclass
language plpgsql
as $$
declare
  v_name name;
  v_ttl interval;
  v_since bigint;
  v_graveyard regclass := versioning.graveyard_table(base_table);
begin
  if v_graveyard is not null then
    return v_graveyard;
  end if;
  select c.relname, m.graveyard_ttl, versioning.journal_cutoff(m.base_table_ttl) into strict v_name, v_ttl, v_since
    from versioning.models m join pg_class c on c.oid = m.delta_table
   where m.base_table = ensure_graveyard.base_table;
  v_graveyard := versioning.create_journal(format('versioning_graveyard.%I', v_name), 'graveyard');
  execute format('comment on table %s is %L', v_graveyard, format('datastore-pg: purged tombstones of %s', base_table));
  perform versioning.add_journal_partitions(v_graveyard, v_ttl, since => v_since - v_since % versioning.journal_partition_width(v_ttl));
  return v_graveyard;
end
$$;

-- As in 000012, with the graveyards.
create or replace function versioning.journals()
returns table (base_table regclass, journal regclass, kind text, ttl interval)
language sql stable
as $$
  select m.base_table, m.delta_table, 'delta', m.delta_sync_table_ttl
    from versioning.models m join pg_class c on c.oid = m.base_table
  union all
  select m.base_table, versioning.merge_table(m.base_table), 'merge', coalesce(m.merge_horizon, m.base_table_ttl)
    from versioning.models m join pg_class c on c.oid = m.base_table
   where versioning.merge_table(m.base_table) is not null
  union all
  select m.base_table, versioning.graveyard_table(m.base_table), 'graveyard', m.graveyard_ttl
    from versioning.models m join pg_class c on c.oid = m.base_table
   where versioning.graveyard_table(m.base_table) is not null
$$;

-- As in 000006, and the runtime reads the graveyard (purge writes it). versioning.enable calls this, so
-- a table versioned from now on gets its graveyard here.
create or replace function versioning.grant_runtime(base_table regclass) returns void
language plpgsql
as $$
declare
  v_delta_table regclass;
  v_sequence regclass;
begin
  select m.delta_table into strict v_delta_table from versioning.models m where m.base_table = grant_runtime.base_table;
  execute format('grant usage on schema %I to datastore_runtime',
                 (select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = base_table));
  execute format('grant select, insert, update on %s to datastore_runtime', base_table);
  execute format('grant select on %s to datastore_runtime', v_delta_table);
  execute format('grant select on %s to datastore_runtime', versioning.ensure_merge_table(base_table));
  execute format('grant select on %s to datastore_runtime', versioning.ensure_graveyard(base_table));
  for v_sequence in
    select d.objid::regclass from pg_depend d join pg_class s on s.oid = d.objid
     where s.relkind = 'S' and d.refobjid = base_table and d.deptype in ('a', 'i')
  loop
    execute format('grant usage on sequence %s to datastore_runtime', v_sequence);
  end loop;
end
$$;

-- As in 000002, moving each expired tombstone into the table's graveyard in the same statement (an older
-- entry of the same id goes); returns how many it moved.
create or replace function versioning.purge_tombstones(base_table regclass, batch_size int) returns int
language plpgsql
as $$
declare
  v_id_column name;
  v_graveyard regclass;
  v_moved int;
begin
  select m.id_column, versioning.ensure_graveyard(m.base_table) into strict v_id_column, v_graveyard
    from versioning.models m where m.base_table = purge_tombstones.base_table;
  -- The hard-delete trigger lets these through: they are tombstones whose _ttl has passed.
  execute format($q$
    with purged as (
      delete from %1$s dead where dead.ctid = any(array(
        select t.ctid from %1$s t
         where t._deleted and t._ttl <= now() and %2$s
         order by t._ttl
         limit $1
         for update skip locked))
      returning dead.%3$I::text as id, dead._version, dead._last_changed_at, to_jsonb(dead) - '_ttl' as item),
    reburied as (
      delete from %4$s g using purged p where g.id = p.id),
    buried as (
      insert into %4$s (id, _version, _last_changed_at, item) select id, _version, _last_changed_at, item from purged)
    select count(*)::int from purged
  $q$, base_table, versioning.unreferenced_predicate(base_table), v_id_column, v_graveyard)
  into v_moved
  using batch_size;
  return v_moved;
end
$$;

-- Deletes at most batch_size graveyard entries older than the table's graveyard_ttl; returns how many.
-- Row by row, like purge_delta: versioning.purge detaches whole expired partitions first.
create function versioning.purge_graveyard(base_table regclass, batch_size int) returns int
language plpgsql
as $$
declare
  v_graveyard regclass;
  v_cutoff bigint;
begin
  select versioning.graveyard_table(m.base_table), versioning.journal_cutoff(m.graveyard_ttl)
    into strict v_graveyard, v_cutoff
    from versioning.models m where m.base_table = purge_graveyard.base_table;
  if v_graveyard is null then
    return 0;
  end if;
  return (select p.deleted from versioning.purge_journal_rows(v_graveyard, v_cutoff, batch_size) p);
end
$$;

-- As in 000012, with the graveyards: expired tombstones move into them (tombstones_purged counts those),
-- and their expired entries go like a journal's rows (graveyard_purged).
drop procedure versioning.purge(int, int, bigint, bigint, bigint, bigint, bigint);
create procedure versioning.purge(
  batch_size int default 1000,
  max_batches int default 200,
  inout tombstones_purged bigint default 0,
  inout delta_rows_purged bigint default 0,
  inout merge_rows_purged bigint default 0,
  inout conflicts_purged bigint default 0,
  inout partitions_dropped bigint default 0,
  inout graveyard_purged bigint default 0
)
language plpgsql
as $$
declare
  v_base_table regclass;
  v_kind text;
  v_batches int := 0;
  v_deleted int;
  v_journal record;
  v_detached regclass;
  v_dropped record;
begin
  if batch_size < 1 or max_batches < 1 then
    raise exception 'batch_size and max_batches must be positive' using errcode = '22023';
  end if;
  -- Skips registry rows whose table was dropped.
  for v_base_table in
    select m.base_table from versioning.models m join pg_class c on c.oid = m.base_table order by m.base_table::text
  loop
    -- Tombstones before the graveyard: a tombstone buried now is never already expired there.
    foreach v_kind in array array['tombstones', 'delta', 'merge', 'graveyard'] loop
      if v_kind <> 'tombstones' then
        select j.journal, j.ttl into v_journal from versioning.journals() j where j.base_table = v_base_table and j.kind = v_kind;
        loop
          exit when v_batches >= max_batches or v_journal.journal is null;
          v_detached := versioning.detach_expired_partition(v_base_table, v_kind);
          commit;
          select d.partitions, d.rows into v_dropped from versioning.drop_detached_partitions(v_journal.journal) d;
          commit;
          partitions_dropped := partitions_dropped + v_dropped.partitions;
          case v_kind
            when 'delta' then delta_rows_purged := delta_rows_purged + v_dropped.rows;
            when 'merge' then merge_rows_purged := merge_rows_purged + v_dropped.rows;
            else graveyard_purged := graveyard_purged + v_dropped.rows;
          end case;
          v_batches := v_batches + sign(v_dropped.rows)::int;
          exit when v_detached is null;
        end loop;
      end if;
      loop
        exit when v_batches >= max_batches;
        case v_kind
          when 'tombstones' then
            v_deleted := versioning.purge_tombstones(v_base_table, batch_size);
            tombstones_purged := tombstones_purged + v_deleted;
          when 'delta' then
            v_deleted := versioning.purge_delta(v_base_table, batch_size);
            delta_rows_purged := delta_rows_purged + v_deleted;
          when 'merge' then
            v_deleted := versioning.purge_merge(v_base_table, batch_size);
            merge_rows_purged := merge_rows_purged + v_deleted;
          else
            v_deleted := versioning.purge_graveyard(v_base_table, batch_size);
            graveyard_purged := graveyard_purged + v_deleted;
        end case;
        commit;
        v_batches := v_batches + sign(v_deleted);
        exit when v_deleted < batch_size;
      end loop;
      if v_kind <> 'tombstones' then
        -- Whatever the batches left to do: writes need the ranges ahead.
        if v_journal.journal is not null then
          perform versioning.add_journal_partitions(v_journal.journal, v_journal.ttl);
        end if;
        commit;
      end if;
    end loop;
  end loop;
  loop
    exit when v_batches >= max_batches;
    v_deleted := versioning.purge_conflicts(batch_size);
    conflicts_purged := conflicts_purged + v_deleted;
    commit;
    v_batches := v_batches + sign(v_deleted);
    exit when v_deleted < batch_size;
  end loop;
end
$$;

-- Every table versioned so far: its graveyard, and the grant.
do $$
declare
  v_base_table regclass;
begin
  for v_base_table in select m.base_table from versioning.models m join pg_class c on c.oid = m.base_table loop
    perform versioning.grant_runtime(v_base_table);
  end loop;
end
$$;
