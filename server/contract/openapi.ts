import { type JsonSchema, toJsonSchema } from '@valibot/to-json-schema';
import type * as v from 'valibot';
import { errorCodes, errorStatuses } from './error-codes.js';
import * as s from './schemas.js';

type Method = 'get' | 'post' | 'patch' | 'delete';
type Security = 'none' | 'session' | 'introspection';

interface Operation {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  security: Security;
  /** JSON body (`emptyRequest` for a POST whose fields are all optional). */
  body?: v.GenericSchema;
  query?: v.GenericSchema;
  /** Success responses: a JSON schema, or `null` for no body. */
  responses: Record<number, v.GenericSchema | null>;
  /** Error statuses besides 500 and 503 (which every operation may answer). */
  errors: number[];
  description?: string;
}

// The checks every JSON body goes through (CSRF, 413, 415, 400), in the contract's order.
const bodyErrors = [400, 403, 413, 415];
const sessionErrors = [401, 403];

/** Every operation of the contract (shared/spec/http-api.md) and of the README's additions. */
export const operations: Operation[] = [
  {
    method: 'post',
    path: '/auth/register/options',
    tag: 'Ceremonies',
    summary: 'Begin a sign-up: creation options',
    security: 'none',
    body: s.registerOptionsRequest,
    responses: { 200: s.creationOptions },
    errors: [...bodyErrors, 409, 429],
  },
  {
    method: 'post',
    path: '/auth/register/verify',
    tag: 'Ceremonies',
    summary: 'Finish a sign-up; sets the session cookie',
    security: 'none',
    body: s.registrationResponse,
    responses: { 201: s.signedInResponse },
    errors: [...bodyErrors, 409, 429],
  },
  {
    method: 'post',
    path: '/auth/login/options',
    tag: 'Ceremonies',
    summary: 'Begin a sign-in: request options (empty allowCredentials)',
    security: 'none',
    body: s.loginOptionsRequest,
    responses: { 200: s.requestOptions },
    errors: [...bodyErrors, 429],
  },
  {
    method: 'post',
    path: '/auth/login/verify',
    tag: 'Ceremonies',
    summary: 'Finish a sign-in; sets the session cookie',
    security: 'none',
    body: s.authenticationResponse,
    responses: { 200: s.signedInResponse },
    errors: [...bodyErrors, 401, 429],
  },
  {
    method: 'get',
    path: '/auth/session',
    tag: 'Session',
    summary: 'The signed-in user and session',
    security: 'session',
    responses: { 200: s.sessionResponse },
    errors: sessionErrors,
  },
  {
    method: 'get',
    path: '/auth/session/status',
    tag: 'Session',
    summary: 'Signed in or not, without a 401',
    security: 'none',
    responses: { 200: s.sessionStatusResponse },
    errors: [],
  },
  {
    method: 'post',
    path: '/auth/logout',
    tag: 'Session',
    summary: 'Sign out: revoke the session, clear the cookie',
    security: 'none',
    body: s.emptyRequest,
    responses: { 204: null },
    errors: bodyErrors,
  },
  {
    method: 'get',
    path: '/auth/sessions',
    tag: 'Sessions',
    summary: "The user's live sessions",
    security: 'session',
    responses: { 200: s.sessionListResponse },
    errors: sessionErrors,
  },
  {
    method: 'delete',
    path: '/auth/sessions/{id}',
    tag: 'Sessions',
    summary: 'Revoke one session (step-up unless it is the current one)',
    security: 'session',
    body: s.emptyRequest,
    responses: { 204: null },
    errors: [...bodyErrors, 401, 404],
  },
  {
    method: 'post',
    path: '/auth/sessions/revoke-others',
    tag: 'Sessions',
    summary: 'Revoke every other session (step-up)',
    security: 'session',
    body: s.emptyRequest,
    responses: { 200: s.revokedResponse },
    errors: [...bodyErrors, 401],
  },
  {
    method: 'post',
    path: '/auth/reauth/options',
    tag: 'Step-up',
    summary: "Begin a step-up: request options for the user's passkeys",
    security: 'session',
    body: s.emptyRequest,
    responses: { 200: s.requestOptions },
    errors: [...bodyErrors, 401, 429],
  },
  {
    method: 'post',
    path: '/auth/reauth/verify',
    tag: 'Step-up',
    summary: 'Finish a step-up (no new session)',
    security: 'session',
    body: s.authenticationResponse,
    responses: { 200: s.reauthResponse },
    errors: [...bodyErrors, 401, 429],
  },
  {
    method: 'get',
    path: '/auth/passkeys',
    tag: 'Passkeys',
    summary: "The user's passkeys",
    security: 'session',
    responses: { 200: s.passkeyListResponse },
    errors: sessionErrors,
  },
  {
    method: 'post',
    path: '/auth/passkeys/options',
    tag: 'Passkeys',
    summary: 'Begin adding a passkey (step-up; also in a recovery session)',
    security: 'session',
    body: s.emptyRequest,
    responses: { 200: s.creationOptions },
    errors: [...bodyErrors, 401, 429],
  },
  {
    method: 'post',
    path: '/auth/passkeys/verify',
    tag: 'Passkeys',
    summary: 'Finish adding a passkey',
    security: 'session',
    body: s.registrationResponse,
    responses: { 201: s.passkeyResponse },
    errors: [...bodyErrors, 401, 409, 429],
  },
  {
    method: 'patch',
    path: '/auth/passkeys/{id}',
    tag: 'Passkeys',
    summary: 'Rename a passkey',
    security: 'session',
    body: s.renamePasskeyRequest,
    responses: { 200: s.passkeyResponse },
    errors: [...bodyErrors, 401, 404],
  },
  {
    method: 'delete',
    path: '/auth/passkeys/{id}',
    tag: 'Passkeys',
    summary: 'Delete a passkey (step-up; not the only one)',
    security: 'session',
    body: s.emptyRequest,
    responses: { 204: null },
    errors: [...bodyErrors, 401, 404, 409],
  },
  {
    method: 'patch',
    path: '/auth/user',
    tag: 'User',
    summary: 'Change the display name',
    security: 'session',
    body: s.updateUserRequest,
    responses: { 200: s.userUpdatedResponse },
    errors: [...bodyErrors, 401],
  },
  {
    method: 'get',
    path: '/auth/activity',
    tag: 'Activity',
    summary: "The user's own audit events, newest first",
    security: 'session',
    query: s.activityQuery,
    responses: { 200: s.activityPage },
    errors: [400, ...sessionErrors],
  },
  {
    method: 'get',
    path: '/auth/recovery-codes',
    tag: 'Recovery',
    summary: 'How many recovery codes are left',
    security: 'session',
    responses: { 200: s.recoveryCodeStatus },
    errors: sessionErrors,
  },
  {
    method: 'post',
    path: '/auth/recovery-codes',
    tag: 'Recovery',
    summary: 'Create a new set of recovery codes (step-up), shown once',
    security: 'session',
    body: s.emptyRequest,
    responses: { 201: s.recoveryCodesResponse },
    errors: [...bodyErrors, 401],
  },
  {
    method: 'post',
    path: '/auth/recover',
    tag: 'Recovery',
    summary: 'Recover an account with a code: a restricted session',
    security: 'none',
    body: s.recoverRequest,
    responses: { 200: s.recoveredResponse },
    errors: [...bodyErrors, 401, 429],
  },
  {
    method: 'post',
    path: '/auth/token',
    tag: 'Tokens',
    summary: 'A short access token (JWT) for the session',
    security: 'session',
    body: s.emptyRequest,
    responses: { 200: s.accessTokenResponse },
    errors: [...bodyErrors, 401],
  },
  {
    method: 'get',
    path: '/.well-known/jwks.json',
    tag: 'Tokens',
    summary: 'Public keys of the access tokens',
    security: 'none',
    responses: { 200: s.jwksResponse },
    errors: [],
  },
  {
    method: 'post',
    path: '/auth/introspect',
    tag: 'Tokens',
    summary: 'RFC 7662 token introspection (services only, no CSRF rule)',
    security: 'introspection',
    body: s.introspectionRequest,
    responses: { 200: s.introspectionResponse },
    errors: [400, 401, 413, 415],
  },
  {
    method: 'get',
    path: '/healthz',
    tag: 'Operations',
    summary: 'Database reachable',
    security: 'none',
    responses: { 200: s.healthResponse },
    errors: [],
  },
  {
    method: 'get',
    path: '/.well-known/webauthn',
    tag: 'Platform',
    summary: 'Related origins (RELATED_ORIGINS); 404 when none',
    security: 'none',
    responses: { 200: s.relatedOriginsResponse },
    errors: [404],
  },
  {
    method: 'get',
    path: '/.well-known/assetlinks.json',
    tag: 'Platform',
    summary: 'Android apps (ANDROID_APPS); 404 when none',
    security: 'none',
    responses: { 200: s.assetLinksResponse },
    errors: [404],
  },
  {
    method: 'get',
    path: '/.well-known/apple-app-site-association',
    tag: 'Platform',
    summary: 'iOS apps (IOS_APPS); 404 when none',
    security: 'none',
    responses: { 200: s.appleAppSiteAssociationResponse },
    errors: [404],
  },
];

/** Served only with DBSC=on: device-bound session credentials (docs/dbsc.md). */
const dbscOperations: Operation[] = [
  {
    method: 'post',
    path: '/auth/dbsc/register',
    tag: 'Device-bound sessions',
    summary: 'Bind the session to a device key (the Secure-Session-Response JWT)',
    security: 'session',
    responses: { 200: s.dbscSessionResponse },
    errors: [400, 401],
  },
  {
    method: 'post',
    path: '/auth/dbsc/refresh',
    tag: 'Device-bound sessions',
    summary: 'A fresh bound cookie for a signed Secure-Session-Challenge (403 with the challenge first)',
    security: 'session',
    responses: { 200: s.dbscSessionResponse },
    errors: [400, 401, 403],
  },
];

/** Served files that are not JSON: the demo page and the browser client. */
const staticFiles: Record<string, string> = {
  '/': 'text/html',
  '/demo.js': 'text/javascript',
  '/demo.css': 'text/css',
  '/auth-client.js': 'text/javascript',
};

function jsonSchema(schema: v.GenericSchema, mode: 'input' | 'output'): JsonSchema {
  const documented = s.documentedAs.get(schema) ?? schema;
  const { $schema: _, ...result } = toJsonSchema(documented, {
    target: 'draft-2020-12',
    typeMode: mode,
    errorMode: 'ignore',
    overrideSchema: ({ valibotSchema }) => (valibotSchema === s.plainObject ? { type: 'object' } : undefined),
  });
  return result;
}

function examplesOf(schema: v.GenericSchema): unknown[] | undefined {
  const pipe = (schema as { pipe?: readonly { type: string; metadata?: { examples?: unknown[] } }[] }).pipe;
  return pipe?.find((item) => item.type === 'metadata')?.metadata?.examples;
}

function errorResponse(status: number) {
  const codes = errorCodes.filter((code) => (errorStatuses[code] as readonly number[]).includes(status));
  return {
    description: codes.map((code) => `\`${code}\``).join(', '),
    ...(status === 429
      ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } }
      : {}),
    content: {
      'application/json': {
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              additionalProperties: false,
              required: ['code', 'message'],
              properties: { code: { type: 'string', enum: codes }, message: { type: 'string' } },
            },
          },
        },
      },
    },
  };
}

const successDescriptions: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No content' };

/** Options for {@link buildOpenApiDocument}. */
export interface OpenApiOptions {
  /** The session cookie's name (default `__Host-session`). */
  cookieName?: string;
  /** A server URL to list (the first configured origin, say). */
  serverUrl?: string;
  version?: string;
  /** Document `GET /metrics` (served on the main port when `METRICS_TOKEN` is set). */
  metrics?: boolean;
  /** Document the DBSC endpoints (served with `DBSC=on`). */
  dbsc?: boolean;
}

/**
 * The OpenAPI 3.1 document of the HTTP API, built from the contract's schemas: every path, method,
 * request body, response status and error code, with the session cookie, access tokens and the
 * introspection secret as security schemes. Served at `GET /openapi.json`; `npm run openapi` writes it.
 */
export function buildOpenApiDocument({
  cookieName = '__Host-session',
  serverUrl,
  version = '0.1.0',
  metrics = false,
  dbsc = false,
}: OpenApiOptions = {}) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of dbsc ? [...operations, ...dbscOperations] : operations) {
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(op.responses)) {
      responses[status] =
        schema === null
          ? { description: successDescriptions[Number(status)] }
          : {
              description: successDescriptions[Number(status)],
              content: { 'application/json': { schema: jsonSchema(schema, 'output') } },
            };
    }
    for (const status of [...new Set([...op.errors, 500, 503])].sort()) responses[status] = errorResponse(status);
    const parameters: unknown[] = [];
    if (op.path.includes('{id}')) {
      parameters.push({
        name: 'id',
        in: 'path',
        required: true,
        schema: jsonSchema(s.idParam.entries.id, 'input'),
        description: op.path.startsWith('/auth/passkeys') ? 'The credential ID (base64url)' : 'The session id',
      });
    }
    if (op.query) {
      const query = jsonSchema(op.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
      for (const [name, schema] of Object.entries(query.properties ?? {})) {
        parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
      }
    }
    let requestBody: unknown;
    if (op.body) {
      const examples = examplesOf(op.body);
      const media = {
        schema: jsonSchema(op.body, 'input'),
        ...(examples
          ? { examples: Object.fromEntries(examples.map((value, i) => [`example${i + 1}`, { value }])) }
          : {}),
      };
      const optional = op.body === s.emptyRequest || op.body === s.loginOptionsRequest;
      requestBody = {
        required: !optional,
        ...(optional ? { description: 'May be empty (read as `{}`).' } : {}),
        content:
          op.path === '/auth/introspect'
            ? { 'application/x-www-form-urlencoded': { schema: media.schema }, 'application/json': media }
            : { 'application/json': media },
      };
    }
    const security =
      op.security === 'session'
        ? [{ sessionCookie: [] }]
        : op.security === 'introspection'
          ? [{ introspectionSecret: [] }, { introspectionBasic: [] }]
          : [];
    const item = paths[op.path] ?? {};
    paths[op.path] = item;
    item[op.method] = {
      operationId: `${op.method}${op.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      tags: [op.tag],
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      security,
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'getOpenapiJson',
      tags: ['Operations'],
      summary: 'This document',
      security: [],
      responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  };
  if (metrics) {
    paths['/metrics'] = {
      get: {
        operationId: 'getMetrics',
        tags: ['Operations'],
        summary: 'Prometheus metrics (only when METRICS_TOKEN is set)',
        security: [{ metricsToken: [] }],
        responses: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          401: errorResponse(401),
        },
      },
    };
  }
  for (const [path, type] of Object.entries(staticFiles)) {
    paths[path] = {
      get: {
        operationId: `getStatic${path === '/' ? 'Index' : path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
        tags: ['Demo'],
        summary: path === '/' ? 'The demo page' : `The built client file ${path}`,
        security: [],
        responses: {
          200: { description: 'OK', content: { [type]: { schema: { type: 'string' } } } },
          404: { description: 'The client is not built', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Passkey auth server',
      version,
      description: [
        'Passkey-first authentication: WebAuthn ceremonies, opaque session cookies, step-up, recovery codes, short access tokens.',
        'Unsafe methods on `/auth/*` need a same-origin `Origin` (or `Sec-Fetch-Site: same-origin`), except `/auth/introspect`.',
        'Checks run in this order: 404/405, 403 `csrf`, 413, 415, 400, then authentication and the rest.',
        'An unknown path answers `404 not_found`; a known path with another method `405 method_not_allowed` with `Allow`.',
        'Every `/auth/*` response carries `Cache-Control: no-store`.',
      ].join('\n\n'),
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    tags: [...new Set(operations.map((op) => op.tag)), 'Operations', 'Demo']
      .filter((tag, i, all) => all.indexOf(tag) === i)
      .map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: cookieName,
          description: 'The opaque session token, set by sign-up, sign-in and recovery (HttpOnly).',
        },
        accessToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from `POST /auth/token`, for your own APIs (verify it with the JWKS).',
        },
        introspectionSecret: {
          type: 'http',
          scheme: 'bearer',
          description: 'The introspection secret (`INTROSPECTION_SECRET`) of a resource service.',
        },
        introspectionBasic: {
          type: 'http',
          scheme: 'basic',
          description: 'The introspection secret as the password (any client id).',
        },
        ...(metrics
          ? {
              metricsToken: {
                type: 'http',
                scheme: 'bearer',
                description: 'The metrics token (`METRICS_TOKEN`) of a Prometheus scraper.',
              },
            }
          : {}),
      },
    },
  };
}
