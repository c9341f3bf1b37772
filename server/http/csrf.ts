import { AuthError } from '../errors.js';

/**
 * Refuses cross-site state changes (403 `csrf`). Hono's own `csrf()` only looks at form content
 * types; a JSON API needs this rule: the `Origin` must be one of ours; without `Origin`,
 * `Sec-Fetch-Site` must be `same-origin`; `Sec-Fetch-Site: cross-site` or `same-site` is refused even
 * with an allowed Origin (a sibling subdomain is not trusted); a request with neither header is
 * refused. Safe methods pass.
 *
 * A related origin (`RELATED_ORIGINS`) passes only with `Sec-Fetch-Site: same-origin`, that is when
 * this server is itself served on that origin: a page of a related site posting across sites to this
 * server's own origins is refused, so a weakness on one of the product's other domains does not become
 * a CSRF on this one. A related site with its own server never needs to post here.
 */
export function checkCsrf(
  headers: { origin?: string | undefined; secFetchSite?: string | undefined },
  allowed: ReadonlySet<string>,
  related: ReadonlySet<string> = new Set(),
): void {
  const { origin, secFetchSite: site } = headers;
  if (site === 'cross-site' || site === 'same-site') throw new AuthError('csrf');
  if (origin !== undefined) {
    if (!allowed.has(origin) && !(related.has(origin) && site === 'same-origin')) throw new AuthError('csrf');
  } else if (site !== 'same-origin') {
    throw new AuthError('csrf');
  }
}
