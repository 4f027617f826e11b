import type { VideoQualityLimits } from './video';

// How a platform plugs the app in. Sign-in is the platform's job: the app only needs a bearer token for
// our API (the same JWT API Gateway's authorizer checks), and optionally a way to end a session
// (ending a room is the platform backend's call: DELETE /rooms/{id} needs the rooms/admin scope).
//
//   <script>
//     window.ROOMS_CONFIG = {
//       apiBaseUrl: 'https://api.example.com',            // the HTTP API (CORS: allowedOrigins)
//       getToken: async () => myAuth.currentAccessToken(), // called before every API request
//       endSession: async (roomId) => fetch(`/my-backend/rooms/${roomId}/end`, { method: 'POST' }),
//     };
//   </script>
//
// Other ways in, for demos and iframes: `?token=<jwt>` in the URL (kept in sessionStorage, removed
// from the address bar), or `postMessage({type: 'rooms:token', token})` from the embedding page.
// Locally, the gateway's dev-only POST /dev/sign-in mints a token the way `rooms token` does.

export interface RoomsAppConfig {
  apiBaseUrl: string;
  getToken?: () => Promise<string> | string;
  endSession?: (roomId: string) => Promise<void>;
  /** Seconds between quality samples posted to /rooms/{id}/quality. */
  qualityIntervalSeconds: number;
  /** Seconds between host polls of /rooms/{id}/participants. */
  hostPollSeconds: number;
  /** Seconds LiveKit's client waits for a WebRTC connection or renegotiation before it reconnects
   * (livekit-client's peerConnectionTimeout; unset: its default, 15 s). Raise it for slow devices. */
  peerConnectionTimeoutSeconds?: number;
  /** Up to how many people each camera layer is received (lib/video.ts; default 720p up to 3, 360p up to 8). */
  videoQualityLimits?: VideoQualityLimits;
  /** Offer the local dev sign-in form when no token source is configured. */
  devSignIn: boolean;
}

declare global {
  interface Window { ROOMS_CONFIG?: Partial<RoomsAppConfig> }
}

export function loadConfig(): RoomsAppConfig {
  const injected = (typeof window !== 'undefined' && window.ROOMS_CONFIG) || {};
  const env = import.meta.env;
  return {
    apiBaseUrl: (injected.apiBaseUrl ?? env.VITE_ROOMS_API_URL ?? '').replace(/\/$/, ''),
    getToken: injected.getToken,
    endSession: injected.endSession,
    qualityIntervalSeconds: Number(injected.qualityIntervalSeconds ?? env.VITE_QUALITY_INTERVAL_SECONDS ?? 10),
    hostPollSeconds: Number(injected.hostPollSeconds ?? 3),
    peerConnectionTimeoutSeconds: injected.peerConnectionTimeoutSeconds === undefined ? undefined : Number(injected.peerConnectionTimeoutSeconds),
    videoQualityLimits: injected.videoQualityLimits,
    devSignIn: injected.devSignIn ?? env.VITE_DEV_SIGN_IN !== 'false',
  };
}
