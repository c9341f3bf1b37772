import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/events.js';
import { recordAuditEvent } from '../audit/repository.js';
import type { SessionRiskAction } from '../config.js';
import type { Database } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { Deps } from '../deps.js';
import { networkOf } from '../net/network.js';
import {
  assessSessionContext,
  riskOfSessionSignal,
  type SessionSignal,
  type StoredSessionContext,
} from '../risk/session-context.js';
import { parseUserAgent } from '../risk/user-agent.js';
import {
  addSessionNetwork,
  markSessionSuspect,
  requireSessionStepUp,
  trustSessionContext,
} from './context-repository.js';
import { revokeSessionById } from './repository.js';

/**
 * The apply-half of the session context policy (README "Risk signals"): server/risk/session-context.ts
 * judges a request's browser and network against the session's trusted ones; this file acts on the
 * judgement per the configured policy (record, step-up, revoke) and writes the session row.
 */

/** What {@link enforceSessionContext} decided for the request. */
export type SessionContextOutcome = 'ok' | 'step-up' | 'revoked';

/**
 * Applies the configured policy to a request's session context: nothing when it matches (no query),
 * otherwise at most one conditional update and its audit event in one transaction. A session that
 * must pass a step-up answers `step-up` without any query until it does. Writes are guarded in SQL,
 * so concurrent requests record one change once, and each distinct new network once per session.
 */
export async function enforceSessionContext(
  deps: Pick<Deps, 'db' | 'config'>,
  input: { session: { id: string; userId: string }; stored: StoredSessionContext; current: RequestContext },
  now: Date,
): Promise<SessionContextOutcome> {
  const { session, stored, current } = input;
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
    risk: riskOfSessionSignal[signal],
    details: {
      signal,
      action,
      previous: { browser: change.previous.browser, os: change.previous.os, networks: stored.networks },
      current: {
        browser: change.current?.browser ?? change.previous.browser,
        os: change.current?.os ?? change.previous.os,
        network,
      },
    },
  });

  let signal: SessionSignal = change.signal;
  if (signal !== 'network_change') {
    const action = signal === 'ua_change' ? config.risk.uaChange : config.risk.uaAndNetworkChange;
    if (action !== 'record' || stored.suspectAt === null) {
      return inTransaction(db, async (trx) => {
        const outcome = await applyAction(
          trx,
          {
            sessionId: session.id,
            action,
            record: action === 'record' ? () => markSessionSuspect(trx, session.id, network, now) : null,
          },
          now,
        );
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
    const outcome = await applyAction(
      trx,
      { sessionId: session.id, action, record: () => addSessionNetwork(trx, session.id, network as string) },
      now,
    );
    if (outcome.changed)
      await recordAuditEvent(trx, { type: 'session_network_changed', ...event('network_change', action) }, now);
    return outcome.result;
  });
}

/** Applies the policy's action to the session: revokes it, holds it for a step-up, or runs `record` (if any); `changed` when it wrote. */
async function applyAction(
  trx: Kysely<Database>,
  input: { sessionId: string; action: SessionRiskAction; record: (() => Promise<boolean>) | null },
  now: Date,
): Promise<{ changed: boolean; result: SessionContextOutcome }> {
  const { sessionId, action, record } = input;
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
export async function trustRequestContext(
  trx: Kysely<Database>,
  sessionId: string,
  current: RequestContext,
): Promise<void> {
  const userAgent = current.userAgent ?? '';
  await trustSessionContext(trx, sessionId, {
    userAgent,
    device: parseUserAgent(userAgent),
    network: networkOf(current.ipAddress),
  });
}

/** The trusted context of a new session, from the request that creates it. */
export function initialSessionContext(current: RequestContext): {
  context_user_agent: string;
  context_browser: string;
  context_os: string;
  networks: string[];
} {
  const userAgent = current.userAgent ?? '';
  const device = parseUserAgent(userAgent);
  const network = networkOf(current.ipAddress);
  return {
    context_user_agent: userAgent,
    context_browser: device.browser,
    context_os: device.os,
    networks: network === null ? [] : [network],
  };
}
