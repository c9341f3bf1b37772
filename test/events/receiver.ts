import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as received. */
  body: string;
  /** What the receiver answered. */
  status: number;
}

export interface ReceiverBehaviour {
  /** Answer 500 to the first this-many requests for each event id (its own temporary failures). */
  failuresPerEvent: number;
  /** Wait this long before answering, in milliseconds. */
  delayMs: number;
  /** Answer every request with this status instead (for permanent failures). */
  alwaysStatus: number | null;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  behaviour: ReceiverBehaviour;
  /** Ids of the events answered 2xx, once per such answer. */
  accepted(): string[];
  /** The largest number of requests for one event id that were in progress at the same moment. */
  maxConcurrentPerEvent(): number;
  reset(behaviour?: Partial<ReceiverBehaviour>): void;
  close(): Promise<void>;
}

const defaults: ReceiverBehaviour = { failuresPerEvent: 0, delayMs: 0, alwaysStatus: null };

/** A real webhook receiver: node:http on 127.0.0.1, on a port of its own. */
export async function startReceiver(): Promise<Receiver> {
  let requests: ReceivedRequest[] = [];
  let failuresServed = new Map<string, number>();
  let inFlight = new Map<string, number>();
  let maxConcurrent = 0;
  const behaviour: ReceiverBehaviour = { ...defaults };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '');
      const current = (inFlight.get(id) ?? 0) + 1;
      inFlight.set(id, current);
      maxConcurrent = Math.max(maxConcurrent, current);
      const answer = () => {
        inFlight.set(id, (inFlight.get(id) ?? 1) - 1);
        let status = 200;
        if (behaviour.alwaysStatus !== null) status = behaviour.alwaysStatus;
        else if ((failuresServed.get(id) ?? 0) < behaviour.failuresPerEvent) {
          failuresServed.set(id, (failuresServed.get(id) ?? 0) + 1);
          status = 500;
        }
        requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
        res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status === 200 ? 'ok' : 'try again');
      };
      if (behaviour.delayMs > 0) setTimeout(answer, behaviour.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/hooks/security`,
    get requests() {
      return requests;
    },
    behaviour,
    accepted: () =>
      requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => String(r.headers['webhook-id'])),
    maxConcurrentPerEvent: () => maxConcurrent,
    reset(next = {}) {
      requests = [];
      failuresServed = new Map();
      inFlight = new Map();
      maxConcurrent = 0;
      Object.assign(behaviour, defaults, next);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
