import { afterAll, beforeAll, expect, it } from 'vitest';
import { sha256 } from '../../server/crypto.js';
import { hitCounters } from '../../server/rate-limits/repository.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

it('counts the limits of a request in one statement, in order, and nothing after the one that refuses', async () => {
  const now = t.clock.now();
  const counters = [
    { bucket: 'test:address', key: sha256('a'), limit: 2, windowSeconds: 60 },
    { bucket: 'test:challenge', key: sha256('a'), limit: 5, windowSeconds: 300 },
    { bucket: 'test:identifier', key: sha256('alice'), limit: 5, windowSeconds: 60 },
  ];
  const first = await hitCounters(t.deps.db, counters, now);
  expect(first.map((r) => r.hits)).toEqual([1, 1, 1]);
  expect(first.map((r) => r.expiresAt.getTime() - now.getTime())).toEqual([60_000, 300_000, 60_000]);
  expect((await hitCounters(t.deps.db, counters, now)).map((r) => r.hits)).toEqual([2, 2, 2]);
  // Past the first limit: the first is counted, the others are not.
  expect((await hitCounters(t.deps.db, counters, now)).map((r) => r.hits)).toEqual([3]);
  expect((await hitCounters(t.deps.db, counters.slice(1), now)).map((r) => r.hits)).toEqual([3, 3]);
  // A new window starts at 1 once the old one has passed.
  expect((await hitCounters(t.deps.db, counters, new Date(now.getTime() + 61_000))).map((r) => r.hits)).toEqual([
    1, 4, 1,
  ]);
});
