// The package checks of the dashboard and alarms (monitoring.ts): every function logs and measures under
// the deployment's one `service`, every alarm exists with the stage's threshold from stages.json and
// notifies the stack's topic, reads the metrics the code emits (namespace, name, service), every function
// has its throttles alarm, and the dashboard shows every metric.
import { Metric, METRICS_NAMESPACE } from '@datastore-pg/versioning';
import { ALARMS, type AlarmThresholds } from './monitoring';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type MetricRef = { Namespace?: string; MetricName?: string; Dimensions?: { Name: string; Value: unknown }[] };

export function checkMonitoring(resources: Record<string, Resource>, alarms: AlarmThresholds): string[] {
  const problems: string[] = [];
  const functions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
  const services = new Set(functions.map(([, fn]) => (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.POWERTOOLS_SERVICE_NAME));
  const [service] = services;
  if (services.size !== 1 || typeof service !== 'string') {
    problems.push(`every function must log and measure under one POWERTOOLS_SERVICE_NAME (found ${[...services].map(String).join(', ')}): the alarms read one service`);
    return problems;
  }
  if (resources.AlarmTopic?.Type !== 'AWS::SNS::Topic') problems.push('no AlarmTopic (AWS::SNS::Topic): the alarms would tell no one');

  const alarm = (name: string, what: string, threshold: number): Record<string, unknown> | undefined => {
    const props = resources[name]?.Type === 'AWS::CloudWatch::Alarm' ? resources[name]!.Properties! : undefined;
    if (!props) {
      problems.push(`no alarm ${name} (${what})`);
      return undefined;
    }
    if (props.Threshold !== threshold) problems.push(`alarm ${name} has threshold ${JSON.stringify(props.Threshold)}, stages.json says ${threshold}`);
    if (!JSON.stringify(props.AlarmActions ?? []).includes('{"Ref":"AlarmTopic"}')) problems.push(`alarm ${name} does not notify AlarmTopic`);
    return props;
  };
  const ours = (name: string, metric: MetricRef, expected: string) => {
    const serviceDimension = metric.Dimensions?.find((d) => d.Name === 'service')?.Value;
    if (metric.Namespace !== METRICS_NAMESPACE || metric.MetricName !== expected || serviceDimension !== service) {
      problems.push(`alarm ${name} reads ${metric.Namespace}/${metric.MetricName} of service ${JSON.stringify(serviceDimension)}, not ${METRICS_NAMESPACE}/${expected} of ${service}: it would never fire`);
    }
  };

  const single: [keyof AlarmThresholds, string][] = [
    ['watermarkLagMs', Metric.WatermarkLag], ['forwarderLagMs', Metric.ForwarderLag], ['purgeFailures', Metric.PurgeFailures],
    ['purgeAgeMs', Metric.PurgeAge], ['conflictsPer5Minutes', Metric.ConflictsLogged],
  ];
  for (const [threshold, metric] of single) {
    const props = alarm(ALARMS[threshold], metric, alarms[threshold]);
    if (props) ours(ALARMS[threshold], props as MetricRef, metric);
  }
  const errorRate = alarm(ALARMS.serverErrorPercent, 'server errors, percent of requests', alarms.serverErrorPercent);
  if (errorRate) {
    const read = ((errorRate.Metrics ?? []) as { MetricStat?: { Metric: MetricRef } }[]).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric] : []));
    for (const metric of read) ours(ALARMS.serverErrorPercent, metric, metric.MetricName === Metric.Requests ? Metric.Requests : Metric.Errors);
    if (!read.some((m) => m.MetricName === Metric.Requests)) problems.push(`alarm ${ALARMS.serverErrorPercent} does not read ${Metric.Requests}`);
  }
  for (const [name] of functions) {
    const props = alarm(`${name}${ALARMS.throttlesPer5Minutes}`, `throttles of ${name}`, alarms.throttlesPer5Minutes);
    const watched = props && props.Namespace === 'AWS/Lambda' && props.MetricName === 'Throttles'
      && JSON.stringify(props.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: name } }]);
    if (props && !watched) problems.push(`alarm ${name}${ALARMS.throttlesPer5Minutes} does not watch the throttles of ${name}`);
  }

  const body = JSON.stringify(resources.Dashboard?.Type === 'AWS::CloudWatch::Dashboard' ? resources.Dashboard.Properties?.DashboardBody : undefined) ?? '';
  if (!body) problems.push('no Dashboard (AWS::CloudWatch::Dashboard)');
  else for (const metric of Object.values(Metric)) if (!new RegExp(`(?<![A-Za-z])${metric}(?![A-Za-z])`).test(body)) problems.push(`the dashboard does not show ${metric}`);
  return problems;
}
