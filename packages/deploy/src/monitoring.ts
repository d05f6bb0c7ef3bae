// The stack's CloudWatch dashboard and alarms (README "Operating it"), generated from schema.graphql into
// monitoring.generated.json, which serverless.yml adds to its resources: `npm run generate`. A test
// fails while it is stale. Thresholds are per stage, from stages.json (`alarms`), resolved by the
// framework at package time; the package checks (check-package.ts) compare them with stages.json.
//
// What the alarms read: the handlers' request metrics and the forwarder's health samples (EMF, names in
// packages/versioning/src/observability.ts, all under one `service` per deployment), and Lambda's own
// throttles. Every alarm notifies the stack's SNS topic (output AlarmTopicArn: subscribe to it).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { functionName, type ModelMeta } from '@datastore-pg/schema';
import { models } from '@datastore-pg/schema/models';
import { Metric, METRICS_NAMESPACE } from '@datastore-pg/versioning';

export const MONITORING_PATH = resolve(__dirname, '../../../monitoring.generated.json');

/** The `service` of every log line and metric of a deployment (POWERTOOLS_SERVICE_NAME in serverless.yml). */
export const SERVICE = '${self:service}-${sls:stage}';
/** The forwarder's function key in serverless.yml. */
export const FORWARDER_FUNCTION = 'forwarder';

/** An alarm per stage threshold (stages.json `alarms`): what it watches. */
export const ALARMS = {
  watermarkLagMs: 'WatermarkLagAlarm',
  forwarderLagMs: 'ForwarderLagAlarm',
  purgeFailures: 'PurgeFailuresAlarm',
  purgeAgeMs: 'PurgeStaleAlarm',
  serverErrorPercent: 'ServerErrorRateAlarm',
  conflictsPer5Minutes: 'ConflictsAlarm',
  throttlesPer5Minutes: 'ThrottlesAlarm',
} as const;
export type AlarmThresholds = Record<keyof typeof ALARMS, number>;

// The framework's params take no path into an object: read stages.json itself.
const threshold = (name: keyof AlarmThresholds) => `\${file(./stages.json):\${sls:stage}.alarms.${name}}`;
/** In the dashboard's body (a JSON string), a threshold stands as a bare number. */
const thresholdInBody = (name: keyof AlarmThresholds) => `"__${name}__"`;
const notify = { AlarmActions: [{ Ref: 'AlarmTopic' }], OKActions: [{ Ref: 'AlarmTopic' }] };
const ours = (metric: string, extra: { Name: string; Value: string }[] = []) => ({
  Namespace: METRICS_NAMESPACE, MetricName: metric, Dimensions: [{ Name: 'service', Value: SERVICE }, ...extra],
});

/** Every function of the stack, by its key in serverless.yml: one per model, and the forwarder. */
export function stackFunctions(models: readonly ModelMeta[]): string[] {
  return [...models.map((m) => functionName(m.name)), FORWARDER_FUNCTION];
}

/** The CloudFormation logical id the framework gives a function's resource. */
export function functionLogicalId(key: string): string {
  return `${key.charAt(0).toUpperCase()}${key.slice(1).replace(/-/g, 'Dash').replace(/_/g, 'Underscore')}LambdaFunction`;
}

export function renderMonitoring(models: readonly ModelMeta[]): { Resources: Record<string, unknown>; Outputs: Record<string, unknown> } {
  const functions = stackFunctions(models);
  const alarm = (description: string, properties: Record<string, unknown>) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: { AlarmName: `${SERVICE}-${description.split(':')[0]!.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`, AlarmDescription: description, ...notify, ...properties },
  });
  const resources: Record<string, unknown> = {
    AlarmTopic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: `datastore-pg ${'${sls:stage}'} alarms` } },
    [ALARMS.watermarkLagMs]: alarm('Watermark lag: a long-open transaction holds sync back (devices re-receive changes, live changes wait). npm run status names it.', {
      ...ours(Metric.WatermarkLag), Statistic: 'Maximum', Period: 60, EvaluationPeriods: 3, DatapointsToAlarm: 3,
      Threshold: threshold('watermarkLagMs'), ComparisonOperator: 'GreaterThanThreshold',
      // Sampled by the forwarder: when it is silent, its own alarm fires.
      TreatMissingData: 'notBreaching',
    }),
    [ALARMS.forwarderLagMs]: alarm('Forwarder lag: online devices get changes late, or the forwarder is not running (no samples count as late).', {
      ...ours(Metric.ForwarderLag), Statistic: 'Maximum', Period: 60, EvaluationPeriods: 3, DatapointsToAlarm: 3,
      Threshold: threshold('forwarderLagMs'), ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'breaching',
    }),
    [ALARMS.purgeFailures]: alarm('Purge failures: pg_cron\'s purge of tombstones and journals failed in the last hour (npm run status shows the message).', {
      ...ours(Metric.PurgeFailures), Statistic: 'Maximum', Period: 300, EvaluationPeriods: 1,
      Threshold: threshold('purgeFailures'), ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching',
    }),
    [ALARMS.purgeAgeMs]: alarm('Purge stale: pg_cron\'s purge has not succeeded for too long (journals grow). Is the job scheduled and pg_cron running?', {
      ...ours(Metric.PurgeAge), Statistic: 'Maximum', Period: 300, EvaluationPeriods: 1,
      Threshold: threshold('purgeAgeMs'), ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching',
    }),
    [ALARMS.serverErrorPercent]: alarm('Server error rate: requests failing with InternalError or Unavailable, percent of all (the database unreachable or failing; see the handlers\' logs).', {
      Metrics: [
        { Id: 'internal', MetricStat: { Metric: ours(Metric.Errors, [{ Name: 'errorType', Value: 'InternalError' }]), Period: 300, Stat: 'Sum' }, ReturnData: false },
        { Id: 'unavailable', MetricStat: { Metric: ours(Metric.Errors, [{ Name: 'errorType', Value: 'Unavailable' }]), Period: 300, Stat: 'Sum' }, ReturnData: false },
        { Id: 'requests', MetricStat: { Metric: ours(Metric.Requests), Period: 300, Stat: 'Sum' }, ReturnData: false },
        { Id: 'rate', Expression: '100 * (FILL(internal, 0) + FILL(unavailable, 0)) / requests', Label: 'server errors, % of requests', ReturnData: true },
      ],
      EvaluationPeriods: 2, DatapointsToAlarm: 2,
      Threshold: threshold('serverErrorPercent'), ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching',
    }),
    [ALARMS.conflictsPer5Minutes]: alarm('Conflicts: a surge of values overwritten or refused by merges (versioning.conflicts; restore with versioning.restore_conflict).', {
      ...ours(Metric.ConflictsLogged), Statistic: 'Sum', Period: 300, EvaluationPeriods: 1,
      Threshold: threshold('conflictsPer5Minutes'), ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching',
    }),
  };
  for (const key of functions) {
    resources[`${functionLogicalId(key)}${ALARMS.throttlesPer5Minutes}`] = alarm(`Throttles ${key}: Lambda refused invocations (concurrency limit); devices see failed syncs and retry.`, {
      Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionLogicalId(key) } }],
      Statistic: 'Sum', Period: 300, EvaluationPeriods: 1,
      Threshold: threshold('throttlesPer5Minutes'), ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching',
    });
  }
  resources.Dashboard = {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: SERVICE,
      DashboardBody: { 'Fn::Sub': (Object.keys(ALARMS) as (keyof AlarmThresholds)[]).reduce((body, name) => body.replaceAll(thresholdInBody(name), threshold(name)), JSON.stringify(dashboard(functions))) },
    },
  };
  return {
    Resources: resources,
    Outputs: {
      AlarmTopicArn: { Description: 'Subscribe to it to hear of every alarm of this stage', Value: { Ref: 'AlarmTopic' } },
      DashboardName: { Description: 'CloudWatch dashboard of this stage', Value: { Ref: 'Dashboard' } },
    },
  };
}

/** The dashboard's body: widgets of what holds sync back first, then traffic, then Lambda and AppSync. */
function dashboard(functions: readonly string[]) {
  const region = '${AWS::Region}';
  const search = (dimensions: string, metric: string, stat: string, period: number, label: string) => ({
    expression: `SEARCH('{${METRICS_NAMESPACE},${dimensions}} MetricName="${metric}" service="${SERVICE}"', '${stat}', ${period})`, label, id: `${metric.toLowerCase()}${stat.replace(/\W/g, '')}`,
  });
  const line = (metric: string, stat: string) => [METRICS_NAMESPACE, metric, 'service', SERVICE, { stat }];
  const limit = (name: keyof AlarmThresholds, label: string) => ({ horizontal: [{ label, value: JSON.parse(thresholdInBody(name)) as string }] });
  const widget = (title: string, metrics: unknown[], extra: Record<string, unknown> = {}, width = 12) => ({
    type: 'metric', width, height: 6, properties: { title, region, view: 'timeSeries', stacked: false, period: 60, metrics, ...extra },
  });
  const widgets = [
    widget('Watermark and forwarder lag (ms, max)', [line(Metric.WatermarkLag, 'Maximum'), line(Metric.ForwarderLag, 'Maximum')],
      { annotations: { horizontal: [...limit('watermarkLagMs', 'watermark alarm').horizontal, ...limit('forwarderLagMs', 'forwarder alarm').horizontal] } }),
    widget('Purge: failures in the last hour, ms since the last success', [line(Metric.PurgeFailures, 'Maximum'), line(Metric.PurgeAge, 'Maximum')], { period: 300 }),
    widget('Requests and errors by type (per minute)', [line(Metric.Requests, 'Sum'), [search('errorType,service', Metric.Errors, 'Sum', 60, '')]]),
    widget('Latency by field (ms, p99)', [[search('field,service', Metric.Latency, 'p99', 300, '')]], { period: 300 }),
    widget('Syncs by mode (full, base, delta), items synced, and deletions sent from the graveyard', [[search('service,syncMode', Metric.Syncs, 'Sum', 300, '')], line(Metric.SyncItems, 'Sum'), line(Metric.GraveyardItems, 'Sum')], { period: 300 }),
    widget('Full and base pages: on the read replica, or why on the writer', [[search('readOn,service', Metric.ReplicaPages, 'Sum', 300, '')]], { period: 300 }),
    widget('Merged writes and conflicts logged (per 5 minutes)', [line(Metric.MergedWrites, 'Sum'), line(Metric.ConflictsLogged, 'Sum')],
      { period: 300, annotations: limit('conflictsPer5Minutes', 'conflicts alarm') }),
    widget('Forwarder: changes published, failed passes', [line(Metric.Published, 'Sum'), line(Metric.ForwarderErrors, 'Sum')]),
    widget('Lambda throttles and errors', functions.flatMap((key) => [
      ['AWS/Lambda', 'Throttles', 'FunctionName', `${SERVICE}-${key}`, { stat: 'Sum' }],
      ['AWS/Lambda', 'Errors', 'FunctionName', `${SERVICE}-${key}`, { stat: 'Sum' }],
    ])),
    widget('AppSync: 4XX, 5XX, latency (ms, p99)', [
      ['AWS/AppSync', '4XXError', 'GraphQLAPIId', '${GraphQlApi.ApiId}', { stat: 'Sum' }],
      ['AWS/AppSync', '5XXError', 'GraphQLAPIId', '${GraphQlApi.ApiId}', { stat: 'Sum' }],
      ['AWS/AppSync', 'Latency', 'GraphQLAPIId', '${GraphQlApi.ApiId}', { stat: 'p99', yAxis: 'right' }],
    ]),
  ];
  return { widgets };
}

if (require.main === module) {
  writeFileSync(MONITORING_PATH, `${JSON.stringify(renderMonitoring(Object.values(models)), null, 2)}\n`);
  console.log(`generated ${MONITORING_PATH}`);
}
