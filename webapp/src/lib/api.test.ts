import { describe, expect, it, vi } from 'vitest';
import { ApiError, callMeOffer, describeDialOut, NetworkError, parseRoomPath, RoomsApi, roomApiPath } from './api';

function fakeFetch(status: number, body: unknown) {
  return vi.fn(async (_url: string, _init?: RequestInit) =>
    new Response(body === undefined ? '' : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }));
}

describe('Room URLs', () => {
  it.each([
    ['/room/booking/b-42/', { kind: 'booking', id: 'b-42' }, '/bookings/b-42/room'],
    ['/room/session/ss%201', { kind: 'session', id: 'ss 1' }, '/sessions/ss%201/room'],
    ['/room/8c6f6d3e-0000-5000-8000-000000000000/', { kind: 'room', id: '8c6f6d3e-0000-5000-8000-000000000000' },
      '/rooms/8c6f6d3e-0000-5000-8000-000000000000'],
  ])('%s names its room', (path, ref, apiPath) => {
    expect(parseRoomPath(path)).toEqual(ref);
    expect(roomApiPath(parseRoomPath(path)!)).toBe(apiPath);
  });

  it.each(['/rooms/abc', '/room/', '/room/booking/', '/room/booking/a/b', '/'])('%s is not a Room URL', (path) => {
    expect(parseRoomPath(path)).toBeNull();
  });
});

describe('RoomsApi', () => {
  it('sends the bearer token and JSON body, and parses the answer', async () => {
    const fetch = fakeFetch(200, { token: 'lk', waiting: true });
    const api = new RoomsApi('http://api', async () => 'bearer-1', fetch);
    const grant = await api.issueToken({ kind: 'booking', id: 'b-42' }, 'Jane');
    expect(grant).toEqual({ token: 'lk', waiting: true });
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('http://api/bookings/b-42/room/token');
    expect(init?.method).toBe('POST');
    expect((init?.headers as Record<string, string>).authorization).toBe('Bearer bearer-1');
    expect(init?.body).toBe(JSON.stringify({ name: 'Jane' }));
  });

  it('host controls go to our API routes, with identities escaped', async () => {
    const fetch = fakeFetch(200, {});
    const api = new RoomsApi('', async () => 't', fetch);
    await api.mute('r1', 'sip_+1 555', 'audio');
    await api.admit('r1', 'jane');
    await api.remove('r1', 'jane');
    await api.dialOut('r1', { phone_number: '+12025550142' });
    await api.askUnmute('r1', 'jane', 'audio');
    await api.message('r1', 'jane', 'Running 5 minutes late');
    expect(fetch.mock.calls.map(([u, i]) => `${i?.method} ${u}`)).toEqual([
      'POST /rooms/r1/participants/sip_%2B1%20555/mute',
      'POST /rooms/r1/participants/jane/admit',
      'DELETE /rooms/r1/participants/jane',
      'POST /rooms/r1/dial-out',
      'POST /rooms/r1/participants/jane/ask-unmute',
      'POST /rooms/r1/participants/jane/message',
    ]);
    expect(fetch.mock.calls.slice(-2).map(([, i]) => i?.body)).toEqual([
      JSON.stringify({ track: 'audio' }), JSON.stringify({ text: 'Running 5 minutes late' })]);
    expect(fetch.mock.calls[0][1]?.body).toBe(JSON.stringify({ track: 'audio', muted: true }));
  });

  it('a dial-out is followed until it answered or failed, and told as such', async () => {
    const base = { room_id: 'r1', participant_identity: 'p', phone_number: '+12*******142' };
    const states = [{ ...base, dial_out_id: 'd1', status: 'dialing' },
      { ...base, dial_out_id: 'd1', status: 'busy', sip_status_code: 486 }];
    const fetch = vi.fn(async (_url: string, _init?: RequestInit) =>
      new Response(JSON.stringify(states.shift()), { status: 200, headers: { 'content-type': 'application/json' } }));
    const api = new RoomsApi('', async () => 't', fetch);
    const seen: string[] = [];
    const last = await api.followDialOut('r1', { ...base, dial_out_id: 'd1', status: 'requested' },
      (d) => seen.push(d.status), { sleep: async () => {} });
    expect(seen).toEqual(['requested', 'dialing', 'busy']);
    expect(fetch.mock.calls.map(([u]) => u)).toEqual(['/rooms/r1/dial-outs/d1', '/rooms/r1/dial-outs/d1']);
    expect(describeDialOut(last)).toBe('+12*******142 is busy (SIP 486).');
    expect(describeDialOut({ ...last, status: 'no_answer' })).toBe('+12*******142 did not answer.');
    expect(describeDialOut({ ...last, status: 'failed', sip_status_code: null, livekit_code: 'resource_exhausted' }))
      .toBe('This session is full: +12*******142 could not join.');
    expect(describeDialOut({ ...last, status: 'failed', sip_status_code: 404 })).toBe('The call to +12*******142 failed (SIP 404).');
  });

  it('an error body becomes an ApiError with status, code, field and details', async () => {
    const api = new RoomsApi('', async () => 't', fakeFetch(409, {
      code: 'recording_consent_missing', message: 'missing: a, b', missing: ['a', 'b'],
    }));
    const err = await api.startRecording('r1').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'recording_consent_missing', message: 'missing: a, b' });
    expect(err.details.missing).toEqual(['a', 'b']);
  });

  it("API Gateway's own 401 (only a message) still gets a code", async () => {
    const api = new RoomsApi('', async () => 't', fakeFetch(401, { message: 'Unauthorized' }));
    await expect(api.getRoom({ kind: 'room', id: 'x' })).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('a failed fetch (offline, CORS) is a NetworkError', async () => {
    const api = new RoomsApi('', async () => 't', async () => { throw new TypeError('Failed to fetch'); });
    await expect(api.getRoom({ kind: 'room', id: 'x' })).rejects.toBeInstanceOf(NetworkError);
  });
});

describe('"Call me" in the phone fallback', () => {
  const dialIn = { numbers: [], pin: '1234', instructions: '' };
  it('the host always may; a participant only where the room allows it and once admitted', () => {
    expect(callMeOffer({ isHost: true, role: 'host', dialIn, admitted: true })).toBe('host');
    expect(callMeOffer({ isHost: false, role: 'participant', dialIn: { ...dialIn, call_me: true }, admitted: true }))
      .toBe('member');
  });
  it.each([
    ['the room does not allow it', { role: 'participant', dialIn: { ...dialIn, call_me: false }, admitted: true }],
    ['an older API says nothing', { role: 'participant', dialIn, admitted: true }],
    ['a viewer', { role: 'viewer', dialIn: { ...dialIn, call_me: true }, admitted: true }],
    ['still in the waiting room', { role: 'participant', dialIn: { ...dialIn, call_me: true }, admitted: false }],
    ['no phone access', { role: 'participant', dialIn: null, admitted: true }],
  ])('%s: ask the host', (_why, rest) => {
    expect(callMeOffer({ isHost: false, ...rest })).toBe('ask_host');
  });
  it("a member's call goes to our API with their own user_id, and its outcome is polled", async () => {
    const states = [{ dial_out_id: 'd1', status: 'requested' }, { dial_out_id: 'd1', status: 'answered' }];
    const fetch = vi.fn(async (_url: string, _init?: RequestInit) =>
      new Response(JSON.stringify({ room_id: 'r1', participant_identity: 'cl-1', phone_number: '+44*******456',
        ...states.shift() }), { status: states.length ? 202 : 200 }));
    const api = new RoomsApi('', async () => 't', fetch);
    const accepted = await api.dialOut('r1', { phone_number: '+447700900456', user_id: 'cl-1' });
    const last = await api.followDialOut('r1', accepted, () => {}, { sleep: async () => {} });
    expect(fetch.mock.calls.map(([u, i]) => `${i?.method ?? 'GET'} ${u}`))
      .toEqual(['POST /rooms/r1/dial-out', 'GET /rooms/r1/dial-outs/d1']);
    expect(fetch.mock.calls[0][1]?.body).toBe(JSON.stringify({ phone_number: '+447700900456', user_id: 'cl-1' }));
    expect(describeDialOut(last)).toBe('+44*******456 answered and joined by audio.');
  });
});
