import pluralize from 'pluralize';

/** siteID -> site_id, serialNumber -> serial_number, WorkOrder -> work_order, HTMLPage -> html_page. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * The plural in sync<Plural> query names. DataStore takes it from the model introspection that Amplify
 * codegen writes, which pluralizes with the `pluralize` package (WorkOrder -> WorkOrders, Person -> People).
 */
export function pluralName(name: string): string {
  return pluralize(name);
}
