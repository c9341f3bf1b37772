import { AuthError } from '../errors.js';

/**
 * Refuses cross-site state changes (403 `csrf`). Hono's own `csrf()` only looks at form content
 * types; a JSON API needs this rule: the `Origin` must be one of ours; without `Origin`,
 * `Sec-Fetch-Site` must be `same-origin`; `Sec-Fetch-Site: cross-site` or `same-site` is refused even
 * with an allowed Origin (a sibling subdomain is not trusted); a request with neither header is
 * refused. Safe methods pass.
 */
export function checkCsrf(headers: { origin?: string | undefined; secFetchSite?: string | undefined }, allowed: ReadonlySet<string>): void {
  const { origin, secFetchSite: site } = headers;
  if (site === 'cross-site' || site === 'same-site') throw new AuthError('csrf');
  if (origin !== undefined) {
    if (!allowed.has(origin)) throw new AuthError('csrf');
  } else if (site !== 'same-origin') {
    throw new AuthError('csrf');
  }
}
