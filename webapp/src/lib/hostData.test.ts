import { describe, expect, it } from 'vitest';
import { describeHostNotice, HOST_MESSAGE_TOPIC, HOST_REQUEST_TOPIC, parseHostData } from './hostData';

const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('host data messages', () => {
  // the bodies exactly as the API sends them (rooms.attendance.host_controls)
  const message = { type: 'host_message', text: 'Running 5 minutes late', from: 'Dr Who', sent_at: '2026-01-01T10:00:00Z' };
  const ask = { type: 'ask_unmute', track: 'audio', from: 'host-1', at: '2026-01-01T10:00:00Z' };

  it("the host's message, sent by the server, is shown", () => {
    const notice = parseHostData(HOST_MESSAGE_TOPIC, bytes(message), false);
    expect(notice).toEqual({ kind: 'message', text: 'Running 5 minutes late', from: 'Dr Who', at: '2026-01-01T10:00:00Z' });
    expect(describeHostNotice(notice!)).toEqual({ title: 'Message from Dr Who', text: 'Running 5 minutes late' });
  });

  it('an ask to unmute offers the participant the button, per track', () => {
    const notice = parseHostData(HOST_REQUEST_TOPIC, bytes(ask), false);
    expect(notice).toEqual({ kind: 'ask_unmute', track: 'audio', from: 'host-1', at: '2026-01-01T10:00:00Z' });
    expect(describeHostNotice(notice!).action).toBe('Turn on microphone');
    const video = parseHostData(HOST_REQUEST_TOPIC, bytes({ ...ask, track: 'video' }), false);
    expect(describeHostNotice(video!).action).toBe('Turn on camera');
  });

  it('the same body from a participant is ignored: nobody poses as the host', () => {
    expect(parseHostData(HOST_MESSAGE_TOPIC, bytes(message), true)).toBeNull();
    expect(parseHostData(HOST_REQUEST_TOPIC, bytes(ask), true)).toBeNull();
  });

  it.each([
    ['another topic', 'lk-chat-topic', bytes(message)],
    ['no topic', undefined, bytes(message)],
    ['not JSON', HOST_MESSAGE_TOPIC, bytes('hello')],
    ['a body of the other topic', HOST_MESSAGE_TOPIC, bytes(ask)],
    ['an ask for an unknown track', HOST_REQUEST_TOPIC, bytes({ ...ask, track: 'everything' })],
    ['an empty message', HOST_MESSAGE_TOPIC, bytes({ ...message, text: '' })],
    ['JSON null', HOST_MESSAGE_TOPIC, bytes('null')],
  ])('%s is ignored', (_what, topic, payload) => {
    expect(parseHostData(topic, payload, false)).toBeNull();
  });
});
