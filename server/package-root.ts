import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of this package (the one holding `package.json` and `migrations/`), found from this
 * module's location upwards: the same answer whether the server runs from its TypeScript sources
 * (`server/…`) or from the compiled bundles of the installed package (`dist/…`).
 */
export function packageRoot(from: string = import.meta.url): string {
  let dir = path.dirname(fileURLToPath(from));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'migrations'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`passkey-auth-server: no package folder above ${fileURLToPath(from)}`);
    dir = parent;
  }
}
