import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layering docs/architecture.md states, checked on the source: folders depend downwards only,
// `risk/` is pure judgement, and every statement on the `session` table lives under `sessions/`.
const serverDir = fileURLToPath(new URL('../../server/', import.meta.url));

function sourceFiles(): Array<{ file: string; folder: string; text: string }> {
  const files: Array<{ file: string; folder: string; text: string }> = [];
  for (const entry of readdirSync(serverDir, { recursive: true }) as string[]) {
    if (!entry.endsWith('.ts')) continue;
    const parts = entry.split(path.sep);
    files.push({
      file: entry,
      folder: parts.length > 1 ? (parts[0] as string) : '.',
      text: readFileSync(path.join(serverDir, entry), 'utf8'),
    });
  }
  return files;
}

/** The server folders a file imports from (relative imports only), `'.'` for the ground files. */
function importedFolders(file: string, text: string): Set<string> {
  const folders = new Set<string>();
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = path.normalize(path.join(path.dirname(file), match[1] as string));
    if (target.startsWith('..')) continue; // outside server/
    const parts = target.split(path.sep);
    folders.add(parts.length > 1 ? (parts[0] as string) : '.');
  }
  return folders;
}

describe('architecture boundaries', () => {
  const files = sourceFiles();
  const edges = new Map<string, Set<string>>();
  for (const { file, folder, text } of files) {
    const out = edges.get(folder) ?? new Set<string>();
    for (const target of importedFolders(file, text)) if (target !== folder) out.add(target);
    edges.set(folder, out);
  }

  it('has no folder-level import loop between http, sessions, risk, reauth, passkeys, users and net', () => {
    const core = ['http', 'sessions', 'risk', 'reauth', 'passkeys', 'users', 'net'];
    const reaches = (from: string, to: string): boolean => {
      const seen = new Set<string>();
      const stack = [from];
      while (stack.length > 0) {
        const folder = stack.pop() as string;
        for (const next of edges.get(folder) ?? []) {
          if (!core.includes(next) || seen.has(next)) continue;
          if (next === to) return true;
          seen.add(next);
          stack.push(next);
        }
      }
      return false;
    };
    const loops = core.filter((folder) => reaches(folder, folder));
    expect(loops).toEqual([]);
  });

  it('keeps risk/ pure: it imports nothing from sessions/ or http/', () => {
    const risk = edges.get('risk') ?? new Set();
    expect([...risk].filter((folder) => folder === 'sessions' || folder === 'http')).toEqual([]);
  });

  it('has SQL on the session table only under sessions/', () => {
    const sessionSql =
      /(?:selectFrom|updateTable|insertInto|deleteFrom)\(\s*'session'|\b(?:from|update|into|join)\s+session\b(?!_)/i;
    const outside = files
      .filter(({ folder }) => folder !== 'sessions')
      .filter(({ text }) => sessionSql.test(text))
      .map(({ file }) => file);
    expect(outside).toEqual([]);
  });

  it('finds what it looks for (the checks above are not vacuous)', () => {
    expect(edges.get('sessions')?.has('risk')).toBe(true);
    const sessionFiles = files.filter(({ folder, text }) => folder === 'sessions' && /from session s join/.test(text));
    expect(sessionFiles.length).toBeGreaterThan(0);
  });
});
