import { describe, expect, it } from 'vitest';
import { AuthClientError, describeError } from '../../client/src/errors.js';
import { createRequester } from '../../client/src/http.js';

const error = (code: ConstructorParameters<typeof AuthClientError>[0], options: { retryAfter?: number } = {}) =>
  new AuthClientError(code, 'server text that users never see', options);

describe('describeError', () => {
  it('tells a user who cancelled, or has no passkey on this device, how to go on', () => {
    const message = describeError(error('cancelled'), { action: 'sign-in' });
    expect(message).toMatch(/prompt was closed/);
    expect(message).toMatch(/no passkey for this site/);
    expect(message).toMatch(/create an account/);
    expect(describeError(error('cancelled'), { action: 'sign-up' })).toMatch(/no account was created/);
    expect(describeError(error('cancelled'), { action: 'step-up' })).toBe(
      'The confirmation was cancelled, so nothing was changed.',
    );
  });

  it('names an unknown passkey, a disabled account and a rate limit with the wait', () => {
    expect(describeError(error('unknown_credential'), { action: 'sign-in' })).toMatch(/not registered here any more/);
    expect(describeError(error('account_disabled'), { action: 'sign-in' })).toMatch(/disabled\. Contact support/);
    expect(describeError(error('rate_limited', { retryAfter: 30 }))).toBe(
      'Too many attempts. Wait 30 seconds and try again.',
    );
    expect(describeError(error('rate_limited', { retryAfter: 600 }))).toBe(
      'Too many attempts. Wait 10 minutes and try again.',
    );
    expect(describeError(error('rate_limited'))).toBe('Too many attempts. Please wait a minute and try again.');
  });

  it('says the network is down when a request cannot reach the server', async () => {
    const request = createRequester('', async () => {
      throw new TypeError('Failed to fetch');
    });
    const failure = await request('POST', '/auth/login/options', {}).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AuthClientError);
    expect(describeError(failure)).toBe('Cannot reach the server. Check your connection and try again in a moment.');
  });

  it('never shows the server text or a library error message', () => {
    for (const code of ['internal', 'verification_failed', 'invalid_request', 'csrf', 'unavailable'] as const) {
      expect(describeError(error(code))).not.toContain('server text');
    }
    expect(describeError(new Error('TypeError: x is undefined'))).toBe('Something went wrong. Please try again.');
  });
});
