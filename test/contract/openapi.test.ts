import { Validator } from '@seriousme/openapi-schema-validator';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodes } from '../../server/contract/error-codes.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { checkedApp } from '../helpers/conformance.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t?.close();
});

type Document = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<
          string,
          {
            content?: Record<
              string,
              { schema: { properties?: { error?: { properties: { code: { enum: string[] } } } } } }
            >;
          }
        >;
      }
    >
  >;
};

async function fetchDocument(): Promise<Document> {
  const response = await t.get('/openapi.json');
  expect(response.status).toBe(200);
  return (await response.json()) as Document;
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(await fetchDocument());
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route the app serves, and no route it does not', async () => {
    const document = await fetchDocument();
    const served = new Set<string>();
    for (const route of t.app.routes) {
      // `ALL` handlers are the 405 answers and middleware; every method route is an operation.
      if (route.method === 'ALL' || route.path === '/*') continue;
      served.add(`${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
    }
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`)),
    );
    expect([...served].sort()).toEqual([...documented].sort());
    for (const route of [
      'post /auth/register/options',
      'post /auth/login/verify',
      'delete /auth/sessions/{id}',
      'post /auth/reauth/verify',
      'patch /auth/passkeys/{id}',
      'post /auth/token',
      'post /auth/introspect',
      'post /auth/recover',
      'get /auth/activity',
      'get /auth/session/status',
      'patch /auth/user',
      'get /.well-known/jwks.json',
      'get /healthz',
    ]) {
      expect(documented).toContain(route);
    }
  });

  it("gives every operation its responses, and only the contract's error codes", async () => {
    const document = await fetchDocument();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const statuses = Object.keys(operation.responses);
        expect(
          statuses.some((status) => status.startsWith('2')),
          `${method} ${path}`,
        ).toBe(true);
        for (const [status, response] of Object.entries(operation.responses)) {
          if (!status.startsWith('2') && path.startsWith('/auth/')) {
            const codes = response.content?.['application/json']?.schema.properties?.error?.properties.code.enum ?? [];
            expect(codes.length, `${method} ${path} ${status}`).toBeGreaterThan(0);
            for (const code of codes) expect(errorCodes).toContain(code);
          }
        }
      }
    }
  });

  it('has examples for the ceremony bodies', async () => {
    const document = (await fetchDocument()) as unknown as {
      paths: Record<
        string,
        Record<
          string,
          { requestBody: { content: Record<string, { examples?: object; schema: { examples?: unknown[] } }> } }
        >
      >;
    };
    for (const path of [
      '/auth/register/verify',
      '/auth/login/verify',
      '/auth/passkeys/verify',
      '/auth/reauth/verify',
    ]) {
      const media = document.paths[path]?.post?.requestBody.content['application/json'];
      expect(Object.keys(media?.examples ?? {}).length, path).toBeGreaterThan(0);
    }
  });
});

describe('the conformance hook', () => {
  const fake = (status: number, body: unknown) => {
    const app = new Hono();
    app.get('/auth/session', (c) => c.json(body as object, status as 200));
    return checkedApp(app);
  };
  const user = { id: 'u', username: 'ann', displayName: 'ann' };
  const session = { id: 's', createdAt: '2026-11-28T23:59:00.000Z', expiresAt: '2026-11-29T23:59:00.000Z' };

  it('passes a documented answer', async () => {
    expect((await fake(200, { user, session }).request('/auth/session')).status).toBe(200);
  });

  it('fails an undocumented field', async () => {
    await expect(fake(200, { user, session: { ...session, secret: 'x' } }).request('/auth/session')).rejects.toThrow(
      /does not conform.*secret/,
    );
  });

  it('fails a missing field', async () => {
    await expect(fake(200, { user }).request('/auth/session')).rejects.toThrow(/does not conform/);
  });

  it('fails an undocumented status', async () => {
    await expect(fake(418, { error: { code: 'internal', message: 'x' } }).request('/auth/session')).rejects.toThrow(
      /status not documented/,
    );
  });

  it('fails an error code not documented for the status', async () => {
    await expect(
      fake(401, { error: { code: 'username_taken', message: 'x' } }).request('/auth/session'),
    ).rejects.toThrow(/does not conform/);
  });

  it('fails an unknown path that does not answer 404 not_found', async () => {
    const app = new Hono();
    app.get('/auth/nowhere', (c) => c.json({ ok: true }));
    await expect(checkedApp(app).request('/auth/nowhere')).rejects.toThrow(/undocumented/);
  });
});
