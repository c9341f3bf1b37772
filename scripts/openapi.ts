import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOpenApiDocument } from '../server/contract/openapi.js';

/**
 * Writes the OpenAPI 3.1 document of the HTTP API (the same one `GET /openapi.json` serves, without
 * a `servers` entry) to `dist/openapi.json`, or to the path given as the first argument.
 *
 * @example
 * npm run openapi -- build/openapi.json
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'dist/openapi.json'));
const { version } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(buildOpenApiDocument({ version }), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
