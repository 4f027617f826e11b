// The walk with REAL media: livekit-server (rooms_local/livekit_server) in a network namespace, one
// chromium inside it (two contexts: host and client) with fake camera and microphone.
//   make webapp-test-real      (ROOMS_E2E_REAL=1 npx playwright test e2e/real.spec.ts; needs root)
// 1. host and client open the booking URL  2. the client waits (and reads the host's message), the host admits them
// 3. both see each other's video           4. the host mutes the client
// 5. the client's quality samples reach attendance   6. the host ends the session: both see it ended
// 7. a webinar viewer: the viewer layout, nothing published, and only the 180p layer sent to them when the
//    participant count caps it (the control: the walk's two-person room sends more)
// 8. a join token LiveKit refuses: "Your join link didn't work", and "Try again" joins with a fresh one;
//    then 20 % loss in the stats: the poor-quality banner (next step, phone) and the loss in the sample posted
// Screenshots: test-results/real-prejoin.png, real-room.png (the client: two live video tiles),
// real-host-bar.png (the host: tiles and the host controls), real-viewer.png (the webinar viewer),
// real-error-token.png (the refused token's card). The pages' consoles: real-console.log; the
// room's attendance once the client's quality samples arrived: real-attendance.json.
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromiumArgs } from './browser';
import { call, createBookingRoom, ids, SHOTS, signIn } from './rooms';

test.skip(() => !process.env.ROOMS_E2E_REAL, 'the real-media walk: run with ROOMS_E2E_REAL=1 (make webapp-test-real)');
test.skip(() => !!process.env.ROOMS_E2E_REAL_SKIP, process.env.ROOMS_E2E_REAL_SKIP ?? 'real LiveKit unavailable');

const wrapper = fileURLToPath(new URL('./netns-chromium.sh', import.meta.url));
const appBase = () => process.env.ROOMS_E2E_APP_BASE_URL!;
const consoleLog: string[] = [];
/** Every request a page made to LiveKit's server API (Twirp): the browser must never make one. */
const twirpCalls: string[] = [];

// Bounded but generous waits: a loaded 2-core machine runs livekit-server, the stack and two pages.
const MEDIA_TIMEOUT = 60_000;

async function browserInNamespace(): Promise<Browser> {
  // The app is served on the namespace's http:// address, which is not a secure context: without this
  // flag navigator.mediaDevices is undefined (in production the app is served over https).
  // The fake camera at 10 fps (chromium's default is 20): two pages encode simulcast and decode on a
  // shared 2-core machine.
  const args = [...chromiumArgs().filter((a) => a !== '--use-fake-device-for-media-stream'),
    '--use-fake-device-for-media-stream=fps=10', `--unsafely-treat-insecure-origin-as-secure=${appBase()}`];
  return chromium.launch({ executablePath: wrapper, args, headless: true });
}

async function open(browser: Browser, path: string, sub: string, name: string, config: object = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  page.on('console', (m) => consoleLog.push(`[${name}] ${m.type()}: ${m.text().slice(0, 500)}`));
  page.on('pageerror', (e) => consoleLog.push(`[${name}] pageerror: ${e.message}`));
  page.on('request', (r) => { if (r.url().includes('/twirp/')) twirpCalls.push(`[${name}] ${r.method()} ${r.url()}`); });
  await page.addInitScript((extra) => {
    (window as unknown as { ROOMS_CONFIG: object }).ROOMS_CONFIG = {
      qualityIntervalSeconds: 2, hostPollSeconds: 1,
      // livekit-client gives a WebRTC (re)negotiation 15 s; a loaded CI machine can take longer.
      peerConnectionTimeoutSeconds: 45,
      ...extra,
    };
    // Test instrumentation only: keep the page's peer connections, to read what the encoder sends.
    const Native = window.RTCPeerConnection;
    const kept: RTCPeerConnection[] = [];
    (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = kept;
    window.RTCPeerConnection = class extends Native {
      constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) { super(...args); kept.push(this); }
    } as typeof RTCPeerConnection;
    // Test instrumentation only: window.__injectLoss = 0.2 makes the server's report of what we send
    // (remote-inbound-rtp) say 20 % lost, as a bad network would (no netem on this kernel).
    const nativeStats = RTCRtpSender.prototype.getStats;
    RTCRtpSender.prototype.getStats = async function (this: RTCRtpSender) {
      const report = await nativeStats.call(this);
      const loss = (window as unknown as { __injectLoss?: number }).__injectLoss;
      if (loss === undefined) return report;
      const entries = new Map<string, unknown>();
      report.forEach((v: { id: string }) => entries.set(v.id, v));
      entries.set('injected-loss', { id: 'injected-loss', type: 'remote-inbound-rtp', kind: 'video', fractionLost: loss, roundTripTime: 0.05, jitter: 0.01 });
      return entries as unknown as RTCStatsReport;
    };
  }, config);
  const token = await signIn(sub, { name });
  await page.goto(`${appBase()}${path}?token=${encodeURIComponent(token)}`);
  await expect(page.getByTestId('prejoin')).toBeVisible();
  return page;
}

/** Frames are being decoded into this <video> (a live track, not a placeholder or a frozen frame). */
async function playing(video: ReturnType<Page['locator']>): Promise<boolean> {
  return video.evaluate(async (el: HTMLVideoElement) => {
    if (el.videoWidth === 0) return false;
    const before = el.currentTime;
    await new Promise((r) => setTimeout(r, 300));
    return el.currentTime > before;
  }).catch(() => false);
}

/** The camera layers this page's encoder sends: rid → active (what livekit-client set from dynacast). */
async function sentLayers(page: Page): Promise<Record<string, boolean>> {
  return page.evaluate(() => {
    const layers: Record<string, boolean> = {};
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      if (pc.connectionState === 'closed') continue;
      for (const sender of pc.getSenders()) {
        if (sender.track?.kind !== 'video') continue;
        for (const e of sender.getParameters().encodings ?? []) layers[e.rid ?? 'single'] = e.active !== false;
      }
    }
    return layers;
  });
}

/** The height of the largest remote camera video this page is playing (0: none). */
async function remoteVideoHeight(page: Page): Promise<number> {
  return page.locator('.lk-participant-tile:not([data-lk-local-participant="true"]) video').evaluateAll(
    (videos) => Math.max(0, ...videos.map((v) => (v as HTMLVideoElement).videoHeight)));
}

async function seesVideo(page: Page, whose: 'local' | 'remote') {
  const tiles = page.locator(`.lk-participant-tile${whose === 'local' ? '[data-lk-local-participant="true"]' : ':not([data-lk-local-participant="true"])'} video`);
  await expect.poll(async () => {
    for (const v of await tiles.all()) if (await playing(v)) return 'playing';
    return 'not playing';
  }, { timeout: MEDIA_TIMEOUT, message: `${whose} video plays` }).toBe('playing');
}

test('host and client meet: admit, video both ways, mute, quality samples, end', async () => {
  test.setTimeout(360_000); // real media on a shared 2-core machine: some steps wait tens of seconds under load
  const id = ids();
  const room = await createBookingRoom(id, { waiting_room: true });
  const path = `/room/booking/${id.booking}/`;
  const browser = await browserInNamespace();
  try {
    const host = await open(browser, path, id.host, 'Dr Rivera');
    const client = await open(browser, path, id.client, 'Jane Doe');
    const panel = host.getByTestId('host-panel');

    await test.step('pre-join: camera preview and checks', async () => {
      await expect.poll(() => playing(host.getByTestId('preview-video')), { timeout: MEDIA_TIMEOUT }).toBe(true);
      const checks = host.getByRole('region', { name: 'Connection check' });
      for (const label of ['Camera', 'Microphone', 'WebRTC allowed on this network', 'Session found and you are on the list']) {
        await expect(checks.getByRole('listitem').filter({ hasText: label })).toHaveAttribute('data-state', 'ok', { timeout: MEDIA_TIMEOUT });
      }
      await host.screenshot({ path: `${SHOTS}real-prejoin.png` });
    });

    await test.step('the host joins and publishes', async () => {
      const grant = host.waitForResponse((r) => r.url().endsWith(`/bookings/${id.booking}/room/token`));
      await host.getByRole('button', { name: 'Join' }).click();
      // the host's join token carries no LiveKit admin grant: host controls can only go through our API
      const jwt = (await (await grant).json()).token as string;
      const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
      expect(claims.video.roomJoin).toBe(true);
      expect(claims.video.roomAdmin ?? false).toBe(false);
      expect(claims.video.roomCreate ?? false).toBe(false);
      await expect(panel).toBeVisible();
      await seesVideo(host, 'local');
    });

    await test.step('the client waits, the host admits them', async () => {
      await client.getByRole('button', { name: 'Join' }).click();
      await expect(client.getByRole('heading', { name: 'Waiting for the host to admit you' })).toBeVisible();
      await expect(client.getByText('Connected. Your camera and microphone stay off until you are admitted.')).toBeVisible({ timeout: MEDIA_TIMEOUT });
      const waiting = panel.getByRole('region', { name: 'Waiting room' });
      // the waiting-room concierge: the host's message reaches the waiting client (a LiveKit data message)
      const row = waiting.getByRole('listitem').filter({ hasText: 'Jane Doe' });
      await row.getByLabel('Message to this person').fill('Running 5 minutes late', { timeout: MEDIA_TIMEOUT });
      await row.getByRole('button', { name: 'Send' }).click();
      await expect(client.getByTestId('host-notice')).toContainText('Running 5 minutes late', { timeout: MEDIA_TIMEOUT });
      await client.getByTestId('host-notice').getByRole('button', { name: 'OK' }).click();
      await row.getByRole('button', { name: 'Admit' }).click({ timeout: MEDIA_TIMEOUT });
      await expect(client.getByTestId('waiting')).toHaveCount(0, { timeout: MEDIA_TIMEOUT });
    });

    await test.step('both see each other\'s video', async () => {
      await seesVideo(client, 'local');
      await seesVideo(client, 'remote');
      await seesVideo(host, 'remote');
      // a connection-quality indicator on every tile, from the server's measurement (not "unknown")
      for (const page of [client, host]) {
        const indicators = page.locator('.lk-participant-tile .lk-connection-quality');
        await expect.poll(async () => (await indicators.evaluateAll((els) => els.map((e) => e.getAttribute('data-lk-quality'))))
          .filter((q) => q === 'excellent' || q === 'good' || q === 'poor').length, { timeout: MEDIA_TIMEOUT }).toBeGreaterThanOrEqual(2);
      }
      // two people: 720p allowed; the client's tile asks for more than the lowest layer, so the host
      // still sends a layer above 180p (the control for the webinar test's capped viewer)
      await expect.poll(async () => Object.entries(await sentLayers(host)).filter(([rid, on]) => on && rid !== 'q').length,
        { timeout: MEDIA_TIMEOUT }).toBeGreaterThanOrEqual(1);
      await client.screenshot({ path: `${SHOTS}real-room.png` });
      await host.screenshot({ path: `${SHOTS}real-host-bar.png` });
    });

    await test.step('the host mutes the client', async () => {
      const jane = panel.getByRole('region', { name: 'Participants' }).getByRole('listitem').filter({ hasText: 'Jane Doe' });
      await jane.getByRole('button', { name: 'Mute', exact: true }).click({ timeout: MEDIA_TIMEOUT });
      await expect(jane.getByRole('button', { name: 'Muted' })).toBeVisible({ timeout: MEDIA_TIMEOUT });
      await expect(client.getByTestId('notice')).toContainText('microphone is off', { timeout: MEDIA_TIMEOUT });
    });

    await test.step('the host asks the client to unmute: she does, with her own click', async () => {
      const jane = panel.getByRole('region', { name: 'Participants' }).getByRole('listitem').filter({ hasText: 'Jane Doe' });
      await jane.getByRole('button', { name: 'Ask to unmute' }).click({ timeout: MEDIA_TIMEOUT });
      const ask = client.getByTestId('host-notice');
      await expect(ask).toHaveAttribute('data-kind', 'ask_unmute', { timeout: MEDIA_TIMEOUT });
      await ask.getByRole('button', { name: 'Turn on microphone' }).click();
      await expect(client.getByTestId('host-notice')).toHaveCount(0);
      await expect(client.getByTestId('notice')).toHaveCount(0, { timeout: MEDIA_TIMEOUT }); // unmuted
      await expect(jane.getByRole('button', { name: 'Mute', exact: true })).toBeEnabled({ timeout: MEDIA_TIMEOUT });
    });

    await test.step('the client\'s quality samples arrive in attendance', async () => {
      const hostToken = await signIn(id.host);
      await expect.poll(async () => {
        const attendance = await call('GET', `/rooms/${room.room_id}/attendance`, hostToken);
        const entry = (attendance.body?.participants ?? []).find((e: { identity: string }) => e.identity === id.client);
        const q = entry?.quality;
        if (q) writeFileSync(`${SHOTS}real-attendance.json`, JSON.stringify(attendance.body, null, 2) + '\n');
        // Measured by the browser's WebRTC stats (RTT, jitter, loss of the real media path).
        return q && q.samples >= 1 && (q.rtt_ms || q.jitter_ms || q.packet_loss_pct) ? 'sampled' : `not yet: ${JSON.stringify(q ?? null)}`;
      }, { timeout: 60_000 }).toBe('sampled');
    });

    await test.step('the host ends the session: both see it ended', async () => {
      await panel.getByRole('button', { name: 'End session for everyone' }).click();
      await expect(host.getByRole('heading', { name: 'This session has ended' })).toBeVisible({ timeout: MEDIA_TIMEOUT });
      await expect(client.getByRole('heading', { name: 'This session has ended' })).toBeVisible({ timeout: MEDIA_TIMEOUT });
    });
    // every host control above went to our API: neither page called LiveKit's server API
    expect(twirpCalls).toEqual([]);
  } catch (err) {
    for (const [i, context] of browser.contexts().entries()) {
      for (const page of context.pages()) await page.screenshot({ path: `${SHOTS}real-failed-${i}.png` }).catch(() => {});
    }
    throw err;
  } finally {
    writeFileSync(`${SHOTS}real-console.log`, consoleLog.join('\n') + '\n');
    await browser.close();
  }
});

test('webinar: a viewer watches in the viewer layout, cannot publish, and receives only the layer the participant count allows', async () => {
  test.setTimeout(240_000);
  const id = ids();
  const created = await call('POST', '/rooms', await signIn('platform-backend', { admin: true }), {
    service_session_id: id.session, service_type: 'webinar_talk', template: 'webinar', title: 'Webinar: sleep hygiene',
    host: { user_id: id.host, name: 'Dr Rivera' }, members: [{ user_id: id.client, name: 'Jane Doe' }],
  });
  expect(created.status).toBe(201);
  const path = `/room/session/${id.session}/`;
  const browser = await browserInNamespace();
  try {
    const host = await open(browser, path, id.host, 'Dr Rivera');
    // the platform's limits for this viewer: above one person, only the 180p layer
    const viewer = await open(browser, path, id.client, 'Jane Doe', { videoQualityLimits: { highUpTo: 1, mediumUpTo: 1 } });
    await host.getByRole('button', { name: 'Join' }).click();
    await seesVideo(host, 'local');

    const grant = viewer.waitForResponse((r) => r.url().endsWith(`/sessions/${id.session}/room/token`));
    await viewer.getByRole('button', { name: 'Join' }).click();
    expect((await (await grant).json()).role).toBe('viewer');
    const layout = viewer.getByTestId('viewer-layout');
    await expect(layout).toBeVisible({ timeout: MEDIA_TIMEOUT });
    await seesVideo(viewer, 'remote');
    // no publish controls, and nothing published
    await expect(layout.getByRole('button', { name: /camera|microphone|share/i })).toHaveCount(0);
    await expect(viewer.locator('.lk-participant-tile[data-lk-local-participant="true"]')).toHaveCount(0);
    expect(await sentLayers(viewer)).toEqual({});

    // the viewer's cap reaches the host's encoder through the server (dynacast): only the 180p layer is
    // sent, and the viewer's video is 180 lines high, though its tile fills the page
    await expect.poll(() => sentLayers(host), { timeout: MEDIA_TIMEOUT, message: "the host's encoder sends only 'q'" })
      .toEqual(expect.objectContaining({ q: true, h: false }));
    expect(Object.entries(await sentLayers(host)).filter(([, on]) => on).map(([rid]) => rid)).toEqual(['q']);
    await expect.poll(() => remoteVideoHeight(viewer), { timeout: MEDIA_TIMEOUT }).toBeGreaterThan(0);
    await expect.poll(() => remoteVideoHeight(viewer), { timeout: MEDIA_TIMEOUT }).toBeLessThanOrEqual(180);
    await viewer.screenshot({ path: `${SHOTS}real-viewer.png` });
  } catch (err) {
    for (const [i, context] of browser.contexts().entries()) {
      for (const page of context.pages()) await page.screenshot({ path: `${SHOTS}real-viewer-failed-${i}.png` }).catch(() => {});
    }
    throw err;
  } finally {
    writeFileSync(`${SHOTS}real-viewer-console.log`, consoleLog.join('\n') + '\n');
    await browser.close();
  }
});

test('a join token LiveKit refuses says so, and "Try again" gets a fresh one and joins; then poor quality is explained', async () => {
  test.setTimeout(180_000);
  const id = ids();
  const room = await createBookingRoom(id, { sip: { enabled: true, region: 'US' } });
  const pin = (await call('GET', `/rooms/${room.room_id}/dial-in`, await signIn(id.client))).body.pin;
  const path = `/room/booking/${id.booking}/`;
  const browser = await browserInNamespace();
  try {
    const client = await open(browser, path, id.client, 'Jane Doe');
    // the first token our API issues arrives with a broken signature (an expired or tampered link)
    let tampered = 0;
    await client.route(`**/bookings/${id.booking}/room/token`, async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      if (tampered++ === 0) body.token = body.token.slice(0, -4) + (body.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      await route.fulfill({ response, json: body });
    });
    await client.getByRole('button', { name: 'Join' }).click();
    const card = client.locator('[data-problem="token_invalid"]');
    await expect(card.getByRole('heading', { name: "Your join link didn't work" })).toBeVisible({ timeout: MEDIA_TIMEOUT });
    await expect(card).toContainText('Try again');
    await client.screenshot({ path: `${SHOTS}real-error-token.png` });
    await card.getByRole('button', { name: 'Try again' }).click();
    await seesVideo(client, 'local');
    expect(tampered).toBe(2);

    // poor quality: the samples say 20 % loss → the banner with the next step and the phone, and the
    // sample posted to our API carries the loss
    const posted = client.waitForRequest((r) => r.url().endsWith('/quality') && (r.postDataJSON()?.packet_loss_pct ?? 0) >= 20,
      { timeout: MEDIA_TIMEOUT });
    await client.evaluate(() => { (window as unknown as { __injectLoss: number }).__injectLoss = 0.2; });
    expect((await posted).postDataJSON().packet_loss_pct).toBe(20);
    const banner = client.locator('[data-problem="poor_quality"]');
    await expect(banner).toContainText('Your connection is poor', { timeout: MEDIA_TIMEOUT });
    await expect(banner).toContainText('Turn off your camera');
    await banner.locator('summary', { hasText: 'Join by phone' }).click();
    await expect(banner.getByTestId('dial-in-pin')).toHaveText(pin);
    await client.screenshot({ path: `${SHOTS}real-poor-quality.png` });
  } finally {
    await browser.close();
  }
});
