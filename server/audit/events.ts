/**
 * The audit trail's event types. Each is written in the transaction of the change it records
 * (failures, which change nothing, on their own). None carries a secret, token or challenge.
 */
export type AuditEventType =
  | 'user_registered'
  | 'login_succeeded'
  | 'login_failed'
  | 'logout'
  | 'session_revoked'
  | 'passkey_added'
  | 'passkey_renamed'
  | 'passkey_deleted'
  | 'reauthenticated'
  | 'reauthentication_failed'
  | 'recovery_codes_created'
  | 'recovery_code_used'
  | 'recovery_failed'
  | 'recovery_completed'
  | 'counter_regression'
  | 'display_name_changed'
  | 'user_disabled'
  | 'user_enabled'
  | 'user_deleted'
  // README "Access tokens": a retired session secret replayed after its grace (the session is revoked), and a signing key rotation.
  | 'token_reuse_detected'
  | 'signing_key_rotated'
  // SESSION_LIMIT: a session revoked because a new sign-in went beyond the user's limit.
  | 'session_evicted'
  // DBSC: a session bound to a device key at its registration.
  | 'session_device_bound';

/** What an event records about the request behind it. */
export interface RequestContext {
  userAgent: string | null;
  ipAddress: string | null;
}

/** The request fields of an audit event, from a {@link RequestContext}. */
export function fromRequest(context: RequestContext | undefined): { ipAddress: string | null; userAgent: string | null } {
  return { ipAddress: context?.ipAddress ?? null, userAgent: context?.userAgent ?? null };
}
