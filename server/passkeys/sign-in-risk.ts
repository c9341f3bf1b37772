import type { RequestContext } from '../audit/events.js';
import { countRecentLoginFailuresByAddress, countRecentLoginFailuresOfUser } from '../audit/repository.js';
import type { Deps } from '../deps.js';
import { addressPatternsOf, networkOf } from '../net/network.js';
import { judgeSignIn, type SignInAssessment } from '../risk/sign-in.js';
import { parseUserAgent } from '../risk/user-agent.js';
import { findSignInHistory } from '../sessions/context-repository.js';

/** Addresses looked at when counting a network's failures: enough for any burst worth the name. */
const maxFailureAddresses = 1000;

/**
 * Evaluates the sign-in signals for a user signing in from a request: gathers the facts (a few
 * indexed queries, on the sign-in path only; the per-request session path never runs this) and
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
  const [history, account, networkFailures] = await Promise.all([
    findSignInHistory(db, input.userId, network, device),
    policy.accountFailures > 0 ? countRecentLoginFailuresOfUser(db, input.userId, since) : Promise.resolve(0),
    policy.networkFailures > 0 && network !== null ? countNetworkFailures(deps, network, since) : Promise.resolve(0),
  ]);
  return judgeSignIn(config, { device, network, history, failures: { account, network: networkFailures } });
}

async function countNetworkFailures(deps: Pick<Deps, 'db'>, network: string, since: Date): Promise<number> {
  const rows = await countRecentLoginFailuresByAddress(deps.db, since, addressPatternsOf(network), maxFailureAddresses);
  return rows.reduce((sum, row) => (networkOf(row.address) === network ? sum + row.count : sum), 0);
}
