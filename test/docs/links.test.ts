import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsOf, brokenLinks, extractLinks, githubSlug, markdownFiles, root } from './markdown.js';

describe('relative links in the Markdown files', () => {
  const files = markdownFiles();

  it('finds the documentation to check', () => {
    expect(files).toEqual(
      expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/configuration.md', 'docs/http-api.md']),
    );
  });

  it.each(files)('every relative link of %s resolves, anchors included', (file) => {
    expect(brokenLinks(file, readFileSync(path.join(root, file), 'utf8'))).toEqual([]);
  });
});

describe('the link checker', () => {
  it('reports a missing file, a link outside the repository and an unknown anchor', () => {
    const text = [
      '# Title',
      'See [a](docs/missing.md), [b](../outside.md), [c](#nowhere), [d](docs/configuration.md#no-such-heading).',
      'Fine: [e](#title), [f](docs/configuration.md), [g](https://example.com/x.md), [h](docs/).',
    ].join('\n');
    const problems = brokenLinks('README.md', text);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/docs\/missing\.md does not exist/);
    expect(problems[1]).toMatch(/outside the repository/);
    expect(problems[2]).toMatch(/#nowhere/);
    expect(problems[3]).toMatch(/#no-such-heading/);
  });

  it('ignores links in code blocks and code spans, and reads reference definitions and titles', () => {
    const text = [
      '```md',
      '[x](missing.md)',
      '```',
      'Inline `[y](missing.md)` code.',
      '[ref]: <other.md> "Title"',
      '[z](file.md "title")',
    ].join('\n');
    expect(extractLinks(text).map((link) => link.target)).toEqual(['other.md', 'file.md']);
  });

  it('makes anchors the way GitHub does', () => {
    expect(githubSlug('Rotation and theft detection (the session secret)')).toBe(
      'rotation-and-theft-detection-the-session-secret',
    );
    expect(githubSlug('The demo application (`/`)')).toBe('the-demo-application-');
    expect(githubSlug("This server's additions and details")).toBe('this-servers-additions-and-details');
    expect(githubSlug('Per request: the session signals')).toBe('per-request-the-session-signals');
    expect(githubSlug('Step-up (re-verification without a new session)')).toBe(
      'step-up-re-verification-without-a-new-session',
    );
    expect(githubSlug('**Bold** and [a link](x.md) and snake_case')).toBe('bold-and-a-link-and-snake_case');
    expect([...anchorsOf('# A\n## A\n### A\n```\n# A\n```\n<a id="custom"></a>')]).toEqual([
      'a',
      'a-1',
      'a-2',
      'custom',
    ]);
  });
});
