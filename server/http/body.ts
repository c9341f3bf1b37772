import type { MiddlewareHandler } from 'hono';
import { AuthError } from '../errors.js';
import { checkCsrf } from './csrf.js';

/** The contract's body limit: 64 KiB, refused before parsing. */
export const maxBodyBytes = 64 * 1024;
const maxDepth = 16;
// Strings are checked for control characters here, once, because PostgreSQL refuses NUL in text
// (which would otherwise surface as a 500) and no field of the contract admits them.
const controlCharacter = /[\u0000-\u001f\u007f]/;
// A UTF-16 surrogate that is not half of a pair (JSON lets `"\ud800"` through): not text, and jsonb
// and PostgreSQL text refuse it (which would otherwise surface as a 500).
const loneSurrogate = /[\ud800-\udfff]/u;
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The guard of every state-changing route, run after routing (so 404/405 come first): the CSRF rule
 * (403), then the body as JSON, in the contract's order: 413 (over 64 KiB, from Content-Length or
 * while streaming a chunked body), 415 (a non-empty body that is not application/json), then 400
 * (not JSON, nested too deep, control characters, lone surrogates, prototype keys). An empty body is `{}`. The parsed
 * value is in `c.var.body`.
 */
export function jsonBody(options: {
  origins: readonly string[];
  relatedOrigins?: readonly string[];
}): MiddlewareHandler<{ Variables: { body: unknown } }> {
  const allowed = new Set(options.origins);
  const related = new Set(options.relatedOrigins);
  return async (c, next) => {
    checkCsrf({ origin: c.req.header('origin'), secFetchSite: c.req.header('sec-fetch-site') }, allowed, related);
    const length = c.req.header('content-length');
    if (length !== undefined && Number(length) > maxBodyBytes) throw new AuthError('payload_too_large');
    // Served by @hono/node-server with a Content-Length (which Node's parser holds the body to): the
    // adapter reads it straight from Node's request, without building a web Request and stream for
    // it. Otherwise (chunked, app.request(), other runtimes) as a stream, counted as it arrives.
    const bytes =
      length !== undefined && /^\d+$/.test(length) && (c.env as { incoming?: unknown } | undefined)?.incoming
        ? new Uint8Array(await c.req.raw.arrayBuffer())
        : await readLimited(c.req.raw.body);
    if (bytes.byteLength === 0) {
      c.set('body', {});
      return next();
    }
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) throw new AuthError('unsupported_media_type');
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw new AuthError('invalid_request', 'The body is not valid JSON.');
    }
    checkJson(value, 0);
    c.set('body', value);
    return next();
  };
}

/** Reads a request body, refusing it (413) as soon as it passes {@link maxBodyBytes}. */
export async function readLimited(stream: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  if (stream === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBodyBytes) {
      await reader.cancel().catch(() => {});
      throw new AuthError('payload_too_large');
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
}

/** Refuses (400) JSON nested too deeply, with control characters or lone surrogates, or with prototype keys. */
export function checkJson(value: unknown, depth: number): void {
  if (depth > maxDepth) throw new AuthError('invalid_request', 'The body is nested too deeply.');
  if (typeof value === 'string') {
    if (controlCharacter.test(value))
      throw new AuthError('invalid_request', 'Strings must not contain control characters.');
    if (loneSurrogate.test(value)) throw new AuthError('invalid_request', 'Strings must be well-formed Unicode.');
  } else if (Array.isArray(value)) {
    for (const item of value) checkJson(item, depth + 1);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (forbiddenKeys.has(key) || controlCharacter.test(key) || loneSurrogate.test(key))
        throw new AuthError('invalid_request', `The key ${JSON.stringify(key.slice(0, 32))} is not allowed.`);
      checkJson(item, depth + 1);
    }
  }
}
