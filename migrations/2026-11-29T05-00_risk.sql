-- Risk signals (docs/risk.md): the context a session was created in (or last re-verified in with a
-- passkey), compared on each request, and the session's risk state.

-- The trusted User-Agent header as sent ('' when none was sent), and its parsed browser family and
-- OS. Sessions from before this migration keep their creation User-Agent; their family and OS are
-- parsed from it when needed.
ALTER TABLE session ADD COLUMN context_user_agent text NOT NULL DEFAULT '';
ALTER TABLE session ADD COLUMN context_browser text;
ALTER TABLE session ADD COLUMN context_os text;
UPDATE session SET context_user_agent = coalesce(user_agent, '');
-- The client networks (IPv4 /24, IPv6 /48) the session has been used from, oldest first, at most 32.
-- Empty when unknown; the first known network is then adopted without a signal.
ALTER TABLE session ADD COLUMN networks text[] NOT NULL DEFAULT '{}';
-- Set when the browser family or OS changed (the session is suspect); cleared by a re-verification.
ALTER TABLE session ADD COLUMN suspect_at timestamptz;
-- Set when the session must pass a passkey re-verification before anything else.
ALTER TABLE session ADD COLUMN step_up_required_at timestamptz;

-- Sign-in signals count recent failed sign-ins per account and in total (then per network).
CREATE INDEX audit_event_login_failed_user_idx ON audit_event (user_id, created_at) WHERE type = 'login_failed';
CREATE INDEX audit_event_login_failed_time_idx ON audit_event (created_at) WHERE type = 'login_failed';
