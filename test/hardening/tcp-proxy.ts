import net from 'node:net';

/**
 * A TCP proxy a test controls, to take a real database away and give it back: `cut('refuse')`
 * closes the port (connections are refused, as when the server is down), `cut('blackhole')` accepts
 * connections but never answers (as when the network drops packets), and both kill the connections
 * in flight; `restore()` forwards again on the same port.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private mode: 'forward' | 'blackhole' = 'forward';
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<this> {
    await this.listen();
    return this;
  }

  async cut(mode: 'refuse' | 'blackhole'): Promise<void> {
    this.mode = 'blackhole';
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (mode === 'refuse') await this.close();
  }

  async restore(): Promise<void> {
    this.mode = 'forward';
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (this.server === null) await this.listen();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await this.close();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.sockets.delete(socket));
  }

  private listen(): Promise<void> {
    const server = net.createServer((client) => {
      this.track(client);
      if (this.mode === 'blackhole') return;
      const upstream = net.connect(this.target.port, this.target.host);
      this.track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
