// Errors a person understands: every failure the seed's troubleshooting list names, with the next step.
// Inputs are our API's errors (status + code), LiveKit's connection errors, device failures and
// LiveKit's disconnect reasons; the output is what the screen shows.
import { ConnectionError, ConnectionErrorReason, DisconnectReason, MediaDeviceFailure } from 'livekit-client';
import { ApiError, NetworkError } from './api';

export type ProblemKind =
  | 'cannot_connect'
  | 'no_media'
  | 'poor_quality'
  | 'token_invalid'
  | 'signed_out'
  | 'room_ended'
  | 'not_a_member'
  | 'room_full'
  | 'removed'
  | 'not_found'
  | 'rate_limited'
  | 'not_recording'
  | 'unknown';

export interface Problem {
  kind: ProblemKind;
  title: string;
  message: string;
  nextStep: string;
  /** What to add to ``nextStep`` where the room has phone access (``nextStepOf``): a room without
   * dial-in must not tell anyone to join by phone. */
  phoneStep?: string;
  /** Show the dial-in number and "call me": the seed's fallback when video fails. */
  offerPhone: boolean;
  /** Trying again can help (a fresh token, the network back). */
  retry: boolean;
  detail?: string;
}

const P = {
  cannot_connect: {
    title: "We can't reach the video service",
    message: 'Your browser could not open a video connection (a firewall, VPN or proxy may block WebRTC).',
    nextStep: 'Try another network (for example your phone hotspot), or turn off the VPN.',
    phoneStep: 'Or join by phone below.',
    offerPhone: true,
    retry: true,
  },
  no_media: {
    title: 'No camera or microphone',
    message: 'The browser did not give this page access to your camera or microphone.',
    nextStep:
      'Click the camera icon in the address bar, allow camera and microphone, then reload. Close other apps that use the camera.',
    phoneStep: 'Or join by phone below.',
    offerPhone: true,
    retry: true,
  },
  poor_quality: {
    title: 'Your connection is poor',
    message: 'Video may freeze or sound choppy (low bandwidth or a busy computer).',
    nextStep: 'Turn off your camera, close other tabs and downloads, or move closer to the Wi-Fi router.',
    phoneStep: 'Or switch to phone.',
    offerPhone: true,
    retry: false,
  },
  token_invalid: {
    title: "Your join link didn't work",
    message: 'The join token was expired or invalid.',
    nextStep: 'Click "Try again" to get a fresh one. If it keeps failing, sign in again.',
    offerPhone: false,
    retry: true,
  },
  signed_out: {
    title: 'You are signed out',
    message: 'Your sign-in has expired.',
    nextStep: 'Sign in again, then come back to this page.',
    offerPhone: false,
    retry: true,
  },
  room_ended: {
    title: 'This session has ended',
    message: 'The host or the platform ended this session.',
    nextStep: 'Check your booking for the next session, or contact your practitioner to book again.',
    offerPhone: false,
    retry: false,
  },
  not_a_member: {
    title: "You're not on the list for this session",
    message: 'This session is only open to the people booked into it.',
    nextStep: 'Check you are signed in with the account you booked with, or ask the host to add you.',
    offerPhone: false,
    retry: false,
  },
  room_full: {
    title: 'This session is full',
    message: 'The session has reached its maximum number of participants.',
    nextStep: 'Ask the host to make room, or try again in a few minutes.',
    offerPhone: false,
    retry: true,
  },
  removed: {
    title: 'You were removed from the session',
    message: 'The host removed you from this session.',
    nextStep: 'If this was a mistake, contact the host.',
    offerPhone: false,
    retry: false,
  },
  not_found: {
    title: "This session doesn't exist",
    message: 'We could not find a session at this address.',
    nextStep: 'Open the link from your booking confirmation again.',
    offerPhone: false,
    retry: false,
  },
  rate_limited: {
    title: 'Too many attempts',
    message: 'Please wait a moment before trying again.',
    nextStep: 'Wait a minute, then try again.',
    offerPhone: false,
    retry: true,
  },
  not_recording: {
    title: 'Waiting for the recording to start',
    message: 'This session must be recorded, and the recording is not running yet.',
    nextStep: 'Try again in a few seconds. If it keeps failing, tell your host.',
    phoneStep: 'You can also join by phone.',
    offerPhone: true,
    retry: true,
  },
  unknown: {
    title: 'Something went wrong',
    message: 'An unexpected error stopped this action.',
    nextStep: 'Try again. If it keeps happening, tell your host.',
    phoneStep: 'You can also join by phone.',
    offerPhone: true,
    retry: true,
  },
} satisfies Record<ProblemKind, Omit<Problem, 'kind' | 'detail'>>;

/** The next step to show: with its phone step only where the room has phone access (dial-in). */
export function nextStepOf(p: Problem, phone: boolean): string {
  return phone && p.phoneStep ? `${p.nextStep} ${p.phoneStep}` : p.nextStep;
}

export function problem(kind: ProblemKind, detail?: string): Problem {
  return { kind, ...P[kind], detail };
}

/** Our API's error codes (the rooms package: access, join, phone) → a problem kind. */
const API_CODES: Record<string, ProblemKind> = {
  not_a_member: 'not_a_member',
  membership_revoked: 'not_a_member',
  room_ended: 'room_ended',
  room_expired: 'room_ended',
  room_cancelled: 'room_ended',
  room_full: 'room_full',
  room_not_found: 'not_found',
  unauthorized: 'signed_out',
  unauthenticated: 'signed_out',
  rate_limited: 'rate_limited',
  recording_not_active: 'not_recording',
  dial_out_rate_limited: 'rate_limited',
  dial_out_member_rate_limited: 'rate_limited',
  livekit_unavailable: 'cannot_connect',
  upstream_unavailable: 'cannot_connect',
};

export function describeError(err: unknown): Problem {
  if (err instanceof ApiError) {
    const kind = API_CODES[err.code] ?? byStatus(err.status);
    return problem(kind, `${err.status} ${err.code}: ${err.message}`);
  }
  if (err instanceof NetworkError) {
    return { ...problem('cannot_connect', err.message), title: "We can't reach the Rooms service",
      message: 'The request did not get an answer (offline, or the service is unreachable).' };
  }
  if (err instanceof ConnectionError) return describeConnectionError(err);
  const failure = MediaDeviceFailure.getFailure(err);
  if (failure !== undefined) return describeDeviceFailure(failure, err);
  return problem('unknown', err instanceof Error ? err.message : String(err));
}

function byStatus(status: number): ProblemKind {
  if (status === 401) return 'signed_out';
  if (status === 403) return 'not_a_member';
  if (status === 404) return 'not_found';
  if (status === 410) return 'room_ended';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'cannot_connect';
  return 'unknown';
}

export function describeConnectionError(err: ConnectionError): Problem {
  const detail = `${err.reasonName ?? 'ConnectionError'}: ${err.message}`;
  switch (err.reason) {
    case ConnectionErrorReason.NotAllowed:
      // LiveKit's /rtc/validate answers 401 for a bad or expired token.
      return problem('token_invalid', detail);
    case ConnectionErrorReason.LeaveRequest:
      return describeDisconnect(err.context as DisconnectReason | undefined) ?? problem('cannot_connect', detail);
    case ConnectionErrorReason.Cancelled:
      return problem('unknown', detail);
    default:
      if (/max participants|room is full/i.test(err.message)) return problem('room_full', detail);
      return problem('cannot_connect', detail);
  }
}

export function describeDeviceFailure(failure: MediaDeviceFailure, err?: unknown): Problem {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(failure);
  if (failure === MediaDeviceFailure.NotFound) {
    return { ...problem('no_media', detail), message: 'No camera or microphone was found on this device.',
      nextStep: 'Plug in a headset or webcam and reload.' };
  }
  if (failure === MediaDeviceFailure.DeviceInUse) {
    return { ...problem('no_media', detail), message: 'Another app is using your camera or microphone.',
      nextStep: 'Close the other app (Zoom, Teams, another tab), then reload.' };
  }
  return problem('no_media', detail);
}

/** Why LiveKit closed a session, as the person should hear it (null: they left themselves). */
/** ``movedToPhone``: this person asked to be called ("call me"), and the call joins as them: LiveKit keeps
 * one connection per identity, so the browser's is the one that goes (reason DUPLICATE_IDENTITY). */
export function describeDisconnect(reason: DisconnectReason | undefined,
  context: { movedToPhone?: boolean } = {}): Problem | null {
  if (reason === DisconnectReason.DUPLICATE_IDENTITY && context.movedToPhone) {
    return { ...problem('unknown'), title: 'You are in the session by phone now',
      message: 'Your phone call joined the session as you, so this window left it (one connection per person).',
      nextStep: 'Keep talking on the phone. "Try again" brings you back by video, and ends the phone call.',
      phoneStep: undefined, offerPhone: false };
  }
  switch (reason) {
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return problem('room_ended');
    case DisconnectReason.PARTICIPANT_REMOVED:
      return problem('removed');
    case DisconnectReason.DUPLICATE_IDENTITY:
      return { ...problem('unknown'), title: 'You joined from another tab or device',
        message: 'This window was disconnected because you joined the session somewhere else.',
        nextStep: 'Continue in the other window, or click "Try again" to move the session here.',
        phoneStep: undefined };
    case DisconnectReason.JOIN_FAILURE:
    case DisconnectReason.SIGNAL_CLOSE:
    case DisconnectReason.CONNECTION_TIMEOUT:
    case DisconnectReason.MEDIA_FAILURE:
    case DisconnectReason.STATE_MISMATCH:
      return problem('cannot_connect');
    case DisconnectReason.SERVER_SHUTDOWN:
      return { ...problem('cannot_connect'), title: 'The video service restarted',
        message: 'The server hosting this session went away.', nextStep: 'Click "Try again" to rejoin.' };
    default:
      return null;
  }
}
