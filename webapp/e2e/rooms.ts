// Test helpers: the platform backend's calls (admin) and LiveKit clients played on the emulator.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Page } from '@playwright/test';

export const base = () => process.env.ROOMS_E2E_BASE_URL!;
export const emulatorUrl = () => process.env.ROOMS_E2E_LIVEKIT_URL!;
export const SHOTS = new URL('../test-results/', import.meta.url).pathname;
mkdirSync(SHOTS, { recursive: true });

export async function signIn(sub: string, opts: { name?: string; admin?: boolean } = {}): Promise<string> {
  const r = await fetch(`${base()}/dev/sign-in`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sub, ...opts }),
  });
  if (!r.ok) throw new Error(`sign-in ${r.status}: ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}

export async function call(method: string, path: string, token: string, body?: unknown) {
  const r = await fetch(`${base()}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

export async function admin(method: string, path: string, body?: unknown) {
  return call(method, path, await signIn('platform-backend', { admin: true }), body);
}

export function ids() {
  const s = randomUUID().slice(0, 8);
  return { booking: `bk-${s}`, session: `ss-${s}`, host: `dr-${s}`, client: `cl-${s}`, other: `ot-${s}` };
}

export async function createBookingRoom(id: ReturnType<typeof ids>, extra: Record<string, unknown> = {}) {
  const r = await admin('POST', '/rooms', {
    booking_id: id.booking, service_type: 'therapy', title: 'Therapy with Dr Rivera',
    host: { user_id: id.host, name: 'Dr Rivera' }, members: [{ user_id: id.client, name: 'Jane Doe' }], ...extra,
  });
  if (r.status !== 201) throw new Error(`create room ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as { room_id: string; livekit_room: string };
}

/** A simulated LiveKit client (the emulator's /dev/join) connecting with a member's join token. */
export async function emulatedJoin(userToken: string, path: string, publish = ['audio', 'video']) {
  const grant = await call('POST', `${path}/token`, userToken, {});
  if (grant.status !== 200) throw new Error(`token ${grant.status}: ${JSON.stringify(grant.body)}`);
  const r = await fetch(`${emulatorUrl()}/dev/join`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: grant.body.token, publish }),
  });
  if (!r.ok) throw new Error(`emulated join ${r.status}: ${await r.text()}`);
  return grant.body;
}

/** Open a Room URL as a signed-in user: the demo `?token=` path (kept in sessionStorage, removed from the URL). */
export async function openAs(page: Page, roomPath: string, sub: string, name?: string) {
  const token = await signIn(sub, { name });
  await page.goto(`${base()}${roomPath}?token=${encodeURIComponent(token)}`);
}
