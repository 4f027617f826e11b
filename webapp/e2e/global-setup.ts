// Start the local stack (moto + LiveKit emulator + gateway serving webapp/dist) on free ports with
// `python -m rooms_local.cli up --no-demo`, and stop it when the run ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
  });
}

async function waitFor(url: string, child: ChildProcess, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the local stack exited with ${child.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the local stack did not answer ${url} within ${seconds} s`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (process.env.ROOMS_E2E_BASE_URL) return async () => {}; // a stack someone started already
  if (!existsSync(join(repo, 'webapp', 'dist', 'index.html'))) throw new Error('webapp/dist is missing: run `make webapp` first');
  const python = process.env.ROOMS_PYTHON ?? join(repo, '.venv', 'bin', 'python');
  const [api, livekit, moto] = [await freePort(), await freePort(), await freePort()];
  // ROOMS_E2E_REAL=1: the real livekit-server in its network namespace (rooms_local/livekit_server).
  const real = process.env.ROOMS_E2E_REAL === '1';
  const args = ['-m', 'rooms_local.cli', 'up', '--no-demo', '--sweep-every', '0', ...(real ? ['--livekit', 'server'] : [])];
  const child = spawn(python, args, {
    cwd: repo,
    env: { ...process.env, ROOMS_API_PORT: String(api), LIVEKIT_DEV_PORT: String(livekit), MOTO_PORT: String(moto),
      PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: stopped as a whole
  });
  let log = '';
  child.stdout?.on('data', (d) => { log += d; });
  child.stderr?.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${api}`;
  try {
    await waitFor(`${base}/health`, child, 90);
  } catch (err) {
    child.kill('SIGTERM');
    throw new Error(`${err}\n--- stack output ---\n${log}`);
  }
  if (real) {
    // `rooms up --livekit server` prints "… network namespace rooms-lk-<pid>:" and "host side 10.213.N.1 …".
    const deadline = Date.now() + 30_000;
    while (!/host side (\d+\.\d+\.\d+\.\d+)/.test(log) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const ns = /network namespace (rooms-lk-\d+)/.exec(log)?.[1];
    const hostIp = /host side (\d+\.\d+\.\d+\.\d+)/.exec(log)?.[1];
    if (!ns || !hostIp) {
      process.kill(-child.pid!, 'SIGINT');
      throw new Error(`ROOMS_E2E_REAL=1 but the stack did not start livekit-server in a namespace:\n${log}`);
    }
    process.env.ROOMS_E2E_NETNS = ns;
    process.env.ROOMS_E2E_APP_BASE_URL = `http://${hostIp}:${api}`; // the gateway as the namespace sees it
  }
  process.env.ROOMS_E2E_BASE_URL = base;
  process.env.ROOMS_E2E_LIVEKIT_URL = `http://127.0.0.1:${livekit}`;
  process.env.ROOMS_E2E_STACK_LOG = join(repo, 'webapp', 'test-results', 'stack.log');
  return async () => {
    if (child.pid && child.exitCode === null) {
      process.kill(-child.pid, 'SIGINT'); // rooms up stops the stack on Ctrl-C
      await new Promise((r) => setTimeout(r, 1500));
      if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    }
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(repo, 'webapp', 'test-results'), { recursive: true });
    writeFileSync(process.env.ROOMS_E2E_STACK_LOG!, log);
  };
}
