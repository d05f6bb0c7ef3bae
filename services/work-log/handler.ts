import { models } from '@datastore-pg/schema/models';
import { modelHandler } from '@datastore-pg/versioning/handler';

export const handler = modelHandler(models.WorkLog);
