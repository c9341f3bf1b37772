import type { Config } from '../config.js';
import { AuthError } from '../errors.js';
import type { Session } from './service.js';

/**
 * The step-up rule: the action needs a user-verified assertion on this session younger than
 * `config.reauthWindow` seconds (login and registration count, as they verify the user too);
 * otherwise 403 `reauthentication_required`. A restricted recovery session never qualifies.
 */
export function requireRecentVerification(session: Session, config: Pick<Config, 'reauthWindow'>, now: Date): void {
  if (session.kind !== 'full')
    throw new AuthError('reauthentication_required', 'This recovery session can only add a passkey or sign out.');
  if (now.getTime() - session.verifiedAt.getTime() >= config.reauthWindow * 1000)
    throw new AuthError('reauthentication_required');
}
