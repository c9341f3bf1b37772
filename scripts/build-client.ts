import { spawn } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BuildOptions, build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Options for {@link buildClient}. */
export interface BuildClientOptions {
  /** Where to write the bundles and the demo page; defaults to `client/dist`. */
  outdir?: string;
  /** Also write the type declarations to `client/dist/types` (default `true`). */
  types?: boolean;
}

/** Runs the TypeScript compiler with a project file (declarations only); rejects with its output. */
export function emitDeclarations(project: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(root, project)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`tsc -p ${project} failed:\n${output}`))));
  });
}

/**
 * The client's declarations: tsc writes them under `client/dist/types/client/src/` next to the
 * contract's type-only modules they import (`client/dist/types/server/contract/wire.d.ts`,
 * `error-codes.d.ts`), and `client/dist/types/index.d.ts`, the `./client` entry, re-exports them.
 */
async function emitClientDeclarations(): Promise<void> {
  await emitDeclarations('tsconfig.client-types.json');
  await writeFile(path.join(root, 'client/dist/types/index.d.ts'), "export * from './client/src/index.js';\n");
}

/**
 * Bundle the browser client (`auth-client.js`, an ES module) and the demo page (`demo.js`,
 * `index.html`, `demo.css`) into `outdir`, and the client's type declarations into
 * `client/dist/types` (the `./client` entry of the package's exports map). Returns the paths written.
 *
 * @example
 * await buildClient({ outdir: 'test-artifacts/client' });
 */
export async function buildClient({
  outdir = path.join(root, 'client/dist'),
  types = true,
}: BuildClientOptions = {}): Promise<string[]> {
  const common: BuildOptions = {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  };
  const outputs = {
    client: path.join(outdir, 'auth-client.js'),
    demo: path.join(outdir, 'demo.js'),
    html: path.join(outdir, 'index.html'),
    css: path.join(outdir, 'demo.css'),
  };
  await mkdir(outdir, { recursive: true });
  await Promise.all([
    build({ ...common, entryPoints: [path.join(root, 'client/src/index.ts')], outfile: outputs.client }),
    build({ ...common, entryPoints: [path.join(root, 'client/demo/demo.ts')], outfile: outputs.demo }),
    copyFile(path.join(root, 'client/demo/index.html'), outputs.html),
    copyFile(path.join(root, 'client/demo/demo.css'), outputs.css),
    types ? emitClientDeclarations() : undefined,
  ]);
  return [...Object.values(outputs), ...(types ? [path.join(root, 'client/dist/types/index.d.ts')] : [])];
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const started = performance.now();
  const written = await buildClient();
  const ms = Math.round(performance.now() - started);
  console.log(`built ${written.map((file) => path.relative(process.cwd(), file)).join(', ')} in ${ms} ms`);
}
