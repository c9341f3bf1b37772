import type { Kysely } from 'kysely';
import type { RequestContext } from '../audit/events.js';
import type { Config, SignInRiskAction } from '../config.js';
import type { Database } from '../db/schema.js';
import { AuthError } from '../errors.js';
import { addressPatternsOf, networkOf } from '../net/network.js';
import { countRecentLoginFailuresByAddress, countRecentLoginFailuresOfUser, findSignInHistory } from '../sessions/context-repository.js';
import type { RiskLevel } from './session-context.js';
import { parseUserAgent, type DeviceContext } from './user-agent.js';

/**
 * - `new_network`: no session of the user (live, or kept after its end) was used from this network.
 * - `new_device`: no session of the user was on this browser family and OS.
 * - `account_failures`: the account had at least `RISK_SIGNIN_ACCOUNT_FAILURES` failed sign-ins in the window.
 * - `network_failures`: the network had at least `RISK_SIGNIN_NETWORK_FAILURES` failed sign-ins in the window.
 */
export type SignInSignal = 'new_network' | 'new_device' | 'account_failures' | 'network_failures';

/** What the sign-in signals say about one successful passkey assertion. */
export interface SignInAssessment {
  signals: SignInSignal[];
  /** The highest risk of the signals, `null` when there are none. */
  risk: RiskLevel | null;
  /** The strictest configured action of the signals. */
  action: SignInRiskAction;
  newDevice: boolean;
  newNetwork: boolean;
  device: DeviceContext;
  network: string | null;
  failures: { account: number; network: number };
}

/** Addresses looked at when counting a network's failures: enough for any burst worth the name. */
const maxFailureAddresses = 1000;

/**
 * Evaluates the sign-in signals for a user signing in from a request (a few indexed queries, on the
 * sign-in path only; the per-request session path never runs this). A user with no history yet (no
 * session with a known network, or device) gets no `new_network` (or `new_device`) signal.
 */
export async function assessSignIn(
  db: Kysely<Database>,
  config: Pick<Config, 'risk'>,
  userId: string,
  context: RequestContext,
  now: Date,
): Promise<SignInAssessment> {
  const { risk: policy } = config;
  const device = parseUserAgent(context.userAgent);
  const network = networkOf(context.ipAddress);
  const since = new Date(now.getTime() - policy.failureWindow * 1000);
  const [history, accountFailures, networkFailures] = await Promise.all([
    findSignInHistory(db, userId, network, device),
    policy.accountFailures > 0 ? countRecentLoginFailuresOfUser(db, userId, since) : Promise.resolve(0),
    policy.networkFailures > 0 && network !== null ? countNetworkFailures(db, network, since) : Promise.resolve(0),
  ]);

  const newNetwork = network !== null && history.hasNetworks && !history.seenNetwork;
  const newDevice = history.hasDevices && !history.seenDevice;
  const signals: SignInSignal[] = [];
  const risks: RiskLevel[] = [];
  const actions: SignInRiskAction[] = ['record'];
  if (newNetwork) {
    signals.push('new_network');
    actions.push(policy.signInNewNetwork);
  }
  if (newDevice) signals.push('new_device');
  if (newNetwork || newDevice) risks.push(newNetwork && newDevice ? 'medium' : 'low');
  if (policy.accountFailures > 0 && accountFailures >= policy.accountFailures) {
    signals.push('account_failures');
    risks.push('high');
    actions.push(policy.signInFailures);
  }
  if (policy.networkFailures > 0 && networkFailures >= policy.networkFailures) {
    signals.push('network_failures');
    risks.push('medium');
    actions.push(policy.signInFailures);
  }
  return {
    signals,
    risk: highest(risks, ['low', 'medium', 'high']),
    action: highest(actions, ['record', 'step-up', 'refuse']) ?? 'record',
    newDevice,
    newNetwork,
    device,
    network,
    failures: { account: accountFailures, network: networkFailures },
  };
}

/**
 * The error a refused sign-in answers with: 429 `rate_limited` after a burst of failures (retry once
 * the window has passed), else 401 `verification_failed`. Neither says which signal refused it.
 */
export function signInRefusal(assessment: SignInAssessment, config: Pick<Config, 'risk'>): AuthError {
  if (assessment.signals.includes('account_failures') || assessment.signals.includes('network_failures')) {
    return new AuthError('rate_limited', undefined, { retryAfter: config.risk.failureWindow });
  }
  return new AuthError('verification_failed', 'This sign-in was refused. Try again from a network you used before.');
}

async function countNetworkFailures(db: Kysely<Database>, network: string, since: Date): Promise<number> {
  const rows = await countRecentLoginFailuresByAddress(db, since, addressPatternsOf(network), maxFailureAddresses);
  return rows.reduce((sum, row) => (networkOf(row.address) === network ? sum + row.count : sum), 0);
}

function highest<T>(values: T[], order: readonly T[]): T | null {
  let best: T | null = null;
  for (const value of values) if (best === null || order.indexOf(value) > order.indexOf(best)) best = value;
  return best;
}
