// Logs and metrics, as a deployed handler prints them (Powertools for AWS Lambda): one JSON log line per
// request and its metrics in CloudWatch's embedded metric format (EMF), carrying request ids, fields,
// timings, counts and error codes, never the data.
import { models } from '@datastore-pg/schema/models';
import { dispatcher, user, type Handler, type Identity } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem, sampleInput } from './fixtures';

useHandlerDatabase();

type Line = Record<string, unknown>;
type Emf = Line & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };

// The suite runs silent, with metrics off (jest.config.ts). Powertools reads both settings from the
// environment when a handler's modules load (and each request goes back to the level read then), so
// this file loads its own copy of them with both on, as a deployed container would.
const quiet = { LOG_LEVEL: process.env.LOG_LEVEL, POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED };
let handler: Handler;
let closeConnection: () => Promise<void>;
beforeAll(() => {
  Object.assign(process.env, { LOG_LEVEL: 'info', POWERTOOLS_METRICS_DISABLED: 'false' });
  jest.isolateModules(() => {
    handler = (require('@datastore-pg/versioning/handler') as typeof import('@datastore-pg/versioning/handler')).modelHandler(models.Site) as unknown as Handler;
    closeConnection = (require('@datastore-pg/db') as typeof import('@datastore-pg/db')).closeSharedConnection;
  });
  Object.assign(process.env, quiet);
});
afterAll(() => closeConnection());

/** Everything printed to stdout while fn runs, line by line: log lines and EMF lines. */
async function capture(fn: () => Promise<unknown>): Promise<{ logs: Line[]; metrics: Emf[] }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
  }
  const lines = chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  return { logs: lines.filter((l) => !('_aws' in l)), metrics: lines.filter((l): l is Emf => '_aws' in l) };
}

const context = (requestId: string) => ({ awsRequestId: requestId, functionName: 'datastore-pg-test-site', memoryLimitInMB: '1024', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:site', getRemainingTimeInMillis: () => 6000 });
const event = (fieldName: string, args: Record<string, unknown>, parentTypeName = 'Mutation', identity: Identity = user('tech-1')) => ({
  arguments: args, identity, info: { fieldName, parentTypeName, selectionSetList: [] },
});
/** The metrics of one EMF line, by name, with the dimension sets they are filed under. */
const metricsOf = (emf: Emf) => ({
  dimensions: emf._aws.CloudWatchMetrics[0]!.Dimensions,
  values: Object.fromEntries(emf._aws.CloudWatchMetrics[0]!.Metrics.map((m) => [m.Name, emf[m.Name]])),
});

test('one log line per request, with its id, field, timing and outcome, and no row contents', async () => {
  const secret = 'gate code 4711, key under the mat';
  const input: Record<string, unknown> = { ...(await sampleInput(models.Site)), address: secret };

  const { logs } = await capture(async () => {
    await handler(event('createSite', { input }), context('req-1'));
    await handler(event('updateSite', { input: { id: input.id, _version: 'one', address: secret } }), context('req-2'));
  });

  expect(logs).toEqual([
    expect.objectContaining({ level: 'INFO', message: 'request', function_request_id: 'req-1', field: 'createSite', durationMs: expect.any(Number) }),
    expect.objectContaining({ level: 'INFO', message: 'request', function_request_id: 'req-2', field: 'updateSite', durationMs: expect.any(Number), errorType: 'ValidationError' }),
  ]);
  expect(logs[0]).not.toHaveProperty('errorType');
  expect(JSON.stringify(logs)).not.toContain('gate code');
  expect(JSON.stringify(logs)).not.toContain(input.id as string);
});

test('metrics as EMF: requests and latency for the API and per field, sync mode and items, errors by type', async () => {
  const site = await createItem(models.Site, dispatcher);
  const { logs, metrics } = await capture(async () => {
    await handler(event('syncSites', { limit: 1000 }, 'Query'), context('req-3'));
    await handler(event('updateSite', { input: { id: site.id, _version: 1, nickname: 'x' } }), context('req-4')); // no such field
  });
  // Each request prints its metrics, then those under a dimension of their own.
  const [syncRequest, syncs, updateRequest, errors] = metrics;
  expect(metrics).toHaveLength(4);

  expect(syncRequest!._aws.CloudWatchMetrics[0]!.Namespace).toBe('datastore-pg');
  expect(metricsOf(syncRequest!)).toEqual({
    dimensions: [['service'], ['service', 'field']],
    values: { Requests: 1, Latency: expect.any(Number), SyncItems: expect.any(Number) },
  });
  expect(syncRequest!.SyncItems).toBeGreaterThanOrEqual(1);
  expect(syncRequest).toMatchObject({ service: 'datastore-pg', field: 'syncSites' });
  expect(metricsOf(syncs!)).toEqual({ dimensions: [['service', 'syncMode']], values: { Syncs: 1 } });
  expect(syncs).toMatchObject({ syncMode: 'full' });
  expect(logs[0]).toMatchObject({ field: 'syncSites', syncMode: 'full', items: syncRequest!.SyncItems });

  expect(metricsOf(updateRequest!)).toEqual({ dimensions: [['service'], ['service', 'field']], values: { Requests: 1, Latency: expect.any(Number) } });
  expect(metricsOf(errors!)).toEqual({ dimensions: [['service', 'errorType']], values: { Errors: 1 } });
  expect(errors).toMatchObject({ errorType: 'ValidationError' });
  expect(logs[1]).toMatchObject({ field: 'updateSite', errorType: 'ValidationError' });
});

test('a stale write merged over another writer\'s edit of the same field: MergedWrites and ConflictsLogged, in the log line too', async () => {
  // 1. the site at v1  2. the back office renames it (v2)  3. a device's rename based on v1 arrives:
  // merged over v2, the back office's name logged as overwritten.
  const site = await createItem(models.Site, dispatcher, { name: 'North yard' });
  await handler(event('updateSite', { input: { id: site.id, _version: 1, name: 'North yard (closed)' } }, 'Mutation', dispatcher), context('req-5'));

  const { logs, metrics } = await capture(() => handler(event('updateSite', { input: { id: site.id, _version: 1, name: 'Yard N' } }), context('req-6')));

  expect(metricsOf(metrics[0]!)).toEqual({
    dimensions: [['service'], ['service', 'field']],
    values: { Requests: 1, Latency: expect.any(Number), MergedWrites: 1, ConflictsLogged: 1 },
  });
  expect(logs).toEqual([expect.objectContaining({ field: 'updateSite', merged: true, conflictsLogged: 1 })]);
});

// Last in this file: the handler keeps its reader (and its 30 s rest) for the rest of the container's life.
test('a stage with a read replica: where each full sync page was read, by readOn (here a reader that is not a standby)', async () => {
  process.env.DATABASE_READER_URL = process.env.DATABASE_URL; // the writer itself: not a standby, never read as a replica
  try {
    const { logs, metrics } = await capture(() => handler(event('syncSites', { limit: 1000 }, 'Query'), context('req-7')));

    expect(logs).toEqual([expect.objectContaining({ field: 'syncSites', syncMode: 'full', replica: 'not-standby' })]);
    expect(metrics.map(metricsOf)).toContainEqual({ dimensions: [['service', 'readOn']], values: { ReplicaPages: 1 } });
    expect(metrics.find((m) => 'ReplicaPages' in m)).toMatchObject({ readOn: 'not-standby' });
  } finally {
    delete process.env.DATABASE_READER_URL;
  }
});
