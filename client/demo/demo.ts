/**
 * The demo account page: sign-up, sign-in (autofill and button), recovery, and an account view with
 * passkeys, sessions, recovery codes and recent activity. Built on the public client only.
 */
import {
  type ActivityEvent,
  AuthClientError,
  type AuthErrorCode,
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  createAccountClient,
  describeError,
  getSession,
  type Passkey,
  register,
  type SessionInfo,
  type SessionSummary,
  type SignInNotice,
  signIn,
  signInWithAutofill,
  signOut,
  type UserAction,
} from '../src/index.js';
import { element, h, icon, timeElement } from './dom.js';
import { describeActivity, describeActor, describeDevice, formatRelative, formatTime, isWarning } from './format.js';

const account = createAccountClient({
  onStepUp: () => setStatus('For your security, confirm it is you with your passkey to continue…'),
});

// ---------------------------------------------------------------------------------------------
// Page elements
// ---------------------------------------------------------------------------------------------

const signInNotice = element('signin-notice', HTMLElement);
const status = element('status', HTMLElement);
const errorBox = element('error', HTMLElement);
const main = element('main', HTMLElement);
const signedOutView = element('signed-out', HTMLElement);
const recoveryView = element('recovery-mode', HTMLElement);
const signedInView = element('signed-in', HTMLElement);
const accountMenu = element('account-menu', HTMLElement);
const topbarUser = element('topbar-user', HTMLElement);

const signinForm = element('signin-form', HTMLFormElement);
const signinHeading = element('signin-heading', HTMLElement);
const signupForm = element('signup-form', HTMLFormElement);
const signupUsername = element('signup-username', HTMLInputElement);
const signupDisplayName = element('signup-display-name', HTMLInputElement);
const recoverForm = element('recover-form', HTMLFormElement);
const recoverUsername = element('recover-username', HTMLInputElement);
const recoverCode = element('recover-code', HTMLInputElement);
const recoveryHeading = element('recovery-mode-heading', HTMLElement);
const recoveryAddPasskey = element('recovery-add-passkey', HTMLButtonElement);

const signedInHeading = element('signed-in-heading', HTMLElement);
const signoutButton = element('signout-button', HTMLButtonElement);
const addPasskeyButton = element('add-passkey-button', HTMLButtonElement);
const passkeyList = element('passkey-list', HTMLUListElement);
const sessionList = element('session-list', HTMLUListElement);
const revokeOthersButton = element('revoke-others-button', HTMLButtonElement);
const recoveryRemaining = element('recovery-remaining', HTMLElement);
const createCodesButton = element('create-codes-button', HTMLButtonElement);
const codesBox = element('recovery-codes', HTMLElement);
const codesIntro = element('recovery-codes-intro', HTMLElement);
const codeList = element('recovery-code-list', HTMLOListElement);
const copyCodesButton = element('copy-codes-button', HTMLButtonElement);
const codesDoneButton = element('codes-done-button', HTMLButtonElement);
const activityList = element('activity-list', HTMLOListElement);
const activityMore = element('activity-more', HTMLButtonElement);

const confirmDialog = element('confirm-dialog', HTMLDialogElement);
const confirmTitle = element('confirm-title', HTMLElement);
const confirmMessage = element('confirm-message', HTMLElement);
const confirmOk = element('confirm-ok', HTMLButtonElement);

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

type View = 'signed-out' | 'recovery' | 'signed-in';

let view: View | null = null;
let busy = false;
/** The credential ID of the passkey this session was created with, when known. */
let sessionPasskeyId: string | null = null;
let activityCursor: string | null = null;
let shownCodes: string[] = [];

// ---------------------------------------------------------------------------------------------
// Announcements: one polite region for progress and success, one assertive region for errors.
// ---------------------------------------------------------------------------------------------

function setStatus(message: string, kind: 'info' | 'success' = 'info'): void {
  errorBox.textContent = '';
  status.dataset.kind = kind;
  status.textContent = message;
}

function showError(message: string): void {
  status.textContent = '';
  errorBox.textContent = message;
}

function clearNotices(): void {
  status.textContent = '';
  errorBox.textContent = '';
}

function setBusy(value: boolean): void {
  busy = value;
  main.setAttribute('aria-busy', String(value));
  for (const button of document.querySelectorAll<HTMLButtonElement>('main button, header button')) {
    button.disabled = value;
  }
  if (!value) updateRevokeOthers();
}

/**
 * Runs one user action at a time: disables the buttons, shows any failure in words that say what
 * to do, and puts the focus back where it was. A 401 means the session ended elsewhere.
 */
async function run(action: UserAction, work: () => Promise<void>): Promise<void> {
  if (busy) return;
  const focused = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  setBusy(true);
  try {
    await work();
  } catch (err) {
    handleFailure(err, action);
  } finally {
    setBusy(false);
    if (
      focused?.isConnected &&
      !focused.closest('[hidden]') &&
      (document.activeElement === document.body || document.activeElement === null)
    ) {
      focused.focus();
    }
  }
}

function handleFailure(err: unknown, action: UserAction): void {
  if (err instanceof AuthClientError && err.code === 'unauthenticated' && view !== 'signed-out') {
    sessionEnded('Your session has ended, perhaps because you signed out on another device. Please sign in again.');
    return;
  }
  showError(describeError(err, { action }));
  if (err instanceof AuthClientError && err.code === 'not_found' && view === 'signed-in') void refreshAccount();
}

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

function showView(next: View): void {
  view = next;
  signedOutView.hidden = next !== 'signed-out';
  recoveryView.hidden = next !== 'recovery';
  signedInView.hidden = next !== 'signed-in';
  accountMenu.hidden = next === 'signed-out';
  if (next === 'signed-out') void startAutofill();
  else stopAutofill();
}

function showSignedOut(): void {
  signInNotice.textContent = '';
  sessionPasskeyId = null;
  shownCodes = [];
  codeList.replaceChildren();
  codesBox.hidden = true;
  showView('signed-out');
}

function sessionEnded(message: string): void {
  showSignedOut();
  showError(message);
  signinHeading.focus();
}

function setTime(id: string, iso: string): void {
  const time = element(id, HTMLTimeElement);
  time.dateTime = iso;
  time.textContent = formatTime(iso);
}

function showSession(info: SessionInfo): void {
  topbarUser.textContent = info.user.displayName;
  if (info.restricted) {
    showView('recovery');
    return;
  }
  element('whoami-username', HTMLElement).textContent = info.user.username;
  element('whoami-display-name', HTMLElement).textContent = info.user.displayName;
  setTime('whoami-created', info.session.createdAt);
  setTime('whoami-expires', info.session.expiresAt);
  showView('signed-in');
}

/** After a sign-in, sign-up or recovery: read the session back so the page shows what the server holds. */
/**
 * Tells the user when this sign-in came from a device or network the account has not used before
 * (the server's risk signals), so that a sign-in they did not make does not go unnoticed.
 */
function showSignInNotice(notice: SignInNotice | undefined): void {
  if (!notice || (!notice.newDevice && !notice.newNetwork)) {
    signInNotice.textContent = '';
    return;
  }
  const device = notice.device ? `${notice.device.browser} on ${notice.device.os}` : 'a new device';
  const what = notice.newDevice
    ? `New sign-in from ${device}${notice.newNetwork ? ' on a new network' : ''}.`
    : `New sign-in from a new network (${device}).`;
  signInNotice.textContent = `${what} If this was not you, sign out your other sessions and remove passkeys you do not recognise.`;
}

async function enterSession(message: string): Promise<void> {
  const info = await getSession();
  if (!info) {
    // Not showSignedOut(): restarting autofill here could loop when cookies are blocked.
    showError('You were signed in, but the session was not kept. Are cookies blocked for this site?');
    return;
  }
  showSession(info);
  if (info.restricted) {
    setStatus(message, 'success');
    recoveryHeading.focus();
    return;
  }
  await refreshAccount();
  setStatus(message, 'success');
  signedInHeading.focus();
}

// ---------------------------------------------------------------------------------------------
// Autofill sign-in (conditional mediation)
// ---------------------------------------------------------------------------------------------

const autofillSupported = browserSupportsWebAuthnAutofill().catch(() => false);

// Errors from the server after the user picked a passkey in autofill: worth offering autofill again.
const retryAutofillAfter: ReadonlySet<AuthErrorCode> = new Set<AuthErrorCode>([
  'unknown_credential',
  'verification_failed',
  'invalid_challenge',
  'account_disabled',
  'rate_limited',
  'network_error',
]);

let autofill: AbortController | undefined;
// Autofill failures since the user last did something; a second one in a row stops the offers, so an
// authenticator that answers by itself (a virtual one in tests) cannot make the page loop.
let autofillFailures = 0;

function stopAutofill(): void {
  autofill?.abort();
  autofill = undefined;
}

async function startAutofill(): Promise<void> {
  stopAutofill();
  const controller = new AbortController();
  autofill = controller;
  if (!(await autofillSupported) || controller.signal.aborted) return;
  let chosen = false;
  let result: Awaited<ReturnType<typeof signInWithAutofill>>;
  try {
    result = await signInWithAutofill({
      signal: controller.signal,
      // The user picked a passkey: no second sign-in from the button while the server checks it.
      onPasskeyChosen: () => {
        chosen = !busy;
        if (chosen) {
          setBusy(true);
          setStatus('Signing you in…');
        }
      },
    });
  } catch (err) {
    if (chosen) setBusy(false);
    if (controller !== autofill) return;
    autofill = undefined;
    // Autofill shows no prompt that a user could cancel; a NotAllowedError here means no passkey
    // was offered (a virtual authenticator without one rejects at once). Nothing to tell the user.
    if (err instanceof AuthClientError && err.code === 'cancelled') return;
    handleFailure(err, 'sign-in');
    autofillFailures++;
    if (
      autofillFailures < 2 &&
      err instanceof AuthClientError &&
      retryAutofillAfter.has(err.code) &&
      view === 'signed-out'
    ) {
      void startAutofill();
    }
    return;
  }
  try {
    if (!result) return;
    autofillFailures = 0;
    await enterSession(`Signed in as ${result.user.username}.`);
    showSignInNotice(result.notice);
  } catch (err) {
    handleFailure(err, 'sign-in');
  } finally {
    if (chosen) setBusy(false);
  }
}

// ---------------------------------------------------------------------------------------------
// Signed out: sign in, sign up, recover
// ---------------------------------------------------------------------------------------------

signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  autofillFailures = 0;
  // One WebAuthn ceremony at a time: the picker replaces the autofill offer.
  stopAutofill();
  void run('sign-in', async () => {
    setStatus('Waiting for your passkey…');
    try {
      const { user, notice } = await signIn();
      await enterSession(`Signed in as ${user.username}.`);
      showSignInNotice(notice);
    } finally {
      if (view === 'signed-out') void startAutofill();
    }
  });
});

signupForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const username = signupUsername.value.trim();
  const displayName = signupDisplayName.value.trim();
  if (username === '') {
    signupUsername.setAttribute('aria-invalid', 'true');
    showError('Enter a username to create an account.');
    signupUsername.focus();
    return;
  }
  signupUsername.removeAttribute('aria-invalid');
  autofillFailures = 0;
  stopAutofill();
  void run('sign-up', async () => {
    setStatus('Creating your passkey…');
    try {
      const { user } = await register({ username, ...(displayName ? { displayName } : {}) });
      signupForm.reset();
      await enterSession(`Welcome, ${user.displayName}! Your account and passkey are ready.`);
    } catch (err) {
      if (err instanceof AuthClientError && (err.code === 'username_taken' || err.code === 'invalid_request')) {
        signupUsername.setAttribute('aria-invalid', 'true');
        signupUsername.focus();
      }
      throw err;
    } finally {
      if (view === 'signed-out') void startAutofill();
    }
  });
});

recoverForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const username = recoverUsername.value.trim();
  const code = recoverCode.value.trim();
  const missing = username === '' ? recoverUsername : code === '' ? recoverCode : null;
  if (missing) {
    missing.setAttribute('aria-invalid', 'true');
    showError(missing === recoverUsername ? 'Enter your username.' : 'Enter one of your recovery codes.');
    missing.focus();
    return;
  }
  recoverUsername.removeAttribute('aria-invalid');
  recoverCode.removeAttribute('aria-invalid');
  stopAutofill();
  void run('recover', async () => {
    setStatus('Checking your recovery code…');
    try {
      const { remaining } = await account.recover({ username, code });
      recoverForm.reset();
      const left = remaining === 1 ? '1 recovery code left' : `${remaining} recovery codes left`;
      await enterSession(`Recovery code accepted (${left}). Now create a new passkey.`);
    } finally {
      if (view === 'signed-out') void startAutofill();
    }
  });
});

recoveryAddPasskey.addEventListener('click', () => {
  void run('recover', async () => {
    setStatus('Creating your new passkey…');
    const passkey = await account.addPasskey();
    await enterSession(`Welcome back! Your new passkey "${passkey.name}" is ready.`);
  });
});

signoutButton.addEventListener('click', () => {
  autofillFailures = 0;
  void run('manage', async () => {
    await signOut();
    showSignedOut();
    setStatus('You are signed out.', 'success');
    signinHeading.focus();
  });
});

// ---------------------------------------------------------------------------------------------
// Account view
// ---------------------------------------------------------------------------------------------

async function refreshAccount(): Promise<void> {
  const [passkeys, sessions, recovery, activity] = await Promise.all([
    account.listPasskeys(),
    account.listSessions(),
    account.getRecoveryCodeStatus(),
    account.getActivity({ limit: 8 }),
  ]);
  sessionPasskeyId = sessions.find((session) => session.current)?.passkeyId ?? null;
  renderPasskeys(passkeys);
  renderSessions(sessions);
  renderRecovery(recovery.remaining);
  activityCursor = activity.nextCursor;
  activityList.replaceChildren(...activity.events.map(activityItem));
  activityMore.hidden = activityCursor === null;
}

function badge(text: string, kind: 'ok' | 'neutral' | 'accent' | 'warn' = 'neutral'): HTMLElement {
  return h('span', { class: `badge badge-${kind}` }, text);
}

function renderPasskeys(passkeys: Passkey[]): void {
  passkeyList.replaceChildren(...passkeys.map((passkey) => passkeyItem(passkey, passkeys.length)));
}

function passkeyItem(passkey: Passkey, count: number): HTMLLIElement {
  const usedHere = passkey.id === sessionPasskeyId;
  const lastUsed = passkey.lastUsedAt
    ? h(
        'span',
        {},
        'Last used ',
        timeElement(passkey.lastUsedAt, formatRelative(passkey.lastUsedAt), formatTime(passkey.lastUsedAt)),
      )
    : null;
  const title = h(
    'p',
    { class: 'item-title' },
    h('span', { class: 'passkey-name' }, passkey.name),
    ' ',
    passkey.backedUp ? badge('Synced', 'ok') : badge('This device only'),
    ' ',
    usedHere ? badge('Used for this session', 'accent') : null,
  );
  const meta = h(
    'p',
    { class: 'item-meta' },
    passkey.customName && passkey.authenticatorName ? h('span', {}, passkey.authenticatorName) : null,
    h(
      'span',
      {},
      'Added ',
      timeElement(passkey.createdAt, formatRelative(passkey.createdAt), formatTime(passkey.createdAt)),
    ),
    lastUsed,
  );
  const renameButton = h(
    'button',
    { type: 'button', class: 'secondary small', 'aria-label': `Rename passkey ${passkey.name}` },
    'Rename',
  );
  const deleteButton = h(
    'button',
    { type: 'button', class: 'danger-outline small', 'aria-label': `Delete passkey ${passkey.name}` },
    'Delete',
  );
  const body = h('div', { class: 'item-main' }, title, meta);
  const actions = h('div', { class: 'item-actions' }, renameButton, deleteButton);
  const item = h('li', { class: 'item', 'data-passkey-id': passkey.id }, icon('key'), body, actions);

  renameButton.addEventListener('click', () => startRename(item, body, actions, passkey));
  deleteButton.addEventListener('click', () => void deletePasskey(passkey, count));
  return item;
}

function startRename(item: HTMLLIElement, body: HTMLElement, actions: HTMLElement, passkey: Passkey): void {
  const inputId = `rename-${passkey.id}`;
  const input = h('input', {
    id: inputId,
    type: 'text',
    maxlength: '64',
    required: true,
    autocomplete: 'off',
    value: passkey.name,
  });
  const save = h('button', { type: 'submit', class: 'small' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'secondary small' }, 'Cancel');
  const form = h(
    'form',
    { class: 'rename-form', novalidate: true },
    h('label', { for: inputId }, `New name for ${passkey.name}`),
    h('div', { class: 'inline' }, input, save, cancel),
  );
  const restore = () => {
    form.replaceWith(body);
    actions.hidden = false;
    actions.querySelector('button')?.focus();
  };
  cancel.addEventListener('click', restore);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      restore();
    }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (name === '') {
      input.setAttribute('aria-invalid', 'true');
      showError('Enter a name for the passkey (1 to 64 characters).');
      input.focus();
      return;
    }
    void run('manage', async () => {
      const renamed = await account.renamePasskey(passkey.id, name);
      await refreshAccount();
      setStatus(`Passkey renamed to "${renamed.name}".`, 'success');
      passkeyList.querySelector<HTMLElement>(`[data-passkey-id="${CSS.escape(passkey.id)}"] button`)?.focus();
    });
  });
  actions.hidden = true;
  body.replaceWith(form);
  item.dataset.editing = 'true';
  input.focus();
  input.select();
}

async function deletePasskey(passkey: Passkey, count: number): Promise<void> {
  if (busy) return;
  if (count <= 1) {
    showError('You cannot delete your only passkey. Add another one first.');
    return;
  }
  const usedHere = passkey.id === sessionPasskeyId;
  const confirmed = await confirmAction({
    title: `Delete passkey "${passkey.name}"?`,
    message: usedHere
      ? 'You can no longer sign in with it. You signed in with this passkey, so you will be signed out here too.'
      : 'You can no longer sign in with it. Sessions it started are ended.',
    ok: 'Delete passkey',
  });
  if (!confirmed) return;
  await run('step-up', async () => {
    await account.deletePasskey(passkey.id);
    if (usedHere) {
      showSignedOut();
      setStatus(`Passkey "${passkey.name}" deleted. You signed in with it, so you are signed out here.`, 'success');
      signinHeading.focus();
      return;
    }
    await refreshAccount();
    setStatus(`Passkey "${passkey.name}" deleted.`, 'success');
    addPasskeyButton.focus();
  });
}

addPasskeyButton.addEventListener('click', () => {
  void run('add-passkey', async () => {
    setStatus('Creating a new passkey…');
    const passkey = await account.addPasskey();
    await refreshAccount();
    setStatus(`Passkey "${passkey.name}" added.`, 'success');
  });
});

function renderSessions(sessions: SessionSummary[]): void {
  // This device first, then the others, newest first (the server's order).
  const ordered = [...sessions.filter((session) => session.current), ...sessions.filter((session) => !session.current)];
  sessionList.replaceChildren(...ordered.map(sessionItem));
  revokeOthersButton.dataset.others = String(sessions.filter((session) => !session.current).length);
  updateRevokeOthers();
}

function updateRevokeOthers(): void {
  const others = Number(revokeOthersButton.dataset.others ?? '0');
  revokeOthersButton.disabled = busy || others === 0;
}

function sessionItem(session: SessionSummary): HTMLLIElement {
  const device = describeDevice(session.userAgent);
  const title = h(
    'p',
    { class: 'item-title' },
    h('span', {}, device),
    ' ',
    session.current ? badge('This device', 'accent') : null,
    ' ',
    session.restricted ? badge('Recovery', 'warn') : null,
  );
  const meta = h(
    'p',
    { class: 'item-meta' },
    h(
      'span',
      {},
      'Active ',
      timeElement(session.lastSeenAt, formatRelative(session.lastSeenAt), formatTime(session.lastSeenAt)),
    ),
    h(
      'span',
      {},
      'Signed in ',
      timeElement(session.createdAt, formatRelative(session.createdAt), formatTime(session.createdAt)),
    ),
    session.ipAddress ? h('span', {}, session.ipAddress) : null,
  );
  const item = h(
    'li',
    { class: 'item', 'data-session-id': session.id, ...(session.current ? { 'data-current': 'true' } : {}) },
    icon(session.current ? 'laptop' : 'globe'),
    h('div', { class: 'item-main' }, title, meta),
  );
  if (!session.current) {
    const revoke = h(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        'aria-label': `Sign out ${device}, signed in ${formatRelative(session.createdAt)}`,
      },
      'Sign out',
    );
    revoke.addEventListener('click', () => {
      void run('manage', async () => {
        await account.revokeSession(session.id);
        await refreshAccount();
        setStatus(`${device} is signed out.`, 'success');
        revokeOthersButton.focus();
      });
    });
    item.append(h('div', { class: 'item-actions' }, revoke));
  }
  return item;
}

revokeOthersButton.addEventListener('click', async () => {
  if (busy) return;
  const confirmed = await confirmAction({
    title: 'Sign out all other sessions?',
    message:
      'Every other browser and device signed in to your account is signed out at once. This one stays signed in.',
    ok: 'Sign out others',
  });
  if (!confirmed) return;
  await run('step-up', async () => {
    const ended = await account.revokeOtherSessions();
    await refreshAccount();
    setStatus(ended === 1 ? 'Signed out 1 other session.' : `Signed out ${ended} other sessions.`, 'success');
  });
});

function renderRecovery(remaining: number): void {
  if (remaining === 0) {
    recoveryRemaining.textContent =
      'You have no recovery codes. Create some, so you can get back in if you lose all your passkeys.';
    createCodesButton.textContent = 'Create recovery codes';
  } else {
    recoveryRemaining.textContent =
      remaining === 1 ? 'You have 1 unused recovery code left.' : `You have ${remaining} unused recovery codes left.`;
    createCodesButton.textContent = 'Create new codes';
  }
  recoveryRemaining.dataset.remaining = String(remaining);
}

createCodesButton.addEventListener('click', async () => {
  if (busy) return;
  const remaining = Number(recoveryRemaining.dataset.remaining ?? '0');
  if (remaining > 0) {
    const confirmed = await confirmAction({
      title: 'Create new recovery codes?',
      message: `Your ${remaining} unused codes stop working, and you get 10 new ones.`,
      ok: 'Create new codes',
    });
    if (!confirmed) return;
  }
  await run('step-up', async () => {
    shownCodes = await account.createRecoveryCodes();
    codeList.replaceChildren(...shownCodes.map((code) => h('li', {}, h('code', {}, code))));
    codesBox.hidden = false;
    renderRecovery(shownCodes.length);
    setStatus('Your new recovery codes are ready. Save them now.', 'success');
    await refreshActivity();
    codesIntro.tabIndex = -1;
    codesIntro.focus();
  });
});

copyCodesButton.addEventListener('click', () => {
  navigator.clipboard.writeText(shownCodes.join('\n')).then(
    () => setStatus('Codes copied. Paste them somewhere safe, like a password manager.', 'success'),
    () => showError('Could not copy: select the codes and copy them yourself.'),
  );
});

codesDoneButton.addEventListener('click', () => {
  shownCodes = [];
  codeList.replaceChildren();
  codesBox.hidden = true;
  setStatus('Recovery codes hidden. Keep them safe.', 'success');
  createCodesButton.focus();
});

function activityItem(event: ActivityEvent): HTMLLIElement {
  const actor = describeActor(event.actor);
  const details = [actor, event.userAgent ? describeDevice(event.userAgent) : '', event.ipAddress ?? ''].filter(
    (part) => part !== '',
  );
  return h(
    'li',
    { class: `item activity-item${isWarning(event.type) ? ' warning' : ''}`, 'data-type': event.type },
    icon(isWarning(event.type) ? 'warning' : 'dot'),
    h(
      'div',
      { class: 'item-main' },
      h('p', { class: 'item-title' }, describeActivity(event.type)),
      h(
        'p',
        { class: 'item-meta' },
        h('span', {}, timeElement(event.createdAt, formatRelative(event.createdAt), formatTime(event.createdAt))),
        ...details.map((part) => h('span', {}, part)),
      ),
    ),
  );
}

async function refreshActivity(): Promise<void> {
  const activity = await account.getActivity({ limit: 8 });
  activityCursor = activity.nextCursor;
  activityList.replaceChildren(...activity.events.map(activityItem));
  activityMore.hidden = activityCursor === null;
}

activityMore.addEventListener('click', () => {
  if (activityCursor === null) return;
  const cursor = activityCursor;
  void run('manage', async () => {
    const page = await account.getActivity({ cursor, limit: 8 });
    const items = page.events.map(activityItem);
    activityList.append(...items);
    activityCursor = page.nextCursor;
    activityMore.hidden = activityCursor === null;
    setStatus(`Showing ${activityList.children.length} events.`);
  });
});

// ---------------------------------------------------------------------------------------------
// Confirmation dialog (native <dialog>: focus trapped, Escape cancels, focus restored on close)
// ---------------------------------------------------------------------------------------------

function confirmAction({ title, message, ok }: { title: string; message: string; ok: string }): Promise<boolean> {
  confirmTitle.textContent = title;
  confirmMessage.textContent = message;
  confirmOk.textContent = ok;
  confirmDialog.returnValue = '';
  return new Promise((resolve) => {
    confirmDialog.addEventListener('close', () => resolve(confirmDialog.returnValue === 'ok'), { once: true });
    confirmDialog.showModal();
  });
}

// ---------------------------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------------------------

// Coming back to the tab: check the session is still alive (it may have been ended elsewhere).
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible' || view !== 'signed-in' || busy) return;
  void run('manage', async () => {
    const info = await getSession();
    if (!info) {
      sessionEnded('Your session has ended, perhaps because you signed out on another device. Please sign in again.');
      return;
    }
    await refreshAccount();
  });
});

async function init(): Promise<void> {
  if (!browserSupportsWebAuthn()) {
    showError('This browser cannot use passkeys. Try an up-to-date browser.');
  }
  try {
    const info = await getSession();
    if (!info) {
      showSignedOut();
      if (browserSupportsWebAuthn()) clearNotices();
      return;
    }
    showSession(info);
    if (info.restricted) {
      setStatus('Finish recovering your account by creating a new passkey.');
      return;
    }
    await refreshAccount();
    setStatus(`Welcome back, ${info.user.displayName}.`);
  } catch (err) {
    if (view === null) showSignedOut();
    handleFailure(err, 'manage');
  }
}

void init();
