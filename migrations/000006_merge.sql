-- What the server needs to merge a stale write field by field instead of refusing it (README, "Conflicts"):
--
-- 1. A merge history per versioned table, versioning_merge.<table>: one slim row per version, written by
--    the journal trigger for every writer, holding the previous values of the columns that version
--    changed ({"address": "old value"}), and, for a write made through the API, who wrote it, the
--    _version it was based on and the fields it sent. From it a handler can tell, for a write based on
--    version b, which fields changed on the server since b (and by whom), rebuild the item as it was at
--    b (the base of a counter or a list), and recognize a write it has already applied (a replay). It
--    is kept for the model's merge horizon (default: the BaseTableTTL), much longer than the delta
--    table, because a technician can be offline for days.
-- 2. A conflict log, versioning.conflicts: every value a merge overwrites or refuses, so that nothing is
--    lost silently; an operator reads it and restores with versioning.restore_conflict(id).
-- 3. Purge covers both.
--
-- The API tells the trigger about its write through a transaction-local setting, datastore_pg.write
-- ({"id", "writer", "base", "sent"}), set in the same statement as the write; another writer sets
-- nothing and is recorded with no writer.

create schema versioning_merge;
comment on schema versioning_merge is 'datastore-pg: one merge history per versioned table (what each version changed, and who wrote it)';
grant usage on schema versioning_merge to datastore_runtime;

alter table versioning.models
  add column merge_horizon interval,
  add constraint models_merge_horizon_positive check (merge_horizon > interval '0');
comment on column versioning.models.merge_horizon is
  'how long the merge history keeps a change (null: the base_table_ttl); a write based on an older version is applied field by field over the server''s, and logged';

alter table versioning.settings
  add column conflict_log_ttl interval not null default '90 days' check (conflict_log_ttl > interval '0');
comment on column versioning.settings.conflict_log_ttl is 'how long versioning.conflicts keeps an entry';

-- Every value a merge overwrote or refused, and every value a write refused as a whole carried (under
-- OPTIMISTIC_CONCURRENCY, a CUSTOM hook's REJECT, an edit of a deleted item). Values are stored as their column takes them (jsonb), so that
-- versioning.restore_conflict can write one back.
create table versioning.conflicts (
  id             bigint generated always as identity primary key,
  logged_at      timestamptz not null default now(),
  base_table     regclass not null,
  item_id        text not null,
  field          text not null,   -- the GraphQL field
  column_name    name not null,
  reason         text not null check (reason in ('conflict', 'beyond_horizon', 'deleted', 'automerge', 'rejected')),
  kept           text not null check (kept in ('incoming', 'server')),
  lost_value     jsonb,           -- the value the item no longer has: restore it with restore_conflict(id)
  kept_value     jsonb,
  base_version   bigint not null, -- the version the incoming write was based on
  server_version bigint not null, -- the server's version when the write arrived
  new_version    bigint,          -- the version the merge wrote (null: nothing was written)
  writer         text,            -- who sent the incoming write
  server_writer  text             -- who wrote the server's value (null: a writer outside the API, or unknown)
);
create index conflicts_item_idx on versioning.conflicts (base_table, item_id, id);
create index conflicts_logged_at_idx on versioning.conflicts (logged_at);
-- A refused write that wrote nothing is logged once per writer and server version: DataStore's conflict
-- handler sends it again up to ten times.
create unique index conflicts_refused_once_idx on versioning.conflicts (base_table, item_id, field, writer, server_version)
  where new_version is null;
comment on table versioning.conflicts is 'datastore-pg: every value a merge overwrote or refused (restore with versioning.restore_conflict)';
-- The runtime appends; to log a refused write once (the index above) it must see the columns that
-- identify one, never the values logged.
grant insert on versioning.conflicts to datastore_runtime;
grant select (base_table, item_id, field, writer, server_version, new_version) on versioning.conflicts to datastore_runtime;

-- The merge history of a table: beside its delta table, under the same name, in versioning_merge.
create function versioning.merge_table(base_table regclass) returns regclass
language sql stable
as $$
  select to_regclass(format('versioning_merge.%I', c.relname))
    from versioning.models m join pg_class c on c.oid = m.delta_table
   where m.base_table = merge_table.base_table
$$;

create function versioning.ensure_merge_table(base_table regclass) returns regclass
language plpgsql
as $$
declare
  v_name name;
begin
  if versioning.merge_table(base_table) is not null then
    return versioning.merge_table(base_table);
  end if;
  select c.relname into strict v_name from versioning.models m join pg_class c on c.oid = m.delta_table
   where m.base_table = ensure_merge_table.base_table;
  execute format($ddl$
    create table versioning_merge.%I (
      id               text not null,
      _version         bigint not null,
      _last_changed_at bigint not null,
      changed          jsonb not null,  -- previous values of the columns this version changed
      writer           text,            -- the API caller; null for any other writer
      base_version     bigint,          -- the _version the API write was based on
      sent             jsonb,           -- the fields the API write sent, as sent
      primary key (id, _version)
    )
  $ddl$, v_name);
  execute format('comment on table versioning_merge.%I is %L', v_name, format('datastore-pg: merge history of %s', base_table));
  -- Purge removes the oldest changes.
  execute format('create index %I on versioning_merge.%I (_last_changed_at)', v_name || '_last_changed_at_idx', v_name);
  return versioning.merge_table(base_table);
end
$$;

-- As in 000005, with the merge history written by the journal function.
create or replace function versioning.install_triggers(base_table regclass) returns void
language plpgsql
as $$
declare
  v_model versioning.models;
  v_name name;
  v_stamp text;
  v_journal text;
  v_body text;
begin
  select * into strict v_model from versioning.models m where m.base_table = install_triggers.base_table;
  select c.relname into strict v_name from pg_class c where c.oid = v_model.delta_table;
  -- Identifiers longer than 63 bytes are cut short, and two long table names could then share a
  -- function: one table would journal into the other's delta table.
  if octet_length(v_name) > 55 then
    raise exception 'table name % is too long to version (at most 55 bytes)', v_name using errcode = '42622';
  end if;
  if not exists (
    select from pg_attribute a join pg_index i on i.indrelid = a.attrelid and i.indisunique and i.indpred is null
                                                and i.indnatts = 1 and i.indkey[0] = a.attnum
     where a.attrelid = base_table and a.attname = v_model.id_column and not a.attisdropped
       and a.attnotnull and a.atttypid in ('uuid'::regtype, 'text'::regtype, 'character varying'::regtype)
  ) then
    raise exception 'id column %.% must be a unique, not null uuid or text column', base_table, v_model.id_column
      using errcode = '42804', hint = 'use versioning.enable to change the id column';
  end if;
  if v_model.timestamps then
    perform versioning.assert_column_type(base_table, 'created_at', 'timestamp with time zone');
    perform versioning.assert_column_type(base_table, 'updated_at', 'timestamp with time zone');
  end if;
  v_stamp := format('versioning_delta.%I', v_name || '_stamp');
  v_journal := format('versioning_delta.%I', v_name || '_journal');

  v_body := format($body$
    declare
      -- versioning.now_ms(), inlined: a writer needs no rights on the versioning schema.
      v_now bigint := floor(extract(epoch from now()) * 1000)::bigint;
    begin
      if tg_op = 'INSERT' then
        new._version := 1;
        new._last_changed_at := v_now;
        new._deleted := coalesce(new._deleted, false);
        %1$s
      else
        new._version := old._version + 1;
        -- A row's stamp never goes backwards: a transaction that started before the one that last wrote
        -- this row would otherwise stamp it with an older time.
        new._last_changed_at := greatest(v_now, old._last_changed_at);
      end if;
      %2$s
      if not new._deleted then
        new._ttl := null;
      elsif tg_op = 'INSERT' or not old._deleted then
        new._ttl := now() + %3$L::interval;  -- base_table_ttl
      else
        new._ttl := old._ttl;  -- editing a tombstone does not extend its life
      end if;
      return new;
    end
  $body$,
    case when v_model.timestamps then 'new.created_at := coalesce(new.created_at, now());' else '' end,
    case when v_model.timestamps then 'new.updated_at := now();' else '' end,
    v_model.base_table_ttl);
  -- Not security definer: it reads nothing but the row. The fixed search_path keeps a writer's own
  -- operators or functions out of the stamps.
  execute format('create or replace function %s() returns trigger language plpgsql set search_path = pg_catalog, pg_temp as %L',
                 v_stamp, v_body);
  execute format('comment on function %s() is %L', v_stamp,
                 format('datastore-pg: stamps rows of %s (generated by versioning.install_triggers)', base_table));

  v_body := format($body$
    declare
      v_item jsonb := to_jsonb(new);
      v_write jsonb;
      v_changed jsonb := '{}';
    begin
      if tg_op = 'UPDATE' and new.%1$I is distinct from old.%1$I then
        -- Devices know a row only by its id: a changed id would leave the old one on every device forever.
        raise exception 'the DataStore id column %%.%% cannot be changed', tg_table_name, %2$L
          using errcode = '23514', hint = 'delete the row and insert a new one instead';
      end if;
      -- The full row image as jsonb, so that a later ALTER TABLE on the base table never breaks the journal.
      insert into %3$s (id, _version, _deleted, _last_changed_at, item)
      values (new.%1$I::text, new._version, new._deleted, new._last_changed_at, v_item);

      -- The merge history: what this version changed, compared as jsonb so that a column added later by
      -- ALTER TABLE is covered without regenerating this function. The stamps change on every write.
      if tg_op = 'UPDATE' then
        select coalesce(jsonb_object_agg(o.key, o.value), '{}') into v_changed
          from jsonb_each(to_jsonb(old)) o
         where o.key not in ('_version', '_last_changed_at', '_ttl', 'updated_at')
           and o.value is distinct from v_item -> o.key;
      end if;
      -- Set by the API for the one row it writes (the id check keeps it off any other row).
      v_write := nullif(current_setting('datastore_pg.write', true), '')::jsonb;
      if v_write ->> 'id' is distinct from new.%1$I::text then
        v_write := null;
      end if;
      -- An insert by another writer changed nothing a merge could need (a bulk load writes no history);
      -- one through the API is kept, so that the same create sent again is recognized.
      if tg_op = 'UPDATE' or v_write is not null then
        insert into %4$s (id, _version, _last_changed_at, changed, writer, base_version, sent)
        values (new.%1$I::text, new._version, new._last_changed_at, v_changed,
                v_write ->> 'writer', (v_write ->> 'base')::bigint, v_write -> 'sent');
      end if;
      return null;
    end
  $body$, v_model.id_column, v_model.id_column, v_model.delta_table, versioning.ensure_merge_table(base_table));
  -- Security definer: writers may not insert into delta or merge tables themselves; their owner may.
  execute format('create or replace function %s() returns trigger language plpgsql security definer set search_path = pg_catalog, pg_temp as %L',
                 v_journal, v_body);
  execute format('comment on function %s() is %L', v_journal,
                 format('datastore-pg: journals rows of %s into %s and its merge history (generated by versioning.install_triggers)', base_table, v_model.delta_table));

  -- Same-event triggers fire in name order: stamp first, journal last.
  if not exists (select from pg_trigger t where t.tgrelid = base_table and t.tgname = '_100_stamp_version'
                                             and t.tgfoid = to_regprocedure(v_stamp || '()')) then
    execute format('create or replace trigger _100_stamp_version before insert or update on %s
                    for each row execute function %s()', base_table, v_stamp);
  end if;
  if not exists (select from pg_trigger t where t.tgrelid = base_table and t.tgname = '_900_append_delta'
                                             and t.tgfoid = to_regprocedure(v_journal || '()')) then
    execute format('create or replace trigger _900_append_delta after insert or update on %s
                    for each row execute function %s()', base_table, v_journal);
  end if;
end
$$;

-- As in 000001, and the runtime reads the merge history (never writes it: the trigger does).
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
  for v_sequence in
    select d.objid::regclass from pg_depend d join pg_class s on s.oid = d.objid
     where s.relkind = 'S' and d.refobjid = base_table and d.deptype in ('a', 'i')
  loop
    execute format('grant usage on sequence %s to datastore_runtime', v_sequence);
  end loop;
end
$$;

-- Deletes at most batch_size merge-history rows older than the table's merge horizon; returns how many.
create function versioning.purge_merge(base_table regclass, batch_size int) returns int
language plpgsql
as $$
declare
  v_merge_table regclass;
  v_horizon bigint;
  v_deleted int;
begin
  select versioning.merge_table(m.base_table),
         versioning.now_ms() - (extract(epoch from coalesce(m.merge_horizon, m.base_table_ttl)) * 1000)::bigint
    into strict v_merge_table, v_horizon
    from versioning.models m where m.base_table = purge_merge.base_table;
  execute format($q$
    delete from %1$s where ctid = any(array(
      select h.ctid from %1$s h where h._last_changed_at < $2 order by h._last_changed_at limit $1))
  $q$, v_merge_table)
  using batch_size, v_horizon;
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

-- Deletes at most batch_size conflict-log entries older than settings.conflict_log_ttl; returns how many.
create function versioning.purge_conflicts(batch_size int) returns int
language plpgsql
as $$
declare
  v_deleted int;
begin
  delete from versioning.conflicts where id = any(array(
    select c.id from versioning.conflicts c
     where c.logged_at < now() - (select s.conflict_log_ttl from versioning.settings s)
     order by c.logged_at limit batch_size));
  get diagnostics v_deleted = row_count;
  return v_deleted;
end
$$;

-- As in 000002, with the merge histories and the conflict log.
drop procedure versioning.purge(int, int, bigint, bigint);
create procedure versioning.purge(
  batch_size int default 1000,
  max_batches int default 200,
  inout tombstones_purged bigint default 0,
  inout delta_rows_purged bigint default 0,
  inout merge_rows_purged bigint default 0,
  inout conflicts_purged bigint default 0
)
language plpgsql
as $$
declare
  v_base_table regclass;
  v_kind text;
  v_batches int := 0;
  v_deleted int;
begin
  if batch_size < 1 or max_batches < 1 then
    raise exception 'batch_size and max_batches must be positive' using errcode = '22023';
  end if;
  -- Skips registry rows whose table was dropped.
  for v_base_table in
    select m.base_table from versioning.models m join pg_class c on c.oid = m.base_table order by m.base_table::text
  loop
    foreach v_kind in array array['tombstones', 'delta', 'merge'] loop
      loop
        exit when v_batches >= max_batches;
        case v_kind
          when 'tombstones' then
            v_deleted := versioning.purge_tombstones(v_base_table, batch_size);
            tombstones_purged := tombstones_purged + v_deleted;
          when 'delta' then
            v_deleted := versioning.purge_delta(v_base_table, batch_size);
            delta_rows_purged := delta_rows_purged + v_deleted;
          else
            v_deleted := versioning.purge_merge(v_base_table, batch_size);
            merge_rows_purged := merge_rows_purged + v_deleted;
        end case;
        commit;
        v_batches := v_batches + sign(v_deleted);
        exit when v_deleted < batch_size;
      end loop;
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

-- Writes a logged value back into its item, as a new version that devices sync like any other change.
-- Returns that version. For operators: select versioning.restore_conflict(42);
create function versioning.restore_conflict(conflict_id bigint) returns bigint
language plpgsql
as $$
declare
  v_conflict versioning.conflicts;
  v_id_column name;
  v_version bigint;
begin
  select * into v_conflict from versioning.conflicts c where c.id = conflict_id;
  if not found then
    raise exception 'no conflict % in versioning.conflicts', conflict_id using errcode = 'P0002';
  end if;
  select m.id_column into strict v_id_column from versioning.models m where m.base_table = v_conflict.base_table;
  -- jsonb_populate_record converts the stored value to the column's type as the table defines it.
  execute format('update %1$s t set %2$I = (jsonb_populate_record(null::%1$s, jsonb_build_object(%3$L, $1))).%2$I
                   where t.%4$I::text = $2 returning t._version',
                 v_conflict.base_table, v_conflict.column_name, v_conflict.column_name, v_id_column)
    into v_version
    using v_conflict.lost_value, v_conflict.item_id;
  if v_version is null then
    raise exception 'item % of % no longer exists', v_conflict.item_id, v_conflict.base_table using errcode = 'P0002';
  end if;
  return v_version;
end
$$;
revoke execute on function versioning.restore_conflict(bigint) from public;  -- operators only

-- Every table versioned so far: its merge history, journal functions that write it, and the grant.
do $$
declare
  v_base_table regclass;
begin
  for v_base_table in select m.base_table from versioning.models m join pg_class c on c.oid = m.base_table loop
    perform versioning.install_triggers(v_base_table);
    perform versioning.grant_runtime(v_base_table);
  end loop;
end
$$;
