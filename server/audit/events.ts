/**
 * The audit trail's event types. Each is written in the transaction of the change it records
 * (failures, which change nothing, on their own). None carries a secret, token or challenge.
 */
export const auditEventTypes = [
  'user_registered',
  'login_succeeded',
  'login_failed',
  'logout',
  'session_revoked',
  'passkey_added',
  'passkey_renamed',
  'passkey_deleted',
  'reauthenticated',
  'reauthentication_failed',
  'recovery_codes_created',
  'recovery_code_used',
  'recovery_failed',
  'recovery_completed',
  'counter_regression',
  'display_name_changed',
  'user_disabled',
  'user_enabled',
  'user_deleted',
  // README "Access tokens": a retired session secret replayed after its grace (the session is revoked), and a signing key rotation.
  'token_reuse_detected',
  'signing_key_rotated',
  // README "Risk signals": a session whose browser (or browser and network) changed, one used from a
  // new network (with `details.action`), and a sign-in refused by a risk policy.
  'session_suspect',
  'session_network_changed',
  'login_refused',
] as const;

export type AuditEventType = (typeof auditEventTypes)[number];

/** Who made a change, as the audit trail records it. */
export type Actor = 'user' | 'admin' | 'system';

/** How risky an event looks (risk signals, counter regressions, token reuse). */
export type RiskLevel = 'low' | 'medium' | 'high';

export type { RequestContext } from '../request-context.js';
