import { splitStatements } from '../src/split-statements';

const texts = (sql: string) => splitStatements(sql).map((s) => s.sql);

test('splits on semicolons and drops empty statements, blanks and comment-only pieces', () => {
  expect(texts('select 1; select 2;;\n  ;\n-- the end\n')).toEqual(['select 1', 'select 2']);
  expect(texts('select 1;\nselect 2')).toEqual(['select 1', 'select 2']); // no semicolon after the last
  expect(texts('')).toEqual([]);
  expect(texts('-- only a comment;\n/* and; another */ ;')).toEqual([]);
});

test('a statement starts at its first token, on the line it reports', () => {
  expect(splitStatements('-- header\n\nselect 1;\n  /* why */ select\n  2;')).toEqual([
    { sql: 'select 1', line: 3 },
    { sql: 'select\n  2', line: 4 },
  ]);
});

test('semicolons inside single-quoted strings, with doubled quotes, do not split', () => {
  expect(texts("select 'a;b', 'it''s; fine';select 2")).toEqual(["select 'a;b', 'it''s; fine'", 'select 2']);
  expect(texts("select '';select 2")).toEqual(["select ''", 'select 2']);
});

test("E'...' strings escape with backslashes too; other strings do not", () => {
  expect(texts("select E'it\\'s; here';select 2")).toEqual(["select E'it\\'s; here'", 'select 2']);
  expect(texts("select 'C:\\';select 2")).toEqual(["select 'C:\\'", 'select 2']);
  expect(texts("select type'x;y';select 2")).toEqual(["select type'x;y'", 'select 2']); // not an E string
});

test('semicolons inside double-quoted identifiers do not split', () => {
  expect(texts('create table "a;""b" (id int);select 2')).toEqual(['create table "a;""b" (id int)', 'select 2']);
});

test('dollar-quoted bodies, with or without a tag, keep their semicolons and inner quotes', () => {
  const body = `create function f() returns int language plpgsql as $$
begin
  raise notice 'it''s; $tag$ here';
  return 1;
end
$$`;
  const tagged = `do $body$ begin perform 'x$$;'; end $body$`;
  expect(texts(`${body};\n${tagged};\nselect 3`)).toEqual([body, tagged, 'select 3']);
});

test('a dollar sign inside an identifier or before a digit opens no quote', () => {
  expect(texts('select a$b$ from t;select $1;select 3')).toEqual(['select a$b$ from t', 'select $1', 'select 3']);
});

test('line and block comments, nested, hide semicolons and quotes', () => {
  const sql = "select 1 -- not here; nor ' here\n, 2 /* outer ; /* inner ' ; */ still outer ; */ ;select 3";
  expect(texts(sql)).toEqual(["select 1 -- not here; nor ' here\n, 2 /* outer ; /* inner ' ; */ still outer ; */", 'select 3']);
});

test('semicolons inside parentheses do not split (as in psql)', () => {
  expect(texts('select (1;2);select 3')).toEqual(['select (1;2)', 'select 3']);
});

test('a BEGIN ATOMIC body of CREATE FUNCTION or PROCEDURE stays whole, CASE ... END inside included', () => {
  const fn = `create or replace function f(x int) returns int language sql
begin atomic
  select case when x > 0 then 1 else 0 end;
  select 2;
end`;
  const proc = 'create procedure p() language sql begin atomic insert into t values (1); end';
  expect(texts(`${fn};\n${proc};\nbegin;\nselect 4;\ncommit`)).toEqual([fn, proc, 'begin', 'select 4', 'commit']);
});

test('an unterminated quote or comment runs to the end of the file (the server then reports it)', () => {
  expect(texts("select 1; select 'open; select 2")).toEqual(['select 1', "select 'open; select 2"]);
  expect(texts('select 1; select $$ open; select 2')).toEqual(['select 1', 'select $$ open; select 2']);
  expect(texts('select 1; /* open; select 2')).toEqual(['select 1']);
});
