import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Hono } from 'hono';
import { buildOpenApiDocument, type OpenApiOptions } from '../../server/contract/openapi.js';

/*
 * The conformance hook: every response a test receives from the app is checked against the
 * OpenAPI document the app serves (server/contract/openapi.ts). The status must be documented for
 * the path and method, a JSON body must validate against that response's schema (response schemas
 * forbid undocumented fields), and error codes must be the ones documented for the status. A path
 * the document does not know must answer `404 not_found`, a method it does not list for a known
 * path `405 method_not_allowed`, as the contract states. A violation rejects the request, so the
 * test that made it fails.
 */

interface MediaType {
  schema?: unknown;
}
interface ResponseObject {
  content?: Record<string, MediaType>;
}
type PathItem = Record<string, { responses: Record<string, ResponseObject> }>;

// Formats (date-time) are left to the schemas' own checks on the server; here the shape is what matters.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

/** A document's paths, their matchers and compiled schemas (cached by the document's text). */
interface Checker {
  paths: Record<string, PathItem>;
  templates: Array<{ template: string; pattern: RegExp }>;
  compiled: Map<string, ValidateFunction>;
}

const checkers = new Map<string, Checker>();

function checkerOf(document: { paths: unknown }): Checker {
  const key = JSON.stringify(document);
  let checker = checkers.get(key);
  if (!checker) {
    const paths = document.paths as Record<string, PathItem>;
    const templates = Object.keys(paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
    checker = { paths, templates, compiled: new Map() };
    checkers.set(key, checker);
  }
  return checker;
}

/** The template a path matches, literal segments first (`/auth/sessions/revoke-others` before `/auth/sessions/{id}`). */
function findTemplate(checker: Checker, path: string): string | null {
  const matches = checker.templates.filter(({ pattern }) => pattern.test(path)).map(({ template }) => template);
  return matches.sort((a, b) => a.split('{').length - b.split('{').length)[0] ?? null;
}

function validator(checker: Checker, key: string, schema: unknown): ValidateFunction {
  let validate = checker.compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema as object);
    checker.compiled.set(key, validate);
  }
  return validate;
}

/**
 * Why a response does not conform to the document (by default the one a server with the default
 * configuration serves), or `null` when it does.
 */
export async function nonConformance(
  method: string,
  url: string,
  response: Response,
  document: { paths: unknown } = buildOpenApiDocument(),
): Promise<string | null> {
  const checker = checkerOf(document);
  const { paths } = checker;
  const path = new URL(url, 'http://localhost').pathname;
  const where = `${method} ${path} → ${response.status}`;
  const text = method === 'HEAD' ? '' : await response.clone().text();
  const template = findTemplate(checker, path);
  const expectError = async (status: number, code: string): Promise<string | null> => {
    if (response.status !== status) return `${where}: undocumented (expected ${status} ${code})`;
    if (method === 'HEAD') return null;
    const body = parseJson(text);
    return body?.error?.code === code ? null : `${where}: expected the error ${code}, got ${text.slice(0, 200)}`;
  };
  if (template === null) return expectError(404, 'not_found');
  const operation = paths[template]?.[(method === 'HEAD' ? 'get' : method).toLowerCase()];
  if (!operation) return expectError(405, 'method_not_allowed');
  const documented = operation.responses[String(response.status)];
  if (!documented)
    return `${where}: status not documented for ${method} ${template} (documented: ${Object.keys(operation.responses).join(', ')})`;
  if (method === 'HEAD') return null;
  const content = documented.content;
  if (!content) return text === '' ? null : `${where}: documented without a body, got ${text.slice(0, 200)}`;
  const type = response.headers.get('content-type') ?? '';
  const [mediaType, media] = Object.entries(content).find(([name]) => type.startsWith(name)) ?? [];
  if (!mediaType || !media)
    return `${where}: content type ${type || '(none)'} not documented (${Object.keys(content).join(', ')})`;
  if (mediaType !== 'application/json') return null;
  const body = parseJson(text);
  if (body === undefined) return `${where}: not JSON: ${text.slice(0, 200)}`;
  const validate = validator(checker, `${method} ${template} ${response.status}`, media.schema);
  if (validate(body)) return null;
  const errors = (validate.errors ?? []).map(
    (e) =>
      `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}${e.params && 'allowedValues' in e.params ? ` (${JSON.stringify(e.params.allowedValues)})` : ''}`,
  );
  return `${where}: body does not match the document: ${errors.slice(0, 5).join('; ')}; body ${text.slice(0, 300)}`;
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Wraps an app's `fetch` (which `app.request()` calls too) so that every response is checked
 * against the OpenAPI document of that app's configuration (`/metrics` with `METRICS_TOKEN`, the
 * DBSC endpoints with `DBSC=on`: pass the same options the app builds its document with); a
 * non-conforming response rejects with the reason.
 */
export function checkedApp<T extends Hono<any, any, any>>(app: T, options: OpenApiOptions = {}): T {
  const fetch = app.fetch as (request: Request, ...rest: unknown[]) => Response | Promise<Response>;
  const document = buildOpenApiDocument(options);
  app.fetch = (async (request: Request, ...rest: unknown[]) => {
    const response = await fetch(request, ...rest);
    const problem = await nonConformance(request.method, request.url, response, document);
    if (problem !== null) throw new Error(`Response does not conform to openapi.json: ${problem}`);
    return response;
  }) as T['fetch'];
  return app;
}
