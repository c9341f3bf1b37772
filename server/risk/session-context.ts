import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/events.js';
import { recordAuditEvent } from '../audit/repository.js';
import type { Config, SessionRiskAction } from '../config.js';
import type { Database } from '../db/schema.js';
import { revokeSessionById } from '../sessions/repository.js';
import { networkOf } from './network.js';
import { addSessionNetwork, markSessionSuspect, requireSessionStepUp, trustSessionContext } from './repository.js';
import { parseUserAgent, type DeviceContext } from './user-agent.js';
import { inTransaction } from '../db/transaction.js';

/** The context a session trusts and its risk state, as the session hot path reads them. */
export interface StoredSessionContext {
  /** The trusted `User-Agent` header, `''` when none was sent. */
  userAgent: string;
  /** Its parsed family and OS; `null` for sessions from before the risk signals (parsed on demand). */
  browser: string | null;
  os: string | null;
  /** Networks the session has been used from; empty when none was known. */
  networks: string[];
  suspectAt: Date | null;
  stepUpRequiredAt: Date | null;
}

export type SessionSignal = 'ua_change' | 'network_change' | 'ua_and_network_change';
export type RiskLevel = 'low' | 'medium' | 'high';

/** A difference between the request and the session's trusted context that needs handling. */
export interface SessionContextChange {
  /** `null` when there is nothing to report, only a first known network to adopt. */
  signal: SessionSignal | null;
  /** The request's network, `null` when unknown. */
  network: string | null;
  /** Whether the network is new to a session that knew networks before. */
  networkChanged: boolean;
  /** Whether the browser family or OS differs. */
  deviceChanged: boolean;
  previous: DeviceContext | { browser: string; os: string };
  current: DeviceContext | null;
}

const riskOf: Record<SessionSignal, RiskLevel> = { network_change: 'low', ua_change: 'medium', ua_and_network_change: 'high' };

/**
 * Compares a request with the context its session trusts. Cheap by design, as it runs on every
 * authenticated request: when the raw `User-Agent` equals the trusted one and the network is known
 * (or unknown), it returns `null` after two string comparisons, without parsing anything. Only a
 * different header is parsed, and a different version of the same browser on the same OS is no change.
 */
export function assessSessionContext(stored: StoredSessionContext, current: RequestContext): SessionContextChange | null {
  const userAgent = current.userAgent ?? '';
  const network = networkOf(current.ipAddress);
  const sameUserAgent = userAgent === stored.userAgent;
  const knownNetwork = network === null || stored.networks.includes(network);
  if (sameUserAgent && knownNetwork) return null;

  const previous = stored.browser !== null && stored.os !== null ? { browser: stored.browser, os: stored.os } : parseUserAgent(stored.userAgent);
  let current_: DeviceContext | null = null;
  let deviceChanged = false;
  if (!sameUserAgent) {
    current_ = parseUserAgent(userAgent);
    deviceChanged = current_.browser !== previous.browser || current_.os !== previous.os;
  }
  const networkChanged = !knownNetwork && stored.networks.length > 0;
  const firstNetwork = !knownNetwork && stored.networks.length === 0;
  const signal: SessionSignal | null = deviceChanged ? (networkChanged ? 'ua_and_network_change' : 'ua_change') : networkChanged ? 'network_change' : null;
  if (signal === null && !firstNetwork) return null;
  return { signal, network, networkChanged, deviceChanged, previous, current: current_ };
}

/** What {@link enforceSessionContext} decided for the request. */
export type SessionContextOutcome = 'ok' | 'step-up' | 'revoked';

/**
 * Applies the configured policy to a request's session context: nothing when it matches (no query),
 * otherwise at most one conditional update and its audit event in one transaction. A session that
 * must pass a step-up answers `step-up` without any query until it does. Writes are guarded in SQL,
 * so concurrent requests record one change once, and each distinct new network once per session.
 */
export async function enforceSessionContext(
  deps: { db: Kysely<Database>; config: Pick<Config, 'risk'> },
  session: { id: string; userId: string },
  stored: StoredSessionContext,
  current: RequestContext,
  now: Date,
): Promise<SessionContextOutcome> {
  if (stored.stepUpRequiredAt !== null) return 'step-up';
  const change = assessSessionContext(stored, current);
  if (change === null) return 'ok';
  const { db, config } = deps;
  const { network } = change;

  if (change.signal === null) {
    // The session knew no network (created without a client address): adopt the first one quietly.
    if (network !== null) await addSessionNetwork(db, session.id, network);
    return 'ok';
  }

  const event = (signal: SessionSignal, action: SessionRiskAction) => ({
    userId: session.userId,
    sessionId: session.id,
    actor: 'system' as const,
    ipAddress: current.ipAddress,
    userAgent: current.userAgent,
    risk: riskOf[signal],
    details: {
      signal,
      action,
      previous: { browser: change.previous.browser, os: change.previous.os, networks: stored.networks },
      current: { browser: change.current?.browser ?? change.previous.browser, os: change.current?.os ?? change.previous.os, network },
    },
  });

  let signal: SessionSignal = change.signal;
  if (signal !== 'network_change') {
    const action = signal === 'ua_change' ? config.risk.uaChange : config.risk.uaAndNetworkChange;
    if (action !== 'record' || stored.suspectAt === null) {
      return inTransaction(db, async (trx) => {
        const outcome = await applyAction(trx, session.id, action, action === 'record' ? () => markSessionSuspect(trx, session.id, network, now) : null, now);
        if (outcome.changed) await recordAuditEvent(trx, { type: 'session_suspect', ...event(signal, action) }, now);
        return outcome.result;
      });
    }
    // Already recorded as suspect: only a new network is left to record.
    if (!change.networkChanged) return 'ok';
    signal = 'network_change';
  }

  const action = config.risk.networkChange;
  return inTransaction(db, async (trx) => {
    const outcome = await applyAction(trx, session.id, action, () => addSessionNetwork(trx, session.id, network as string), now);
    if (outcome.changed) await recordAuditEvent(trx, { type: 'session_network_changed', ...event('network_change', action) }, now);
    return outcome.result;
  });
}

async function applyAction(
  trx: Kysely<Database>,
  sessionId: string,
  action: SessionRiskAction,
  record: (() => Promise<boolean>) | null,
  now: Date,
): Promise<{ changed: boolean; result: SessionContextOutcome }> {
  switch (action) {
    case 'revoke':
      return { changed: await revokeSessionById(trx, sessionId, now), result: 'revoked' };
    case 'step-up':
      return { changed: await requireSessionStepUp(trx, sessionId, now), result: 'step-up' };
    case 'record':
      return { changed: record === null ? false : await record(), result: 'ok' };
  }
}

/**
 * After a passkey re-verification on a session: the request's context becomes the trusted one and a
 * pending step-up is lifted. Pass the transaction of the re-verification.
 */
export async function trustRequestContext(trx: Kysely<Database>, sessionId: string, current: RequestContext): Promise<void> {
  const userAgent = current.userAgent ?? '';
  await trustSessionContext(trx, sessionId, { userAgent, device: parseUserAgent(userAgent), network: networkOf(current.ipAddress) });
}

/** The trusted context of a new session, from the request that creates it. */
export function initialSessionContext(current: RequestContext): { context_user_agent: string; context_browser: string; context_os: string; networks: string[] } {
  const userAgent = current.userAgent ?? '';
  const device = parseUserAgent(userAgent);
  const network = networkOf(current.ipAddress);
  return { context_user_agent: userAgent, context_browser: device.browser, context_os: device.os, networks: network === null ? [] : [network] };
}
