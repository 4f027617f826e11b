// The seed's "fallback to phone": the room's dial-in number and PIN (GET /rooms/{id}/dial-in, also in
// the token response), and "call me" (POST /rooms/{id}/dial-out with the member's user_id, so the call
// keeps their attendance record). Dial-out is a host control in the API: other people are told to ask.
import { useEffect, useState } from 'react';
import type { DialIn, RoomsApi } from '../lib/api';
import { ApiError, describeDialOut } from '../lib/api';
import { describeError, type Problem } from '../lib/errors';

export function PhoneFallback({ api, roomId, dialIn: initial, isHost, userId }: {
  api: RoomsApi; roomId: string; dialIn?: DialIn | null; isHost: boolean; userId?: string;
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
      setStatus(`Calling ${phone}: answer your phone to join by audio.`);
      const last = await api.followDialOut(roomId, accepted, () => {});
      if (last.status !== 'answered') setStatus(describeDialOut(last));
    } catch (err) {
      setStatus(null);
      setProblem(err instanceof ApiError && err.field === 'phone_number'
        ? { ...describeError(err), title: 'That number cannot be called', message: err.message,
            nextStep: 'Enter the number with its country code, e.g. +44 20 7946 0000.' }
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
      {dialIn && (isHost ? (
        <form onSubmit={callMe} className="rooms-inline-form">
          <label>Call me at <input value={phone} onChange={(e) => setPhone(e.target.value)} placeholder="+1 202 555 0123"
            type="tel" required /></label>
          <button className="lk-button" type="submit">Call me</button>
        </form>
      ) : (
        <button className="lk-button" disabled title="Only the host can place calls into the room (POST /rooms/{id}/dial-out is a host control): ask your host to call you, or dial the number above.">
          Call me
        </button>
      ))}
      {status && <p role="status">{status}</p>}
      {problem && <p className="rooms-error" role="alert" data-problem={problem.kind}><strong>{problem.title}.</strong> {problem.nextStep}</p>}
    </section>
  );
}
