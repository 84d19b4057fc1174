import type { JobState } from '@offload/protocol';
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { StoreChanges } from '../store.js';

/** What one transaction changed, gathered as it runs and sent with its COMMIT. */
export class ChangeSet {
  readonly queuedClasses = new Set<number>();
  /** Job id → the state before the transaction (first seen) and after it (last seen). */
  readonly jobs = new Map<string, { from: JobState | null; to: JobState }>();
  readonly logs = new Set<string>();
  readonly agents = new Set<string>();
  queues = false;

  job(id: string, from: JobState | null, to: JobState, classId: number): void {
    const seen = this.jobs.get(id);
    this.jobs.set(id, { from: seen === undefined ? from : seen.from, to });
    if (to === 'queued' && from !== 'queued') this.queuedClasses.add(classId);
  }

  /**
   * A class that may still have queued jobs nobody is taking: a claim passed rows of it
   * over (see postgres-claim.ts). Announced like a class that gained jobs, so agents parked
   * on other servers look again.
   */
  stillQueued(classId: number): void {
    this.queuedClasses.add(classId);
  }

  get empty(): boolean {
    return (
      this.jobs.size === 0 &&
      this.queuedClasses.size === 0 &&
      this.logs.size === 0 &&
      this.agents.size === 0 &&
      !this.queues
    );
  }
}

/**
 * The NOTIFY payload: short keys, because PostgreSQL refuses payloads of 8,000 bytes or
 * more. `o` is the sending store's id, so a server can skip its own notifications.
 */
interface Payload {
  o: string;
  q?: number[];
  j?: Array<[string, JobState | null, JobState]>;
  l?: string[];
  a?: string[];
  p?: 1;
  r?: 1;
}

/** Below PostgreSQL's 8,000-byte limit, with room for the keys a chunk adds. */
const MAX_PAYLOAD_BYTES = 7_000;
/**
 * Notifications one transaction may send (~100 jobs each). A larger batch is sent
 * coarse. Several notifications in one transaction cost one turn of the database-wide
 * notify lock at commit, like one: the lock is per transaction, not per notification.
 */
const MAX_PAYLOADS = 64;

/**
 * The payloads of one transaction's notifications: usually one; a batch too large for
 * 8,000 bytes is split into chunks of jobs (and log job ids), the first carrying the
 * classes, agents and pause flag. Past MAX_PAYLOADS, one coarse payload: the classes that
 * gained work — what wakes agents — and `resync` for the rest.
 */
export function encodeChanges(origin: string, c: ChangeSet): string[] {
  const first: Payload = { o: origin };
  if (c.queuedClasses.size > 0) first.q = [...c.queuedClasses];
  if (c.agents.size > 0) first.a = [...c.agents];
  if (c.queues) first.p = 1;
  const chunks: Payload[] = [first];
  let current = first;
  let size = Buffer.byteLength(JSON.stringify(first));
  const room = (bytes: number): Payload => {
    if (size + bytes > MAX_PAYLOAD_BYTES) {
      current = { o: origin };
      chunks.push(current);
      size = Buffer.byteLength(JSON.stringify(current));
    }
    size += bytes + 1; // and a comma
    return current;
  };
  c.jobs.forEach((s, id) => {
    const entry: [string, JobState | null, JobState] = [id, s.from, s.to];
    (room(Buffer.byteLength(JSON.stringify(entry))).j ??= []).push(entry);
  });
  for (const id of c.logs) (room(Buffer.byteLength(JSON.stringify(id))).l ??= []).push(id);
  const texts = chunks.map((p) => JSON.stringify(p));
  if (texts.length <= MAX_PAYLOADS && texts.every((t) => Buffer.byteLength(t) < 7_900))
    return texts;
  const coarse: Payload = { o: origin, r: 1 };
  if (first.q !== undefined) coarse.q = first.q.slice(0, 500);
  return [JSON.stringify(coarse)];
}

export function decodeChanges(text: string): { origin: string; changes: StoreChanges } | null {
  let p: Payload;
  try {
    p = JSON.parse(text) as Payload;
  } catch {
    return null;
  }
  if (typeof p !== 'object' || p === null || typeof p.o !== 'string') return null;
  return {
    origin: p.o,
    changes: {
      queuedClasses: p.q ?? [],
      jobs: (p.j ?? []).map(([id, from, to]) => ({ id, from, to })),
      logs: p.l ?? [],
      agents: p.a ?? [],
      queues: p.p === 1,
      resync: p.r === 1,
    },
  };
}

/** The channel of a schema. Identifiers stop at 63 bytes: a longer name is hashed. */
export function channelFor(schema: string): string {
  const plain = `offload_${schema}`;
  return plain.length <= 63
    ? plain
    : `offload_${createHash('sha256').update(schema).digest('hex').slice(0, 32)}`;
}

function resync(): StoreChanges {
  return { queuedClasses: [], jobs: [], logs: [], agents: [], queues: false, resync: true };
}

/**
 * A subscriber that also wants to hear when the feed stops listening (for readiness: a
 * server whose feed is down answers requests but misses the other servers' wake-ups). The
 * Store interface takes a plain listener; one with `lost` is told, each time the listening
 * connection drops or cannot be opened, why. It hears `resync` when listening again.
 */
export interface ChangeFeedListener {
  (changes: StoreChanges): void;
  lost?: (reason: Error) => void;
}

export interface ChangeFeedOptions {
  /** The pool's connection settings, for the listening connection. */
  connection: pg.ClientConfig;
  channel: string;
  /** This store's id: notifications it sent itself are not delivered. */
  origin: string;
  onError: (err: Error) => void;
  /** Reconnect delays (ms): first, then doubling up to max. */
  backoffMs?: { first: number; max: number };
}

/**
 * The receiving side: one dedicated connection (not from the pool: a LISTEN belongs to its
 * session) opened at the first subscription. When it drops it is reopened with backoff.
 * Subscribers get `resync` each time it starts listening — the first time, and after
 * each reconnect, since what was sent while nobody listened is lost.
 */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeFeedListener>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private delayMs: number;
  private closed = false;
  /** Why the feed is not listening, while it has subscribers and is not; else null. */
  private down: Error | null = null;

  /** How this store's own payloads begin: `{"o":"<origin>"` (the closing quote included). */
  private readonly ownPrefix: string;

  constructor(private readonly options: ChangeFeedOptions) {
    this.delayMs = options.backoffMs?.first ?? 100;
    this.ownPrefix = `{"o":${JSON.stringify(options.origin)}`;
  }

  subscribe(listener: ChangeFeedListener): () => void {
    this.listeners.add(listener);
    if (this.down !== null) this.tell(listener, this.down);
    if (
      !this.closed &&
      this.client === null &&
      this.connecting === null &&
      this.retryTimer === null
    )
      this.connect();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Why subscribers are missing changes now (the listening connection is down or being
   * reopened), or null: listening, connecting for the first time, or nobody subscribed.
   */
  get problem(): Error | null {
    return this.down;
  }

  /** Resolves once the feed is listening (for tests and start-up ordering). */
  async ready(): Promise<void> {
    while (!this.closed && this.client === null) {
      if (this.connecting !== null) await this.connecting.catch(() => undefined);
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.connecting?.catch(() => undefined);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }

  private connect(): void {
    const client = new pg.Client(this.options.connection);
    const attempt = (async () => {
      client.on('error', (err) => this.lost(client, err));
      client.on('end', () => this.lost(client, null));
      client.on('notification', (n) => this.deliver(n));
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.options.channel)}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
      this.down = null;
      this.delayMs = this.options.backoffMs?.first ?? 100;
      // Also the first time: whatever was committed before the feed listened is unknown
      // to it, so subscribers load their state once it is live.
      this.emit(resync());
    })();
    this.connecting = attempt;
    attempt
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        this.options.onError(e);
        client.end().catch(() => undefined);
        if (!this.closed) this.stopped(e);
        this.retry();
      })
      .finally(() => {
        if (this.connecting === attempt) this.connecting = null;
      });
  }

  private lost(client: pg.Client, err: Error | null): void {
    if (this.client !== client) return;
    this.client = null;
    if (err !== null) this.options.onError(err);
    client.end().catch(() => undefined);
    if (!this.closed) this.stopped(err ?? new Error('the listening connection ended'));
    this.retry();
  }

  /** The feed stopped listening: subscribers that asked to know are told why. */
  private stopped(err: Error): void {
    const why = (err as Error & { code?: string }).code;
    this.down = new Error(
      `the change feed is not listening (${err.message || why || 'connection lost'}); reconnecting`,
      { cause: err },
    );
    for (const l of this.listeners) this.tell(l, this.down);
  }

  private tell(listener: ChangeFeedListener, reason: Error): void {
    try {
      listener.lost?.(reason);
    } catch (err) {
      this.options.onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private retry(): void {
    if (this.closed || this.retryTimer !== null) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(delay * 2, this.options.backoffMs?.max ?? 5_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed) this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private deliver(n: pg.Notification): void {
    if (n.channel !== this.options.channel || n.payload === undefined) return;
    // This server's own notifications come back too, one per transaction with every job it
    // changed: told apart by their first key (encodeChanges writes `o` first) without
    // parsing them.
    if (n.payload.startsWith(this.ownPrefix)) return;
    const decoded = decodeChanges(n.payload);
    if (decoded === null || decoded.origin === this.options.origin) return;
    this.emit(decoded.changes);
  }

  private emit(changes: StoreChanges): void {
    for (const l of this.listeners) {
      try {
        l(changes);
      } catch (err) {
        this.options.onError(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}
