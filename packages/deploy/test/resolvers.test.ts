// The resolvers run on AppSync's APPSYNC_JS runtime, which lacks parts of JavaScript
// (https://docs.aws.amazon.com/appsync/latest/devguide/supported-features.html): catch them before a deploy does.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'acorn';
import { full } from 'acorn-walk';

const RESOLVERS = join(__dirname, '../../../appsync/resolvers');

/** Node types APPSYNC_JS refuses, and unary ++/--/~ and the `in` operator. */
function unsupported(source: string): string[] {
  const found: string[] = [];
  const ast = parse(source, { ecmaVersion: 2022, sourceType: 'module' });
  full(ast, (node) => {
    const n = node as unknown as { type: string; operator?: string; regex?: unknown; start: number };
    const banned = ['TryStatement', 'ThrowStatement', 'WhileStatement', 'DoWhileStatement', 'ForStatement', 'ContinueStatement', 'LabeledStatement', 'ClassDeclaration', 'AwaitExpression'];
    if (banned.includes(n.type)) found.push(`${n.type} at ${n.start}`);
    if (n.type === 'UpdateExpression') found.push(`${n.operator} at ${n.start}`);
    if (n.type === 'UnaryExpression' && n.operator === '~') found.push(`~ at ${n.start}`);
    if (n.type === 'BinaryExpression' && n.operator === 'in') found.push(`in at ${n.start}`);
    if (n.type === 'Literal' && n.regex) found.push(`regular expression at ${n.start}`);
  });
  return found;
}

test.each(readdirSync(RESOLVERS).filter((f) => f.endsWith('.js')))('%s uses only what APPSYNC_JS supports', (file) => {
  const source = readFileSync(join(RESOLVERS, file), 'utf8');
  expect(unsupported(source)).toEqual([]);
  expect(source).toMatch(/export function request\(/);
  expect(source).toMatch(/export function response\(/);
});

test('the check itself finds what APPSYNC_JS refuses', () => {
  expect(unsupported('export function f(a) { try { a++; } catch (e) { throw e; } return /x/.test(a); }')).toHaveLength(4);
});
