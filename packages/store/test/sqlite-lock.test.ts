import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '@offload/store';
import { ApiError } from '@offload/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');

/** A child that takes the file the way the store does, says "locked", and waits (or exits after `exitAfterMs`). */
const HOLDER = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2], { timeout: 0 });
db.pragma('locking_mode = EXCLUSIVE');
db.pragma('journal_mode = WAL');
db.exec('BEGIN IMMEDIATE'); db.exec('CREATE TABLE IF NOT EXISTS held (x)'); db.exec('COMMIT');
process.stdout.write('locked\\n');
const ms = Number(process.argv[3]);
if (ms > 0) setTimeout(() => process.exit(0), ms); else setInterval(() => {}, 1000);
`;

describe('sqlite file lock: one server per file', () => {
  let dir: string;
  let file: string;
  const children: Array<ReturnType<typeof spawn>> = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-lock-'));
    file = path.join(dir, 'offload.db');
  });
  afterEach(() => {
    for (const c of children.splice(0))
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function holdInChild(exitAfterMs = 0): Promise<ReturnType<typeof spawn>> {
    const child = spawn(process.execPath, ['-e', HOLDER, betterSqlite, file, String(exitAfterMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      child.on('exit', (code) => reject(new Error(`holder exited early with ${code}`)));
    });
    return child;
  }

  it('refuses a second open in the same process, naming the file', async () => {
    const first = await openSqliteStore({ path: file });
    const err = await openSqliteStore({ path: file }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApiError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('another offload server');
    // The first store is unharmed.
    await first.ping();
    await first.close();
    const again = await openSqliteStore({ path: file });
    await again.close();
  });

  it('keeps other processes out of the file while open', async () => {
    const store = await openSqliteStore({ path: file });
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `const D = require(process.argv[1]); new D(process.argv[2], { timeout: 0 }).prepare('SELECT COUNT(*) FROM jobs').get();`,
        betterSqlite,
        file,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('database is locked');
    await store.close();
  });

  it('refuses to open while another process holds the file, and opens once it is killed with SIGKILL', async () => {
    const child = await holdInChild();
    await expect(openSqliteStore({ path: file })).rejects.toThrow(/another offload server/);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // No lock file to clean up: the OS lock died with the process.
    const store = await openSqliteStore({ path: file });
    await store.ping();
    await store.close();
  });

  it('waits up to lockTimeoutMs for the holder to go away', async () => {
    await holdInChild(300);
    const store = await openSqliteStore({ path: file, lockTimeoutMs: 10_000 });
    await store.ping();
    await store.close();
  });

  it('close is idempotent', async () => {
    const store = await openSqliteStore({ path: file });
    await store.close();
    await store.close();
  });
});
