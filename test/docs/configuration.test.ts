import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './markdown.js';

/** The TypeScript sources whose environment reads the configuration page must cover. */
function sources(folder: string): string[] {
  return readdirSync(path.join(root, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/**
 * Environment variable names a source reads: `env.NAME`, `env['NAME']`, `process.env.NAME`,
 * `process.env['NAME']`, destructuring from an `env`, and the `read('NAME', …)` calls of
 * server/config.ts.
 */
function variablesRead(source: string): Set<string> {
  const names = new Set<string>();
  const name = '([A-Z][A-Z0-9_]*)';
  const patterns = [
    new RegExp(`\\benv\\??\\.${name}\\b`, 'g'),
    new RegExp(`\\benv\\??\\.?\\[\\s*['"\`]${name}['"\`]\\s*\\]`, 'g'),
    new RegExp(`\\bread\\(\\s*['"\`]${name}['"\`]`, 'g'),
  ];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) names.add(match[1]!);
  for (const match of source.matchAll(/\{([^{}]*)\}\s*=\s*(?:process\.)?env\b/g)) {
    for (const key of match[1]!.matchAll(/(?:^|,)\s*([A-Z][A-Z0-9_]*)\b/g)) names.add(key[1]!);
  }
  return names;
}

/** The variables with a row of their own in the configuration table: `| \`NAME\` | …`. */
function documentedVariables(): Set<string> {
  const page = readFileSync(path.join(root, 'docs/configuration.md'), 'utf8');
  return new Set([...page.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|/gm)].map((match) => match[1]!));
}

describe('docs/configuration.md', () => {
  const read = new Map<string, string[]>();
  for (const file of [...sources('server'), ...sources('scripts')]) {
    for (const name of variablesRead(readFileSync(file, 'utf8')))
      read.set(name, [...(read.get(name) ?? []), path.relative(root, file)]);
  }
  const fromConfig = variablesRead(readFileSync(path.join(root, 'server/config.ts'), 'utf8'));

  it('still understands how server/config.ts reads the environment', () => {
    // If config.ts changes how it reads variables, this parser goes blind: teach it the new way.
    expect(fromConfig.size).toBeGreaterThanOrEqual(40);
    expect([...fromConfig]).toEqual(
      expect.arrayContaining(['PORT', 'ORIGIN', 'DATABASE_URL', 'MIGRATE_ON_START', 'WEBHOOK_SECRET']),
    );
  });

  it('has a row for every variable the server and the scripts read', () => {
    const documented = documentedVariables();
    const missing = [...read]
      .filter(([name]) => !documented.has(name))
      .map(([name, files]) => `${name} (read in ${files.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('has no row for a variable nothing reads', () => {
    expect([...documentedVariables()].filter((name) => !read.has(name))).toEqual([]);
  });

  it('recognises the ways code reads a variable', () => {
    const source = [
      'const a = process.env.ONE; const b = env[\'TWO\']; const c = env?.THREE; const d = process.env["FOUR"];',
      "read('FIVE', 3000, integer(0, 1), 'x'); oneOf('ES256', 'EdDSA'); c.env?.incoming;",
      'const { SIX, SEVEN: seven } = process.env;',
    ].join('\n');
    expect([...variablesRead(source)].sort()).toEqual(['FIVE', 'FOUR', 'ONE', 'SEVEN', 'SIX', 'THREE', 'TWO']);
  });
});
