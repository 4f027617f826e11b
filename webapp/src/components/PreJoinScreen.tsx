// Pre-join: device selection with a live preview, a mic level meter, and a connection check.
// The join token is NOT fetched here: it is short-lived, so it is asked for only on "Join".
import { MediaDeviceSelect, usePreviewTracks, useTrackVolume } from '@livekit/components-react';
import { isBrowserSupported, LocalAudioTrack, LocalVideoTrack, Track } from 'livekit-client';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { RoomView } from '../lib/api';
import { describeError, type Problem } from '../lib/errors';
import { ProblemCard } from './ProblemCard';

export interface JoinChoices { name: string; audio: boolean; video: boolean; audioDeviceId?: string; videoDeviceId?: string }

type CheckState = 'pending' | 'ok' | 'warn' | 'fail';
interface Check { label: string; state: CheckState; note?: string }

export function PreJoinScreen({ room, roomProblem, defaultName, joining, onJoin }: {
  room: RoomView | null; roomProblem: Problem | null; defaultName: string; joining: boolean;
  onJoin: (choices: JoinChoices) => void;
}) {
  const [name, setName] = useState(defaultName);
  const [audio, setAudio] = useState(true);
  const [video, setVideo] = useState(true);
  const [audioDeviceId, setAudioDeviceId] = useState<string | undefined>();
  const [videoDeviceId, setVideoDeviceId] = useState<string | undefined>();
  const [deviceProblem, setDeviceProblem] = useState<Problem | null>(null);

  const options = useMemo(() => ({
    audio: audio ? { deviceId: audioDeviceId } : false,
    video: video ? { deviceId: videoDeviceId } : false,
  }), [audio, video, audioDeviceId, videoDeviceId]);
  // usePreviewTracks re-creates the tracks whenever its callback changes: keep it stable.
  const onDeviceError = useCallback((err: Error) => setDeviceProblem(describeError(err)), []);
  const tracks = usePreviewTracks(options, onDeviceError);
  const videoTrack = tracks?.find((t) => t.kind === Track.Kind.Video) as LocalVideoTrack | undefined;
  const audioTrack = tracks?.find((t) => t.kind === Track.Kind.Audio) as LocalAudioTrack | undefined;

  const webrtc = useWebRtcCheck();
  const checks: Check[] = [
    { label: 'Browser supports video calls', state: isBrowserSupported() ? 'ok' : 'fail',
      note: isBrowserSupported() ? undefined : 'Use a recent Chrome, Edge, Firefox or Safari.' },
    webrtc,
    room ? { label: 'Session found and you are on the list', state: room.status === 'ended' ? 'fail' : 'ok',
      note: room.title ?? undefined }
      : { label: 'Session found and you are on the list', state: roomProblem ? 'fail' : 'pending', note: roomProblem?.title },
    { label: 'Camera', state: !video ? 'warn' : videoTrack ? 'ok' : deviceProblem ? 'fail' : 'pending', note: video ? undefined : 'off' },
    { label: 'Microphone', state: !audio ? 'warn' : audioTrack ? 'ok' : deviceProblem ? 'fail' : 'pending', note: audio ? undefined : 'off' },
  ];

  const blocked = roomProblem !== null && !roomProblem.retry;
  return (
    <main className="rooms-prejoin" data-testid="prejoin">
      <header>
        <h1>{room?.title ?? 'Get ready to join'}</h1>
        <p className="rooms-muted">Check your camera and microphone before you go in.</p>
      </header>
      <div className="rooms-prejoin-grid">
        <div className="rooms-preview">
          <PreviewVideo track={videoTrack} />
          <MicMeter track={audioTrack} />
          <div className="rooms-toggles">
            <label><input type="checkbox" checked={video} onChange={(e) => setVideo(e.target.checked)} /> Camera</label>
            <label><input type="checkbox" checked={audio} onChange={(e) => setAudio(e.target.checked)} /> Microphone</label>
          </div>
        </div>
        <div className="rooms-side">
          <fieldset className="rooms-devices">
            <legend>Camera</legend>
            <MediaDeviceSelect kind="videoinput" onActiveDeviceChange={setVideoDeviceId} track={videoTrack} />
            <legend>Microphone</legend>
            <MediaDeviceSelect kind="audioinput" onActiveDeviceChange={setAudioDeviceId} track={audioTrack} />
          </fieldset>
          <section aria-label="Connection check" className="rooms-checks">
            <h2>Connection check</h2>
            <ul>
              {checks.map((c) => (
                <li key={c.label} data-state={c.state}>
                  <span className="rooms-dot" aria-hidden="true" />{c.label}{c.note && <span className="rooms-muted"> — {c.note}</span>}
                </li>
              ))}
            </ul>
          </section>
          <form onSubmit={(e) => { e.preventDefault(); onJoin({ name, audio, video, audioDeviceId, videoDeviceId }); }}>
            <label className="rooms-name">Your name <input value={name} onChange={(e) => setName(e.target.value)} /></label>
            <button className="lk-button lk-button-primary rooms-join" type="submit" disabled={joining || blocked || !room}>
              {joining ? 'Joining…' : 'Join'}
            </button>
          </form>
        </div>
      </div>
      {deviceProblem && <ProblemCard problem={deviceProblem} onRetry={() => { setDeviceProblem(null); setVideo(true); setAudio(true); }} />}
      {roomProblem && <ProblemCard problem={roomProblem} onRetry={() => window.location.reload()} />}
    </main>
  );
}

function PreviewVideo({ track }: { track?: LocalVideoTrack }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (!track || !ref.current) return;
    track.attach(ref.current);
    return () => { track.detach(); };
  }, [track]);
  return track ? <video ref={ref} className="rooms-preview-video" data-testid="preview-video" muted playsInline autoPlay />
    : <div className="rooms-preview-video rooms-preview-off">Camera off</div>;
}

function MicMeter({ track }: { track?: LocalAudioTrack }) {
  const volume = useTrackVolume(track);
  const pct = Math.min(100, Math.round(volume * 300));
  return (
    <div className="rooms-meter" role="meter" aria-label="Microphone level" aria-valuemin={0} aria-valuemax={100}
      aria-valuenow={pct} data-testid="mic-meter">
      <div style={{ width: `${pct}%` }} />
    </div>
  );
}

/** WebRTC allowed here: an RTCPeerConnection gathers at least one ICE candidate (policies and some
 * privacy extensions disable it). The real path to LiveKit is checked when joining (and its failure
 * is explained then); the server URL comes with the token, which we do not fetch before "Join". */
function useWebRtcCheck(): Check {
  const [check, setCheck] = useState<Check>({ label: 'WebRTC allowed on this network', state: 'pending' });
  useEffect(() => {
    if (typeof RTCPeerConnection === 'undefined') {
      setCheck({ label: 'WebRTC allowed on this network', state: 'fail', note: 'WebRTC is disabled in this browser' });
      return;
    }
    const pc = new RTCPeerConnection();
    let found = false;
    pc.onicecandidate = (e) => {
      if (e.candidate) found = true;
      if (!e.candidate) setCheck({ label: 'WebRTC allowed on this network', state: found ? 'ok' : 'warn',
        note: found ? undefined : 'no network candidates: a firewall may block video' });
    };
    pc.createDataChannel('check');
    pc.createOffer().then((offer) => pc.setLocalDescription(offer)).catch(() =>
      setCheck({ label: 'WebRTC allowed on this network', state: 'fail', note: 'WebRTC is blocked' }));
    const timer = setTimeout(() => { if (found) setCheck({ label: 'WebRTC allowed on this network', state: 'ok' }); }, 3000);
    return () => { clearTimeout(timer); pc.close(); };
  }, []);
  return check;
}
