// The formats of AppSync's scalars (https://docs.aws.amazon.com/appsync/latest/devguide/scalars.html),
// shared by the handlers (which check every input) and the local endpoint (which checks them as AppSync
// does, before any resolver runs).
import { isIP } from 'node:net';

const DATE = /^\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2}(:\d{2})?)?$/;
const TIME = /^\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}(:\d{2})?)?$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}(:\d{2})?)$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9][0-9 ().-]{2,30}$/;

/** Validators of the string-valued AWS scalars. */
export const stringScalarFormats: Record<'AWSDate' | 'AWSTime' | 'AWSDateTime' | 'AWSEmail' | 'AWSURL' | 'AWSPhone' | 'AWSIPAddress' | 'AWSJSON', (value: string) => boolean> = {
  AWSDate: (v) => DATE.test(v) && !Number.isNaN(Date.parse(v.slice(0, 10))),
  AWSTime: (v) => TIME.test(v),
  AWSDateTime: (v) => DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)),
  AWSEmail: (v) => EMAIL.test(v),
  AWSURL: (v) => {
    try {
      return new URL(v).protocol.length > 1;
    } catch {
      return false;
    }
  },
  AWSPhone: (v) => PHONE.test(v),
  AWSIPAddress: (v) => isIP(v.split('/')[0] ?? '') !== 0,
  AWSJSON: (v) => {
    try {
      JSON.parse(v);
      return true;
    } catch {
      return false;
    }
  },
};

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
