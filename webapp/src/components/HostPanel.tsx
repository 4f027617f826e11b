// The host's control bar. Every control is a call to OUR API (which checks the caller is the host and
// then calls LiveKit): the browser never holds a LiveKit admin grant.
//   waiting list, admit / admit all   GET /rooms/{id}/participants, POST …/participants/{identity}/admit
//   mute                              POST …/participants/{identity}/mute {track, muted: true}
//   ask to unmute                     POST …/participants/{identity}/ask-unmute {track} (a data message the
//                                     participant's app shows; LiveKit refuses remote unmute by default)
//   message a waiting client          POST …/participants/{identity}/message {text} (waiting-room concierge)
//   remove                            DELETE …/participants/{identity}
//   recording                         GET/POST /rooms/{id}/recordings, POST …/recordings/{rec}/stop (409 lists missing consents)
//   dial out                          POST /rooms/{id}/dial-out (202), then GET …/dial-outs/{id} until it answered
//   end the session                   the platform's endSession hook (DELETE /rooms/{id} is an admin call)
import { useCallback, useEffect, useState } from 'react';
import type { LiveParticipant, ParticipantsView, RecordingView, RoomsApi, RoomView } from '../lib/api';
import { ApiError, describeDialOut } from '../lib/api';
import { describeError, type Problem } from '../lib/errors';

export function HostPanel({ api, room, selfIdentity, pollSeconds, canDialOut, endSession, onEnded }: {
  api: RoomsApi; room: RoomView; selfIdentity: string; pollSeconds: number;
  /** the room has phone access (the token response's `dial_in`): only then can a phone be called in */
  canDialOut: boolean;
  endSession?: (roomId: string) => Promise<void>; onEnded: () => void;
}) {
  const [view, setView] = useState<ParticipantsView | null>(null);
  const [recordings, setRecordings] = useState<RecordingView[]>([]);
  const [missingConsent, setMissingConsent] = useState<string[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [dialOutStatus, setDialOutStatus] = useState<string | null>(null);
  const roomId = room.room_id;

  const refresh = useCallback(async () => {
    try {
      const [participants, recs] = await Promise.all([
        api.participants(roomId),
        room.recording === 'none' ? Promise.resolve({ recordings: [] }) : api.listRecordings(roomId),
      ]);
      setView(participants);
      setRecordings(recs.recordings);
    } catch (err) {
      setProblem(describeError(err));
    }
  }, [api, roomId, room.recording]);

  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, pollSeconds * 1000);
    return () => clearInterval(timer);
  }, [refresh, pollSeconds]);

  async function act(label: string, fn: () => Promise<unknown>) {
    setBusy(label);
    setProblem(null);
    try {
      await fn();
      await refresh();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'recording_consent_missing') {
        setMissingConsent((err.details.missing as string[] | undefined) ?? []); // shown under the button
        return;
      }
      setProblem(describeError(err));
    } finally {
      setBusy(null);
    }
  }

  const waiting = view?.participants.filter((p) => p.waiting) ?? [];
  const inRoom = view?.participants.filter((p) => !p.waiting && p.identity !== selfIdentity) ?? [];
  const running = recordings.find((r) => !r.ended_at && ['starting', 'active', null, undefined].includes(r.egress_status as never)
    && r.status !== 'failed' && r.status !== 'available');
  const names = new Map(view?.participants.map((p) => [p.identity, p.name || p.identity]));

  return (
    <aside className="rooms-host-panel" aria-label="Host controls" data-testid="host-panel">
      <h2>Host controls</h2>
      {problem && <p className="rooms-error" role="alert" data-problem={problem.kind}><strong>{problem.title}.</strong> {problem.nextStep}
        {problem.detail && <span className="rooms-muted"> ({problem.detail})</span>}</p>}

      <section aria-label="Waiting room">
        <h3>Waiting room <span className="rooms-count">{waiting.length}</span></h3>
        {waiting.length === 0 ? <p className="rooms-muted">Nobody is waiting.</p> : (
          <>
            <ul className="rooms-people">
              {waiting.map((p) => (
                <li key={p.identity} data-identity={p.identity}>
                  <span>{p.name || p.identity}</span>
                  <button className="lk-button" disabled={busy !== null} onClick={() => act('admit', () => api.admit(roomId, p.identity))}>Admit</button>
                  <MessageForm busy={busy !== null} onSend={(text) => act('message', () => api.message(roomId, p.identity, text))} />
                </li>
              ))}
            </ul>
            <button className="lk-button" disabled={busy !== null}
              onClick={() => act('admit-all', () => Promise.all(waiting.map((p) => api.admit(roomId, p.identity))))}>Admit all</button>
          </>
        )}
      </section>

      <section aria-label="Participants">
        <h3>In the session <span className="rooms-count">{inRoom.length}</span></h3>
        {inRoom.length === 0 ? <p className="rooms-muted">Nobody else is here yet.</p> : (
          <ul className="rooms-people">
            {inRoom.map((p) => <ParticipantRow key={p.identity} p={p} busy={busy !== null}
              consent={consentState(room, p.identity, missingConsent)}
              onMute={(track) => act('mute', () => api.mute(roomId, p.identity, track))}
              onAskUnmute={() => act('ask-unmute', () => api.askUnmute(roomId, p.identity, 'audio'))}
              onRemove={() => act('remove', () => api.remove(roomId, p.identity))} />)}
          </ul>
        )}
      </section>

      <section aria-label="Recording">
        <h3>Recording</h3>
        {room.recording === 'compliance' ? (
          <p className="rooms-recording-on" data-testid="compliance">● Always recorded (compliance): it cannot be stopped.</p>
        ) : room.recording === 'none' ? (
          <p className="rooms-muted">Recording is off for this kind of session.</p>
        ) : (
          <>
            <p>{running ? <span className="rooms-recording-on">● Recording</span> : 'Not recording'}
              {room.recording === 'automatic' && <span className="rooms-muted"> (starts automatically)</span>}</p>
            {running ? (
              <button className="lk-button" disabled={busy !== null || running.trigger === 'compliance'}
                onClick={() => act('stop', () => api.stopRecording(roomId, running.recording_id))}>Stop recording</button>
            ) : (
              <button className="lk-button" disabled={busy !== null} onClick={() => act('record', async () => {
                await api.startRecording(roomId);
                setMissingConsent([]);
              })}>Start recording</button>
            )}
            {missingConsent && missingConsent.length > 0 && (
              <p className="rooms-muted">Waiting for consent from: {missingConsent.map((id) => names.get(id) ?? id).join(', ')}</p>
            )}
          </>
        )}
      </section>

      {canDialOut && <DialOut busy={busy !== null} status={dialOutStatus} onDial={(phone) => act('dial', async () => {
        const accepted = await api.dialOut(roomId, { phone_number: phone });
        // placed asynchronously: follow it without holding the other controls
        void api.followDialOut(roomId, accepted, (d) => setDialOutStatus(describeDialOut(d)))
          .catch((err) => setProblem(describeError(err)));
      })} />}

      <section aria-label="End the session" className="rooms-end">
        <button className="lk-button lk-disconnect-button" disabled={!endSession || busy !== null}
          title={endSession ? 'End the session for everyone' : 'Ending a session is the platform backend\'s call (DELETE /rooms/{id}, admin scope): no endSession hook is configured.'}
          onClick={() => endSession && act('end', async () => { await endSession(roomId); onEnded(); })}>
          End session for everyone
        </button>
      </section>
    </aside>
  );
}

type Consent = 'given' | 'missing' | 'unknown' | 'not-needed';

function consentState(room: RoomView, identity: string, missing: string[] | null): Consent {
  if (room.recording !== 'optional') return 'not-needed';
  if (missing === null) return 'unknown'; // the API tells who is missing when a start is refused
  return missing.includes(identity) ? 'missing' : 'given';
}

function ParticipantRow({ p, busy, consent, onMute, onAskUnmute, onRemove }: {
  p: LiveParticipant; busy: boolean; consent: Consent; onMute: (track: 'audio' | 'video') => void;
  onAskUnmute: () => void; onRemove: () => void;
}) {
  const mic = p.tracks.find((t) => t.source === 'microphone' || t.type === 'audio');
  const cam = p.tracks.find((t) => t.source === 'camera' || (t.type === 'video' && t.source !== 'screen_share'));
  return (
    <li data-identity={p.identity}>
      <span className="rooms-person">
        {p.name || p.identity}
        {p.via === 'phone' && <span className="rooms-tag">phone</span>}
        {consent !== 'not-needed' && <span className="rooms-tag" data-consent={consent}>consent: {consent}</span>}
      </span>
      <span className="rooms-row-actions">
        <button className="lk-button" disabled={busy || !mic || mic.muted} onClick={() => onMute('audio')}>{mic?.muted ? 'Muted' : 'Mute'}</button>
        <button className="lk-button" disabled={busy || !cam || cam.muted} onClick={() => onMute('video')}>{cam?.muted ? 'Camera off' : 'Stop video'}</button>
        <button className="lk-button" disabled={busy || !mic || !mic.muted} onClick={onAskUnmute}
          title="Asks them to turn their microphone back on (they decide: LiveKit refuses remote unmute unless the server enables it).">
          Ask to unmute
        </button>
        <button className="lk-button" disabled={busy} onClick={onRemove}>Remove</button>
      </span>
    </li>
  );
}

function MessageForm({ onSend, busy }: { onSend: (text: string) => void; busy: boolean }) {
  const [text, setText] = useState('');
  return (
    <form className="rooms-inline-form" onSubmit={(e) => { e.preventDefault(); onSend(text); setText(''); }}>
      <input value={text} onChange={(e) => setText(e.target.value)} placeholder="Running 5 minutes late" maxLength={500}
        aria-label="Message to this person" required />
      <button className="lk-button" type="submit" disabled={busy}>Send</button>
    </form>
  );
}

function DialOut({ onDial, busy, status }: { onDial: (phone: string) => void; busy: boolean; status: string | null }) {
  const [phone, setPhone] = useState('');
  return (
    <section aria-label="Dial out">
      <h3>Call a phone into the session</h3>
      <form className="rooms-inline-form" onSubmit={(e) => { e.preventDefault(); onDial(phone); }}>
        <input type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} placeholder="+44 20 7946 0000" aria-label="Phone number" required />
        <button className="lk-button" type="submit" disabled={busy}>Call</button>
      </form>
      {status && <p className="rooms-muted" role="status" data-testid="dial-out-status">{status}</p>}
    </section>
  );
}
