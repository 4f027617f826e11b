// The bearer token for our API: from the platform (config.getToken), a demo query parameter, a
// postMessage from the embedding page, or (locally) the gateway's dev sign-in.
import type { RoomsAppConfig } from './config';

const STORAGE_KEY = 'rooms.bearer';

export interface DevSignIn { sub: string; name?: string; admin?: boolean }

export class TokenSource {
  private token: string | null = null;
  private listeners = new Set<() => void>();

  constructor(private readonly config: RoomsAppConfig, private readonly storage: Storage | null = safeStorage()) {
    this.token = storage?.getItem(STORAGE_KEY) ?? null;
  }

  /** Take `?token=` from the URL once (demo links), and listen for the embedding page's postMessage. */
  install(win: Window = window): void {
    const url = new URL(win.location.href);
    const fromQuery = url.searchParams.get('token');
    if (fromQuery) {
      this.set(fromQuery);
      url.searchParams.delete('token');
      win.history.replaceState(null, '', url.toString());
    }
    win.addEventListener('message', (event: MessageEvent) => {
      const data = event.data as { type?: string; token?: unknown } | null;
      if (data?.type === 'rooms:token' && typeof data.token === 'string') this.set(data.token);
    });
  }

  get hasPlatformHook(): boolean { return typeof this.config.getToken === 'function'; }
  get signedIn(): boolean { return this.hasPlatformHook || this.token !== null; }

  /** The subject of the current token (for display only: the API is what checks it). */
  get subject(): string | null { return this.claim('sub'); }
  /** The display name the platform put in the token, if any. */
  get displayName(): string | null { return this.claim('name'); }

  private claim(name: string): string | null {
    if (!this.token) return null;
    try {
      const payload = JSON.parse(atob(this.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      return typeof payload[name] === 'string' ? payload[name] : null;
    } catch {
      return null;
    }
  }

  async get(): Promise<string> {
    if (this.config.getToken) return await this.config.getToken();
    if (this.token) return this.token;
    throw new Error('not signed in');
  }

  set(token: string | null): void {
    this.token = token;
    if (token) this.storage?.setItem(STORAGE_KEY, token);
    else this.storage?.removeItem(STORAGE_KEY);
    this.listeners.forEach((fn) => fn());
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Local stack only: POST /dev/sign-in on the gateway (it does not exist in AWS). */
  async devSignIn(who: DevSignIn, fetchImpl: typeof fetch = fetch): Promise<string> {
    const response = await fetchImpl(`${this.config.apiBaseUrl}/dev/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(who),
    });
    if (!response.ok) throw new Error(`dev sign-in failed: HTTP ${response.status} (only the local stack has it)`);
    const body = (await response.json()) as { token: string };
    return body.token;
  }
}

function safeStorage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null;
  }
}
