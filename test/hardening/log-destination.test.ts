import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logDropped, nonBlockingDestination } from '../../server/logger.js';

describe('the non-blocking log destination', () => {
  it('drops and counts lines past its backlog, and reports them in one line once the consumer reads again', async () => {
    // A consumer that is not reading: everything written stays in the stream's buffers.
    const pipe = new PassThrough({ highWaterMark: 1024 });
    const destination = nonBlockingDestination({ stream: pipe, maxBufferedBytes: 8192 });
    const logger = createLogger({ level: 'debug', destination });
    const droppedBefore = logDropped();

    for (let i = 0; i < 500; i++) logger.debug({ i }, 'request');
    expect(destination.dropped).toBeGreaterThan(300);
    expect(logDropped() - droppedBefore).toBe(destination.dropped);
    expect(destination.buffered).toBeLessThan(8192 + 200);

    // The consumer catches up.
    const lines: string[] = [];
    pipe.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    await expect.poll(() => lines.find((line) => line.includes('log lines dropped'))).toBeDefined();
    const report = JSON.parse(lines.find((line) => line.includes('log lines dropped'))!);
    expect(report).toMatchObject({ level: 40, droppedLines: destination.dropped, droppedTotal: destination.dropped });
    expect(lines.filter((line) => line.includes('"msg":"request"')).length).toBe(500 - destination.dropped);

    // Nothing more is dropped once it reads; the report is not repeated.
    logger.debug('after');
    await expect.poll(() => lines.at(-1)).toContain('"msg":"after"');
    expect(lines.filter((line) => line.includes('log lines dropped'))).toHaveLength(1);
    expect(await destination.drained(1000)).toBe(true);
  });

  it('counts lines instead of crashing once the consumer is gone', () => {
    const pipe = new PassThrough();
    const destination = nonBlockingDestination({ stream: pipe });
    pipe.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    createLogger({ destination }).info('lost');
    expect(destination.dropped).toBe(1);
  });
});
