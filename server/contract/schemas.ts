import * as v from 'valibot';
import { fromBase64url } from '../crypto.js';
import { hasForbiddenCharacters, normalizeDisplayName, normalizeUsername } from '../username.js';
import type { IntrospectionResult } from '../verify.js';
import { errorCodes } from './error-codes.js';
import type * as Wire from './wire.js';

/*
 * The HTTP contract as schemas: every request body, query and path parameter and every JSON
 * response. Routes validate their input with them (server/http/validate.ts), the OpenAPI document
 * is built from them (openapi.ts), and the test suite checks every response against that document.
 * Request schemas ignore unknown fields (as the server always has); response schemas are strict, so
 * an undocumented field fails the conformance check.
 */

/** WebAuthn caps credential IDs at 1023 bytes (Web Authentication Level 3, §5.1). */
export const maxCredentialIdBytes = 1023;
const maxWebAuthnField = 16_384;

const time = v.pipe(v.string(), v.isoTimestamp(), v.description('ISO 8601, UTC'));

// ---------------------------------------------------------------- requests

/** A username as sent; the output is normalised by the one normaliser, server/users/username.ts. */
export const usernameInput = v.pipe(
  v.unknown(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return normalizeUsername(dataset.value);
    } catch (error) {
      addIssue({ message: (error as Error).message });
      return NEVER;
    }
  }),
);
// What the OpenAPI document says of it (a transformation has no JSON Schema).
const usernameDoc = v.pipe(
  v.string(),
  v.maxLength(256),
  v.description(
    'Normalised (Unicode NFKC, lower case, trimmed) before use; then 3 to 64 characters of well-formed Unicode, no control or invisible characters, letters of one script (Latin may join Han, Kana, Hangul or Bopomofo).',
  ),
  v.examples(['ann']),
);

const displayNameInput = v.pipe(
  v.unknown(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    if (dataset.value === undefined || dataset.value === null) return null;
    try {
      // Checked here; the default (the username) is applied by the service, which knows it.
      const normalised = normalizeDisplayName(dataset.value, '');
      return normalised === '' ? null : normalised;
    } catch (error) {
      addIssue({ message: (error as Error).message });
      return NEVER;
    }
  }),
);
const displayNameDoc = v.pipe(
  v.nullable(v.pipe(v.string(), v.maxLength(256))),
  v.description(
    'At most 64 characters after NFC normalisation, no control characters; empty or null means the username.',
  ),
);

/** `POST /auth/register/options`. */
export const registerOptionsRequest = v.object({ username: usernameInput, displayName: v.optional(displayNameInput) });
const registerOptionsRequestDoc = v.object({ username: usernameDoc, displayName: v.optional(displayNameDoc) });

/** `POST /auth/login/options`: `{}` or `{"username": string}`; a username changes nothing in the answer. */
export const loginOptionsRequest = v.object({ username: v.optional(v.string('username must be a string.')) });

/** A POST whose fields are all optional (none): any JSON object, `{}` when the body is empty. */
export const emptyRequest = v.object({});

/** `PATCH /auth/passkeys/:id`. */
const nameMessage = 'name must be a string of 1 to 64 characters.';
const passkeyNameDoc = v.pipe(
  v.nullable(v.pipe(v.string(nameMessage), v.maxLength(256, nameMessage))),
  v.description(
    "1 to 64 characters after NFC normalisation and trimming, no control characters; null resets it to the authenticator's name.",
  ),
);
export const renamePasskeyRequest = v.object(
  {
    name: v.pipe(
      passkeyNameDoc,
      v.transform((raw) => (raw === null ? null : raw.normalize('NFC').trim())),
      v.check(
        (name) => name === null || ([...name].length >= 1 && [...name].length <= 64),
        'name must have 1 to 64 characters.',
      ),
      v.check((name) => name === null || !hasForbiddenCharacters(name), 'name must not contain control characters.'),
    ),
  },
  'The body must be {"name": string}.',
);
const renamePasskeyRequestDoc = v.object({ name: passkeyNameDoc });

/** `PATCH /auth/user`. */
export const updateUserRequest = v.object({
  displayName: v.pipe(
    v.unknown(),
    v.check((value) => value !== undefined, 'The body must be {"displayName": string}.'),
    displayNameInput,
  ),
});
const updateUserRequestDoc = v.object({ displayName: displayNameDoc });

/** `POST /auth/recover`. */
export const recoverRequest = v.object({
  username: usernameInput,
  code: v.pipe(
    v.string('code must be a string of at most 64 characters.'),
    v.minLength(1, 'code must be a string of at most 64 characters.'),
    v.maxLength(64, 'code must be a string of at most 64 characters.'),
    v.examples(['7KQM-2XWP-H4TR']),
  ),
});
const recoverRequestDoc = v.object({ username: usernameDoc, code: recoverRequest.entries.code });

/** `POST /auth/introspect` (form fields or JSON). */
export const introspectionRequest = v.object(
  {
    token: v.pipe(
      v.string('The body needs a `token` of at most 8192 characters.'),
      v.minLength(1, 'The body needs a `token` of at most 8192 characters.'),
      v.maxLength(8192, 'The body needs a `token` of at most 8192 characters.'),
    ),
  },
  'The body needs a `token` of at most 8192 characters.',
);

/** The query of `GET /auth/activity`. */
export const activityQuery = v.object({
  cursor: v.optional(v.pipe(v.string(), v.description('The `nextCursor` of the previous page.'))),
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,3}$/, 'limit must be an integer from 1 to 100.'),
      v.check((raw) => Number(raw) >= 1 && Number(raw) <= 100, 'limit must be an integer from 1 to 100.'),
      v.description('1 to 100, default 20.'),
    ),
  ),
});

/** The `:id` of `/auth/passkeys/:id` (a credential ID, base64url) and `/auth/sessions/:id`. */
export const idParam = v.object({ id: v.pipe(v.string(), v.minLength(1), v.maxLength(2048)) });

const base64url = (name: string, max = maxWebAuthnField) => {
  const message = `${name} must be a non-empty base64url string.`;
  return v.pipe(
    v.string(message),
    v.minLength(1, message),
    v.maxLength(max, message),
    v.regex(/^[A-Za-z0-9_-]+$/, message),
    v.check((text) => fromBase64url(text) !== null, message),
  );
};

const credentialId = (name: string) =>
  v.pipe(
    base64url(name, 1400),
    v.check(
      (text) => (fromBase64url(text) as Buffer).byteLength <= maxCredentialIdBytes,
      `A credential ID must be at most ${maxCredentialIdBytes} bytes.`,
    ),
  );

const attachment = v.optional(
  v.nullable(
    v.picklist(['platform', 'cross-platform'], 'authenticatorAttachment must be "platform" or "cross-platform".'),
  ),
);
const extensionMessage = 'clientExtensionResults must be an object.';
/** A JSON object that is not an array (valibot's record would turn an array into an object). */
export const plainObject = v.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  extensionMessage,
);
const extensionResults = v.optional(plainObject, {});
const idsMessage = 'id and rawId must be equal.';
const objectMessage = (name: string) => `${name} must be an object.`;

/** `RegistrationResponseJSON`, checked for shape and size before @simplewebauthn/server sees it. */
export const registrationResponse = v.pipe(
  v.object(
    {
      id: credentialId('id'),
      rawId: credentialId('rawId'),
      type: v.literal('public-key', 'type must be "public-key".'),
      response: v.object(
        {
          clientDataJSON: base64url('response.clientDataJSON'),
          attestationObject: base64url('response.attestationObject'),
          authenticatorData: v.optional(base64url('response.authenticatorData')),
          publicKey: v.optional(base64url('response.publicKey')),
          publicKeyAlgorithm: v.optional(
            v.pipe(
              v.number('response.publicKeyAlgorithm must be an integer.'),
              v.integer('response.publicKeyAlgorithm must be an integer.'),
            ),
          ),
          transports: v.optional(
            v.pipe(
              v.array(
                v.pipe(v.string(), v.regex(/^[a-z-]{1,32}$/)),
                'response.transports must be a short list of transport names.',
              ),
              v.maxLength(8, 'response.transports must be a short list of transport names.'),
            ),
          ),
        },
        objectMessage('response'),
      ),
      authenticatorAttachment: attachment,
      clientExtensionResults: extensionResults,
    },
    objectMessage('body'),
  ),
  v.check((value) => value.id === value.rawId, idsMessage),
  v.metadata({
    examples: [
      {
        id: 'mL8Fq0Ge2QmW5b0BvHqvVg',
        rawId: 'mL8Fq0Ge2QmW5b0BvHqvVg',
        type: 'public-key',
        response: {
          clientDataJSON:
            'eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiLi4uIiwib3JpZ2luIjoiaHR0cHM6Ly9leGFtcGxlLmNvbSJ9',
          attestationObject: 'o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjF',
          transports: ['internal', 'hybrid'],
        },
        authenticatorAttachment: 'platform',
        clientExtensionResults: { credProps: { rk: true } },
      },
    ],
  }),
);

/** `AuthenticationResponseJSON`, checked for shape and size before @simplewebauthn/server sees it. */
export const authenticationResponse = v.pipe(
  v.object(
    {
      id: credentialId('id'),
      rawId: credentialId('rawId'),
      type: v.literal('public-key', 'type must be "public-key".'),
      response: v.object(
        {
          clientDataJSON: base64url('response.clientDataJSON'),
          authenticatorData: base64url('response.authenticatorData'),
          signature: base64url('response.signature'),
          // An empty or null user handle is as good as none.
          userHandle: v.optional(
            v.nullable(
              v.union(
                [v.literal(''), base64url('response.userHandle', 128)],
                'response.userHandle must be a non-empty base64url string.',
              ),
            ),
          ),
        },
        objectMessage('response'),
      ),
      authenticatorAttachment: attachment,
      clientExtensionResults: extensionResults,
    },
    objectMessage('body'),
  ),
  v.check((value) => value.id === value.rawId, idsMessage),
  v.metadata({
    examples: [
      {
        id: 'mL8Fq0Ge2QmW5b0BvHqvVg',
        rawId: 'mL8Fq0Ge2QmW5b0BvHqvVg',
        type: 'public-key',
        response: {
          clientDataJSON:
            'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiLi4uIiwib3JpZ2luIjoiaHR0cHM6Ly9leGFtcGxlLmNvbSJ9',
          authenticatorData: 'SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MdAAAAAA',
          signature: 'MEUCIQDq2xZbH0dC1N7z9w8q2v5aG7b1Q',
          userHandle: 'v0A2Qm1kZb5m3q8HcD1bS8yX0n6Yw0t9pK2eR7uJ4aI',
        },
        authenticatorAttachment: 'platform',
        clientExtensionResults: {},
      },
    ],
  }),
);

// ---------------------------------------------------------------- responses

const nullableString = v.nullable(v.string());
const riskLevel = v.picklist(['low', 'medium', 'high']);

export const errorBody = v.strictObject({
  error: v.strictObject({ code: v.picklist(errorCodes), message: v.string() }),
});

export const user = v.strictObject({ id: v.string(), username: v.string(), displayName: v.string() });

export const session = v.strictObject({
  id: v.string(),
  createdAt: time,
  expiresAt: time,
  stepUpRequired: v.optional(v.literal(true)),
});

export const sessionResponse = v.strictObject({ user, session });

export const sessionStatusResponse = v.union([
  v.strictObject({ signedIn: v.literal(false) }),
  v.strictObject({ signedIn: v.literal(true), restricted: v.boolean(), user, session }),
]);

export const signInNotice = v.strictObject({
  newDevice: v.boolean(),
  newNetwork: v.boolean(),
  device: v.strictObject({ browser: v.string(), os: v.string() }),
  risk: v.nullable(riskLevel),
  signals: v.array(v.string()),
  stepUpRequired: v.boolean(),
});

export const signedInResponse = v.strictObject({ user, notice: v.optional(signInNotice) });

export const sessionSummary = v.strictObject({
  id: v.string(),
  createdAt: time,
  lastSeenAt: time,
  expiresAt: time,
  userAgent: nullableString,
  ipAddress: nullableString,
  passkeyId: nullableString,
  restricted: v.boolean(),
  current: v.boolean(),
});

export const sessionListResponse = v.strictObject({ sessions: v.array(sessionSummary) });
export const revokedResponse = v.strictObject({ revoked: v.pipe(v.number(), v.integer(), v.minValue(0)) });
export const reauthResponse = v.strictObject({ verifiedAt: time });

export const passkey = v.strictObject({
  id: v.string(),
  name: v.string(),
  customName: v.boolean(),
  authenticatorName: nullableString,
  createdAt: time,
  lastUsedAt: v.nullable(time),
  backedUp: v.boolean(),
  deviceType: v.picklist(['singleDevice', 'multiDevice']),
  transports: v.array(v.string()),
  aaguid: v.string(),
});

export const passkeyListResponse = v.strictObject({
  passkeys: v.array(passkey),
  signal: v.strictObject({
    rpId: v.string(),
    userId: v.string(),
    allAcceptedCredentialIds: v.array(v.string()),
    name: v.string(),
    displayName: v.string(),
  }),
});
export const passkeyResponse = v.strictObject({ passkey });

export const userUpdatedResponse = v.strictObject({
  user,
  signal: v.strictObject({ rpId: v.string(), userId: v.string(), name: v.string(), displayName: v.string() }),
});

export const activityEvent = v.strictObject({
  id: v.string(),
  type: v.string(),
  actor: v.string(),
  reason: nullableString,
  createdAt: time,
  sessionId: nullableString,
  passkeyId: nullableString,
  ipAddress: nullableString,
  userAgent: nullableString,
  risk: v.nullable(riskLevel),
  details: v.record(v.string(), v.unknown()),
});
export const activityPage = v.strictObject({ events: v.array(activityEvent), nextCursor: nullableString });

export const recoveryCodeStatus = v.strictObject({
  remaining: v.pipe(v.number(), v.integer()),
  createdAt: v.nullable(time),
});
export const recoveryCodesResponse = v.strictObject({
  codes: v.array(v.string()),
  remaining: v.pipe(v.number(), v.integer()),
  createdAt: time,
});
export const recoveredResponse = v.strictObject({
  user,
  session: v.strictObject({ id: v.string(), createdAt: time, expiresAt: time, restricted: v.literal(true) }),
  remaining: v.pipe(v.number(), v.integer()),
});

export const accessTokenResponse = v.strictObject({
  access_token: v.string(),
  token_type: v.literal('Bearer'),
  expires_in: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(300)),
});

export const publicJwk = v.strictObject({
  kty: v.string(),
  kid: v.string(),
  alg: v.string(),
  use: v.literal('sig'),
  crv: v.optional(v.string()),
  x: v.optional(v.string()),
  y: v.optional(v.string()),
});
export const jwksResponse = v.strictObject({ keys: v.array(publicJwk) });

export const introspectionResponse = v.union([
  v.strictObject({ active: v.literal(false) }),
  v.strictObject({
    active: v.literal(true),
    sub: v.string(),
    sid: v.string(),
    username: v.string(),
    iss: v.string(),
    aud: v.union([v.string(), v.array(v.string())]),
    iat: v.number(),
    exp: v.number(),
    jti: v.string(),
    token_type: v.literal('Bearer'),
  }),
]);

export const healthResponse = v.strictObject({ status: v.literal('ok') });

/** `GET /.well-known/webauthn`: the related origins (WebAuthn Level 3), from `RELATED_ORIGINS`. */
export const relatedOriginsResponse = v.strictObject({ origins: v.array(v.string()) });

/** `GET /.well-known/assetlinks.json`: the Android apps that may use this site's passkeys. */
export const assetLinksResponse = v.array(
  v.strictObject({
    relation: v.array(v.string()),
    target: v.strictObject({
      namespace: v.literal('android_app'),
      package_name: v.string(),
      sha256_cert_fingerprints: v.array(v.string()),
    }),
  }),
);

/** `GET /.well-known/apple-app-site-association`: the iOS apps that may use this site's passkeys. */
export const appleAppSiteAssociationResponse = v.strictObject({
  webcredentials: v.strictObject({ apps: v.array(v.string()) }),
});

/** `POST /auth/dbsc/register` and `/refresh` (DBSC=on): the session instructions, or the end of the bound session. */
export const dbscSessionResponse = v.union([
  v.strictObject({
    session_identifier: v.string(),
    refresh_url: v.string(),
    scope: v.strictObject({ origin: v.string(), include_site: v.boolean(), scope_specification: v.array(v.unknown()) }),
    credentials: v.array(v.strictObject({ type: v.literal('cookie'), name: v.string(), attributes: v.string() })),
  }),
  v.strictObject({ continue: v.literal(false) }),
]);

const credentialDescriptor = v.strictObject({
  id: v.string(),
  type: v.literal('public-key'),
  transports: v.optional(v.array(v.string())),
});
const userVerification = v.picklist(['required', 'preferred', 'discouraged']);

/** `PublicKeyCredentialCreationOptionsJSON`, as @simplewebauthn/server writes it. */
export const creationOptions = v.strictObject({
  rp: v.strictObject({ name: v.string(), id: v.optional(v.string()) }),
  user: v.strictObject({ id: v.string(), name: v.string(), displayName: v.string() }),
  challenge: v.string(),
  pubKeyCredParams: v.array(v.strictObject({ alg: v.number(), type: v.literal('public-key') })),
  timeout: v.optional(v.number()),
  excludeCredentials: v.optional(v.array(credentialDescriptor)),
  authenticatorSelection: v.optional(
    v.strictObject({
      authenticatorAttachment: v.optional(v.picklist(['platform', 'cross-platform'])),
      requireResidentKey: v.optional(v.boolean()),
      residentKey: v.optional(v.picklist(['discouraged', 'preferred', 'required'])),
      userVerification: v.optional(userVerification),
    }),
  ),
  hints: v.optional(v.array(v.string())),
  attestation: v.optional(v.picklist(['none', 'indirect', 'direct', 'enterprise'])),
  attestationFormats: v.optional(v.array(v.string())),
  extensions: v.optional(v.record(v.string(), v.unknown())),
});

/** `PublicKeyCredentialRequestOptionsJSON`, as @simplewebauthn/server writes it. */
export const requestOptions = v.strictObject({
  challenge: v.string(),
  timeout: v.optional(v.number()),
  rpId: v.optional(v.string()),
  allowCredentials: v.optional(v.array(credentialDescriptor)),
  userVerification: v.optional(userVerification),
  hints: v.optional(v.array(v.string())),
  extensions: v.optional(v.record(v.string(), v.unknown())),
});

/** What the OpenAPI document shows for schemas whose transformations JSON Schema cannot express. */
export const documentedAs = new Map<v.GenericSchema, v.GenericSchema>([
  [registerOptionsRequest, registerOptionsRequestDoc],
  [updateUserRequest, updateUserRequestDoc],
  [recoverRequest, recoverRequestDoc],
  [renamePasskeyRequest, renamePasskeyRequestDoc],
]);

// ---------------------------------------------------------------- the schemas are the types

type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

/** Fails to compile when a response schema and its wire type (wire.ts) disagree, either way. */
type SchemasMatchWireTypes = [
  Assert<Equal<v.InferOutput<typeof errorBody>, Wire.ErrorBody>>,
  Assert<Equal<v.InferOutput<typeof user>, Wire.User>>,
  Assert<Equal<v.InferOutput<typeof session>, Wire.Session>>,
  Assert<Equal<v.InferOutput<typeof sessionResponse>, Wire.SessionResponse>>,
  Assert<Equal<v.InferOutput<typeof sessionStatusResponse>, Wire.SessionStatusResponse>>,
  Assert<Equal<v.InferOutput<typeof signInNotice>, Wire.SignInNotice>>,
  Assert<Equal<v.InferOutput<typeof signedInResponse>, Wire.SignedInResponse>>,
  Assert<Equal<v.InferOutput<typeof sessionSummary>, Wire.SessionSummary>>,
  Assert<Equal<v.InferOutput<typeof sessionListResponse>, Wire.SessionListResponse>>,
  Assert<Equal<v.InferOutput<typeof revokedResponse>, Wire.RevokedResponse>>,
  Assert<Equal<v.InferOutput<typeof reauthResponse>, Wire.ReauthResponse>>,
  Assert<Equal<v.InferOutput<typeof passkey>, Wire.Passkey>>,
  Assert<Equal<v.InferOutput<typeof passkeyListResponse>, Wire.PasskeyListResponse>>,
  Assert<Equal<v.InferOutput<typeof passkeyResponse>, Wire.PasskeyResponse>>,
  Assert<Equal<v.InferOutput<typeof userUpdatedResponse>, Wire.UserUpdatedResponse>>,
  Assert<Equal<v.InferOutput<typeof activityEvent>, Wire.ActivityEvent>>,
  Assert<Equal<v.InferOutput<typeof activityPage>, Wire.ActivityPage>>,
  Assert<Equal<v.InferOutput<typeof recoveryCodeStatus>, Wire.RecoveryCodeStatus>>,
  Assert<Equal<v.InferOutput<typeof recoveryCodesResponse>, Wire.RecoveryCodesResponse>>,
  Assert<Equal<v.InferOutput<typeof recoveredResponse>, Wire.RecoveredResponse>>,
  Assert<Equal<v.InferOutput<typeof accessTokenResponse>, Wire.AccessTokenResponse>>,
  Assert<Equal<v.InferOutput<typeof jwksResponse>, Wire.JwksResponse>>,
  Assert<Equal<v.InferOutput<typeof introspectionResponse>, Wire.IntrospectionResponse>>,
  Assert<Equal<v.InferOutput<typeof healthResponse>, Wire.HealthResponse>>,
  Assert<Equal<v.InferOutput<typeof loginOptionsRequest>, Wire.LoginOptionsRequest>>,
  Assert<Equal<v.InferOutput<typeof renamePasskeyRequest>, Wire.RenamePasskeyRequest>>,
  Assert<Equal<v.InferInput<typeof renamePasskeyRequestDoc>, Wire.RenamePasskeyRequest>>,
  Assert<Equal<v.InferOutput<typeof introspectionRequest>, Wire.IntrospectionRequest>>,
  Assert<Equal<v.InferOutput<typeof activityQuery>, Wire.ActivityQuery>>,
  Assert<Equal<v.InferInput<typeof registerOptionsRequestDoc>, Wire.RegisterOptionsRequest>>,
  Assert<Equal<v.InferInput<typeof updateUserRequestDoc>, Wire.UpdateUserRequest>>,
  Assert<Equal<v.InferInput<typeof recoverRequestDoc>, Wire.RecoverRequest>>,
  // verify.ts keeps its own copy (the standalone passkey-auth-verify package ships without contract/).
  Assert<Equal<Wire.IntrospectionResponse, IntrospectionResult>>,
];
const schemasMatchWireTypes: SchemasMatchWireTypes extends true[] ? true : never = true;
void schemasMatchWireTypes;
