// Logs carry request ids, fields, timings and error codes, never the data.
import { models } from '@datastore-pg/schema/models';
import { user } from './appsync';
import { useHandlerDatabase } from './database';
import { sampleInput } from './fixtures';
import { handlers } from './handlers';

useHandlerDatabase();

async function captureLogs(fn: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const level = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = 'info';
  process.stdout.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = write;
    process.env.LOG_LEVEL = level;
  }
  return lines.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('one line per request, with its id and timing and no row contents', async () => {
  const secret = 'gate code 4711, key under the mat';
  const input: Record<string, unknown> = { ...(await sampleInput(models.WorkOrder)), notes: secret };
  const event = (fieldName: string, args: Record<string, unknown>) => ({
    arguments: args, identity: user('tech-1'), info: { fieldName, parentTypeName: 'Mutation', selectionSetList: [] },
  });

  const logs = await captureLogs(async () => {
    await handlers.WorkOrder!(event('createWorkOrder', { input }), { awsRequestId: 'req-1' });
    await handlers.WorkOrder!(event('updateWorkOrder', { input: { id: input.id, notes: secret } }), { awsRequestId: 'req-2' }); // no _version
  });

  expect(logs).toEqual([
    { level: 'info', time: expect.any(String), message: 'request', requestId: 'req-1', field: 'createWorkOrder', durationMs: expect.any(Number) },
    { level: 'info', time: expect.any(String), message: 'request', requestId: 'req-2', field: 'updateWorkOrder', durationMs: expect.any(Number), errorType: 'ValidationError' },
  ]);
  expect(JSON.stringify(logs)).not.toContain('gate code');
  expect(JSON.stringify(logs)).not.toContain(input.id as string);
});
