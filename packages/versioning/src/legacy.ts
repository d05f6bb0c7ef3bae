// The AppSync SDK's Delta Sync (the `aws-appsync` client's buildSync, seed 001), beside DataStore's
// protocol and answered by the same sync (sync.ts: its window, owner rule, journal, graveyard):
//   list<Plural>                  the base query: every live item the caller may see (the SDK replaces
//                                 its cached list with it, which also drops what was deleted)
//   list<Plural>Delta(lastSync)   the delta query: every item changed since lastSync (seconds, the SDK's
//                                 own clock), deletions marked aws_ds: DELETE
// Neither pages (the SDK cannot): each reads its sync to the end, up to MAX_ITEMS items. Where the delta
// query starts is the database's call (versioning.legacy_sync_start, from the watermark the forwarder
// samples; migration 000014): the SDK's lastSync is its clock, not the server's watermark, so a change
// committing late would otherwise be skipped.
import { DataStoreError, ErrorCode, invalid } from './errors';
import type { Access } from './auth';
import type { Item } from './items';
import type { RequestOutcome } from './observability';
import type { ModelRuntime } from './runtime';
import { sync } from './sync';

/** An answer the SDK can take in one piece: under AppSync's and Lambda's response limits for items of a few KB. */
const MAX_ITEMS = 10_000;
const PAGE = 1000;

type LegacyItem = Item & { aws_ds: 'DELETE' | null };

export async function legacyList(runtime: ModelRuntime, access: Access, outcome: RequestOutcome): Promise<LegacyItem[]> {
  // Only what lives: the SDK replaces its list with this one, so a deletion needs no tombstone here.
  const items = await readToEnd(runtime, access, 0, `list${runtime.model.pluralName}`, outcome, { live: true });
  return items.map(withDeltaAction);
}

export async function legacyDelta(runtime: ModelRuntime, access: Access, args: { lastSync?: unknown }, outcome: RequestOutcome): Promise<LegacyItem[]> {
  const lastSync = args.lastSync ?? 0;
  if (!Number.isSafeInteger(lastSync) || (lastSync as number) < 0 || (lastSync as number) > Number.MAX_SAFE_INTEGER / 1000) {
    throw invalid('lastSync must be a timestamp in seconds');
  }
  const start = await syncStart(runtime, (lastSync as number) * 1000);
  const items = await readToEnd(runtime, access, start, `list${runtime.model.pluralName}Delta`, outcome, { live: false });
  return items.map(withDeltaAction);
}

async function syncStart(runtime: ModelRuntime, lastSyncMs: number): Promise<number> {
  const [row] = await runtime.sql<{ start: number }[]>`select versioning.legacy_sync_start(${lastSyncMs}) as start`;
  return row!.start;
}

/** The sync's items to its end; with live, only those not deleted (and the graveyard left unread). */
async function readToEnd(runtime: ModelRuntime, access: Access, lastSync: number, field: string, outcome: RequestOutcome, { live }: { live: boolean }): Promise<Item[]> {
  const items: Item[] = [];
  let graveyardItems = 0;
  let nextToken: string | null = null;
  do {
    const page = await sync(runtime, access, { lastSync, limit: PAGE, nextToken }, outcome, { graveyard: !live });
    items.push(...(live ? page.items.filter((item) => !item._deleted) : page.items));
    graveyardItems += outcome.graveyardItems ?? 0;
    nextToken = page.nextToken;
    if (items.length > MAX_ITEMS) {
      throw new DataStoreError(ErrorCode.ResultTooLarge, `${field} would return more than ${MAX_ITEMS} items, more than one answer can carry: use DataStore's sync${runtime.model.pluralName}, which pages`);
    }
  } while (nextToken !== null);
  outcome.items = items.length;
  outcome.graveyardItems = graveyardItems;
  return items;
}

function withDeltaAction(item: Item): LegacyItem {
  return { ...item, aws_ds: item._deleted ? 'DELETE' : null };
}
