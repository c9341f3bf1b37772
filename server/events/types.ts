import type { AuditEventType } from '../audit/events.js';
import type { AuditEventRow } from '../db/schema.js';

/** The `type` of a security event as the webhook receiver sees it (README "Security events"). */
export type SecurityEventType =
  | 'account.created'
  | 'session.created'
  | 'session.revoked'
  | 'session.suspect'
  | 'session.token_reused'
  | 'passkey.added'
  | 'passkey.removed'
  | 'passkey.counter_regressed'
  | 'recovery_code.used'
  | 'account.disabled'
  | 'account.enabled'
  | 'account.deleted';

interface Mapping {
  type: SecurityEventType;
  /** Narrows which audit events of this type are reported; all of them when absent. */
  when?: (event: AuditEventRow) => boolean;
}

/**
 * THE table of which audit events leave the server, keyed by the audit `type` that
 * `recordAuditEvent` is called with. Everything else (renames, step-ups, failures, logouts…) stays
 * in the audit trail only ({@link auditOnlyTypes}); the compiler checks that every audit type is in
 * exactly one of the two (see the end of this file).
 */
export const securityEvents = {
  user_registered: { type: 'account.created' },
  login_succeeded: { type: 'session.created' },
  // A session ended from somewhere else: another session, an admin, a passkey removal, a disabled
  // account. Closing the very session making the request is a logout and is not reported.
  session_revoked: { type: 'session.revoked', when: (event) => event.details.fromSession !== event.session_id },
  // SESSION_LIMIT: a sign-in beyond the limit revoked this least recently used session (`reason: "session_limit"`).
  session_evicted: { type: 'session.revoked' },
  // Written by the session-context work (issue 8, risk signals) when a session looks stolen.
  session_suspect: { type: 'session.suspect' },
  token_reuse_detected: { type: 'session.token_reused' },
  passkey_added: { type: 'passkey.added' },
  passkey_deleted: { type: 'passkey.removed' },
  counter_regression: { type: 'passkey.counter_regressed' },
  recovery_code_used: { type: 'recovery_code.used' },
  user_disabled: { type: 'account.disabled' },
  user_enabled: { type: 'account.enabled' },
  user_deleted: { type: 'account.deleted' },
} as const satisfies Partial<Record<AuditEventType, Mapping>>;

/** The JSON body of one webhook delivery. */
export interface SecurityEvent {
  /** Stable across retries (also sent as `Webhook-Id`): receivers deduplicate on it. */
  id: string;
  type: SecurityEventType;
  /** ISO 8601, when the change committed its audit event. */
  occurredAt: string;
  userId: string | null;
  data: {
    actor: string;
    sessionId: string | null;
    passkeyId: string | null;
    ipAddress: string | null;
    userAgent: string | null;
    risk: string | null;
    reason: string | null;
    /** The audit event's details (never a secret, token or challenge). */
    details: Record<string, unknown>;
  };
}

/** The security event an audit event is reported as, or null when it is not reported. */
export function toSecurityEvent(event: AuditEventRow): SecurityEvent | null {
  const mapping: Mapping | undefined = Object.hasOwn(securityEvents, event.type)
    ? securityEvents[event.type as ReportedType]
    : undefined;
  if (!mapping || (mapping.when && !mapping.when(event))) return null;
  return {
    id: event.id,
    type: mapping.type,
    occurredAt: event.created_at.toISOString(),
    userId: event.user_id,
    data: {
      actor: event.actor,
      sessionId: event.session_id,
      passkeyId: event.passkey_id,
      ipAddress: event.ip_address,
      userAgent: event.user_agent,
      risk: event.risk,
      reason: event.reason,
      details: event.details,
    },
  };
}

/**
 * Audit types that deliberately stay in the audit trail only: routine actions of the signed-in
 * user, failures (which change nothing), and server housekeeping. Every audit type is either here
 * or in {@link securityEvents}, checked by the compiler below.
 */
export const auditOnlyTypes = [
  'login_failed',
  'logout',
  'passkey_renamed',
  'reauthenticated',
  'reauthentication_failed',
  'recovery_codes_created',
  'recovery_failed',
  'recovery_completed',
  'display_name_changed',
  'signing_key_rotated',
  // README "Risk signals": a session used from a new network (with `details.action`), and a sign-in refused by a risk policy.
  'session_network_changed',
  'login_refused',
  // DBSC (server/dbsc/): a session bound to a device key.
  'session_device_bound',
] as const satisfies readonly AuditEventType[];

type ReportedType = keyof typeof securityEvents;

// The exhaustiveness check: a new audit type fails to compile until it is either reported or
// declared audit-only, and no type is both. (`true` only type-checks when both sets are empty.)
type Unclassified = Exclude<AuditEventType, ReportedType | (typeof auditOnlyTypes)[number]>;
type DoublyClassified = Extract<ReportedType, (typeof auditOnlyTypes)[number]>;
const everyAuditTypeClassifiedOnce: [Unclassified, DoublyClassified] extends [never, never]
  ? true
  : { unclassified: Unclassified; both: DoublyClassified } = true;
void everyAuditTypeClassifiedOnce;
