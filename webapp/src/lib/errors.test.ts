import { ConnectionError, DisconnectReason, MediaDeviceFailure } from 'livekit-client';
import { describe, expect, it } from 'vitest';
import { ApiError, NetworkError } from './api';
import { describeDeviceFailure, describeDisconnect, describeError, nextStepOf, problem } from './errors';

const api = (status: number, code?: string) => new ApiError(status, code ? { code, message: code } : { message: 'x' });

describe('describeError: the troubleshooting list, each with a next step', () => {
  it.each([
    [api(403, 'not_a_member'), 'not_a_member'],
    [api(403, 'membership_revoked'), 'not_a_member'],
    [api(409, 'room_ended'), 'room_ended'],
    [api(410, 'room_expired'), 'room_ended'],
    [api(409, 'room_cancelled'), 'room_ended'],
    [api(409, 'room_full'), 'room_full'],
    [api(409, 'recording_not_active'), 'not_recording'],
    [api(404, 'room_not_found'), 'not_found'],
    [api(401), 'signed_out'],
    [api(429, 'dial_out_rate_limited'), 'rate_limited'],
    [api(429, 'dial_out_member_rate_limited'), 'rate_limited'],
    [api(503, 'livekit_unavailable'), 'cannot_connect'],
    [api(502), 'cannot_connect'],
    [api(403), 'not_a_member'],
    [api(422, 'invalid_input'), 'unknown'],
  ])('%s → %s', (err, kind) => {
    const p = describeError(err);
    expect(p.kind).toBe(kind);
    expect(p.nextStep.length).toBeGreaterThan(10);
    expect(p.detail).toContain(String(err.status));
  });

  it('an unreachable API is a connection problem with the phone fallback', () => {
    const p = describeError(new NetworkError('Failed to fetch'));
    expect(p).toMatchObject({ kind: 'cannot_connect', offerPhone: true, retry: true });
  });

  it("LiveKit refusing the token (/rtc/validate 401) is 'token expired or invalid'", () => {
    expect(describeError(ConnectionError.notAllowed('invalid token', 401)).kind).toBe('token_invalid');
  });

  it('LiveKit unreachable (firewall, WebRTC blocked) offers the phone', () => {
    const p = describeError(ConnectionError.serverUnreachable('could not establish signal connection'));
    expect(p).toMatchObject({ kind: 'cannot_connect', offerPhone: true });
    expect(nextStepOf(p, true)).toMatch(/join by phone/);
  });

  it('a room without phone access is never told to join by phone', () => {
    for (const kind of ['cannot_connect', 'no_media', 'poor_quality', 'not_recording', 'unknown'] as const) {
      expect(nextStepOf(problem(kind), false)).not.toMatch(/by phone|to phone/);
      expect(nextStepOf(problem(kind), true)).toMatch(/by phone|to phone/);
    }
    const missing = describeDeviceFailure(MediaDeviceFailure.NotFound);
    expect(nextStepOf(missing, false)).not.toMatch(/phone/);
    expect(nextStepOf(missing, true)).toMatch(/join by phone/);
  });

  it("LiveKit's max-participants message is 'room full'", () => {
    expect(describeError(ConnectionError.internal('room has exceeded its max participants')).kind).toBe('room_full');
  });

  it('device permission refused → no audio/video with how to allow it', () => {
    const denied = new DOMException('Permission denied', 'NotAllowedError');
    expect(MediaDeviceFailure.getFailure(denied)).toBe(MediaDeviceFailure.PermissionDenied);
    const p = describeError(denied);
    expect(p.kind).toBe('no_media');
    expect(p.nextStep).toMatch(/allow camera and microphone/);
  });

  it('no device, or a device in use, say so', () => {
    expect(describeError(new DOMException('none', 'NotFoundError')).message).toMatch(/No camera or microphone was found/);
    expect(describeError(new DOMException('busy', 'NotReadableError')).message).toMatch(/Another app/);
  });
});

describe('describeDisconnect', () => {
  it('room deleted → session ended; removed → removed; our own leave → nothing', () => {
    expect(describeDisconnect(DisconnectReason.ROOM_DELETED)?.kind).toBe('room_ended');
    expect(describeDisconnect(DisconnectReason.PARTICIPANT_REMOVED)?.kind).toBe('removed');
    expect(describeDisconnect(DisconnectReason.CLIENT_INITIATED)).toBeNull();
    expect(describeDisconnect(DisconnectReason.SIGNAL_CLOSE)?.kind).toBe('cannot_connect');
  });

  it('after "call me", the browser leaving for the phone call is said so, not "another tab"', () => {
    const tab = describeDisconnect(DisconnectReason.DUPLICATE_IDENTITY)!;
    expect(tab.title).toMatch(/another tab/);
    const phone = describeDisconnect(DisconnectReason.DUPLICATE_IDENTITY, { movedToPhone: true })!;
    expect(phone.title).toMatch(/by phone now/);
    expect(phone).toMatchObject({ offerPhone: false, retry: true });
    expect(nextStepOf(phone, true)).toMatch(/ends the phone call/);
    expect(nextStepOf(phone, true)).not.toMatch(/join by phone/);
    expect(describeDisconnect(DisconnectReason.ROOM_DELETED, { movedToPhone: true })?.kind).toBe('room_ended');
  });
});
