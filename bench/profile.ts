import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a frame's code lives: an npm package, Node's internals, a project folder, or V8 itself. */
function ownerOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  // Compiled sources run from bench/.build/ (bench/server-process.ts); name them by their source folder.
  const project = /\/(server|bench|test)\/(.+)$/.exec(url.replace('/bench/.build/', '/'));
  if (project) return `${project[1]}/${project[2]}`;
  return url;
}

/**
 * Self time of a V8 `.cpuprofile` (from `node --cpu-prof`) by owner (package, Node internals,
 * project file) and by function, as shares of the time the process was busy (idle excluded): where
 * the server's CPU goes. Samples in the first `skipMs` (start-up, module loading) are left out.
 */
export async function summarizeProfile(
  file: string,
  { top = 15, skipMs = 0 }: { top?: number; skipMs?: number } = {},
): Promise<string> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const hitsById = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    let elapsed = 0;
    profile.samples.forEach((id, i) => {
      elapsed += profile.timeDeltas![i] ?? 0;
      if (elapsed / 1000 >= skipMs) hitsById.set(id, (hitsById.get(id) ?? 0) + 1);
    });
  } else {
    for (const node of profile.nodes) hitsById.set(node.id, node.hitCount ?? 0);
  }
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = hitsById.get(node.id) ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += hits;
      continue;
    }
    total += hits;
    const owner = ownerOf(url, functionName);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + hits);
    const name = `${functionName || '(anonymous)'}  ${owner}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  total ||= 1;
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => `    ${((hits / total) * 100).toFixed(1).padStart(5)} %  ${name}`)
      .join('\n');
  return `  busy ${((total / (total + idle || 1)) * 100).toFixed(0)} % of the samples; of the busy time, self time by owner:\n${rows(byOwner)}\n  self time by function:\n${rows(byFunction)}`;
}

// `tsx bench/profile.ts <file.cpuprofile>` prints the summary of an existing profile.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/bench\//, '/bench/'))) {
  const file = process.argv[2];
  if (file)
    process.stdout.write(`${await summarizeProfile(file, { top: 30, skipMs: Number(process.argv[3] ?? 0) })}\n`);
}
