import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AlarmThresholds } from './monitoring';

export const STAGES_PATH = resolve(__dirname, '../../../stages.json');

/** One stage's settings (stages.json): read by serverless.yml as params and by the migrate CLI. */
export interface StageConfig {
  region: string;
  /** Where the stage's infrastructure identifiers live in SSM (see serverless.yml). */
  ssmPrefix: string;
  databaseName: string;
  runtimeDbUser: string;
  migrationDbUser: string;
  memorySize: number;
  logRetentionInDays: number;
  apiKeyExpiresAfter: string;
  /** Applied to every versioned table by `npm run migrate -- --stage`. */
  baseTableTTL: string;
  deltaSyncTableTTL: string;
  /**
   * Full and base sync pages from RDS Proxy's read-only endpoint (<ssmPrefix>/rds-proxy-reader-endpoint
   * in SSM), README "Full syncs from a read replica"; false or absent: every read on the writer.
   */
  readReplica?: boolean;
  /**
   * Publish requests the forwarder keeps in flight (default 8): its changes-per-second ceiling is about
   * this over one publish's latency (docs/scale.md).
   */
  forwarderPublishConcurrency?: number;
  /** The stack's alarm thresholds (README "Operating it"); the package checks hold the template to them. */
  alarms: AlarmThresholds;
}

export function loadStage(stage: string, path = STAGES_PATH): StageConfig {
  const stages = JSON.parse(readFileSync(path, 'utf8')) as Record<string, StageConfig>;
  const config = stages[stage];
  if (!config) throw new Error(`unknown stage ${JSON.stringify(stage)}: stages.json has ${Object.keys(stages).join(', ')}`);
  return config;
}
