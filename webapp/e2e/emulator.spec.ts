// Against the local stack with the LiveKit EMULATOR (no media): the pre-join, the waiting room, the
// host bar (all API calls) and the error paths. The browser cannot reach media here, which is itself
// the "cannot connect" path.
import { chromium, expect, test } from '@playwright/test';
import { chromiumArgs, chromiumLaunchOptions } from './browser';
import { admin, base, call, createBookingRoom, emulatedJoin, ids, openAs, SHOTS, signIn } from './rooms';

test.skip(() => process.env.ROOMS_E2E_REAL === '1', 'these play clients on the emulator; the real run is real.spec.ts');

test('a Room URL without a sign-in offers the local dev sign-in, then the pre-join', async ({ page }) => {
  const id = ids();
  await createBookingRoom(id);
  await page.goto(`${base()}/room/booking/${id.booking}/`);
  await expect(page.getByTestId('dev-sign-in')).toBeVisible();
  await page.getByLabel('User id').fill(id.client);
  await page.getByLabel('Display name').fill('Jane Doe');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('prejoin')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Therapy with Dr Rivera' })).toBeVisible();
});

test('pre-join: camera preview, mic meter, connection check; no token before "Join"', async ({ page }) => {
  const id = ids();
  await createBookingRoom(id);
  const tokenRequests: string[] = [];
  page.on('request', (r) => { if (r.url().endsWith('/room/token') || r.url().endsWith('/token')) tokenRequests.push(r.url()); });
  await openAs(page, `/room/booking/${id.booking}/`, id.client, 'Jane Doe');
  await expect(page.getByTestId('prejoin')).toBeVisible();
  expect(new URL(page.url()).searchParams.get('token')).toBeNull(); // taken out of the address bar
  const video = page.getByTestId('preview-video');
  await expect(video).toBeVisible();
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.videoWidth)).toBeGreaterThan(0);
  await expect.poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(0.5); // frames are playing
  // the mic level meter moves with the fake microphone's beeps
  await expect.poll(() => page.getByTestId('mic-meter').getAttribute('aria-valuenow').then(Number)).toBeGreaterThan(0);
  // device selection: the fake camera and microphone are listed, one of each active
  const devices = page.locator('.rooms-devices');
  await expect(devices.locator('.lk-media-device-select').nth(0).getByRole('button')).not.toHaveCount(0);
  await expect(devices.locator('.lk-media-device-select').nth(1).getByRole('button')).not.toHaveCount(0);
  await expect(devices.locator('[data-lk-active="true"]')).toHaveCount(2);
  const checks = page.getByRole('region', { name: 'Connection check' });
  await expect(checks.locator('li[data-state="ok"]', { hasText: 'Session found' })).toBeVisible();
  await expect(checks.locator('li[data-state="ok"]', { hasText: 'Camera' })).toBeVisible();
  await expect(checks.locator('li[data-state="ok"]', { hasText: 'Microphone' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Join' })).toBeEnabled();
  expect(tokenRequests).toEqual([]);
  await page.screenshot({ path: `${SHOTS}prejoin.png`, fullPage: true });
});

test('waiting room: the client waits for the host; the host admits them through the API', async ({ page }) => {
  const id = ids();
  const room = await createBookingRoom(id, { waiting_room: true });
  await openAs(page, `/room/booking/${id.booking}/`, id.client, 'Jane Doe');
  const grant = page.waitForResponse((r) => r.url().endsWith(`/bookings/${id.booking}/room/token`));
  await page.getByRole('button', { name: 'Join' }).click();
  const body = await (await grant).json();
  expect(body.waiting).toBe(true);
  await expect(page.getByRole('heading', { name: 'Waiting for the host to admit you' })).toBeVisible();
  // No media server here: the waiting screen stays and says what is wrong, with the phone fallback.
  await expect(page.locator('[data-problem="cannot_connect"]')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}waiting.png`, fullPage: true });

  // The host's admit (their API call) is remembered: the client's next token does not wait.
  const host = await signIn(id.host);
  const client = await signIn(id.client);
  await emulatedJoin(client, `/rooms/${room.room_id}`, []);
  const admitted = await call('POST', `/rooms/${room.room_id}/participants/${id.client}/admit`, host);
  expect(admitted.status).toBe(200);
  const again = await call('POST', `/rooms/${room.room_id}/token`, client, {});
  expect(again.body.waiting).toBe(false);
});

test('host bar: waiting list, message, admit, mute, ask to unmute, remove, recording, dial-out, all through the API', async ({ page }) => {
  test.setTimeout(240_000); // some twenty API calls on a shared 2-core machine
  const id = ids();
  const room = await createBookingRoom(id, {
    service_type: 'workshop', waiting_room: true, recording: 'optional', sip: { enabled: true, region: 'US' },
    members: [{ user_id: id.client, name: 'Jane Doe' }, { user_id: id.other, name: 'Omar Haddad' }],
  });
  const apiCalls: string[] = [];
  page.on('request', (r) => { if (!r.url().includes('/assets/')) apiCalls.push(`${r.method()} ${new URL(r.url()).pathname}`); });
  await openAs(page, `/room/booking/${id.booking}/`, id.host, 'Dr Rivera');
  await page.getByRole('button', { name: 'Join' }).click();
  const panel = page.getByTestId('host-panel');
  await expect(panel).toBeVisible();

  // Two members connect (simulated clients on the emulator) with waiting-room tokens.
  await emulatedJoin(await signIn(id.client), `/rooms/${room.room_id}`, ['audio', 'video']);
  await emulatedJoin(await signIn(id.other), `/rooms/${room.room_id}`, ['audio']);
  const waiting = panel.getByRole('region', { name: 'Waiting room' });
  await expect(waiting.getByText('Jane Doe')).toBeVisible();
  await expect(waiting.getByText('Omar Haddad')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}host-bar-waiting.png`, fullPage: true });

  // The waiting-room concierge: a message to one waiting client, sent through the API (a data message).
  const janeWaiting = waiting.getByRole('listitem').filter({ hasText: 'Jane Doe' });
  await janeWaiting.getByLabel('Message to this person').fill('Running 5 minutes late');
  const messaged = page.waitForResponse((r) => r.url().endsWith(`/participants/${id.client}/message`));
  await janeWaiting.getByRole('button', { name: 'Send' }).click();
  expect((await messaged).status()).toBe(200);

  await waiting.getByRole('listitem').filter({ hasText: 'Jane Doe' }).getByRole('button', { name: 'Admit' }).click();
  const inSession = panel.getByRole('region', { name: 'Participants' });
  await expect(inSession.getByText('Jane Doe')).toBeVisible();
  await waiting.getByRole('button', { name: 'Admit all' }).click();
  await expect(inSession.getByText('Omar Haddad')).toBeVisible();
  await expect(waiting.getByText('Nobody is waiting.')).toBeVisible();

  // Admitted, Jane publishes (the emulator's client reconnects with her fresh, non-waiting token).
  await emulatedJoin(await signIn(id.client), `/rooms/${room.room_id}`, ['audio', 'video']);
  const jane = inSession.getByRole('listitem').filter({ hasText: 'Jane Doe' });
  await expect(jane.getByRole('button', { name: 'Ask to unmute' })).toBeDisabled();
  await jane.getByRole('button', { name: 'Mute', exact: true }).click();
  await expect(jane.getByRole('button', { name: 'Muted' })).toBeVisible();
  // muted: the host may ask her to unmute (a data message her app shows; she decides)
  const asked = page.waitForResponse((r) => r.url().endsWith(`/participants/${id.client}/ask-unmute`));
  await jane.getByRole('button', { name: 'Ask to unmute' }).click();
  expect((await asked).status()).toBe(200);

  // Optional recording needs everyone's consent: the API's 409 names who is missing.
  await panel.getByRole('button', { name: 'Start recording' }).click();
  await expect(panel.getByText('Waiting for consent from: Jane Doe, Omar Haddad')).toBeVisible();
  await expect(jane.locator('[data-consent="missing"]')).toBeVisible();
  for (const who of [id.client, id.other]) {
    expect((await call('POST', `/rooms/${room.room_id}/recording-consent`, await signIn(who))).status).toBe(200);
  }
  await panel.getByRole('button', { name: 'Start recording' }).click();
  await expect(panel.getByText('● Recording')).toBeVisible();
  await page.screenshot({ path: `${SHOTS}host-bar.png`, fullPage: true });
  await panel.getByRole('button', { name: 'Stop recording' }).click();
  await expect(panel.getByText('Not recording')).toBeVisible();

  await panel.getByLabel('Phone number').fill('+1 202 555 0142');
  const dial = page.waitForResponse((r) => r.url().endsWith('/dial-out'));
  await panel.getByRole('button', { name: 'Call', exact: true }).click();
  expect((await dial).status()).toBe(202); // accepted: the worker places the call, the panel follows it

  await inSession.getByRole('listitem').filter({ hasText: 'Omar Haddad' }).getByRole('button', { name: 'Remove' }).click();
  await expect(inSession.getByText('Omar Haddad')).toHaveCount(0);

  // Every control went to our API; nothing went to LiveKit's server API from the browser.
  expect(apiCalls.filter((c) => c.includes('/twirp/'))).toEqual([]);
  for (const expected of ['GET /rooms/' + room.room_id + '/participants', 'POST /rooms/' + room.room_id + `/participants/${id.client}/admit`,
    'POST /rooms/' + room.room_id + `/participants/${id.client}/mute`, 'POST /rooms/' + room.room_id + '/recordings',
    'POST /rooms/' + room.room_id + `/participants/${id.client}/message`,
    'POST /rooms/' + room.room_id + `/participants/${id.client}/ask-unmute`,
    'POST /rooms/' + room.room_id + '/dial-out', 'DELETE /rooms/' + room.room_id + `/participants/${id.other}`]) {
    expect(apiCalls).toContain(expected);
  }

  await panel.getByRole('button', { name: 'End session for everyone' }).click();
  await expect(page.getByRole('heading', { name: 'This session has ended' })).toBeVisible();
  expect((await admin('GET', `/rooms/${room.room_id}`)).body.status).toBe('ended');
});

test('not a member: a person the booking does not list is told so before joining', async ({ page }) => {
  const id = ids();
  await createBookingRoom(id);
  await openAs(page, `/room/booking/${id.booking}/`, 'mallory');
  await expect(page.getByRole('heading', { name: "You're not on the list for this session" })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Join' })).toBeDisabled();
  await page.screenshot({ path: `${SHOTS}error-not-a-member.png`, fullPage: true });
});

test('room ended: the Room URL says the session is over', async ({ page }) => {
  const id = ids();
  const room = await createBookingRoom(id);
  expect((await admin('DELETE', `/rooms/${room.room_id}`)).status).toBe(200);
  await openAs(page, `/room/${room.room_id}/`, id.client);
  await expect(page.getByRole('heading', { name: 'This session has ended' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Join' })).toBeDisabled();
});

test('room full: the host calling a phone into a full room is told the session is full (the attempt\'s outcome)', async ({ page }) => {
  const id = ids();
  const room = await createBookingRoom(id, { sip: { enabled: true, region: 'US' } }); // therapy: 2 seats
  await emulatedJoin(await signIn(id.host), `/rooms/${room.room_id}`);
  await emulatedJoin(await signIn(id.client), `/rooms/${room.room_id}`);
  await openAs(page, `/room/booking/${id.booking}/`, id.host);
  await page.getByRole('button', { name: 'Join' }).click();
  const panel = page.getByTestId('host-panel');
  await panel.getByLabel('Phone number').fill('+1 202 555 0142');
  await panel.getByRole('button', { name: 'Call', exact: true }).click();
  await expect(panel.getByTestId('dial-out-status')).toContainText('This session is full', { timeout: 20_000 });
});

test('room full: a third member pressing "Join" in a full room is told the session is full (the API\'s 409 room_full)', async ({ page }) => {
  const id = ids();
  const room = await createBookingRoom(id); // therapy: 2 seats
  expect((await admin('PUT', `/rooms/${room.room_id}/members/${id.other}`, { role: 'participant' })).status).toBeLessThan(300);
  await emulatedJoin(await signIn(id.host), `/rooms/${room.room_id}`);
  await emulatedJoin(await signIn(id.client), `/rooms/${room.room_id}`);
  const other = await signIn(id.other);
  // once the two joins' webhooks are applied, the API answers room_full (before, it still gives a token)
  await expect.poll(async () => (await call('POST', `/rooms/${room.room_id}/token`, other, {})).body.code,
    { timeout: 20_000 }).toBe('room_full');
  await openAs(page, `/room/booking/${id.booking}/`, id.other);
  await page.getByRole('button', { name: 'Join' }).click();
  const card = page.locator('[data-problem="room_full"]');
  await expect(card.getByRole('heading', { name: 'This session is full' })).toBeVisible({ timeout: 20_000 });
  await page.screenshot({ path: `${SHOTS}error-room-full.png`, fullPage: true });
});

test('the session and direct Room URLs work, and an unknown path says so', async ({ page }) => {
  const id = ids();
  const created = await admin('POST', '/rooms', {
    service_session_id: id.session, service_type: 'yoga_class', title: 'Morning yoga',
    host: { user_id: id.host }, members: [{ user_id: id.client }],
  });
  expect(created.status).toBe(201);
  await openAs(page, `/room/session/${id.session}/`, id.client);
  await expect(page.getByRole('heading', { name: 'Morning yoga' })).toBeVisible();
  await page.goto(`${base()}/room/${created.body.room_id}/`);
  await expect(page.getByRole('heading', { name: 'Morning yoga' })).toBeVisible();
  await page.goto(`${base()}/room/booking/`);
  await expect(page.getByRole('heading', { name: "This session doesn't exist" })).toBeVisible();
});

test('phone fallback: when video fails, the dial-in number and PIN from the API, and "call me" for the host', async ({ page }) => {
  const id = ids();
  const room = await createBookingRoom(id, { sip: { enabled: true, region: 'US' } });
  const dialIn = (await call('GET', `/rooms/${room.room_id}/dial-in`, await signIn(id.client))).body;
  expect(dialIn.pin).toMatch(/^\d+$/);
  await openAs(page, `/room/booking/${id.booking}/`, id.client, 'Jane Doe');
  await page.getByRole('button', { name: 'Join' }).click();
  // no media server here: video fails, and the card offers the phone
  const card = page.locator('[data-problem="cannot_connect"]');
  const phone = card.getByRole('region', { name: 'Join by phone' });
  await expect(phone.getByTestId('dial-in-pin')).toHaveText(dialIn.pin);
  await expect(card.locator('.rooms-next-step')).toContainText('Or join by phone below.');
  for (const n of dialIn.numbers) await expect(phone.getByRole('link', { name: n.formatted })).toHaveAttribute('href', `tel:${n.number}`);
  // a room without sip.call_me: dial-out is the host's, and a member is told to ask the host, or to dial in
  expect(dialIn.call_me).toBe(false);
  await expect(phone.getByRole('button', { name: 'Call me' })).toBeDisabled();
  await page.screenshot({ path: `${SHOTS}phone-fallback.png`, fullPage: true });

  // the host's "call me": a dial-out to their own number, tied to their attendance (user_id)
  await openAs(page, `/room/booking/${id.booking}/`, id.host, 'Dr Rivera');
  await page.getByRole('button', { name: 'Join' }).click();
  const hostPhone = page.locator('.rooms-stage [data-problem="cannot_connect"]').getByRole('region', { name: 'Join by phone' });
  await hostPhone.getByLabel('Call me at').fill('+1 202 555 0199');
  const dial = page.waitForRequest((r) => r.url().endsWith(`/rooms/${room.room_id}/dial-out`));
  const answered = page.waitForResponse((r) => r.url().endsWith(`/rooms/${room.room_id}/dial-out`));
  await hostPhone.getByRole('button', { name: 'Call me' }).click();
  expect((await dial).postDataJSON()).toEqual({ phone_number: '+1 202 555 0199', user_id: id.host });
  expect((await answered).status()).toBe(202);
  await expect(hostPhone.getByRole('status')).toContainText('+1 202 555 0199');
});

test('call me: in a room with sip.call_me a member whose video failed asks to be called, and sees the outcome', async ({ page }) => {
  const id = ids();
  const room = await createBookingRoom(id, { sip: { enabled: true, region: 'US', call_me: true }, waiting_room: false });
  await openAs(page, `/room/booking/${id.booking}/`, id.client, 'Jane Doe');
  await page.getByRole('button', { name: 'Join' }).click();
  // the token response's dial_in says call_me: the member's button is live, and the call is for them
  const phone = page.locator('[data-problem="cannot_connect"]').getByRole('region', { name: 'Join by phone' });
  await phone.getByLabel('Call me at').fill('+1 202 555 0177');
  const dial = page.waitForRequest((r) => r.url().endsWith(`/rooms/${room.room_id}/dial-out`));
  const accepted = page.waitForResponse((r) => r.url().endsWith(`/rooms/${room.room_id}/dial-out`));
  const polled = page.waitForResponse((r) => r.url().includes(`/rooms/${room.room_id}/dial-outs/`));
  await phone.getByRole('button', { name: 'Call me' }).click();
  expect((await dial).postDataJSON()).toEqual({ phone_number: '+1 202 555 0177', user_id: id.client });
  expect((await accepted).status()).toBe(202);
  expect((await polled).status()).toBe(200); // the member may read their own attempt
  // the emulator's callee answers (numbers ending 0486 are busy): the outcome from GET …/dial-outs/{id}
  await expect(phone.getByRole('status')).toHaveText('+12******177 answered and joined by audio.', { timeout: 30_000 });
  await page.screenshot({ path: `${SHOTS}phone-call-me.png`, fullPage: true });
  // and the API counts the phone leg as this member, via phone
  const attendance = (await admin('GET', `/rooms/${room.room_id}/attendance`)).body;
  const me = attendance.participants.find((p: { identity: string }) => p.identity === id.client);
  expect(me.segments.map((s: { via: string }) => s.via)).toEqual(['phone']);

  // a busy phone is told as such
  await phone.getByLabel('Call me at').fill('+1 202 555 0486');
  await phone.getByRole('button', { name: 'Call me' }).click();
  await expect(phone.getByRole('status')).toHaveText('+12******486 is busy (SIP 486).', { timeout: 30_000 });
});

test('cannot connect in a room without phone access: the next step never says to join by phone', async ({ page }) => {
  const id = ids();
  await createBookingRoom(id, { waiting_room: false });
  await openAs(page, `/room/booking/${id.booking}/`, id.client, 'Jane Doe');
  await page.getByRole('button', { name: 'Join' }).click();
  const next = page.locator('[data-problem="cannot_connect"] .rooms-next-step');
  await expect(next).toContainText('turn off the VPN');
  await expect(next).not.toContainText('by phone');
  await expect(page.getByTestId('dial-in-pin')).toHaveCount(0);
});

test('phone on demand: a room with dial-in offers "Join by phone" before anything fails', async ({ page }) => {
  const id = ids();
  const room = await createBookingRoom(id, { sip: { enabled: true, region: 'US' }, waiting_room: true });
  const pin = (await call('GET', `/rooms/${room.room_id}/dial-in`, await signIn(id.client))).body.pin;
  await openAs(page, `/room/booking/${id.booking}/`, id.client, 'Jane Doe');
  // LiveKit's signal socket opens and stays silent (still connecting): no failure to fall back from
  await page.routeWebSocket(/\/rtc/, () => {});
  await page.getByRole('button', { name: 'Join' }).click();
  const waiting = page.getByTestId('waiting');
  await expect(waiting.getByRole('status')).toHaveText('Connecting…');
  const onDemand = waiting.getByTestId('phone-on-demand');
  await onDemand.locator('summary', { hasText: 'Join by phone' }).click();
  await expect(onDemand.getByTestId('dial-in-pin')).toHaveText(pin);
  await expect(page.locator('[data-problem]')).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}phone-on-demand.png`, fullPage: true });
});

test('compliance recording: the host sees it always on and cannot stop it; the participant is told', async ({ page }) => {
  const id = ids();
  const room = await createBookingRoom(id, { recording: 'compliance' });
  expect((await admin('GET', `/rooms/${room.room_id}`)).body.recording).toBe('compliance');
  await openAs(page, `/room/booking/${id.booking}/`, id.host, 'Dr Rivera');
  await page.getByRole('button', { name: 'Join' }).click();
  const panel = page.getByTestId('host-panel');
  await expect(panel.getByTestId('compliance')).toHaveText(/Always recorded \(compliance\): it cannot be stopped/);
  await expect(panel.getByRole('button', { name: /recording/i })).toHaveCount(0);
  // a room without phone access: nothing to call a phone in with (the API would answer phone_not_enabled)
  await expect(panel.getByRole('region', { name: 'Dial out' })).toHaveCount(0);
  await page.screenshot({ path: `${SHOTS}host-bar-compliance.png`, fullPage: true });

  await openAs(page, `/room/booking/${id.booking}/`, id.client, 'Jane Doe');
  await page.getByRole('button', { name: 'Join' }).click();
  await expect(page.getByRole('note')).toHaveText('This session is always recorded (compliance).');
});

test('no camera or microphone: a browser that refuses the devices says how to allow them', async () => {
  // A browser of its own WITHOUT --use-fake-ui-for-media-stream and with no permission granted: the
  // page's getUserMedia is refused (NotAllowedError), as when a person clicks "Block".
  const browser = await chromium.launch({ ...chromiumLaunchOptions(),
    args: chromiumArgs().filter((a) => a !== '--use-fake-ui-for-media-stream') });
  try {
    const page = await (await browser.newContext({ permissions: [] })).newPage();
    const id = ids();
    await createBookingRoom(id);
    await openAs(page, `/room/booking/${id.booking}/`, id.client, 'Jane Doe');
    const card = page.locator('[data-problem="no_media"]');
    await expect(card.getByRole('heading', { name: 'No camera or microphone' })).toBeVisible();
    await expect(card).toContainText('allow camera and microphone');
    await expect(page.getByRole('region', { name: 'Connection check' }).locator('li[data-state="fail"]', { hasText: 'Camera' })).toBeVisible();
    await page.screenshot({ path: `${SHOTS}error-no-media.png`, fullPage: true });
  } finally {
    await browser.close();
  }
});
