import pg from 'pg';
import { ADVISORY_NAMESPACE } from './postgres-migrations.js';

export interface CampaignOptions {
  connection: pg.ClientConfig;
  /** What is led: the lock is keyed by it (one leader per schema). */
  name: string;
  /** How often to try for the lock, and to check a held one is still held (ms). */
  intervalMs: number;
  onError: (err: Error) => void;
}

/**
 * One server of those sharing a schema runs the periodic maintenance. Each campaigns for a
 * session-level advisory lock on a connection of its own: pg_try_advisory_lock never
 * waits, and the lock lives exactly as long as that session. When the leader dies (even by
 * kill -9) or its connection drops, the database ends the session, the lock is free, and
 * the next try of another server — within `intervalMs` — takes it. A leader checks its
 * connection at the same interval and steps down when it fails. Maintenance that briefly
 * runs on two servers is harmless anyway: its statements lock with SKIP LOCKED.
 */
export class Campaign {
  private client: pg.Client | null = null;
  private leader = false;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly options: CampaignOptions,
    private readonly onChange: (leader: boolean) => void,
  ) {}

  start(): void {
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.busy) await new Promise((r) => setTimeout(r, 5));
    const client = this.client;
    this.client = null;
    if (client !== null) {
      // Ending the session releases the lock; unlocking first lets the next leader in
      // without waiting for the database to notice the session is gone.
      if (this.leader)
        await client
          .query('SELECT pg_advisory_unlock($1::int, hashtext($2))', this.lockParams())
          .catch(() => undefined);
      await client.end().catch(() => undefined);
    }
    this.stepDown();
  }

  private lockParams(): [number, string] {
    return [ADVISORY_NAMESPACE, `leader:${this.options.name}`];
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.busy = true;
    try {
      if (this.client === null) this.client = await this.connect();
      if (this.leader) {
        await this.client.query('SELECT 1');
      } else {
        const { rows } = await this.client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS ok',
          this.lockParams(),
        );
        if (rows[0]?.ok === true && !this.stopped) {
          this.leader = true;
          this.onChange(true);
        }
      }
    } catch (err) {
      this.options.onError(err instanceof Error ? err : new Error(String(err)));
      this.drop();
    } finally {
      this.busy = false;
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.tick(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.options.connection);
    // A dropped session ends the leadership at once, not at the next check.
    client.on('error', (err) => {
      this.options.onError(err);
      if (this.client === client) this.drop();
    });
    client.on('end', () => {
      if (this.client === client) this.drop();
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  }

  private drop(): void {
    const client = this.client;
    this.client = null;
    client?.end().catch(() => undefined);
    this.stepDown();
  }

  private stepDown(): void {
    if (!this.leader) return;
    this.leader = false;
    this.onChange(false);
  }
}
