// The resolvers run on AppSync's APPSYNC_JS runtime, which lacks parts of JavaScript
// (https://docs.aws.amazon.com/appsync/latest/devguide/supported-features.html): AppSync's own ESLint
// plugin, configured in appsync/eslint.config.cjs (also `npm run lint:resolvers`), catches them before a deploy does.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint, type Linter } from 'eslint';

const APPSYNC = join(__dirname, '../../../appsync');
const RESOLVERS = join(APPSYNC, 'resolvers');
// ESLint would import() the file, which Jest's CommonJS runtime does not allow: require it and hand it over.
const CONFIG: Linter.Config[] = require(join(APPSYNC, 'eslint.config.cjs'));

// A source text that is not a file on disk, so in no tsconfig's program: the type-aware rules get it a program
// from the same tsconfig as a default project. One linter for the file, since typescript-eslint keeps one project
// service per process, created with the options it first sees.
const FIXTURE = 'resolvers/refused.js';
const fixtureProject = { projectService: { allowDefaultProject: [FIXTURE], defaultProject: 'tsconfig.json' } };
const eslint = new ESLint({
  cwd: APPSYNC,
  overrideConfigFile: true,
  overrideConfig: [...CONFIG, { languageOptions: { parserOptions: fixtureProject } }],
});

test.each(readdirSync(RESOLVERS).filter((f) => f.endsWith('.js')))('%s passes the APPSYNC_JS lint', async (file) => {
  const [result] = await eslint.lintFiles([join(RESOLVERS, file)]);
  expect(result!.messages).toEqual([]);
  const source = readFileSync(join(RESOLVERS, file), 'utf8');
  expect(source).toMatch(/export function request\(/);
  expect(source).toMatch(/export function response\(/);
});

// One construct APPSYNC_JS refuses a line, with the rules that must report it: every rule the config turns on.
const REFUSED: [string, string[]][] = [
  ['function a(x) { try { return x.y; } catch (e) { return null; } }', ['@aws-appsync/no-try']],
  ['function b(x) { throw x; }', ['no-restricted-syntax']],
  ['function c(x) { while (x) { x = x.next; } return x; }', ['@aws-appsync/no-while']],
  ['function d(x) { do { x = x.next; } while (x); return x; }', ['@aws-appsync/no-while']],
  ['function e(xs) { for (let i = 0; i < xs.length; i += 1) { xs[i] = 0; } }', ['@aws-appsync/no-for']],
  ['function f(xs) { for (const x of xs) { if (x) continue; } }', ['@aws-appsync/no-continue']],
  ['function g(xs) { outer: for (const x of xs) { if (x) break outer; } }', ['@aws-appsync/no-labels']],
  ['function h(x) { x++; return ~x; }', ['@aws-appsync/no-disallowed-unary-operators', '@aws-appsync/no-disallowed-unary-operators']],
  ['function i(x) { return /x/.test(x); }', ['@aws-appsync/no-regex']],
  ['class J {}', ['@aws-appsync/no-classes']],
  ['async function k(x) { return await x; }', ['@aws-appsync/no-async', '@aws-appsync/no-await']],
  ['function l(x) { return new Promise(x); }', ['@aws-appsync/no-promise']],
  ['function* m() { yield 1; }', ['@aws-appsync/no-generators', '@aws-appsync/no-yield']],
  ['function n(x) { return this.y in x; }', ['@aws-appsync/no-in-operator', '@aws-appsync/no-this']],
  ['function o(x) { return x instanceof Array; }', ['@aws-appsync/no-disallowed-binary-operators']],
  ['export function request(ctx) { ctx.args = {}; return {}; }', ['@aws-appsync/no-disallowed-re-assignment']],
  // The rest need the TypeScript checker (appsync/tsconfig.json) to know what a name refers to.
  ['function p(n) { return n > 0 ? p(n - 1) : 0; }', ['@aws-appsync/no-recursion']],
  ["function q(x) { return String(x).padStart(2, '0'); }", ['@aws-appsync/no-disallowed-methods']],
  ['function r(g) { return g; } function s(x) { return r(() => x); }', ['@aws-appsync/no-function-passing']],
  ['function t() { const u = t; return u; }', ['@aws-appsync/no-function-reassign']],
  ['function v() { return () => 1; }', ['@aws-appsync/no-function-return']],
];

test('the lint itself finds what APPSYNC_JS refuses', async () => {
  const [result] = await eslint.lintText(REFUSED.map(([line]) => line).join('\n'), { filePath: join(APPSYNC, FIXTURE) });
  const reported = REFUSED.map((_, i) => result!.messages.filter((m) => m.line === i + 1).map((m) => m.ruleId).sort());
  expect(reported).toEqual(REFUSED.map(([, rules]) => [...rules].sort()));

  const { rules } = await eslint.calculateConfigForFile(join(RESOLVERS, 'invoke-model.js'));
  expect(Object.keys(rules).sort()).toEqual([...new Set(REFUSED.flatMap(([, ids]) => ids))].sort());
});
