import {
  AuthClientError,
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  describeError,
  getSession,
  register,
  signIn,
  signInWithAutofill,
  signOut,
  type AuthErrorCode,
  type SessionInfo,
} from '../src/index.js';

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`#${id} is missing from the page`);
  return found;
}

const status = element('status', HTMLElement);
const signedOut = element('signed-out', HTMLElement);
const signedIn = element('signed-in', HTMLElement);
const signinForm = element('signin-form', HTMLFormElement);
const signinHeading = element('signin-heading', HTMLElement);
const signupForm = element('signup-form', HTMLFormElement);
const signupUsername = element('signup-username', HTMLInputElement);
const signupDisplayName = element('signup-display-name', HTMLInputElement);
const signedInHeading = element('signed-in-heading', HTMLElement);
const signoutButton = element('signout-button', HTMLButtonElement);
const buttons = [
  element('signin-button', HTMLButtonElement),
  element('signup-button', HTMLButtonElement),
  signoutButton,
];

const autofillSupported = browserSupportsWebAuthnAutofill().catch(() => false);

// Errors from the server after the user picked a passkey in autofill: worth offering autofill again.
const retryAutofillAfter: ReadonlySet<AuthErrorCode> = new Set<AuthErrorCode>([
  'unknown_credential',
  'verification_failed',
  'invalid_challenge',
  'account_disabled',
]);

let autofill: AbortController | undefined;
// Autofill failures since the user last did something; a second one in a row stops the offers, so an
// authenticator that answers by itself (a virtual one in tests) cannot make the page loop.
let autofillFailures = 0;

function setStatus(message: string, kind: 'info' | 'error' | 'success' = 'info'): void {
  status.dataset.kind = kind;
  status.textContent = message;
}

function setBusy(busy: boolean): void {
  for (const button of buttons) button.disabled = busy;
  document.body.setAttribute('aria-busy', String(busy));
}

function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function setTime(id: string, iso: string): void {
  const time = element(id, HTMLTimeElement);
  time.dateTime = iso;
  time.textContent = formatTime(iso);
}

function showSignedIn({ user, session }: SessionInfo): void {
  stopAutofill();
  element('whoami-username', HTMLElement).textContent = user.username;
  element('whoami-display-name', HTMLElement).textContent = user.displayName;
  setTime('whoami-created', session.createdAt);
  setTime('whoami-expires', session.expiresAt);
  signedOut.hidden = true;
  signedIn.hidden = false;
}

function showSignedOut(): void {
  signedIn.hidden = true;
  signedOut.hidden = false;
  void startAutofill();
}

/** After a sign-in or sign-up, read the session back so the page shows what the server holds. */
async function enterSession(message: string): Promise<void> {
  const current = await getSession();
  if (!current) {
    // Not showSignedOut(): restarting autofill here could loop when cookies are blocked.
    setStatus('Signed in, but the session was not kept. Are cookies blocked?', 'error');
    return;
  }
  showSignedIn(current);
  setStatus(message, 'success');
  signedInHeading.focus();
}

function stopAutofill(): void {
  autofill?.abort();
  autofill = undefined;
}

async function startAutofill(): Promise<void> {
  stopAutofill();
  const controller = new AbortController();
  autofill = controller;
  if (!(await autofillSupported) || controller.signal.aborted) return;
  try {
    const result = await signInWithAutofill({ signal: controller.signal });
    if (!result) return;
    autofillFailures = 0;
    await enterSession(`Signed in as ${result.user.username}.`);
  } catch (err) {
    if (controller !== autofill) return;
    autofill = undefined;
    // Autofill shows no prompt that a user could cancel; a NotAllowedError here means no passkey
    // was offered (a virtual authenticator without one rejects at once). Nothing to tell the user.
    if (err instanceof AuthClientError && err.code === 'cancelled') return;
    setStatus(describeError(err), 'error');
    autofillFailures++;
    if (autofillFailures < 2 && err instanceof AuthClientError && retryAutofillAfter.has(err.code)) {
      void startAutofill();
    }
  }
}

signinForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  autofillFailures = 0;
  // One WebAuthn ceremony at a time: the picker replaces the autofill offer.
  stopAutofill();
  setBusy(true);
  setStatus('Waiting for your passkey…');
  try {
    const { user } = await signIn();
    await enterSession(`Signed in as ${user.username}.`);
  } catch (err) {
    setStatus(describeError(err), 'error');
    void startAutofill();
  } finally {
    setBusy(false);
  }
});

signupForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = signupUsername.value.trim();
  const displayName = signupDisplayName.value.trim();
  if (username === '') {
    signupUsername.setAttribute('aria-invalid', 'true');
    setStatus('Enter a username to create an account.', 'error');
    signupUsername.focus();
    return;
  }
  signupUsername.removeAttribute('aria-invalid');
  autofillFailures = 0;
  stopAutofill();
  setBusy(true);
  setStatus('Creating your passkey…');
  try {
    const { user } = await register({ username, ...(displayName ? { displayName } : {}) });
    signupForm.reset();
    await enterSession(`Welcome, ${user.displayName}! Your account and passkey are ready.`);
  } catch (err) {
    setStatus(describeError(err), 'error');
    if (err instanceof AuthClientError && (err.code === 'username_taken' || err.code === 'invalid_request')) {
      signupUsername.setAttribute('aria-invalid', 'true');
      signupUsername.focus();
    }
    void startAutofill();
  } finally {
    setBusy(false);
  }
});

signoutButton.addEventListener('click', async () => {
  autofillFailures = 0;
  setBusy(true);
  try {
    await signOut();
    showSignedOut();
    setStatus('You are signed out.', 'success');
    signinHeading.focus();
  } catch (err) {
    setStatus(describeError(err), 'error');
  } finally {
    setBusy(false);
  }
});

async function init(): Promise<void> {
  if (!browserSupportsWebAuthn()) {
    setStatus('This browser cannot use passkeys. Try an up-to-date browser.', 'error');
  }
  try {
    const current = await getSession();
    if (current) {
      showSignedIn(current);
      setStatus(`Welcome back, ${current.user.displayName}.`);
    } else {
      showSignedOut();
      if (browserSupportsWebAuthn()) setStatus('');
    }
  } catch (err) {
    showSignedOut();
    setStatus(describeError(err), 'error');
  }
}

void init();
