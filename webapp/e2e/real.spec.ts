// The walk with REAL media: livekit-server (branch `real`: rooms_local/livekit_server) in a network
// namespace, two chromiums inside it with fake camera and microphone.
//   ROOMS_E2E_REAL=1 npx playwright test e2e/real.spec.ts      (make webapp-test-real; needs root)
// 1. host and client open the booking URL  2. the client waits, the host admits them
// 3. both see each other's video           4. the host mutes the client
// 5. the client's quality samples reach attendance   6. the host ends the session: both see it ended
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { chromiumArgs } from './browser';
import { call, createBookingRoom, ids, SHOTS, signIn } from './rooms';

test.skip(() => !process.env.ROOMS_E2E_NETNS,
  'needs the real livekit-server harness in a network namespace: run with ROOMS_E2E_REAL=1 (make webapp-test-real)');

const wrapper = fileURLToPath(new URL('./netns-chromium.sh', import.meta.url));
const appBase = () => process.env.ROOMS_E2E_APP_BASE_URL!;

async function browserInNamespace(): Promise<Browser> {
  return chromium.launch({ executablePath: wrapper, args: chromiumArgs(), headless: true });
}

async function open(browser: Browser, path: string, sub: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  await page.addInitScript(() => { (window as unknown as { ROOMS_CONFIG: object }).ROOMS_CONFIG = { qualityIntervalSeconds: 2, hostPollSeconds: 1 }; });
  const token = await signIn(sub, { name });
  await page.goto(`${appBase()}${path}?token=${encodeURIComponent(token)}`);
  await expect(page.getByTestId('prejoin')).toBeVisible();
  return page;
}

/** A remote participant's video is playing on this page (frames decoded, not a placeholder). */
async function seesRemoteVideo(page: Page) {
  const remote = page.locator('.lk-participant-tile:not([data-lk-local-participant="true"]) video');
  await expect.poll(async () => {
    for (const v of await remote.all()) {
      if (await v.evaluate((el: HTMLVideoElement) => el.videoWidth > 0 && el.currentTime > 0)) return true;
    }
    return false;
  }, { timeout: 30_000 }).toBe(true);
}

test('host and client meet: admit, video both ways, mute, quality samples, end', async () => {
  test.setTimeout(300_000);
  const id = ids();
  const room = await createBookingRoom(id, { waiting_room: true });
  const path = `/room/booking/${id.booking}/`;
  const browser = await browserInNamespace();
  try {
    const host = await open(browser, path, id.host, 'Dr Rivera');
    await host.getByRole('button', { name: 'Join' }).click();
    const panel = host.getByTestId('host-panel');
    await expect(panel).toBeVisible();

    const client = await open(browser, path, id.client, 'Jane Doe');
    await client.getByRole('button', { name: 'Join' }).click();
    await expect(client.getByRole('heading', { name: 'Waiting for the host to admit you' })).toBeVisible();
    await expect(client.getByText('Connected. Your camera and microphone stay off until you are admitted.')).toBeVisible();

    const waiting = panel.getByRole('region', { name: 'Waiting room' });
    await waiting.getByRole('listitem').filter({ hasText: 'Jane Doe' }).getByRole('button', { name: 'Admit' }).click();
    await expect(client.getByTestId('waiting')).toHaveCount(0);

    await seesRemoteVideo(host);
    await seesRemoteVideo(client);
    await client.screenshot({ path: `${SHOTS}room.png` });
    await host.screenshot({ path: `${SHOTS}host-bar-real.png` });

    const jane = panel.getByRole('region', { name: 'Participants' }).getByRole('listitem').filter({ hasText: 'Jane Doe' });
    await jane.getByRole('button', { name: 'Mute', exact: true }).click();
    await expect(jane.getByRole('button', { name: 'Muted' })).toBeVisible();
    await expect(client.getByTestId('notice')).toContainText('microphone is off');

    const hostToken = await signIn(id.host);
    await expect.poll(async () => {
      const attendance = await call('GET', `/rooms/${room.room_id}/attendance`, hostToken);
      const entry = (attendance.body?.participants ?? []).find((e: { identity: string }) => e.identity === id.client);
      return entry?.quality ? 'sampled' : 'not yet';
    }, { timeout: 60_000 }).toBe('sampled');

    await panel.getByRole('button', { name: 'End session for everyone' }).click();
    await expect(host.getByRole('heading', { name: 'This session has ended' })).toBeVisible();
    await expect(client.getByRole('heading', { name: 'This session has ended' })).toBeVisible();
  } finally {
    await browser.close();
  }
});
