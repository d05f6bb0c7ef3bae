// A small field-service data set for `npm run dev`: fixed ids, inserted only where missing, so running it
// again changes nothing and a device that synced it keeps its copies.
import { transaction, type Sql } from '@datastore-pg/db';

const CUSTOMER = '0f0e8e2a-6b1d-4c44-9a53-5b7a7c0c0001';
const SITES = ['0f0e8e2a-6b1d-4c44-9a53-5b7a7c0c0101', '0f0e8e2a-6b1d-4c44-9a53-5b7a7c0c0102'];
const ASSETS = ['0f0e8e2a-6b1d-4c44-9a53-5b7a7c0c0201', '0f0e8e2a-6b1d-4c44-9a53-5b7a7c0c0202'];
const WORK_ORDERS = ['0f0e8e2a-6b1d-4c44-9a53-5b7a7c0c0301', '0f0e8e2a-6b1d-4c44-9a53-5b7a7c0c0302', '0f0e8e2a-6b1d-4c44-9a53-5b7a7c0c0303'];

/** Returns how many rows it inserted (0 on every run after the first). */
export async function seed(sql: Sql): Promise<number> {
  return transaction(sql, async (tx) => {
    let inserted = 0;
    const count = (result: { count: number }) => (inserted += result.count);
    count(await tx`insert into customers (id, name, email, phone) values (${CUSTOMER}, 'Northwind Water', 'ops@northwind.example', '+15550100100') on conflict do nothing`);
    count(await tx`insert into sites (id, customer_id, name, address, latitude, longitude) values
      (${SITES[0]!}, ${CUSTOMER}, 'Pump station 4', '12 River Road', 51.5072, -0.1276),
      (${SITES[1]!}, ${CUSTOMER}, 'Reservoir east', '3 Hill Lane', 51.52, -0.09) on conflict do nothing`);
    count(await tx`insert into assets (id, site_id, name, manufacturer, serial_number, installed_on) values
      (${ASSETS[0]!}, ${SITES[0]!}, 'Main pump', 'Grundfos', 'GF-2231-88', '2019-06-01'),
      (${ASSETS[1]!}, ${SITES[1]!}, 'Inlet valve', 'AVK', 'AVK-991', '2021-03-15') on conflict do nothing`);
    count(await tx`insert into work_orders (id, site_id, asset_id, title, status, priority, scheduled_at, notes, owner) values
      (${WORK_ORDERS[0]!}, ${SITES[0]!}, ${ASSETS[0]!}, 'Replace pump seal', 'SCHEDULED', 'HIGH', now() + interval '1 day', 'Seal leaking since Monday', 'tech-1'),
      (${WORK_ORDERS[1]!}, ${SITES[1]!}, ${ASSETS[1]!}, 'Inspect inlet valve', 'OPEN', 'NORMAL', now() + interval '3 days', null, 'tech-1'),
      (${WORK_ORDERS[2]!}, ${SITES[1]!}, null, 'Clear access road', 'OPEN', 'LOW', null, null, 'tech-2') on conflict do nothing`);
    count(await tx`insert into parts (sku, description, quantity_on_hand, unit_price) values
      ('SEAL-40', 'Mechanical seal 40 mm', 12, 84.50), ('VALVE-KIT', 'Valve service kit', 3, 129.00) on conflict (sku) do nothing`);
    return inserted;
  });
}
