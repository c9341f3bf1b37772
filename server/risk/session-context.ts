import type { RequestContext, RiskLevel } from '../audit/events.js';
import { networkOf } from '../net/network.js';
import { type DeviceContext, parseUserAgent } from './user-agent.js';

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

/** How risky each session signal is, as the audit trail records it. */
export const riskOfSessionSignal: Record<SessionSignal, RiskLevel> = {
  network_change: 'low',
  ua_change: 'medium',
  ua_and_network_change: 'high',
};

/**
 * Compares a request with the context its session trusts. Cheap by design, as it runs on every
 * authenticated request: when the raw `User-Agent` equals the trusted one and the network is known
 * (or unknown), it returns `null` after two string comparisons, without parsing anything. Only a
 * different header is parsed, and a different version of the same browser on the same OS is no change.
 */
export function assessSessionContext(
  stored: StoredSessionContext,
  current: RequestContext,
): SessionContextChange | null {
  const userAgent = current.userAgent ?? '';
  const network = networkOf(current.ipAddress);
  const sameUserAgent = userAgent === stored.userAgent;
  const knownNetwork = network === null || stored.networks.includes(network);
  if (sameUserAgent && knownNetwork) return null;

  const previous =
    stored.browser !== null && stored.os !== null
      ? { browser: stored.browser, os: stored.os }
      : parseUserAgent(stored.userAgent);
  let current_: DeviceContext | null = null;
  let deviceChanged = false;
  if (!sameUserAgent) {
    current_ = parseUserAgent(userAgent);
    deviceChanged = current_.browser !== previous.browser || current_.os !== previous.os;
  }
  const networkChanged = !knownNetwork && stored.networks.length > 0;
  const firstNetwork = !knownNetwork && stored.networks.length === 0;
  const signal: SessionSignal | null = deviceChanged
    ? networkChanged
      ? 'ua_and_network_change'
      : 'ua_change'
    : networkChanged
      ? 'network_change'
      : null;
  if (signal === null && !firstNetwork) return null;
  return { signal, network, networkChanged, deviceChanged, previous, current: current_ };
}
