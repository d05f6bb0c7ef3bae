// Live changes from every writer: packages/forwarder/src/lambda.ts, started every minute (serverless.yml).
export { handler } from '@datastore-pg/forwarder/lambda';
