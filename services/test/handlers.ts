// Every model's real handler module, by model name: the tests invoke these, not the package below.
import { handler as asset } from '../asset/handler';
import { handler as customer } from '../customer/handler';
import { handler as part } from '../part/handler';
import { handler as site } from '../site/handler';
import { handler as workLog } from '../work-log/handler';
import { handler as workOrder } from '../work-order/handler';
import type { Handler } from './appsync';

export const handlers: Record<string, Handler> = {
  Customer: customer,
  Site: site,
  Asset: asset,
  WorkOrder: workOrder,
  WorkLog: workLog,
  Part: part,
};
