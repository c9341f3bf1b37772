-- Security events on their way to the webhook (server/events/). A row is written in the transaction
-- of the change it reports, so it exists if and only if the change committed; the dispatcher then
-- delivers it at least once.
CREATE TABLE event_outbox (
  -- The event id the receiver sees (`Webhook-Id`); the id of the audit event it comes from.
  id uuid PRIMARY KEY,
  type text NOT NULL,
  user_id uuid,
  -- The exact JSON body, fixed at write time so every attempt sends the same bytes.
  body text NOT NULL,
  occurred_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  -- The lease of the dispatcher delivering it now; after it passes, another dispatcher may take it.
  locked_until timestamptz,
  last_error text,
  delivered_at timestamptz,
  -- Given up after the last attempt: kept as a dead letter, never sent again.
  failed_at timestamptz
);
-- Only undelivered rows are ever looked for; delivered ones drop out of the index.
CREATE INDEX event_outbox_due_idx ON event_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX event_outbox_done_idx ON event_outbox (occurred_at) WHERE delivered_at IS NOT NULL OR failed_at IS NOT NULL;
