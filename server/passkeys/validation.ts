import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type * as v from 'valibot';
import type { authenticationResponse, registrationResponse } from '../contract/schemas.js';
import { fromBase64url } from '../crypto.js';
import { AuthError } from '../errors.js';

export { maxCredentialIdBytes } from '../contract/schemas.js';

/** A `RegistrationResponseJSON` body that passed the contract's schema (shape and sizes). */
export type RegistrationInput = v.InferOutput<typeof registrationResponse>;
/** An `AuthenticationResponseJSON` body that passed the contract's schema (shape and sizes). */
export type AuthenticationInput = v.InferOutput<typeof authenticationResponse>;

type Json = Record<string, unknown>;

function invalid(message: string): never {
  throw new AuthError('invalid_request', message);
}

/**
 * Reads the challenge out of clientDataJSON, so the server can find (and consume) the ceremony it
 * belongs to without any client-side state.
 */
function challengeOf(clientDataJSON: string): { challenge: string; crossOrigin: boolean } {
  let clientData: unknown;
  try {
    clientData = JSON.parse((fromBase64url(clientDataJSON) as Buffer).toString('utf8'));
  } catch {
    invalid('response.clientDataJSON is not JSON.');
  }
  if (typeof clientData !== 'object' || clientData === null || Array.isArray(clientData))
    invalid('clientDataJSON must be an object.');
  const { challenge, crossOrigin, topOrigin } = clientData as Json;
  if (typeof challenge !== 'string' || challenge.length === 0 || challenge.length > 256)
    invalid('clientDataJSON has no challenge.');
  // Only "absent" or exactly false is a top-level ceremony; any other value ("true", 1, null) and any
  // topOrigin (which browsers send only from inside a frame) counts as embedded, and is refused.
  return { challenge, crossOrigin: (crossOrigin !== undefined && crossOrigin !== false) || topOrigin !== undefined };
}

function attachmentOf(input: { authenticatorAttachment?: 'platform' | 'cross-platform' | null | undefined }) {
  return input.authenticatorAttachment ? { authenticatorAttachment: input.authenticatorAttachment } : {};
}

/** The library's `RegistrationResponseJSON` of a validated body, with its challenge and credential ID. */
export function parseRegistrationResponse(input: RegistrationInput): {
  response: RegistrationResponseJSON;
  challenge: string;
  crossOrigin: boolean;
  credentialId: Buffer;
} {
  const r = input.response;
  const response: RegistrationResponseJSON = {
    id: input.id,
    rawId: input.rawId,
    type: 'public-key',
    response: {
      clientDataJSON: r.clientDataJSON,
      attestationObject: r.attestationObject,
      ...(r.authenticatorData !== undefined ? { authenticatorData: r.authenticatorData } : {}),
      ...(r.publicKey !== undefined ? { publicKey: r.publicKey } : {}),
      ...(r.publicKeyAlgorithm !== undefined ? { publicKeyAlgorithm: r.publicKeyAlgorithm } : {}),
      ...(r.transports !== undefined
        ? { transports: r.transports as RegistrationResponseJSON['response']['transports'] }
        : {}),
    },
    clientExtensionResults: input.clientExtensionResults,
    ...attachmentOf(input),
  };
  return { response, ...challengeOf(r.clientDataJSON), credentialId: fromBase64url(input.id) as Buffer };
}

/** The library's `AuthenticationResponseJSON` of a validated body, with its challenge, credential ID and user handle. */
export function parseAuthenticationResponse(input: AuthenticationInput): {
  response: AuthenticationResponseJSON;
  challenge: string;
  crossOrigin: boolean;
  credentialId: Buffer;
  userHandle: string | null;
} {
  const r = input.response;
  const userHandle = r.userHandle === null || r.userHandle === '' ? undefined : r.userHandle;
  const response: AuthenticationResponseJSON = {
    id: input.id,
    rawId: input.rawId,
    type: 'public-key',
    response: {
      clientDataJSON: r.clientDataJSON,
      authenticatorData: r.authenticatorData,
      signature: r.signature,
      ...(userHandle !== undefined ? { userHandle } : {}),
    },
    clientExtensionResults: input.clientExtensionResults,
    ...attachmentOf(input),
  };
  return {
    response,
    ...challengeOf(r.clientDataJSON),
    credentialId: fromBase64url(input.id) as Buffer,
    userHandle: userHandle ?? null,
  };
}
