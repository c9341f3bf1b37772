import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = fileURLToPath(new URL('../../', import.meta.url));

/** Every Markdown file of the repository, tracked or new (not ignored), relative to the root. */
export function markdownFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  });
  return [...new Set(out.split('\0'))]
    .filter((file) => file !== '' && !file.split('/').includes('node_modules'))
    .filter((file) => existsSync(path.join(root, file)))
    .sort();
}

export interface MarkdownLink {
  target: string;
  line: number;
}

/**
 * Replaces fenced code blocks with blank lines (keeping line numbers), so that neither their links
 * nor their `#` lines count.
 */
function withoutFences(text: string): string[] {
  const lines = text.split('\n');
  let fence: string | null = null;
  return lines.map((line) => {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === null && marker) {
      fence = marker;
      return '';
    }
    if (fence !== null) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = null;
      return '';
    }
    return line;
  });
}

/** Removes inline code spans, whose brackets are not links. */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)[\s\S]*?\1/g, '');
}

/** The links of a Markdown text: inline links and images, and reference definitions. */
export function extractLinks(text: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  withoutFences(text).forEach((raw, index) => {
    const line = withoutCodeSpans(raw);
    const definition = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
    if (definition) links.push({ target: definition[1]!.replace(/^<|>$/g, ''), line: index + 1 });
    for (const match of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
      links.push({ target: match[1]!.replace(/^<|>$/g, ''), line: index + 1 });
    }
  });
  return links;
}

/**
 * GitHub's anchor for a heading (as github-slugger does): the heading's text without Markdown
 * markup, lower-cased, without punctuation other than `-` and `_`, spaces turned into `-`.
 */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`+/g, '')
    .replace(/(\*+|\b_+|_+\b)/g, (marker, _m, offset: number, all: string) =>
      marker.startsWith('_') && /\w/.test(all[offset - 1] ?? '') && /\w/.test(all[offset + marker.length] ?? '')
        ? marker
        : '',
    );
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a Markdown text defines: one per heading (duplicates get `-1`, `-2`…), and HTML ids. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  for (const line of withoutFences(text)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const base = githubSlug(heading);
      const seen = counts.get(base) ?? 0;
      counts.set(base, seen + 1);
      anchors.add(seen === 0 ? base : `${base}-${seen}`);
    }
    for (const match of line.matchAll(/<a\s[^>]*(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!);
  }
  return anchors;
}

// Anchors of the files links point into, read once per run.
const cache = new Map<string, Set<string>>();
const anchorsOfFile = (absolute: string): Set<string> => {
  let anchors = cache.get(absolute);
  if (!anchors) cache.set(absolute, (anchors = anchorsOf(readFileSync(absolute, 'utf8'))));
  return anchors;
};

/**
 * Checks every relative link of one Markdown file (relative to the root): the file or folder must
 * exist inside the repository, and a `#fragment` into a Markdown file must name one of its anchors.
 * Returns one message per broken link.
 */
export function brokenLinks(file: string, text: string): string[] {
  const problems: string[] = [];
  const from = path.join(root, file);
  for (const { target, line } of extractLinks(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // http:, https:, mailto:…
    const hash = target.indexOf('#');
    const filePart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
    const fragment = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
    const resolved =
      filePart === ''
        ? from
        : filePart.startsWith('/')
          ? path.join(root, filePart)
          : path.resolve(path.dirname(from), filePart);
    const where = `${file}:${line}: ${target}`;
    const relative = path.relative(root, resolved);
    if (relative.startsWith('..') || path.isAbsolute(relative)) {
      problems.push(`${where} points outside the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${where} does not exist`);
      continue;
    }
    if (fragment !== null && fragment !== '' && statSync(resolved).isFile() && resolved.endsWith('.md')) {
      const anchors = resolved === from ? anchorsOf(text) : anchorsOfFile(resolved);
      if (!anchors.has(fragment)) problems.push(`${where}: no heading with the anchor #${fragment}`);
    }
  }
  return problems;
}
