// What the host sends one participant through OUR API, delivered as LiveKit data messages (the API
// calls RoomService.SendData: the host's browser holds no grant to message others directly):
//   rooms.host_message  {"type": "host_message", "text", "from", "sent_at"}   POST …/participants/{identity}/message
//   rooms.host_request  {"type": "ask_unmute", "track", "from", "at"}        POST …/participants/{identity}/ask-unmute
// (layers/rooms/python/rooms/attendance/host_controls.py). Only messages the SERVER sent count: a data
// message from a participant (anyone who may publish data) on these topics is ignored, so nobody can
// pose as the host.

export const HOST_MESSAGE_TOPIC = 'rooms.host_message';
export const HOST_REQUEST_TOPIC = 'rooms.host_request';

export type UnmuteTrack = 'audio' | 'video' | 'screen_share';

export type HostNotice =
  | { kind: 'message'; text: string; from: string; at: string }
  | { kind: 'ask_unmute'; track: UnmuteTrack; from: string; at: string };

const TRACKS: readonly string[] = ['audio', 'video', 'screen_share'];

/** The notice a data message carries, or null (another topic, sent by a participant, malformed). */
export function parseHostData(topic: string | undefined, payload: Uint8Array, sentByParticipant: boolean): HostNotice | null {
  if (sentByParticipant) return null;
  if (topic !== HOST_MESSAGE_TOPIC && topic !== HOST_REQUEST_TOPIC) return null;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const from = typeof b.from === 'string' ? b.from : '';
  if (topic === HOST_MESSAGE_TOPIC && b.type === 'host_message' && typeof b.text === 'string' && b.text) {
    return { kind: 'message', text: b.text, from, at: typeof b.sent_at === 'string' ? b.sent_at : '' };
  }
  if (topic === HOST_REQUEST_TOPIC && b.type === 'ask_unmute' && typeof b.track === 'string' && TRACKS.includes(b.track)) {
    return { kind: 'ask_unmute', track: b.track as UnmuteTrack, from, at: typeof b.at === 'string' ? b.at : '' };
  }
  return null;
}

/** What the participant reads, and the button that does it (their own click: nothing turns on without it). */
export function describeHostNotice(notice: HostNotice): { title: string; text: string; action?: string } {
  if (notice.kind === 'message') {
    return { title: notice.from ? `Message from ${notice.from}` : 'Message from the host', text: notice.text };
  }
  const what = notice.track === 'audio' ? 'microphone' : notice.track === 'video' ? 'camera' : 'screen share';
  return {
    title: 'The host asks you to unmute',
    text: `The host would like you to turn on your ${what}. It stays off unless you turn it on.`,
    action: `Turn on ${what}`,
  };
}
