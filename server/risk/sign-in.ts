import type { RiskLevel } from '../audit/events.js';
import type { Config, SignInRiskAction } from '../config.js';
import { AuthError } from '../errors.js';
import type { DeviceContext } from './user-agent.js';

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

/** What the user's sessions (live or kept after their end) say about a network and a device. */
export interface SignInHistory {
  /** Some session of the user has a known network. */
  hasNetworks: boolean;
  /** Some session of the user was used from this network. */
  seenNetwork: boolean;
  /** Some session of the user has a parsed device. */
  hasDevices: boolean;
  /** Some session of the user was created (or re-verified) on this browser family and OS. */
  seenDevice: boolean;
}

/** What a sign-in is judged on, gathered by the caller (server/passkeys/sign-in-risk.ts). */
export interface SignInFacts {
  device: DeviceContext;
  /** The request's network (server/net/network.ts), `null` when unknown. */
  network: string | null;
  history: SignInHistory;
  /** Failed sign-ins within the window, of the account and of the network. */
  failures: { account: number; network: number };
}

/**
 * Judges the sign-in signals of a user signing in from a request. A user with no history yet (no
 * session with a known network, or device) gets no `new_network` (or `new_device`) signal.
 */
export function judgeSignIn(config: Pick<Config, 'risk'>, facts: SignInFacts): SignInAssessment {
  const { risk: policy } = config;
  const { device, network, history } = facts;
  const accountFailures = facts.failures.account;
  const networkFailures = facts.failures.network;
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

function highest<T>(values: T[], order: readonly T[]): T | null {
  let best: T | null = null;
  for (const value of values) if (best === null || order.indexOf(value) > order.indexOf(best)) best = value;
  return best;
}
