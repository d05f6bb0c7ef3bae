import middy from '@middy/core';
import { models } from '@datastore-pg/schema/models';
import { errorEnvelope, modelResolver, requestLog, type AppSyncEvent, type Envelope } from '@datastore-pg/versioning';

export const handler = middy<AppSyncEvent, Envelope>()
  .use(requestLog())
  .use(errorEnvelope())
  .handler(modelResolver(models.Customer));
