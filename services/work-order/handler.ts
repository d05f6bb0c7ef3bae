import { models } from '@datastore-pg/schema/models';
import { modelHandler } from '@datastore-pg/versioning/handler';
import { resolveConflict } from './resolve-conflict';

export const handler = modelHandler(models.WorkOrder, { resolveConflict });
