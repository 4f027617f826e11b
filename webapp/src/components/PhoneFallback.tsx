// The seed's "fallback to phone": the room's dial-in number and PIN (GET /rooms/{id}/dial-in, also in
// the token response), and "call me" (POST /rooms/{id}/dial-out with the member's own user_id, so the call
// joins as them and keeps their attendance record; the attempt's outcome is polled at GET …/dial-outs/{id}).
// The host may always; a participant where the room allows it (dial_in.call_me, the room's sip.call_me)
// once admitted; everyone else is told to ask the host or dial in.
import { useEffect, useState } from 'react';
import type { CallMeOffer, DialIn, RoomsApi } from '../lib/api';
import { ApiError, describeDialOut } from '../lib/api';
import { describeError, type Problem } from '../lib/errors';

const FINAL = new Set(['answered', 'busy', 'no_answer', 'failed']);

/** ``onCalling``: a call to this person themselves was accepted (it will join the session as them). */
export function PhoneFallback({ api, roomId, dialIn: initial, offer, userId, onCalling }: {
  api: RoomsApi; roomId: string; dialIn?: DialIn | null; offer: CallMeOffer; userId?: string; onCalling?: () => void;
}) {
  const [dialIn, setDialIn] = useState<DialIn | null | undefined>(initial);
  const [phone, setPhone] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  useEffect(() => {
    if (initial !== undefined) return;
    api.dialIn(roomId).then(setDialIn).catch((err) => {
      // 409/404 dial_in_not_enabled: the room has no phone access.
      if (err instanceof ApiError && err.status < 500) setDialIn(null);
      else setProblem(describeError(err));
    });
  }, [api, roomId, initial]);

  async function callMe(event: React.FormEvent) {
    event.preventDefault();
    setStatus('Calling…');
    setProblem(null);
    try {
      const accepted = await api.dialOut(roomId, { phone_number: phone, user_id: userId });
      onCalling?.();
      setStatus(`Calling ${phone}: answer your phone to join by audio.`);
      const last = await api.followDialOut(roomId, accepted, (d) => {
        if (FINAL.has(d.status)) setStatus(describeDialOut(d));
      });
      if (!FINAL.has(last.status)) setStatus(`${describeDialOut(last)} (still waiting for an answer)`);
    } catch (err) {
      setStatus(null);
      setProblem(err instanceof ApiError && err.field === 'phone_number'
        ? { ...describeError(err), title: 'That number cannot be called', message: err.message,
            nextStep: 'Enter the number with its country code, e.g. +44 20 7946 0000.' }
        : err instanceof ApiError && err.status === 403 && err.code.startsWith('call_me_')
          ? { ...describeError(err), title: 'We cannot call you in this session', message: err.message,
              nextStep: 'Dial the number above and enter the PIN, or ask your host to call you.' }
          : describeError(err));
    }
  }

  if (dialIn === undefined) return null;
  return (
    <section className="rooms-phone" aria-label="Join by phone">
      <h3>Join by phone</h3>
      {dialIn ? (
        <>
          <ul className="rooms-numbers">
            {dialIn.numbers.map((n) => <li key={n.number}>{n.region}: <a href={`tel:${n.number}`}>{n.formatted}</a></li>)}
          </ul>
          <p>PIN: <strong data-testid="dial-in-pin">{dialIn.pin}</strong> then #</p>
          <p className="rooms-muted">{dialIn.instructions}</p>
        </>
      ) : <p className="rooms-muted">This session has no phone access.</p>}
      {dialIn && (offer !== 'ask_host' ? (
        <form onSubmit={callMe} className="rooms-inline-form">
          <label>Call me at <input value={phone} onChange={(e) => setPhone(e.target.value)} placeholder="+1 202 555 0123"
            type="tel" required /></label>
          <button className="lk-button" type="submit">Call me</button>
        </form>
      ) : (
        <button className="lk-button" disabled title="This session does not let members ask to be called: ask your host to call you, or dial the number above.">
          Call me
        </button>
      ))}
      {status && <p role="status">{status}</p>}
      {problem && <p className="rooms-error" role="alert" data-problem={problem.kind}><strong>{problem.title}.</strong> {problem.nextStep}</p>}
    </section>
  );
}
