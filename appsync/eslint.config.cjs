// ESLint for the APPSYNC_JS resolvers (resolvers/*.js) and nothing else: AppSync's own plugin reports what the
// runtime refuses (https://docs.aws.amazon.com/appsync/latest/devguide/supported-features.html) before a deploy
// does. Run by `npm run lint:resolvers` and by packages/deploy/test/resolvers.test.ts. CommonJS so that the Jest
// test can require() it: Jest runs without the import() ESLint loads a config file with.
const appsync = require('@aws-appsync/eslint-plugin');

// `recommended` is `base` plus five rules that ask the TypeScript checker what a name refers to (no-recursion,
// no-disallowed-methods, no-function-passing, no-function-reassign, no-function-return); tsconfig.json here
// puts the resolvers in a TypeScript program for them.
const { recommended } = appsync.configs;

/** @type {import('eslint').Linter.Config[]} */
module.exports = [
  {
    ...recommended,
    // Patterns relative to this directory, whatever directory ESLint runs from.
    basePath: __dirname,
    files: ['resolvers/**/*.js'],
    languageOptions: {
      ...recommended.languageOptions,
      parserOptions: { projectService: true, tsconfigRootDir: __dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      ...recommended.rules,
      // APPSYNC_JS refuses throw as well, and the plugin has no rule for it. Fail with util.error().
      'no-restricted-syntax': [
        'error',
        { selector: 'ThrowStatement', message: 'throw is not supported: use util.error().' },
      ],
    },
  },
];
