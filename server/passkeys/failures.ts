import type { AuditEventType, RequestContext } from '../audit/events.js';
import { recordAuditEvent } from '../audit/repository.js';
import { fromBase64url } from '../crypto.js';
import type { Deps } from '../deps.js';
import { AuthError, type AuthErrorCode } from '../errors.js';
import { findPasskeyOwnerId } from './repository.js';
import { maxCredentialIdBytes } from './validation.js';

// Malformed requests and refused-by-limit requests are not attempts on an account; recording them
// would only let anyone grow the table.
const recordedCodes = new Set<AuthErrorCode>([
  'verification_failed',
  'unknown_credential',
  'invalid_challenge',
  'account_disabled',
]);

/**
 * Records a failed passkey ceremony (login or step-up) on its own, since the failed attempt's
 * transaction, if any, was rolled back: `error` is what the ceremony threw, `body` the response it
 * was given. The user is `userId` or else the owner of the credential the response names, when this
 * server knows it. Never throws: a failure to record is logged and the original error stays the answer.
 */
export async function recordAssertionFailure(
  deps: Pick<Deps, 'db' | 'clock' | 'logger'>,
  input: {
    type: Extract<AuditEventType, 'login_failed' | 'reauthentication_failed'>;
    body: unknown;
    error: unknown;
    userId?: string | null;
    sessionId?: string | null;
    context?: RequestContext;
  },
): Promise<void> {
  const { type, body, error } = input;
  if (!(error instanceof AuthError) || !recordedCodes.has(error.code)) return;
  try {
    const credentialId = credentialIdOf(body);
    const owner =
      credentialId === null ? null : await findPasskeyOwnerId(deps.db, fromBase64url(credentialId) as Buffer);
    const userId = input.userId ?? owner;
    await recordAuditEvent(
      deps.db,
      {
        type,
        userId,
        reason: error.code,
        sessionId: input.sessionId ?? null,
        // Only a credential of this user: an unknown one is attacker-chosen text, another's is theirs.
        passkeyId: owner !== null && owner === userId ? credentialId : null,
        ipAddress: input.context?.ipAddress ?? null,
        userAgent: input.context?.userAgent ?? null,
      },
      deps.clock.now(),
    );
  } catch (recordError) {
    deps.logger.error({ err: recordError }, 'could not record a failed ceremony in the audit trail');
  }
}

function credentialIdOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const id = (body as { id?: unknown }).id;
  if (typeof id !== 'string' || id.length === 0 || id.length > 1400) return null;
  const bytes = fromBase64url(id);
  return bytes !== null && bytes.byteLength <= maxCredentialIdBytes ? id : null;
}
