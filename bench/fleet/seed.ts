// The fleet's data, loaded in SQL through the versioning triggers (as an ERP's bulk load would write it),
// so every row is journaled and versioned as it would be in production.
import type { Sql } from '@datastore-pg/db';
import type { Dataset } from './options';

/** Technician i's Cognito username: the owner of their work orders and logs. */
export const technician = (i: number) => `tech-${String(i).padStart(6, '0')}`;

/** The tables the fleet writes, in the order their rows depend on each other. */
export const TABLES = ['customers', 'sites', 'assets', 'parts', 'work_orders', 'work_logs'] as const;

export async function seed(sql: Sql, d: Dataset): Promise<Record<string, number>> {
  await sql`insert into customers (name, email, phone)
            select 'Customer ' || g, 'customer' || g || '@example.com', '+4930' || lpad(g::text, 7, '0')
              from generate_series(1, ${d.customers}) g`;
  await sql`insert into sites (customer_id, name, address, latitude, longitude)
            select c.id, c.name || ', site ' || s, s || ' Industriestraße, Berlin', 52 + random(), 13 + random()
              from customers c cross join generate_series(1, ${d.sitesPerCustomer}) s`;
  await sql`insert into assets (site_id, name, manufacturer, serial_number, installed_on, tags)
            select t.id, 'Pump ' || a, 'Grundfos', 'SN-' || md5(t.id::text || a), date '2020-01-01' + a * 30, array['pump', 'site-' || a]
              from sites t cross join generate_series(1, ${d.assetsPerSite}) a`;
  await sql`insert into parts (sku, description, quantity_on_hand, unit_price)
            select 'FLEET-' || g, 'Part ' || g, 100 + g % 50, 5 + g % 200
              from generate_series(1, ${d.parts}) g`;
  // Each technician's work orders on assets spread over the catalogue (the asset's site is the order's).
  await sql`
    with numbered as (select id, site_id, row_number() over (order by id) - 1 as n, count(*) over () as total from assets)
    insert into work_orders (site_id, asset_id, title, status, priority, scheduled_at, notes, owner)
    select a.site_id, a.id, 'Service visit ' || o, (array['OPEN', 'SCHEDULED', 'IN_PROGRESS'])[1 + o % 3]::work_order_status,
           (array['LOW', 'NORMAL', 'HIGH'])[1 + o % 3]::work_order_priority, now() + o * interval '1 day', 'Bring the usual kit',
           'tech-' || lpad(t::text, 6, '0')
      from generate_series(1, ${d.technicians}) t cross join generate_series(1, ${d.ordersPerTechnician}) o
      join numbered a on a.n = (t * 7919 + o * 104729) % a.total`;
  await sql`insert into work_logs (work_order_id, minutes, note, recorded_at, owner)
            select w.id, 15 + (l * 37) % 120, 'Checked pressure and seals', now() - l * interval '1 hour', w.owner
              from work_orders w cross join generate_series(1, ${d.logsPerOrder}) l`;
  // As autovacuum would have by now: statistics for the tables and their journals.
  for (const table of TABLES) {
    await sql`vacuum analyze ${sql(table)}`;
    await sql`vacuum analyze ${sql(`versioning_delta.${table}`)}`;
  }
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const [{ n }] = (await sql`select count(*)::int as n from ${sql(table)}`) as unknown as [{ n: number }];
    counts[table] = n;
  }
  return counts;
}

/**
 * The ERP's changes to the catalogue in one delta window (its day's changes over the day's delta syncs),
 * spread over the catalogue's models by their sizes.
 */
export async function changeCatalogue(sql: Sql, changes: number): Promise<void> {
  const [{ total }] = (await sql`select (select count(*) from customers) + (select count(*) from sites)
                                      + (select count(*) from assets) + (select count(*) from parts) as total`) as unknown as [{ total: number }];
  const share = async (table: string) => {
    const [{ n }] = (await sql`select count(*)::int as n from ${sql(table)}`) as unknown as [{ n: number }];
    return Math.round((changes * n) / Number(total));
  };
  await sql`update customers set phone = '+4989' || lpad((random() * 1e7)::int::text, 7, '0')
             where id in (select id from customers order by random() limit ${await share('customers')})`;
  await sql`update sites set address = address || ' (gate B)'
             where id in (select id from sites order by random() limit ${await share('sites')})`;
  await sql`update assets set serial_number = serial_number || '-R'
             where id in (select id from assets order by random() limit ${await share('assets')})`;
  await sql`update parts set quantity_on_hand = quantity_on_hand - 1
             where part_no in (select part_no from parts order by random() limit ${await share('parts')})`;
}
