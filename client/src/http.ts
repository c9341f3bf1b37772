import { AuthClientError, errorFromResponse } from './errors.js';

/** The subset of `fetch` the client needs; pass your own to `createAuthClient` (tests, SSR). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * One JSON call to the auth server, with the error handling every call shares. Resolves the parsed
 * JSON body (or `undefined` for 204); rejects with an {@link AuthClientError}.
 */
export type Requester = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  signal?: AbortSignal,
) => Promise<unknown>;

export function createRequester(baseUrl: string, fetchImpl: FetchLike): Requester {
  const base = baseUrl.replace(/\/+$/, '');
  return async (method, path, body, signal) => {
    const init: RequestInit = {
      method,
      // The session cookie is HttpOnly; the browser only sends and stores it with credentials.
      credentials: 'include',
      headers: method !== 'GET' ? { 'Content-Type': 'application/json' } : {},
      ...(method !== 'GET' ? { body: JSON.stringify(body ?? {}) } : {}),
      ...(signal ? { signal } : {}),
    };
    let response: Response;
    try {
      response = await fetchImpl(`${base}${path}`, init);
    } catch (err) {
      // An abort is the caller's decision, not a network failure: let it through as is.
      if (signal?.aborted) throw err;
      throw new AuthClientError('network_error', 'Could not reach the server', { cause: err });
    }
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return undefined;
    try {
      return await response.json();
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new AuthClientError('internal', 'The server sent an unreadable answer', {
        status: response.status,
        cause: err,
      });
    }
  };
}
