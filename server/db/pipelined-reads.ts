import type { Duplex } from 'node:stream';
import pg from 'pg';

/** One of the read connections: its client and the start times of its queries on the wire, oldest first. */
interface ReadConnection {
  client: pg.Client;
  /** Resolves once connected; rejects when the connection cannot be made. */
  ready: Promise<void>;
  connected: boolean;
  dead: boolean;
  sent: number[];
  /** Queries waiting for it to connect. */
  waiting: number;
  /** Corked for the current turn of the event loop (see {@link PipelinedReads}). */
  corked: boolean;
}

export interface PipelinedReadsOptions {
  /** The client configuration (the pool's: URL, timeouts, startup parameters). */
  config: pg.ClientConfig;
  /** The client class: the pool's, so marked statements are prepared (server/db/database.ts). */
  Client?: typeof pg.Client;
  /** Connections to spread the reads over (default 2). */
  connections?: number;
  /** A query not answered after this long closes its connection, failing what it carries (ms; 0: never). */
  queryTimeoutMs?: number;
}

/**
 * The session lookup's own connections: a few PostgreSQL connections in pipeline mode (`pg`'s
 * `pipeline: true`), where a query is written as soon as it is issued instead of after the previous
 * one's answer, each with its own Sync, so a failing query fails alone. The queries issued in one
 * turn of the event loop leave in one write per connection (the socket is corked until
 * `setImmediate`), PostgreSQL finds them waiting and answers them back to back, and many answers
 * arrive in one read: per lookup, a fraction of the system calls and wake-ups of a query per round
 * trip, on both sides. On this project's benchmark machine that halves the CPU of a lookup in
 * Node and in PostgreSQL (docs/performance.md).
 *
 * Only reads go here: a read never waits for a row lock, so a pipelined query never waits behind
 * another request's lock. Writes (the `last_seen_at` touch, the sign-in's statements) keep to the
 * pool ({@link fixedQuery} in fixed-query.ts).
 *
 * A connection that is lost is replaced at the next query; one whose oldest query has gone
 * unanswered longer than `queryTimeoutMs` (the statement timeout plus a second: the server stopped
 * answering) is closed, which fails its queries with a connection error (503).
 */
export class PipelinedReads {
  private readonly connections: Array<ReadConnection | undefined>;
  private readonly Client: typeof pg.Client;
  private readonly config: pg.ClientConfig;
  private readonly queryTimeoutMs: number;
  private readonly watchdog: NodeJS.Timeout | undefined;
  private corked: ReadConnection[] = [];
  private closed = false;
  /** Reads sent, and the writes that carried them (one per connection per turn of the event loop). */
  readonly stats = { queries: 0, writes: 0 };

  constructor(options: PipelinedReadsOptions) {
    this.Client = options.Client ?? pg.Client;
    // The client-side query timeout is this class's watchdog: pg's would cost a timer per query.
    const { query_timeout: _perQuery, ...config } = options.config as pg.ClientConfig & { query_timeout?: number };
    this.config = { ...config, pipeline: true } as pg.ClientConfig;
    this.connections = new Array(Math.max(1, options.connections ?? 2)).fill(undefined);
    this.queryTimeoutMs = options.queryTimeoutMs ?? 0;
    if (this.queryTimeoutMs > 0) {
      this.watchdog = setInterval(() => this.expire(), Math.min(1000, this.queryTimeoutMs));
      this.watchdog.unref();
    }
  }

  /** Runs one read-only statement and returns its rows. */
  query(sql: string, values: unknown[]): Promise<unknown[]> {
    if (this.closed) return Promise.reject(new Error('Cannot use a pool after calling end on the pool'));
    const connection = this.pick();
    if (connection.connected) return this.send(connection, sql, values);
    connection.waiting++;
    return connection.ready.then(
      () => {
        connection.waiting--;
        return this.send(connection, sql, values);
      },
      (error: unknown) => {
        connection.waiting--;
        throw error;
      },
    );
  }

  /** Connections open or being opened. */
  get size(): number {
    return this.connections.filter((c) => c !== undefined && !c.dead).length;
  }

  /** Closes the connections; the queries already sent are answered first. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    this.uncork();
    await Promise.all(
      this.connections.map(async (connection) => {
        if (connection === undefined || connection.dead) return;
        connection.dead = true;
        await connection.ready.catch(() => {});
        await connection.client.end().catch(() => {});
      }),
    );
  }

  /**
   * The connected connection with the fewest queries in flight, else the connecting one with the
   * fewest waiting; a missing or lost one is (re)opened.
   */
  private pick(): ReadConnection {
    let best: ReadConnection | undefined;
    let pending: ReadConnection | undefined;
    for (let i = 0; i < this.connections.length; i++) {
      let connection = this.connections[i];
      if (connection === undefined || connection.dead) {
        connection = this.open();
        this.connections[i] = connection;
      }
      if (!connection.connected) {
        if (pending === undefined || connection.waiting < pending.waiting) pending = connection;
      } else if (best === undefined || connection.sent.length < best.sent.length) best = connection;
    }
    return best ?? (pending as ReadConnection);
  }

  private open(): ReadConnection {
    const client = new this.Client(this.config);
    const connection: ReadConnection = {
      client,
      ready: Promise.resolve(),
      connected: false,
      dead: false,
      sent: [],
      waiting: 0,
      corked: false,
    };
    // A lost connection must not crash the process: it is marked dead and replaced at the next
    // query; pg fails the queries it carried.
    const lost = () => {
      connection.dead = true;
    };
    client.on('error', lost);
    client.on('end', lost);
    connection.ready = client.connect().then(
      () => {
        connection.connected = true;
      },
      (error: unknown) => {
        connection.dead = true;
        throw unableToConnect(error);
      },
    );
    // Whoever waits on it sees the failure; this keeps an unobserved one from being unhandled.
    connection.ready.catch(() => {});
    return connection;
  }

  private send(connection: ReadConnection, sql: string, values: unknown[]): Promise<unknown[]> {
    if (!connection.corked) {
      // The first query of this turn on this connection: hold its writes until setImmediate, so
      // every query of the turn leaves in one write.
      if (this.corked.length === 0) setImmediate(() => this.uncork());
      this.corked.push(connection);
      this.stats.writes++;
      connection.corked = true;
      streamOf(connection.client).cork();
    }
    connection.sent.push(Date.now());
    this.stats.queries++;
    return new Promise((resolve, reject) => {
      // The three-argument form: the pool's PreparingClient runs a marked statement by name.
      connection.client.query(sql, values, (error: Error | undefined, result: pg.QueryResult) => {
        // Answers come in the order the queries were sent, errors included.
        connection.sent.shift();
        if (error) reject(error);
        else resolve(result.rows);
      });
    });
  }

  private uncork(): void {
    const corked = this.corked;
    this.corked = [];
    for (const connection of corked) {
      connection.corked = false;
      streamOf(connection.client).uncork();
    }
  }

  /** Closes every connection whose oldest query has waited longer than the query timeout. */
  private expire(): void {
    const cutoff = Date.now() - this.queryTimeoutMs;
    for (const connection of this.connections) {
      if (connection === undefined || connection.dead) continue;
      const oldest = connection.sent[0];
      if (oldest !== undefined && oldest <= cutoff) {
        connection.dead = true;
        streamOf(connection.client).destroy(new Error('Query read timeout'));
      }
    }
  }
}

function streamOf(client: pg.Client): Duplex {
  return (client as unknown as { connection: { stream: Duplex } }).connection.stream;
}

/**
 * A failed connection attempt as SQLSTATE 08001 (`sqlclient_unable_to_establish_sqlconnection`)
 * unless it has a code of its own: `pg`'s own connection timeout ("timeout expired") has none, and
 * the server must answer 503, not 500 (server/http/errors.ts).
 */
function unableToConnect(error: unknown): unknown {
  if (!(error instanceof Error) || typeof (error as { code?: unknown }).code === 'string') return error;
  return Object.assign(new Error(`could not connect to PostgreSQL: ${error.message}`, { cause: error }), {
    code: '08001',
  });
}
