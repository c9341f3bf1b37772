/**
 * What a request says about its client: the `User-Agent` header (at most 512 characters) and the
 * client's address (server/http/client-address.ts). Audit events and sessions record it; the risk
 * signals compare it. `null` when unknown.
 */
export interface RequestContext {
  userAgent: string | null;
  ipAddress: string | null;
}
