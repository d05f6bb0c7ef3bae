-- The versioning machinery: turns any table into a versioned data source as AppSync defines one for
-- DynamoDB (see shared/seeds/004: _version, _deleted, _lastChangedAt, _ttl, a delta table with its own
-- TTL), but inside Postgres, so every writer is stamped and journaled: our Lambdas, an ERP's SQL, psql.
--
--   select versioning.enable('work_orders');                               -- a DataStore table
--   select versioning.enable('parts', id_column => '_datastore_uuid');     -- a legacy integer-keyed table
--
-- Column names are snake_case in SQL; the handlers map _last_changed_at to DataStore's _lastChangedAt.

-- Least privilege for the handlers: the migration role (whoever runs these files) owns the schema; the
-- handlers' login user is a member of datastore_runtime, which may read and write the rows of versioned
-- tables and nothing else: no DDL, no DELETE (deletes are tombstones), no TRUNCATE, no other schema.
-- Roles are cluster-wide, hence the existence check; grants are per database.
--   create user datastore_app;  grant datastore_runtime to datastore_app;  grant rds_iam to datastore_app;
do $$
begin
  if not exists (select from pg_roles where rolname = 'datastore_runtime') then
    create role datastore_runtime nologin;
  end if;
end
$$;

create schema versioning;
comment on schema versioning is 'datastore-pg: versioned data sources (stamping, delta journal, purge)';
create schema versioning_delta;
comment on schema versioning_delta is 'datastore-pg: one delta table (change journal) per versioned table';

-- AWSTimestamp values are milliseconds since the epoch (design.md §2). now() is the transaction's start,
-- so every row a transaction writes carries a stamp no earlier than that start: the sync watermark
-- (oldest open transaction's start, design.md §4) relies on exactly this.
create function versioning.now_ms() returns bigint
language sql stable parallel safe
as $$ select floor(extract(epoch from pg_catalog.now()) * 1000)::bigint $$;

-- One row per versioned table. Triggers read their TTLs from here, so changing a TTL is one UPDATE
-- (or another versioning.enable call) and takes effect on the next write.
create table versioning.models (
  base_table           regclass primary key,
  id_column            name not null,
  delta_table          regclass not null unique,
  base_table_ttl       interval not null,
  delta_sync_table_ttl interval not null,
  constraint models_base_table_ttl_positive check (base_table_ttl > interval '0'),
  constraint models_delta_sync_table_ttl_positive check (delta_sync_table_ttl > interval '0')
);
grant usage on schema versioning, versioning_delta to datastore_runtime;
grant select on versioning.models to datastore_runtime;
comment on column versioning.models.id_column is 'the column holding the DataStore id (a uuid or text, unique, not null)';
comment on column versioning.models.base_table_ttl is 'how long a tombstone stays in the base table (AppSync BaseTableTTL)';
comment on column versioning.models.delta_sync_table_ttl is 'how long a change stays in the delta table (AppSync DeltaSyncTableTTL)';

-- BEFORE INSERT OR UPDATE: the server owns the metadata; whatever a writer puts in _version,
-- _last_changed_at or _ttl is overwritten.
create function versioning.tg_stamp_version() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_now bigint := versioning.now_ms();
  v_base_table_ttl interval;
begin
  if tg_op = 'INSERT' then
    new._version := 1;
    new._last_changed_at := v_now;
    new._deleted := coalesce(new._deleted, false);
  else
    new._version := old._version + 1;
    -- Never let a row's stamp go backwards: a transaction that started earlier than the one that last
    -- wrote this row would otherwise stamp it with an older time.
    new._last_changed_at := greatest(v_now, old._last_changed_at);
  end if;

  if new._deleted then
    if tg_op = 'INSERT' or not old._deleted then
      select m.base_table_ttl into v_base_table_ttl from versioning.models m where m.base_table = tg_relid;
      new._ttl := now() + v_base_table_ttl;
    else
      new._ttl := old._ttl;  -- editing a tombstone does not extend its life
    end if;
  else
    new._ttl := null;
  end if;
  return new;
end
$$;

-- BEFORE INSERT OR UPDATE, only on tables enabled with timestamps: the createdAt/updatedAt that
-- Amplify codegen models carry and select in every query (design.md §2).
create function versioning.tg_stamp_timestamps() returns trigger
language plpgsql
as $$
begin
  if tg_op = 'INSERT' then
    new.created_at := coalesce(new.created_at, now());
  end if;
  new.updated_at := now();
  return new;
end
$$;

-- AFTER INSERT OR UPDATE: append the row as it now is to the model's delta table. The full row image is
-- kept as jsonb so that a later ALTER TABLE on the base table never breaks the journal.
create function versioning.tg_append_delta() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_model versioning.models;
  v_item jsonb := to_jsonb(new);
begin
  select * into strict v_model from versioning.models m where m.base_table = tg_relid;
  if tg_op = 'UPDATE' and (v_item ->> v_model.id_column) is distinct from (to_jsonb(old) ->> v_model.id_column) then
    -- Devices know a row only by its id: a changed id would leave the old one on every device forever.
    raise exception 'the DataStore id column %.% cannot be changed', tg_table_name, v_model.id_column
      using errcode = '23514', hint = 'delete the row and insert a new one instead';
  end if;
  execute format(
    'insert into %s (id, _version, _deleted, _last_changed_at, _ttl, item) values ($1, $2, $3, $4, $5, $6)',
    v_model.delta_table)
  using v_item ->> v_model.id_column, new._version, new._deleted, new._last_changed_at,
        now() + v_model.delta_sync_table_ttl, v_item;
  return null;
end
$$;

-- BEFORE DELETE: a hard DELETE by any writer becomes a tombstone (an UPDATE setting _deleted), which is
-- stamped, journaled and synced to devices like a delete made through the API. Only a tombstone whose
-- _ttl has passed is really deleted: that is how versioning.purge removes them.
-- Caveat for other writers: the DELETE reports 0 rows, and an ON DELETE CASCADE from an unversioned
-- parent into a versioned child fails; version the parent too, or use ON DELETE RESTRICT.
create function versioning.tg_tombstone_hard_delete() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_id_column name;
begin
  if old._deleted then
    if old._ttl <= now() then
      return old;  -- an expired tombstone: purge
    end if;
    return null;   -- already a tombstone: keep it until it expires
  end if;
  select m.id_column into strict v_id_column from versioning.models m where m.base_table = tg_relid;
  execute format('update %s set _deleted = true where %I = ($1).%I', tg_relid::regclass, v_id_column, v_id_column)
  using old;
  return null;
end
$$;

-- BEFORE TRUNCATE: a TRUNCATE cannot be turned into tombstones, and devices would keep every row.
create function versioning.tg_forbid_truncate() returns trigger
language plpgsql
as $$
begin
  raise exception 'TRUNCATE of versioned table % would hide the deletes from devices', tg_table_name
    using errcode = '0A000', hint = 'use DELETE (rows become tombstones) instead';
end
$$;

-- What datastore_runtime may do with one versioned table: its rows (select, insert, update), the
-- sequences its columns draw from, and reading its journal for delta syncs.
create function versioning.grant_runtime(base_table regclass) returns void
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
  for v_sequence in
    select d.objid::regclass from pg_depend d join pg_class s on s.oid = d.objid
     where s.relkind = 'S' and d.refobjid = base_table and d.deptype in ('a', 'i')
  loop
    execute format('grant usage on sequence %s to datastore_runtime', v_sequence);
  end loop;
end
$$;

-- Turns a table, new or existing, into a versioned data source. Idempotent: run it again to change TTLs
-- or to repair missing pieces. Returns the delta table.
create function versioning.enable(
  base_table regclass,
  id_column name default 'id',
  base_table_ttl interval default '30 days',
  delta_sync_table_ttl interval default '30 minutes',
  timestamps boolean default true
) returns regclass
language plpgsql
as $$
declare
  v_table name;
  v_id_type regtype;
  v_id_attnum int2;
  v_delta_table regclass;
  v_owner regclass;
begin
  select c.relname into v_table from pg_class c where c.oid = base_table and c.relkind in ('r', 'p');
  if not found then
    raise exception '% is not a table', base_table using errcode = '42809';
  end if;

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
      _ttl             timestamptz not null,
      item             jsonb not null
    )
  $ddl$, v_table);
  v_delta_table := format('versioning_delta.%I', v_table)::regclass;
  execute format('comment on table %s is %L', v_delta_table, format('datastore-pg: change journal of %s', base_table));
  execute format('create index if not exists %I on %s (_last_changed_at, seq)', v_table || '_last_changed_at_idx', v_delta_table);
  execute format('create index if not exists %I on %s (_ttl)', v_table || '_ttl_idx', v_delta_table);
  -- Delta sync returns only the latest version of each item: "is there a newer change of this id?"
  execute format('create index if not exists %I on %s (id, seq)', v_table || '_id_seq_idx', v_delta_table);

  insert into versioning.models as m (base_table, id_column, delta_table, base_table_ttl, delta_sync_table_ttl)
  values (base_table, id_column, v_delta_table, base_table_ttl, delta_sync_table_ttl)
  on conflict on constraint models_pkey do update
    set id_column = excluded.id_column,
        base_table_ttl = excluded.base_table_ttl,
        delta_sync_table_ttl = excluded.delta_sync_table_ttl;

  -- Same-event triggers fire in name order: stamp first, journal last.
  execute format('create or replace trigger _100_stamp_version before insert or update on %s
                  for each row execute function versioning.tg_stamp_version()', base_table);
  execute format('create or replace trigger _100_tombstone_hard_delete before delete on %s
                  for each row execute function versioning.tg_tombstone_hard_delete()', base_table);
  execute format('create or replace trigger _100_forbid_truncate before truncate on %s
                  for each statement execute function versioning.tg_forbid_truncate()', base_table);
  execute format('create or replace trigger _900_append_delta after insert or update on %s
                  for each row execute function versioning.tg_append_delta()', base_table);
  if timestamps then
    execute format($ddl$
      alter table %s
        add column if not exists created_at timestamptz not null default now(),
        add column if not exists updated_at timestamptz not null default now()
    $ddl$, base_table);
    execute format('create or replace trigger _110_stamp_timestamps before insert or update on %s
                    for each row execute function versioning.tg_stamp_timestamps()', base_table);
  else
    execute format('drop trigger if exists _110_stamp_timestamps on %s', base_table);
  end if;
  perform versioning.grant_runtime(base_table);
  return v_delta_table;
end
$$;

create function versioning.assert_column_type(base_table regclass, column_name name, expected regtype) returns void
language plpgsql stable
as $$
declare
  v_actual regtype;
begin
  select a.atttypid into v_actual from pg_attribute a
  where a.attrelid = base_table and a.attname = column_name and not a.attisdropped;
  if v_actual is distinct from expected then
    raise exception 'column %.% is %, but versioning needs %', base_table, column_name, v_actual, expected
      using errcode = '42804';
  end if;
end
$$;
