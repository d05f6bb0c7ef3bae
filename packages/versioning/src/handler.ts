// A model's Lambda handler: its resolver behind Powertools' logger context and our two middlewares, in
// the order they must run (middy runs `after` and `onError` in reverse: errorEnvelope leaves the
// envelope, requestObservation reads it and prints the request's log line and metrics).
// Kept out of index.ts so that tools using the resolver alone (bench, simulation) do not load middy.
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { ModelMeta } from '@datastore-pg/schema/models';
import type { AppSyncEvent, Envelope } from './event';
import { errorEnvelope, requestObservation } from './middleware';
import { logger } from './observability';
import { modelResolver, type ModelHooks } from './resolver';

export function modelHandler(model: ModelMeta, hooks: ModelHooks = {}) {
  const resolver = modelResolver(model, hooks);
  const observation = requestObservation();
  return middy<AppSyncEvent, Envelope>()
    // Never the event: it carries the request's arguments, the data.
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(observation.middleware)
    .use(errorEnvelope())
    .handler((event) => resolver(event, observation.outcomeOf(event)));
}
