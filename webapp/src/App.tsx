// One screen at a time: sign-in (local dev only) → pre-join → the room → the end.
// API calls per screen are listed in README "Frontend".
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { parseRoomPath, RoomsApi, type RoomRef, type RoomView, type TokenResponse } from './lib/api';
import { TokenSource } from './lib/auth';
import { loadConfig, type RoomsAppConfig } from './lib/config';
import { describeError, problem, type Problem } from './lib/errors';
import { PreJoinScreen, type JoinChoices } from './components/PreJoinScreen';
import { ProblemCard } from './components/ProblemCard';
import { Session } from './components/Session';

type Phase =
  | { name: 'prejoin' }
  | { name: 'room'; grant: TokenResponse; choices: JoinChoices }
  | { name: 'left'; problem: Problem | null };

export function App({ config = loadConfig(), tokens: given }: { config?: RoomsAppConfig; tokens?: TokenSource }) {
  const tokens = useMemo(() => {
    const t = given ?? new TokenSource(config);
    if (!given) t.install();
    return t;
  }, [config, given]);
  const signedIn = useSyncExternalStore((fn) => tokens.subscribe(fn), () => tokens.signedIn);
  const ref = useMemo(() => parseRoomPath(window.location.pathname), []);
  const api = useMemo(() => new RoomsApi(config.apiBaseUrl, () => tokens.get()), [config, tokens]);

  if (!ref) {
    return <Centered><ProblemCard problem={problem('not_found', window.location.pathname)} /></Centered>;
  }
  if (!signedIn) {
    return config.devSignIn ? <DevSignIn tokens={tokens} /> : (
      <Centered><ProblemCard problem={problem('signed_out')} /></Centered>
    );
  }
  return <RoomFlow key={tokens.subject ?? 'platform'} api={api} roomRef={ref} config={config} tokens={tokens} />;
}

function RoomFlow({ api, roomRef, config, tokens }: { api: RoomsApi; roomRef: RoomRef; config: RoomsAppConfig; tokens: TokenSource }) {
  const [room, setRoom] = useState<RoomView | null>(null);
  const [roomProblem, setRoomProblem] = useState<Problem | null>(null);
  const [phase, setPhase] = useState<Phase>({ name: 'prejoin' });
  const [joining, setJoining] = useState(false);

  useEffect(() => {
    api.getRoom(roomRef).then((r) => {
      setRoom(r);
      if (['ended', 'cancelled', 'expired'].includes(r.status)) setRoomProblem(problem('room_ended'));
    }).catch((err) => setRoomProblem(describeError(err)));
  }, [api, roomRef]);

  async function join(choices: JoinChoices) {
    setJoining(true);
    setRoomProblem(null);
    try {
      const grant = await api.issueToken(roomRef, choices.name || undefined); // only now: tokens are short-lived
      setPhase({ name: 'room', grant, choices });
    } catch (err) {
      setRoomProblem(describeError(err));
    } finally {
      setJoining(false);
    }
  }

  if (phase.name === 'left') {
    const p = phase.problem;
    return (
      <Centered>
        {p ? <ProblemCard problem={p} /> : (
          <section className="rooms-problem" data-testid="left"><h2>You left the session</h2>
            <button className="lk-button" onClick={() => setPhase({ name: 'prejoin' })}>Rejoin</button></section>
        )}
      </Centered>
    );
  }
  if (phase.name === 'room' && room) {
    return (
      <Session key={phase.grant.token /* "Try again" = a fresh token and a fresh connection */} api={api} room={room}
        grant={phase.grant} choices={phase.choices}
        qualityIntervalSeconds={config.qualityIntervalSeconds} hostPollSeconds={config.hostPollSeconds}
        peerConnectionTimeoutSeconds={config.peerConnectionTimeoutSeconds} videoQualityLimits={config.videoQualityLimits}
        endSession={config.endSession ?? (config.devSignIn ? devEndSession(tokens, config) : undefined)}
        onRetry={() => join(phase.choices)}
        onLeft={(p) => setPhase({ name: 'left', problem: p })} />
    );
  }
  return <PreJoinScreen room={room} roomProblem={roomProblem} defaultName={tokens.displayName ?? tokens.subject ?? ''} joining={joining} onJoin={join} />;
}

/** Local stack only: ending a room is the platform backend's admin call; the dev sign-in plays that
 * backend (an admin token minted by the local gateway, never available in AWS). */
function devEndSession(tokens: TokenSource, config: RoomsAppConfig) {
  return async (roomId: string) => {
    const admin = await tokens.devSignIn({ sub: 'platform-backend', admin: true });
    const api = new RoomsApi(config.apiBaseUrl, async () => admin);
    await api.request('DELETE', `/rooms/${encodeURIComponent(roomId)}`);
  };
}

function DevSignIn({ tokens }: { tokens: TokenSource }) {
  const [sub, setSub] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <Centered>
      <form className="rooms-problem" data-testid="dev-sign-in" onSubmit={async (e) => {
        e.preventDefault();
        try { tokens.set(await tokens.devSignIn({ sub, name: name || undefined })); } catch (err) { setError(String(err)); }
      }}>
        <h2>Sign in (local development)</h2>
        <p className="rooms-muted">In production the platform signs people in and hands this app its token.
          Locally, the gateway mints one the way <code>rooms token</code> does.</p>
        <label>User id <input name="sub" value={sub} onChange={(e) => setSub(e.target.value)} required /></label>
        <label>Display name <input name="name" value={name} onChange={(e) => setName(e.target.value)} /></label>
        <button className="lk-button lk-button-primary" type="submit">Sign in</button>
        {error && <p className="rooms-error">{error}</p>}
      </form>
    </Centered>
  );
}

function Centered({ children }: { children: React.ReactNode }) {
  return <main className="rooms-centered">{children}</main>;
}
