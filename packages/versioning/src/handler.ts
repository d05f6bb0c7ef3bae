// A model's Lambda handler: its resolver behind the two middlewares, in the order they must run (the
// log reads the envelope that errorEnvelope's onError leaves). Kept out of index.ts so that tools
// using the resolver alone (bench, simulation, local endpoint) do not load middy.
import middy from '@middy/core';
import type { ModelMeta } from '@datastore-pg/schema/models';
import type { AppSyncEvent, Envelope } from './event';
import { errorEnvelope, requestLog } from './middleware';
import { modelResolver, type ModelHooks } from './resolver';

export function modelHandler(model: ModelMeta, hooks: ModelHooks = {}) {
  return middy<AppSyncEvent, Envelope>().use(requestLog()).use(errorEnvelope()).handler(modelResolver(model, hooks));
}
