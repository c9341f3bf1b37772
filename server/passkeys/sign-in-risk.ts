import type { RequestContext } from '../audit/events.js';
import type { Deps } from '../deps.js';
import { addressPatternsOf, networkOf } from '../net/network.js';
import { judgeSignIn, type SignInAssessment } from '../risk/sign-in.js';
import { parseUserAgent } from '../risk/user-agent.js';
import { findSignInFacts } from '../sessions/context-repository.js';

/** Addresses looked at when counting a network's failures: enough for any burst worth the name. */
const maxFailureAddresses = 1000;

/**
 * Evaluates the sign-in signals for a user signing in from a request: gathers the facts (one query
 * of indexed reads, on the sign-in path only; the per-request session path never runs this) and
 * hands them to the pure judgement of server/risk/sign-in.ts.
 */
export async function assessSignIn(
  deps: Pick<Deps, 'db' | 'config'>,
  input: { userId: string; context: RequestContext },
  now: Date,
): Promise<SignInAssessment> {
  const { db, config } = deps;
  const { risk: policy } = config;
  const device = parseUserAgent(input.context.userAgent);
  const network = networkOf(input.context.ipAddress);
  const since = new Date(now.getTime() - policy.failureWindow * 1000);
  const countNetwork = policy.networkFailures > 0 && network !== null;
  const facts = await findSignInFacts(db, {
    userId: input.userId,
    network,
    device,
    since,
    countAccount: policy.accountFailures > 0,
    addressPatterns: countNetwork ? addressPatternsOf(network) : null,
    addressLimit: maxFailureAddresses,
  });
  // The addresses are matched by prefix in SQL; the network's own failures are those in it exactly.
  const networkFailures = countNetwork
    ? facts.addressFailures.reduce((sum, row) => (networkOf(row.address) === network ? sum + row.count : sum), 0)
    : 0;
  return judgeSignIn(config, {
    device,
    network,
    history: facts.history,
    failures: { account: facts.accountFailures, network: networkFailures },
  });
}
