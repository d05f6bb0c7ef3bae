-- Two changes to how versioned tables are written and their journals expire.
--
-- 1. Per-table trigger functions. Until now every versioned table shared three generic triggers that, on
-- every row written, looked up the table in versioning.models and built the journal INSERT as a string
-- (EXECUTE), and ran two BEFORE triggers where one does. That cost more than the write itself (a handler
-- update was 3.7× a plain UPDATE, docs/benchmarks.md P4). Now versioning.enable generates two functions
-- for each table, with its delta table, id column and base table TTL written into them as constants:
--   versioning_delta.<table>_stamp()    BEFORE INSERT OR UPDATE: _version, _last_changed_at, _ttl,
--                                       created_at/updated_at when the table keeps them
--   versioning_delta.<table>_journal()  AFTER INSERT OR UPDATE: refuses an id change, appends the row
-- versioning.models stays the one place to change a TTL: updating a row of it regenerates the table's
-- functions in the same transaction, so a new BaseTableTTL still takes effect on the next write (and a
-- new DeltaSyncTableTTL on the next purge, see 2.).
--
-- 2. A journal row expires DeltaSyncTableTTL after its change (_last_changed_at), by the TTL in force
-- when purge runs, instead of carrying an expiry fixed when it was written. With fixed expiries, raising
-- the TTL let a sync choose the journal (delta mode, "lastSync within half the TTL") for a window whose
-- older rows had already expired under the old TTL, or would expire while the sync paged: the device
-- missed those changes. Now purge records, per table, the newest change it has removed
-- (delta_purged_through), and a sync uses the journal only for a lastSync at or after it.

-- Whether the table keeps createdAt/updatedAt (versioning.enable's timestamps argument) was only visible
-- as the presence of a trigger; the generated stamp function needs it.
alter table versioning.models add column timestamps boolean not null default true;
update versioning.models m
   set timestamps = exists (select from pg_trigger t where t.tgrelid = m.base_table and t.tgname = '_110_stamp_timestamps');
comment on column versioning.models.timestamps is 'whether the triggers stamp created_at and updated_at';

-- (Re)creates the table's two trigger functions from its row in versioning.models, after checking that
-- the row fits the table (an UPDATE of the registry gets here without versioning.enable's checks), and
-- attaches them unless they already are: a TTL change replaces the functions only, and takes no lock
-- on the table. Each body is built as text and quoted whole with %L, so no name can end it early.
create function versioning.install_triggers(base_table regclass) returns void
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
    begin
      if tg_op = 'UPDATE' and new.%1$I is distinct from old.%1$I then
        -- Devices know a row only by its id: a changed id would leave the old one on every device forever.
        raise exception 'the DataStore id column %%.%% cannot be changed', tg_table_name, %2$L
          using errcode = '23514', hint = 'delete the row and insert a new one instead';
      end if;
      -- The full row image as jsonb, so that a later ALTER TABLE on the base table never breaks the journal.
      insert into %3$s (id, _version, _deleted, _last_changed_at, item)
      values (new.%1$I::text, new._version, new._deleted, new._last_changed_at, to_jsonb(new));
      return null;
    end
  $body$, v_model.id_column, v_model.id_column, v_model.delta_table);
  -- Security definer: writers may not insert into delta tables themselves; the owner of the journal may.
  execute format('create or replace function %s() returns trigger language plpgsql security definer set search_path = pg_catalog, pg_temp as %L',
                 v_journal, v_body);
  execute format('comment on function %s() is %L', v_journal,
                 format('datastore-pg: journals rows of %s into %s (generated by versioning.install_triggers)', base_table, v_model.delta_table));

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

-- A registry row written (versioning.enable, or an UPDATE of what the functions hold): regenerate that
-- table's functions. (Not when purge moves delta_purged_through.)
create function versioning.tg_models_changed() returns trigger
language plpgsql
as $$
begin
  if exists (select from pg_class c where c.oid = new.base_table) then  -- skips a dropped table's row
    perform versioning.install_triggers(new.base_table);
  end if;
  return null;
end
$$;
create trigger install_triggers after insert or update of id_column, delta_table, base_table_ttl, timestamps
  on versioning.models for each row execute function versioning.tg_models_changed();

-- versioning.enable as in 000001, but it records the timestamps choice, keeps what is registered for
-- the arguments left out, leaves the row triggers to versioning.install_triggers (through the registry
-- trigger above), and creates journals without _ttl.
-- Every argument left out (null) keeps what the table is registered with, or takes the default for a
-- table versioned for the first time: running it again to change a TTL must not move the id column of
-- a table versioned with id_column => '_datastore_uuid' back to 'id' (a new id for every row).
create or replace function versioning.enable(
  base_table regclass,
  id_column name default null,                -- 'id'
  base_table_ttl interval default null,       -- '30 days'
  delta_sync_table_ttl interval default null, -- '30 minutes'
  timestamps boolean default null             -- true
) returns regclass
language plpgsql
as $$
declare
  v_table name;
  v_id_type regtype;
  v_id_attnum int2;
  v_delta_table regclass;
  v_owner regclass;
  v_registered versioning.models;
begin
  select c.relname into v_table from pg_class c where c.oid = base_table and c.relkind in ('r', 'p');
  if not found then
    raise exception '% is not a table', base_table using errcode = '42809';
  end if;
  select * into v_registered from versioning.models m where m.base_table = enable.base_table;
  id_column := coalesce(id_column, v_registered.id_column, 'id');
  base_table_ttl := coalesce(base_table_ttl, v_registered.base_table_ttl, '30 days');
  delta_sync_table_ttl := coalesce(delta_sync_table_ttl, v_registered.delta_sync_table_ttl, '30 minutes');
  timestamps := coalesce(timestamps, v_registered.timestamps, true);

  execute format($ddl$
    alter table %s
      add column if not exists _version bigint not null default 1,
      add column if not exists _deleted boolean not null default false,
      add column if not exists _last_changed_at bigint not null default versioning.now_ms(),
      add column if not exists _ttl timestamptz
  $ddl$, base_table);
  perform versioning.assert_column_type(base_table, '_version', 'bigint');
  perform versioning.assert_column_type(base_table, '_deleted', 'boolean');
  perform versioning.assert_column_type(base_table, '_last_changed_at', 'bigint');
  perform versioning.assert_column_type(base_table, '_ttl', 'timestamp with time zone');
  if timestamps then
    execute format($ddl$
      alter table %s
        add column if not exists created_at timestamptz not null default now(),
        add column if not exists updated_at timestamptz not null default now()
    $ddl$, base_table);
  end if;

  -- The DataStore id: an existing column (uuid or text) or, for a legacy table keyed otherwise, a new
  -- uuid column filled for every existing row (the _datastore_uuid pattern of shared/seeds/000).
  select a.atttypid, a.attnum into v_id_type, v_id_attnum
  from pg_attribute a where a.attrelid = base_table and a.attname = id_column and not a.attisdropped;
  if not found then
    execute format('alter table %s add column %I uuid not null default gen_random_uuid()', base_table, id_column);
    select a.atttypid, a.attnum into v_id_type, v_id_attnum
    from pg_attribute a where a.attrelid = base_table and a.attname = id_column;
  elsif v_id_type not in ('uuid'::regtype, 'text'::regtype, 'character varying'::regtype) then
    raise exception 'id column %.% is %, but a DataStore id must be uuid or text', v_table, id_column, v_id_type
      using errcode = '42804';
  end if;
  execute format('alter table %s alter column %I set not null', base_table, id_column);
  if not exists (
    select from pg_index i
    where i.indrelid = base_table and i.indisunique and i.indpred is null
      and i.indnatts = 1 and i.indkey[0] = v_id_attnum
  ) then
    execute format('create unique index %I on %s (%I)', v_table || '_' || id_column || '_key', base_table, id_column);
  end if;

  -- Incremental base sync reads rows changed since a client's lastSync; purge finds expired tombstones.
  execute format('create index if not exists %I on %s (_last_changed_at, %I)',
                 v_table || '_last_changed_at_idx', base_table, id_column);
  execute format('create index if not exists %I on %s (_ttl) where _deleted',
                 v_table || '_tombstone_ttl_idx', base_table);

  select m.base_table into v_owner from versioning.models m
  where m.delta_table = to_regclass(format('versioning_delta.%I', v_table));
  if v_owner is not null and v_owner <> base_table then
    raise exception 'delta table versioning_delta.% already journals %', v_table, v_owner using errcode = '42P07';
  end if;
  execute format($ddl$
    create table if not exists versioning_delta.%I (
      seq              bigint generated always as identity primary key,
      id               text not null,
      _version         bigint not null,
      _deleted         boolean not null,
      _last_changed_at bigint not null,
      item             jsonb not null
    )
  $ddl$, v_table);
  v_delta_table := format('versioning_delta.%I', v_table)::regclass;
  execute format('comment on table %s is %L', v_delta_table, format('datastore-pg: change journal of %s', base_table));
  -- Delta sync reads a window of changes; purge removes the oldest.
  execute format('create index if not exists %I on %s (_last_changed_at, seq)', v_table || '_last_changed_at_idx', v_delta_table);
  -- Delta sync returns only the latest version of each item: "is there a newer change of this id?"
  execute format('create index if not exists %I on %s (id, seq)', v_table || '_id_seq_idx', v_delta_table);

  -- Installs the row triggers (versioning.tg_models_changed).
  insert into versioning.models as m (base_table, id_column, delta_table, base_table_ttl, delta_sync_table_ttl, timestamps)
  values (base_table, id_column, v_delta_table, base_table_ttl, delta_sync_table_ttl, timestamps)
  on conflict on constraint models_pkey do update
    set id_column = excluded.id_column,
        base_table_ttl = excluded.base_table_ttl,
        delta_sync_table_ttl = excluded.delta_sync_table_ttl,
        timestamps = excluded.timestamps;

  execute format('create or replace trigger _100_tombstone_hard_delete before delete on %s
                  for each row execute function versioning.tg_tombstone_hard_delete()', base_table);
  execute format('create or replace trigger _100_forbid_truncate before truncate on %s
                  for each statement execute function versioning.tg_forbid_truncate()', base_table);
  perform versioning.grant_runtime(base_table);
  return v_delta_table;
end
$$;

-- Journal expiry (2.): the newest change purge has removed from each journal.
alter table versioning.models add column delta_purged_through bigint not null default 0;
comment on column versioning.models.delta_purged_through is
  'the newest _last_changed_at purge has removed from the delta table: a delta sync needs a lastSync at or after it';

-- Deletes at most batch_size journal rows older than the table's DeltaSyncTableTTL; returns how many.
create or replace function versioning.purge_delta(base_table regclass, batch_size int) returns int
language plpgsql
as $$
declare
  v_delta_table regclass;
  v_horizon bigint;
  v_deleted int;
  v_through bigint;
begin
  select m.delta_table, versioning.now_ms() - (extract(epoch from m.delta_sync_table_ttl) * 1000)::bigint
    into strict v_delta_table, v_horizon
    from versioning.models m where m.base_table = purge_delta.base_table;
  execute format($q$
    with purged as (
      delete from %1$s where seq = any(array(
        select d.seq from %1$s d where d._last_changed_at < $2 order by d._last_changed_at, d.seq limit $1))
      returning _last_changed_at)
    select count(*)::int, max(_last_changed_at) from purged
  $q$, v_delta_table)
  into v_deleted, v_through
  using batch_size, v_horizon;
  if v_through is not null then
    update versioning.models m set delta_purged_through = greatest(m.delta_purged_through, v_through)
     where m.base_table = purge_delta.base_table;
  end if;
  return v_deleted;
end
$$;

-- Every table versioned so far gets its own functions, whose journal no longer writes _ttl; the shared
-- functions and the journals' _ttl columns (with their index) are then unused.
do $$
declare
  v_model versioning.models;
begin
  for v_model in select m.* from versioning.models m join pg_class c on c.oid = m.base_table loop
    perform versioning.install_triggers(v_model.base_table);
    execute format('drop trigger if exists _110_stamp_timestamps on %s', v_model.base_table);  -- now in _stamp()
    execute format('alter table %s drop column if exists _ttl', v_model.delta_table);
  end loop;
end
$$;
drop function versioning.tg_stamp_version();
drop function versioning.tg_stamp_timestamps();
drop function versioning.tg_append_delta();
