// Splits a migration file into its statements, for a migration that runs them one by one (migrate.ts,
// no-transaction). A semicolon ends a statement only outside quotes, comments and parentheses, and
// outside the BEGIN ATOMIC ... END body of a CREATE FUNCTION or PROCEDURE, as psql's own lexer decides
// (postgres src/fe_utils/psqlscan.l), so a file splits here where `psql -f` would split it.

export interface Statement {
  /** The statement's text, from its first token to before its semicolon (comments inside kept). */
  sql: string;
  /** 1-based line of the file on which the statement starts. */
  line: number;
}

// Unquoted identifiers, keywords and numbers. Consumed whole, so a `$` inside an identifier (legal in
// Postgres) is never taken for the start of a dollar quote.
const WORD = /[A-Za-z0-9_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
// $$ or $tag$: a tag follows the rules of an identifier but holds no `$` (so `$1` is a parameter).
const DOLLAR_QUOTE_OPENING = /\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

export function splitStatements(text: string): Statement[] {
  const statements: Statement[] = [];
  let start = -1; // index of the current statement's first token; -1 while only blanks and comments were seen
  let words: string[] = []; // the current statement's first words, lowercased, to recognise CREATE FUNCTION
  let parenDepth = 0;
  let beginDepth = 0;

  const finish = (end: number) => {
    if (start >= 0) statements.push({ sql: text.slice(start, end).trimEnd(), line: lineAt(text, start) });
    start = -1;
    words = [];
    parenDepth = 0;
    beginDepth = 0;
  };

  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    const next = text[i + 1];
    if (/\s/.test(char)) {
      i += 1;
      continue;
    }
    if (char === '-' && next === '-') {
      const newline = text.indexOf('\n', i);
      i = newline < 0 ? text.length : newline + 1;
      continue;
    }
    if (char === '/' && next === '*') {
      i = endOfBlockComment(text, i);
      continue;
    }
    if (char === ';' && parenDepth === 0 && beginDepth === 0) {
      finish(i);
      i += 1;
      continue;
    }
    if (start < 0) start = i;

    const dollarQuote = char === '$' ? matchAt(DOLLAR_QUOTE_OPENING, text, i) : undefined;
    const word = matchAt(WORD, text, i);
    if (char === "'") {
      // An E'...' string also escapes with backslashes (E'it\'s'); its E was the previous token.
      const escapes = /[eE]/.test(text.charAt(i - 1)) && !WORD_CHAR.test(text.charAt(i - 2));
      i = endOfQuoted(text, i, "'", escapes);
    } else if (char === '"') {
      i = endOfQuoted(text, i, '"', false);
    } else if (dollarQuote) {
      const closing = text.indexOf(dollarQuote, i + dollarQuote.length);
      i = closing < 0 ? text.length : closing + dollarQuote.length;
    } else if (word) {
      const lowered = word.toLowerCase();
      if (words.length < 4) words.push(lowered);
      if (isCreateRoutine(words) && parenDepth === 0) beginDepth = nextBeginDepth(beginDepth, lowered);
      i += word.length;
    } else {
      if (char === '(') parenDepth += 1;
      if (char === ')' && parenDepth > 0) parenDepth -= 1;
      i += 1;
    }
  }
  finish(text.length);
  return statements;
}

function matchAt(pattern: RegExp, text: string, index: number): string | undefined {
  pattern.lastIndex = index;
  return pattern.exec(text)?.[0];
}

/** Index after the quote that closes the one at `index`; a doubled quote is an escaped one. */
function endOfQuoted(text: string, index: number, quote: string, backslashEscapes: boolean): number {
  let i = index + 1;
  while (i < text.length) {
    if (backslashEscapes && text[i] === '\\') {
      i += 2;
    } else if (text[i] === quote) {
      if (text[i + 1] !== quote) return i + 1;
      i += 2;
    } else {
      i += 1;
    }
  }
  return text.length; // unterminated: the server reports it when the statement runs
}

/** Index after the block comment opening at `index`; Postgres block comments nest. */
function endOfBlockComment(text: string, index: number): number {
  let depth = 0;
  let i = index;
  while (i < text.length) {
    const pair = text.slice(i, i + 2);
    if (pair === '/*') {
      depth += 1;
      i += 2;
    } else if (pair === '*/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return text.length;
}

/** CREATE [OR REPLACE] FUNCTION|PROCEDURE: its body may be BEGIN ATOMIC ... END, with semicolons inside. */
function isCreateRoutine(words: readonly string[]): boolean {
  const routine = (word: string | undefined) => word === 'function' || word === 'procedure';
  return words[0] === 'create' && (routine(words[1]) || (words[1] === 'or' && words[2] === 'replace' && routine(words[3])));
}

/** As psqlscan.l counts: BEGIN opens, END closes, and a CASE inside a body opens too (it ends with END). */
function nextBeginDepth(depth: number, word: string): number {
  if (word === 'begin') return depth + 1;
  if (word === 'case' && depth > 0) return depth + 1;
  if (word === 'end' && depth > 0) return depth - 1;
  return depth;
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line += 1;
  return line;
}
