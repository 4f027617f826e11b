// The Rooms HTTP API, as the browser uses it. Every host control goes through here: the browser never
// calls LiveKit's server API (it has no credentials for it; its join token carries no admin grant).

export type Role = 'host' | 'participant' | 'viewer' | string;

export interface DialInNumber { region: string; number: string; formatted: string }
/** `call_me`: the room lets its participants ask to be called themselves (`sip.call_me`). */
export interface DialIn { numbers: DialInNumber[]; pin: string; instructions: string; call_me?: boolean }

/** Who may press "Call me" in the phone fallback, as the API decides it (rooms.access.require_may_dial_out):
 * the host always; a participant (not a viewer) once admitted, in a room whose dial-in says `call_me`;
 * everyone else is told to ask the host or dial in. */
export type CallMeOffer = 'host' | 'member' | 'ask_host';
export function callMeOffer({ isHost, role, dialIn, admitted }: {
  isHost: boolean; role?: string; dialIn?: DialIn | null; admitted: boolean;
}): CallMeOffer {
  if (isHost) return 'host';
  return dialIn?.call_me && role === 'participant' && admitted ? 'member' : 'ask_host';
}

export interface RoomView {
  room_id: string;
  livekit_room: string;
  room_type: string;
  status: string;
  booking_id?: string | null;
  service_session_id?: string | null;
  title?: string | null;
  max_participants: number;
  recording: 'none' | 'optional' | 'automatic' | 'compliance' | string;
  waiting_room: boolean;
  host_user_id?: string | null;
  dial_in?: DialIn | null;
  urls?: Record<string, string>;
}

export interface TokenResponse {
  token: string;
  server_url: string;
  identity: string;
  role: Role;
  expires_at: string;
  waiting: boolean;
  room_id: string;
  livekit_room: string;
  dial_in?: DialIn | null;
}

export interface LiveTrack { track_sid: string; type: string; source: string; muted: boolean }
export interface LiveParticipant {
  identity: string;
  participant_sid: string;
  name?: string | null;
  role?: string | null;
  via: string;
  waiting: boolean;
  can_publish: boolean;
  tracks: LiveTrack[];
}
export interface ParticipantsView { room_id: string; participants: LiveParticipant[]; waiting: string[] }

export interface RecordingView {
  recording_id: string;
  trigger?: 'manual' | 'automatic' | 'compliance' | null;
  status: string;
  egress_status?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
}

/** A dial-out: POST answers it `requested` (202); the call is placed asynchronously (GET …/dial-outs/{id}). */
export interface DialOutView {
  dial_out_id: string;
  status: 'requested' | 'dialing' | 'answered' | 'busy' | 'no_answer' | 'failed' | string;
  room_id: string;
  participant_identity: string;
  user_id?: string | null;
  phone_number: string;
  answered_at?: string | null;
  finished_at?: string | null;
  sip_status_code?: number | null;
  sip_status?: string | null;
  livekit_code?: string | null;
}

const PENDING_DIAL_OUT = new Set(['requested', 'dialing']);

/** What to tell the host (or the member being called) about a dial-out. */
export function describeDialOut(d: DialOutView): string {
  switch (d.status) {
    case 'requested':
    case 'dialing': return `Calling ${d.phone_number}…`;
    case 'answered': return `${d.phone_number} answered and joined by audio.`;
    case 'busy': return `${d.phone_number} is busy${d.sip_status_code ? ` (SIP ${d.sip_status_code})` : ''}.`;
    case 'no_answer': return `${d.phone_number} did not answer.`;
    case 'failed':
      // LiveKit refuses a participant past the room's max_participants with resource_exhausted
      if (d.livekit_code === 'resource_exhausted') return `This session is full: ${d.phone_number} could not join.`;
      return `The call to ${d.phone_number} failed${d.sip_status_code ? ` (SIP ${d.sip_status_code})` : ''}.`;
    default: return `The call to ${d.phone_number} failed${d.sip_status_code ? ` (SIP ${d.sip_status_code})` : ''}.`;
  }
}

export interface QualitySample { packet_loss_pct?: number; jitter_ms?: number; rtt_ms?: number; measured_at?: string }

/** The API's error body `{code, message, field?, ...details}` with its HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly details: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown> | null) {
    const message = typeof body?.message === 'string' ? body.message : `HTTP ${status}`;
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = typeof body?.code === 'string' ? body.code : codeForStatus(status);
    this.field = typeof body?.field === 'string' ? body.field : undefined;
    this.details = body ?? {};
  }
}

/** The network failed before any answer (offline, DNS, CORS refused, API down). */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

function codeForStatus(status: number): string {
  // API Gateway's own answers (authorizer, missing route) carry only {"message"}.
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  return `http_${status}`;
}

/** Which room a Room URL names: the seed's three paths. */
export type RoomRef =
  | { kind: 'booking'; id: string }
  | { kind: 'session'; id: string }
  | { kind: 'room'; id: string };

export function parseRoomPath(pathname: string): RoomRef | null {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== 'room') return null;
  if (parts.length === 3 && parts[1] === 'booking') return { kind: 'booking', id: parts[2] };
  if (parts.length === 3 && parts[1] === 'session') return { kind: 'session', id: parts[2] };
  if (parts.length === 2 && parts[1] !== 'booking' && parts[1] !== 'session') return { kind: 'room', id: parts[1] };
  return null;
}

/** The API path of a room reference (GET it, POST `${path}/token`). */
export function roomApiPath(ref: RoomRef): string {
  const id = encodeURIComponent(ref.id);
  if (ref.kind === 'booking') return `/bookings/${id}/room`;
  if (ref.kind === 'session') return `/sessions/${id}/room`;
  return `/rooms/${id}`;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export class RoomsApi {
  constructor(
    readonly baseUrl: string,
    private readonly getToken: () => Promise<string>,
    private readonly fetchImpl: FetchLike = (input, init) => fetch(input, init),
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.getToken()}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new NetworkError(err instanceof Error ? err.message : String(err));
    }
    const text = await response.text();
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { message: text };
      }
    }
    if (!response.ok) throw new ApiError(response.status, (parsed as Record<string, unknown>) ?? null);
    return parsed as T;
  }

  // -- everyone (members) -------------------------------------------------------------------------
  getRoom(ref: RoomRef) { return this.request<RoomView>('GET', roomApiPath(ref)); }
  /** Called only when the person clicks "Join": join tokens are short-lived. */
  issueToken(ref: RoomRef, name?: string) {
    return this.request<TokenResponse>('POST', `${roomApiPath(ref)}/token`, name ? { name } : {});
  }
  dialIn(roomId: string) { return this.request<DialIn>('GET', `/rooms/${enc(roomId)}/dial-in`); }
  postQuality(roomId: string, sample: QualitySample) {
    return this.request<unknown>('POST', `/rooms/${enc(roomId)}/quality`, sample);
  }
  giveConsent(roomId: string) { return this.request<unknown>('POST', `/rooms/${enc(roomId)}/recording-consent`); }
  withdrawConsent(roomId: string) { return this.request<unknown>('DELETE', `/rooms/${enc(roomId)}/recording-consent`); }
  listRecordings(roomId: string) {
    return this.request<{ recordings: RecordingView[] }>('GET', `/rooms/${enc(roomId)}/recordings`);
  }

  // -- host controls ------------------------------------------------------------------------------
  participants(roomId: string) { return this.request<ParticipantsView>('GET', `/rooms/${enc(roomId)}/participants`); }
  admit(roomId: string, identity: string) {
    return this.request<unknown>('POST', `/rooms/${enc(roomId)}/participants/${enc(identity)}/admit`);
  }
  mute(roomId: string, identity: string, track: 'audio' | 'video', muted = true) {
    return this.request<unknown>('POST', `/rooms/${enc(roomId)}/participants/${enc(identity)}/mute`, { track, muted });
  }
  /** A data message asking them to unmute (LiveKit refuses remote unmute unless the server enables it). */
  askUnmute(roomId: string, identity: string, track: 'audio' | 'video' | 'screen_share' = 'audio') {
    return this.request<unknown>('POST', `/rooms/${enc(roomId)}/participants/${enc(identity)}/ask-unmute`, { track });
  }
  /** The waiting-room concierge: a short message to one participant ("running 5 minutes late"). */
  message(roomId: string, identity: string, text: string) {
    return this.request<unknown>('POST', `/rooms/${enc(roomId)}/participants/${enc(identity)}/message`, { text });
  }
  remove(roomId: string, identity: string) {
    return this.request<unknown>('DELETE', `/rooms/${enc(roomId)}/participants/${enc(identity)}`);
  }
  startRecording(roomId: string) { return this.request<RecordingView>('POST', `/rooms/${enc(roomId)}/recordings`); }
  stopRecording(roomId: string, recordingId: string) {
    return this.request<RecordingView>('POST', `/rooms/${enc(roomId)}/recordings/${enc(recordingId)}/stop`);
  }
  dialOut(roomId: string, body: { phone_number: string; participant_name?: string; user_id?: string }) {
    return this.request<DialOutView>('POST', `/rooms/${enc(roomId)}/dial-out`, body);
  }
  getDialOut(roomId: string, dialOutId: string) {
    return this.request<DialOutView>('GET', `/rooms/${enc(roomId)}/dial-outs/${enc(dialOutId)}`);
  }
  /** Poll a dial-out until it answered or failed (`onUpdate` sees every state); the last state seen. */
  async followDialOut(roomId: string, first: DialOutView, onUpdate: (d: DialOutView) => void,
    { intervalMs = 1000, maxPolls = 120, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)) } = {}) {
    let current = first;
    onUpdate(current);
    for (let i = 0; i < maxPolls && PENDING_DIAL_OUT.has(current.status); i++) {
      await sleep(intervalMs);
      current = await this.getDialOut(roomId, current.dial_out_id);
      onUpdate(current);
    }
    return current;
  }
}

const enc = encodeURIComponent;
