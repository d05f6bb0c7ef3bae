import { models } from '@datastore-pg/schema/models';
import { describeVersionedModel } from './contract';
import { useHandlerDatabase } from './database';

const db = useHandlerDatabase();

// Every model in schema.graphql keeps the contract.
for (const model of Object.values(models)) describeVersionedModel(model, db);
