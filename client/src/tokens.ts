import { AuthClientError, errorFromResponse } from './errors.js';
import type { FetchLike } from './http.js';

/** Options for {@link createTokenClient}. */
export interface TokenClientOptions {
  /** Origin (and optional path prefix) of the auth server; `''` (the default) means this page's origin. */
  baseUrl?: string;
  /** A `fetch` to use instead of the global one, for `/auth/token` and for `authFetch`. */
  fetch?: FetchLike;
  /** Refresh a token when fewer than this many seconds remain (default 30, at most half its lifetime). */
  refreshMargin?: number;
  /** Name of the Web Lock and the BroadcastChannel this origin's tabs share (default `passkey-auth-token`). */
  channelName?: string;
}

/** Options for `getAccessToken()`. */
export interface GetAccessTokenOptions {
  /**
   * Get a new token even if the one in memory looks fresh (after an API answered 401 to it). A token
   * another tab or call obtained meanwhile is taken instead of asking the server again.
   */
  forceRefresh?: boolean;
}

/** Access tokens for calling APIs, minted from the session cookie and kept in memory only. */
export interface TokenClient {
  /**
   * A short-lived access token (a JWT) for calling APIs. Kept in this page's memory only (never in
   * `localStorage`, `sessionStorage` or a cookie script can read), refreshed ahead of its expiry,
   * one request for any number of concurrent calls, and one refresh at a time across this origin's
   * tabs (Web Locks), which share the token they get (BroadcastChannel). Rejects with an
   * `AuthClientError`: `unauthenticated` when signed out.
   *
   * @example
   * const token = await tokens.getAccessToken();
   * await fetch('/api/orders', { headers: { Authorization: `Bearer ${token}` } });
   */
  getAccessToken(options?: GetAccessTokenOptions): Promise<string>;
  /**
   * `fetch` with `Authorization: Bearer <access token>`; after a 401 it gets a new token and retries
   * once (the body is buffered so it can be sent twice). Resolves with the API's response, whatever
   * its status; rejects like `getAccessToken()` when no token can be had.
   *
   * @example
   * const response = await tokens.authFetch('https://api.example.com/orders', { method: 'POST', body: JSON.stringify(order) });
   */
  authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /**
   * Forget the token in memory (in every tab of this origin), e.g. after signing out.
   *
   * @example
   * await signOut();
   * tokens.clearAccessToken();
   */
  clearAccessToken(): void;
}

interface HeldToken {
  token: string;
  /** Milliseconds since the epoch, on this browser's clock (the same in every tab). */
  expiresAt: number;
  lifetimeMs: number;
}

type ChannelMessage =
  | { type: 'token'; token: string; expiresAt: number; lifetimeMs: number }
  | { type: 'cleared' }
  // Sent by the tab holding the refresh lock when it starts asking the server, and when it gave up.
  | { type: 'refreshing' }
  | { type: 'refresh-failed' };

/** How long a tab that got the lock waits for the token of another tab's announced refresh. */
const sharedTokenWaitMs = 2000;

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/**
 * A token client bound to one auth server. The functions `getAccessToken`, `authFetch` and
 * `clearAccessToken` exported by this package use one for this page's origin.
 *
 * @example
 * const tokens = createTokenClient({ baseUrl: 'https://auth.example.com' });
 * const response = await tokens.authFetch('https://api.example.com/me');
 */
export function createTokenClient({
  baseUrl = '',
  fetch,
  refreshMargin = 30,
  channelName = 'passkey-auth-token',
}: TokenClientOptions = {}): TokenClient {
  const base = baseUrl.replace(/\/+$/, '');
  // Look the global up per call, so a fetch patched after import is used and `this` stays `window`.
  const fetchImpl: FetchLike = fetch ?? ((input, init) => globalThis.fetch(input, init));
  let held: HeldToken | null = null;
  let inflight: Promise<string> | null = null;
  // Bumped by clearAccessToken(), so a refresh that was already running cannot bring a token back.
  let generation = 0;
  let channel: BroadcastChannel | null | undefined;
  // Another tab announced a refresh whose outcome this tab has not heard yet; its listeners wait here.
  let othersRefreshing = false;
  let onOutcome: Array<() => void> = [];
  const settleOthers = () => {
    othersRefreshing = false;
    const waiting = onOutcome;
    onOutcome = [];
    for (const resolve of waiting) resolve();
  };

  const locks = (): LockManagerLike | null => {
    const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
    return nav?.locks && typeof nav.locks.request === 'function' ? nav.locks : null;
  };

  // Created on first use, so importing the library has no side effects.
  const getChannel = (): BroadcastChannel | null => {
    if (channel !== undefined) return channel;
    channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(channelName) : null;
    // Outside browsers (Node), the channel must not keep the process alive.
    (channel as { unref?: () => void } | null)?.unref?.();
    channel?.addEventListener('message', (event: MessageEvent) => {
      const message = event.data as ChannelMessage | null;
      if (message?.type === 'refreshing') {
        othersRefreshing = true;
      } else if (message?.type === 'refresh-failed') {
        settleOthers();
      } else if (message?.type === 'cleared') {
        held = null;
        generation++;
        settleOthers();
      } else if (
        message?.type === 'token' &&
        typeof message.token === 'string' &&
        typeof message.expiresAt === 'number'
      ) {
        if (held === null || message.expiresAt > held.expiresAt) {
          held = { token: message.token, expiresAt: message.expiresAt, lifetimeMs: message.lifetimeMs };
        }
        settleOthers();
      }
    });
    return channel;
  };

  const isFresh = (token: HeldToken | null, rejected?: string): token is HeldToken => {
    if (token === null || token.token === rejected) return false;
    const margin = Math.min(refreshMargin * 1000, token.lifetimeMs / 2);
    return token.expiresAt - Date.now() > margin;
  };

  const requestToken = async (): Promise<HeldToken> => {
    let response: Response;
    try {
      response = await fetchImpl(`${base}/auth/token`, {
        method: 'POST',
        // The session cookie is HttpOnly; the browser sends it (and takes a rotated one) only with credentials.
        credentials: 'include',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
    } catch (err) {
      throw new AuthClientError('network_error', 'Could not reach the server', { cause: err });
    }
    if (!response.ok) throw await errorFromResponse(response);
    let body: unknown;
    try {
      body = await response.json();
    } catch (err) {
      throw new AuthClientError('internal', 'The server sent an unreadable answer', {
        status: response.status,
        cause: err,
      });
    }
    const { access_token: token, expires_in: expiresIn } = (body ?? {}) as {
      access_token?: unknown;
      expires_in?: unknown;
    };
    if (typeof token !== 'string' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw new AuthClientError('internal', 'The server sent an unexpected token answer', { status: response.status });
    }
    return { token, expiresAt: Date.now() + expiresIn * 1000, lifetimeMs: expiresIn * 1000 };
  };

  const refresh = async (rejected: string | undefined): Promise<string> => {
    const started = generation;
    const run = async (): Promise<string> => {
      // While this tab waited for the lock, another tab may have shared a token: take it. The lock
      // can be granted here before that tab's token message is delivered (two independent event
      // sources), so a refresh another tab announced is waited for, briefly, before asking again.
      if (othersRefreshing && !isFresh(held, rejected)) {
        await new Promise<void>((resolve) => {
          // The announcing tab may have closed mid-refresh: stop waiting for it, once.
          const timer = setTimeout(settleOthers, sharedTokenWaitMs);
          onOutcome.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (generation === started && isFresh(held, rejected)) return held.token;
      getChannel()?.postMessage({ type: 'refreshing' } satisfies ChannelMessage);
      try {
        const token = await requestToken();
        if (generation === started) {
          held = token;
          getChannel()?.postMessage({ type: 'token', ...token } satisfies ChannelMessage);
        } else {
          getChannel()?.postMessage({ type: 'refresh-failed' } satisfies ChannelMessage);
        }
        return token.token;
      } catch (err) {
        if (err instanceof AuthClientError && err.code === 'unauthenticated') clear();
        else getChannel()?.postMessage({ type: 'refresh-failed' } satisfies ChannelMessage);
        throw err;
      }
    };
    getChannel();
    const lockManager = locks();
    // One refresh at a time across this origin's tabs, so their refreshes (which may rotate the
    // session cookie) never race each other.
    return lockManager ? lockManager.request(`${channelName}:refresh`, run) : run();
  };

  const clear = (): void => {
    held = null;
    generation++;
    getChannel()?.postMessage({ type: 'cleared' } satisfies ChannelMessage);
  };

  const getAccessToken = async ({ forceRefresh = false }: GetAccessTokenOptions = {}): Promise<string> => {
    getChannel();
    const rejected = forceRefresh ? held?.token : undefined;
    if (isFresh(held, rejected)) return held.token;
    if (inflight) {
      const token = await inflight;
      if (token !== rejected) return token;
    }
    inflight ??= refresh(rejected).finally(() => {
      inflight = null;
    });
    return inflight;
  };

  const send = (request: Request, body: ArrayBuffer | null, token: string): Promise<Response> => {
    const headers = new Headers(request.headers);
    headers.set('Authorization', `Bearer ${token}`);
    return fetchImpl(request.url, {
      method: request.method,
      headers,
      ...(body === null ? {} : { body }),
      credentials: request.credentials,
      cache: request.cache,
      redirect: request.redirect,
      referrerPolicy: request.referrerPolicy,
      integrity: request.integrity,
      keepalive: request.keepalive,
      signal: request.signal,
      ...(request.mode === 'navigate' ? {} : { mode: request.mode }),
    });
  };

  const authFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
    const token = await getAccessToken();
    const response = await send(request, body, token);
    if (response.status !== 401) return response;
    const next = await getAccessToken({ forceRefresh: true });
    return send(request, body, next);
  };

  return { getAccessToken, authFetch, clearAccessToken: clear };
}

let defaultTokenClient: TokenClient | undefined;
const tokensHere = (): TokenClient => (defaultTokenClient ??= createTokenClient());

/**
 * A short-lived access token for calling APIs, from the session on this page's origin: in memory
 * only, refreshed ahead of expiry, one request for concurrent calls, one refresh at a time across
 * tabs. Rejects with an `AuthClientError` (`unauthenticated` when signed out).
 *
 * @example
 * import { getAccessToken } from '/auth-client.js';
 * const token = await getAccessToken();
 * const response = await fetch('/api/orders', { headers: { Authorization: `Bearer ${token}` } });
 */
export function getAccessToken(options?: GetAccessTokenOptions): Promise<string> {
  return tokensHere().getAccessToken(options);
}

/**
 * `fetch` with the access token as `Authorization: Bearer …`, retried once with a new token after a
 * 401.
 *
 * @example
 * import { authFetch } from '/auth-client.js';
 * const response = await authFetch('/api/orders', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(order) });
 * if (response.ok) console.log(await response.json());
 */
export function authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  return tokensHere().authFetch(input, init);
}

/**
 * Forget the access token of this page's origin in every tab (`signOut()` does this for you).
 *
 * @example
 * import { clearAccessToken } from '/auth-client.js';
 * clearAccessToken();
 */
export function clearAccessToken(): void {
  tokensHere().clearAccessToken();
}
