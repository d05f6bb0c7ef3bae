import { models } from '@datastore-pg/schema/models';
import { describeVersionedModel } from './contract';
import { useHandlerDatabase } from './database';

const db = useHandlerDatabase();

describeVersionedModel(models.Customer, db);
describeVersionedModel(models.Site, db);
describeVersionedModel(models.Asset, db);
describeVersionedModel(models.WorkOrder, db);
describeVersionedModel(models.WorkLog, db);
describeVersionedModel(models.Part, db);
