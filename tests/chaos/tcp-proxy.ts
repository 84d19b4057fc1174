import net from 'node:net';

type Pair = [net.Socket, net.Socket];

/**
 * A TCP proxy on 127.0.0.1 that a test can cut, in the three ways a network fails:
 *
 * - `cut()`: every connection dropped, new ones accepted and left unanswered (a dead
 *   network: the client sees timeouts);
 * - `stall()`: a black hole — connections stay open but nothing is forwarded either way,
 *   new ones are accepted and left unanswered: nothing fails until a timeout says so;
 * - `refuse()`: the port closed and every connection dropped (a stopped host: refused at once).
 *
 * `restore()` forwards again, on the same port; what was held or stalled is dropped (its
 * requests are long timed out by then). `accepted` counts the connections clients opened.
 */
export class TcpProxy {
  private server: net.Server;
  private readonly pairs = new Set<Pair>();
  private readonly held = new Set<net.Socket>();
  private mode: 'forward' | 'cut' | 'stall' | 'refuse' = 'forward';
  accepted = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = this.newServer();
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.mode = 'cut';
    this.dropPairs();
  }

  stall(): void {
    this.mode = 'stall';
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  async refuse(): Promise<void> {
    this.mode = 'refuse';
    this.dropPairs();
    this.dropHeld();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async restore(): Promise<void> {
    const was = this.mode;
    this.mode = 'forward';
    this.dropHeld();
    if (was === 'stall') this.dropPairs();
    if (was === 'refuse') {
      this.server = this.newServer();
      await this.listen();
    }
  }

  async close(): Promise<void> {
    if (this.mode !== 'refuse') await this.refuse();
    this.mode = 'refuse';
    this.dropHeld();
  }

  private newServer(): net.Server {
    return net.createServer((client) => this.accept(client));
  }

  private dropPairs(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  private dropHeld(): void {
    for (const s of this.held) s.destroy();
    this.held.clear();
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    client.on('error', () => undefined);
    if (this.mode !== 'forward') {
      this.held.add(client);
      client.on('close', () => this.held.delete(client));
      return;
    }
    const upstream = net.connect(this.target.port, this.target.host);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair: Pair = [client, upstream];
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
