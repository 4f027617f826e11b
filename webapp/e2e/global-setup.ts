// Start the local stack (moto + LiveKit emulator + gateway serving webapp/dist) on free ports with
// `python -m rooms_local.cli up --no-demo`, find it through its own state file (ROOMS_STATE_FILE), and stop
// it when the run ends. ROOMS_E2E_REAL=1: `--livekit server` (the real livekit-server in a network
// namespace; root): the state file names the namespace and the gateway's address there. When that cannot
// run here the real walk skips, saying why, except in CI (CI=true or ROOMS_REQUIRE_REAL_LIVEKIT=1): it fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** The running stack's state file (rooms_local/config.py write_state), once `rooms up` has written it. */
async function waitForState(path: string, child: ChildProcess, seconds: number, log: () => string): Promise<StackState> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the local stack exited with ${child.exitCode}`);
    if (existsSync(path)) {
      try { return JSON.parse(readFileSync(path, 'utf8')) as StackState; } catch { /* written whole, then renamed: retry */ }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the local stack wrote no state file (${path}) within ${seconds} s\n--- stack output ---\n${log()}`);
}

interface StackState {
  pid: number;
  urls: { api: string; livekit: string };
  livekit_server: null | { netns: string; host_ip: string; inside_ip: string; url: string; ws_url: string; api_url: string; log: string };
}

/** Why the real livekit-server cannot run here (not root, no binary, no Redis), or '' when it can. */
function realUnavailable(python: string): string {
  const r = spawnSync(python, ['-c', 'from rooms_local.livekit_server import unavailable_reason as u; print(u() or "")'],
    { cwd: repo, encoding: 'utf8' });
  if (r.status !== 0) return `cannot ask the harness (${python}): ${r.stderr || r.error}`;
  return r.stdout.trim();
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (process.env.ROOMS_E2E_BASE_URL) return async () => {}; // a stack someone started already
  if (!existsSync(join(repo, 'webapp', 'dist', 'index.html'))) throw new Error('webapp/dist is missing: run `make webapp` first');
  const python = process.env.ROOMS_PYTHON ?? join(repo, '.venv', 'bin', 'python');
  // ROOMS_E2E_REAL=1: the real livekit-server in its network namespace (rooms_local/livekit_server).
  const real = process.env.ROOMS_E2E_REAL === '1';
  if (real) {
    const reason = realUnavailable(python);
    const required = process.env.CI === 'true' || process.env.ROOMS_REQUIRE_REAL_LIVEKIT === '1';
    if (reason && required) throw new Error(`the real-media walk must run here (CI=true or ROOMS_REQUIRE_REAL_LIVEKIT=1) but cannot: ${reason}`);
    if (reason) {
      process.env.ROOMS_E2E_REAL_SKIP = `real LiveKit unavailable: ${reason}`; // real.spec.ts skips, saying why
      return async () => {};
    }
  }
  const [api, livekit, moto] = [await freePort(), await freePort(), await freePort()];
  // Its own state file: a developer's running `rooms up` (.local-stack/state.json) is left alone.
  const stateDir = mkdtempSync(join(tmpdir(), 'rooms-e2e-'));
  const stateFile = join(stateDir, 'state.json');
  const args = ['-m', 'rooms_local.cli', 'up', '--no-demo', '--sweep-every', '0', ...(real ? ['--livekit', 'server'] : [])];
  const child = spawn(python, args, {
    cwd: repo,
    env: { ...process.env, ROOMS_API_PORT: String(api), LIVEKIT_DEV_PORT: String(livekit), MOTO_PORT: String(moto),
      ROOMS_STATE_FILE: stateFile, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: stopped as a whole
  });
  let log = '';
  child.stdout?.on('data', (d) => { log += d; });
  child.stderr?.on('data', (d) => { log += d; });
  const stop = async () => {
    if (child.pid && child.exitCode === null) {
      process.kill(-child.pid, 'SIGINT'); // rooms up stops the stack on Ctrl-C (and removes its namespace)
      for (let i = 0; i < 100 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    }
    mkdirSync(join(repo, 'webapp', 'test-results'), { recursive: true });
    writeFileSync(join(repo, 'webapp', 'test-results', real ? 'stack-real.log' : 'stack.log'), log);
    rmSync(stateDir, { recursive: true, force: true });
  };
  let state: StackState;
  try {
    // Generous: a loaded 2-core machine starts moto, livekit-server + Redis and the gateway slowly.
    state = await waitForState(stateFile, child, real ? 180 : 90, () => log);
    await waitFor(`${state.urls.api}/health`, child, 30);
    if (real && !state.livekit_server) throw new Error('ROOMS_E2E_REAL=1 but the stack runs no livekit-server in a namespace');
  } catch (err) {
    await stop();
    throw new Error(`${err}\n--- stack output ---\n${log}`);
  }
  process.env.ROOMS_E2E_BASE_URL = state.urls.api;
  process.env.ROOMS_E2E_LIVEKIT_URL = state.urls.livekit;
  if (state.livekit_server) {
    process.env.ROOMS_E2E_NETNS = state.livekit_server.netns;
    process.env.ROOMS_E2E_APP_BASE_URL = state.livekit_server.api_url; // the gateway as the namespace sees it
  }
  return stop;
}
