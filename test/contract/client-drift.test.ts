import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

/*
 * "A field added on the server is a compile error in the client until handled": a copy of the
 * contract and the client, in which a required field is added to the session's response schema,
 * is type-checked by the real `tsc`. The schema alone fails the contract's own schema/type check;
 * once the wire type has it too, the client fails where it builds a session (`parseSession`).
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = path.join(root, 'test-artifacts', `drift-${process.pid}`);

beforeAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(path.join(root, 'server'), path.join(dir, 'server'), { recursive: true });
  await cp(path.join(root, 'client/src'), path.join(dir, 'client/src'), { recursive: true });
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(root, 'tsconfig.json'),
      compilerOptions: { noEmit: true },
      include: ['server/contract/*.ts', 'client/src/*.ts'],
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function typecheck(): Promise<string> {
  const result = await run(path.join(root, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir }).catch(
    (err: { stdout: string; stderr: string }) => err,
  );
  return `${result.stdout}${result.stderr}`;
}

async function replaceIn(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(path.join(dir, file), 'utf8');
  expect(text).toContain(from);
  await writeFile(path.join(dir, file), text.replace(from, to));
}

it('fails to compile until a field added to a response schema is handled in the wire types and the client', async () => {
  await replaceIn(
    'server/contract/schemas.ts',
    'export const session = v.strictObject({\n  id: v.string(),',
    'export const session = v.strictObject({\n  id: v.string(),\n  deviceName: v.string(),',
  );
  const schemaOnly = await typecheck();
  expect(schemaOnly).toMatch(/server\/contract\/schemas\.ts.*error TS/);

  await replaceIn(
    'server/contract/wire.ts',
    'export interface Session {\n  id: string;',
    'export interface Session {\n  id: string;\n  deviceName: string;',
  );
  const unhandled = await typecheck();
  expect(unhandled).not.toMatch(/server\/contract\/schemas\.ts.*error TS/);
  expect(unhandled).toMatch(/client\/src\/client\.ts.*error TS.*deviceName/s);
}, 180_000);
