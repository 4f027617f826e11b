// The room: LiveKit's own components (LiveKitRoom, VideoConference) with our options, the waiting
// room, the viewer layout, per-participant connection quality (in every ParticipantTile), quality
// samples posted to our API, and the host panel beside it.
import {
  ConnectionStateToast, ControlBar, GridLayout, LiveKitRoom, ParticipantTile, RoomAudioRenderer,
  useConnectionState, useDataChannel, useLocalParticipant, useLocalParticipantPermissions,
  useRoomContext, useTracks, VideoConference,
} from '@livekit/components-react';
import {
  ConnectionState, DisconnectReason, MediaDeviceFailure, RoomEvent, Track,
} from 'livekit-client';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { RoomsApi, RoomView, TokenResponse } from '../lib/api';
import { callMeOffer } from '../lib/api';
import { describeDeviceFailure, describeDisconnect, describeError, nextStepOf, problem, type Problem } from '../lib/errors';
import { describeHostNotice, HOST_MESSAGE_TOPIC, HOST_REQUEST_TOPIC, type HostNotice, parseHostData } from '../lib/hostData';
import { isPoor, PoorStreak, QualitySampler } from '../lib/quality';
import { capVideoQuality, roomOptions, type VideoQualityLimits } from '../lib/video';
import { HostPanel } from './HostPanel';
import { PhoneFallback } from './PhoneFallback';
import type { JoinChoices } from './PreJoinScreen';
import { ProblemCard } from './ProblemCard';

export interface SessionProps {
  api: RoomsApi;
  room: RoomView;
  grant: TokenResponse;
  choices: JoinChoices;
  qualityIntervalSeconds: number;
  hostPollSeconds: number;
  peerConnectionTimeoutSeconds?: number;
  videoQualityLimits?: VideoQualityLimits;
  endSession?: (roomId: string) => Promise<void>;
  onRetry: () => void;
  onLeft: (problem: Problem | null) => void;
}

export function Session(props: SessionProps) {
  const { grant, choices, room } = props;
  const [problemNow, setProblem] = useState<Problem | null>(null);
  const movedToPhone = useRef(false);  // "call me" accepted: the call joins as this person
  const isHost = grant.role === 'host';
  const isViewer = grant.role === 'viewer';
  const publishAtStart = canPublishAtStart(grant);
  const options = useMemo(() => roomOptions(), []);
  const timeout = props.peerConnectionTimeoutSeconds;
  const connectOptions = useMemo(() => (timeout ? { peerConnectionTimeout: timeout * 1000 } : undefined), [timeout]);

  return (
    <div className={`rooms-session${isHost ? ' rooms-with-panel' : ''}`} data-role={grant.role}>
      <LiveKitRoom
        serverUrl={grant.server_url}
        token={grant.token}
        connect
        options={options}
        connectOptions={connectOptions}
        audio={publishAtStart && choices.audio ? { deviceId: choices.audioDeviceId } : false}
        video={publishAtStart && choices.video ? { deviceId: choices.videoDeviceId } : false}
        onError={(err) => setProblem(describeError(err))}
        onMediaDeviceFailure={(failure) => setProblem(describeDeviceFailure(failure ?? MediaDeviceFailure.Other))}
        onDisconnected={(reason) => {
          const ended = describeDisconnect(reason, { movedToPhone: movedToPhone.current });
          if (reason === DisconnectReason.CLIENT_INITIATED) props.onLeft(null);
          else if (ended && !ended.retry) props.onLeft(ended);
          else if (ended) setProblem(ended);
        }}
        className="rooms-stage"
      >
        <Stage {...props} problem={problemNow} setProblem={setProblem} isHost={isHost} isViewer={isViewer}
          onCalling={() => { movedToPhone.current = true; }} />
      </LiveKitRoom>
      {isHost && (
        <HostPanel api={props.api} room={room} selfIdentity={grant.identity} pollSeconds={props.hostPollSeconds}
          canDialOut={Boolean(grant.dial_in)}
          endSession={props.endSession} onEnded={() => props.onLeft(problem('room_ended'))} />
      )}
    </div>
  );
}

function Stage(props: SessionProps & { problem: Problem | null; setProblem: (p: Problem | null) => void; isHost: boolean;
  isViewer: boolean; onCalling: () => void }) {
  const { api, room, grant, choices, problem: current } = props;
  const state = useConnectionState();
  const permissions = useLocalParticipantPermissions();
  const [admitted, setAdmitted] = useState(!grant.waiting);
  const { localParticipant } = useLocalParticipant();
  const [poor, setPoor] = useState(false);

  // The waiting room ends when the host's admit reaches us as a permission change.
  useEffect(() => {
    if (!admitted && permissions?.canSubscribe) setAdmitted(true);
  }, [admitted, permissions]);

  // Publish the chosen devices whenever the right to publish ARRIVES: the host's admit, and again after
  // a full reconnect of an admitted member (the new session starts with the token's waiting-room grant,
  // so livekit-client's own re-publish fails, until our webhook handler re-grants the admitted permission).
  // A token that can publish from the start: LiveKitRoom publishes at connect (audio/video props).
  const canPublish = !!permissions?.canPublish && !props.isViewer;
  const couldPublish = useRef(canPublishAtStart(grant));
  const { setProblem } = props;
  useEffect(() => {
    if (!permissions) return; // not connected yet: nothing has arrived or gone
    const arrived = canPublish && !couldPublish.current;
    couldPublish.current = canPublish;
    if (!arrived) return;
    if (choices.video && !localParticipant.isCameraEnabled) {
      localParticipant.setCameraEnabled(true, { deviceId: choices.videoDeviceId }).catch((e) => setProblem(describeError(e)));
    }
    if (choices.audio && !localParticipant.isMicrophoneEnabled) {
      localParticipant.setMicrophoneEnabled(true, { deviceId: choices.audioDeviceId }).catch((e) => setProblem(describeError(e)));
    }
  }, [permissions, canPublish, localParticipant, choices, setProblem]);

  useQualityReporting(api, grant.room_id, props.qualityIntervalSeconds, admitted, setPoor);
  useVideoQualityByCount(props.videoQualityLimits);
  const notice = useRemoteMuteNotice();
  const [hostNotice, dismissHostNotice] = useHostNotices();
  const hostBanner = hostNotice && (
    <HostNoticeBanner notice={hostNotice} onDismiss={dismissHostNotice} onAct={() => {
      dismissHostNotice();
      const enable = hostNotice.kind !== 'ask_unmute' ? null
        : hostNotice.track === 'audio' ? localParticipant.setMicrophoneEnabled(true, { deviceId: choices.audioDeviceId })
          : hostNotice.track === 'video' ? localParticipant.setCameraEnabled(true, { deviceId: choices.videoDeviceId })
            : localParticipant.setScreenShareEnabled(true);
      enable?.catch((e) => setProblem(describeError(e)));
    }} />
  );

  const offer = callMeOffer({ isHost: props.isHost, role: grant.role, dialIn: grant.dial_in, admitted });
  const phone = <PhoneFallback api={api} roomId={grant.room_id} dialIn={grant.dial_in ?? null} offer={offer}
    userId={grant.identity} onCalling={props.onCalling} />;
  // On demand (the seed's "fallback to phone" without waiting for video to fail): rooms with dial-in
  // always offer it, unless a problem card or the poor-quality banner shows it already.
  const phoneOnDemand = grant.dial_in && !current?.offerPhone && !poor && (
    <details className="rooms-phone-on-demand" data-testid="phone-on-demand"><summary>Join by phone</summary>{phone}</details>
  );

  if (!admitted) {
    return (
      <main className="rooms-waiting" data-testid="waiting">
        <h1>Waiting for the host to admit you</h1>
        <p>You're in the waiting room of <strong>{room.title ?? 'this session'}</strong>. The host can see you're here
          and will let you in; this page updates by itself.</p>
        {!current && <p className="rooms-muted" role="status">{connectionLabel(state)}</p>}
        {hostBanner && <div className="rooms-inline-notices">{hostBanner}</div>}
        {current && <ProblemCard problem={current} onRetry={props.onRetry} phone={Boolean(grant.dial_in)}>{current.offerPhone && phone}</ProblemCard>}
        {phoneOnDemand}
      </main>
    );
  }
  return (
    <>
      {current ? (
        <div className="rooms-stage-problem">
          <ProblemCard problem={current} onRetry={props.onRetry} phone={Boolean(grant.dial_in)}>{current.offerPhone && phone}</ProblemCard>
        </div>
      ) : props.isViewer ? <ViewerLayout /> : <VideoConference />}
      {poor && !current && (
        <div className="rooms-banner" role="status" data-problem="poor_quality">
          <strong>{problem('poor_quality').title}.</strong> {nextStepOf(problem('poor_quality'), Boolean(grant.dial_in))}
          {grant.dial_in && <details><summary>Join by phone</summary>{phone}</details>}
        </div>
      )}
      {(notice || hostBanner) && (
        <div className="rooms-notices">
          {notice && <div className="rooms-banner rooms-notice" role="status" data-testid="notice">{notice}</div>}
          {hostBanner}
        </div>
      )}
      {phoneOnDemand}
      <RecordingConsent api={api} room={room} isHost={props.isHost} />
      {!current && <ConnectionStateToast />}
    </>
  );
}

/** The join token itself lets us publish (not in the waiting room, not a viewer). */
function canPublishAtStart(grant: TokenResponse): boolean {
  return !grant.waiting && grant.role !== 'viewer';
}

function connectionLabel(state: ConnectionState): string {
  switch (state) {
    case ConnectionState.Connected: return 'Connected. Your camera and microphone stay off until you are admitted.';
    case ConnectionState.Connecting: return 'Connecting…';
    case ConnectionState.Reconnecting:
    case ConnectionState.SignalReconnecting: return 'Reconnecting…';
    default: return 'Not connected.';
  }
}

/** Webinar viewers: the people on stage, large; no publishing controls (their token cannot publish). */
function ViewerLayout() {
  const tracks = useTracks([{ source: Track.Source.Camera, withPlaceholder: false }, { source: Track.Source.ScreenShare, withPlaceholder: false }])
    .filter((t) => !t.participant.isLocal);
  return (
    <div className="lk-video-conference rooms-viewer" data-testid="viewer-layout">
      <div className="lk-video-conference-inner">
        {tracks.length ? (
          <GridLayout tracks={tracks} style={{ height: 'calc(100% - var(--lk-control-bar-height))' }}>
            <ParticipantTile />
          </GridLayout>
        ) : <p className="rooms-empty">The session will appear here when the host starts their camera.</p>}
        <ControlBar variation="minimal" controls={{ microphone: false, camera: false, screenShare: false, chat: false, leave: true }} />
      </div>
      <RoomAudioRenderer />
    </div>
  );
}

/** Every N seconds: our tracks' and subscriptions' WebRTC stats → POST /rooms/{id}/quality. */
function useQualityReporting(api: RoomsApi, roomId: string, intervalSeconds: number, active: boolean, onPoor: (poor: boolean) => void) {
  const room = useRoomContext();
  const sampler = useRef(new QualitySampler());
  const streak = useRef(new PoorStreak());
  useEffect(() => {
    if (!active || intervalSeconds <= 0) return;
    const timer = setInterval(async () => {
      if (room.state !== ConnectionState.Connected) return;
      const tracks = [
        ...[...room.localParticipant.trackPublications.values()].map((p) => p.track),
        ...[...room.remoteParticipants.values()].flatMap((rp) => [...rp.trackPublications.values()].map((p) => p.track)),
      ].filter((t) => t !== undefined);
      const reports = (await Promise.all(tracks.map((t) => t!.getRTCStatsReport().catch(() => undefined))))
        .filter((r): r is RTCStatsReport => r !== undefined);
      const sample = sampler.current.sample(reports);
      if (!sample) return;
      onPoor(streak.current.next(isPoor(sample, sampler.current.audioJitterMs)));
      api.postQuality(roomId, sample).catch(() => undefined); // a lost sample is not worth bothering anyone
    }, intervalSeconds * 1000);
    return () => clearInterval(timer);
  }, [api, roomId, intervalSeconds, active, room, onPoor]);
}

/** The seed's "limit video quality based on participant count": cap the camera layer we receive
 * (lib/video.ts says why on this side: dynacast then stops the publisher encoding what nobody asks for). */
function useVideoQualityByCount(limits?: VideoQualityLimits) {
  const room = useRoomContext();
  useEffect(() => {
    const apply = () => {
      const count = room.remoteParticipants.size + 1;
      const publications = [...room.remoteParticipants.values()].flatMap((p) => [...p.trackPublications.values()]);
      capVideoQuality(publications, count, limits);
    };
    const events = [RoomEvent.TrackSubscribed, RoomEvent.ParticipantConnected, RoomEvent.ParticipantDisconnected, RoomEvent.Connected] as const;
    events.forEach((e) => room.on(e, apply));
    apply();
    return () => { events.forEach((e) => room.off(e, apply)); };
  }, [room, limits]);
}

/** The host muted us through the API (MutePublishedTrack): say so, so it is not mistaken for a fault. */
function useRemoteMuteNotice(): string | null {
  const room = useRoomContext();
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    const onMuted = (publication: { source: Track.Source }, participant: { isLocal: boolean }) => {
      // LiveKit does not say who muted a track; our own button mutes too, so the notice says both.
      if (participant.isLocal) {
        const what = publication.source === Track.Source.Microphone ? 'microphone' : 'camera';
        setNotice(`Your ${what} is off (you or the host turned it off). Use the ${what} button to turn it back on.`);
      }
    };
    const onUnmuted = (_: unknown, participant: { isLocal: boolean }) => { if (participant.isLocal) setNotice(null); };
    room.on(RoomEvent.TrackMuted, onMuted);
    room.on(RoomEvent.TrackUnmuted, onUnmuted);
    return () => { room.off(RoomEvent.TrackMuted, onMuted); room.off(RoomEvent.TrackUnmuted, onUnmuted); };
  }, [room]);
  return notice;
}

/** The host's message or ask to unmute, sent through our API as a LiveKit data message (lib/hostData). */
function useHostNotices(): [HostNotice | null, () => void] {
  const [notice, setNotice] = useState<HostNotice | null>(null);
  // stable: useDataChannel subscribes again whenever its callback changes
  const onData = useCallback((msg: { topic?: string; payload: Uint8Array; from?: unknown }) => {
    const parsed = parseHostData(msg.topic, msg.payload, msg.from !== undefined);
    if (parsed) setNotice(parsed);
  }, []);
  useDataChannel(HOST_MESSAGE_TOPIC, onData);
  useDataChannel(HOST_REQUEST_TOPIC, onData);
  return [notice, () => setNotice(null)];
}

function HostNoticeBanner({ notice, onDismiss, onAct }: { notice: HostNotice; onDismiss: () => void; onAct: () => void }) {
  const { title, text, action } = describeHostNotice(notice);
  return (
    <div className="rooms-banner rooms-notice" role="status" data-testid="host-notice" data-kind={notice.kind}>
      <strong>{title}.</strong> {text}
      {action && notice.kind === 'ask_unmute' && <button className="lk-button" onClick={onAct}>{action}</button>}
      <button className="lk-button" onClick={onDismiss}>{action ? 'Not now' : 'OK'}</button>
    </div>
  );
}

/** Optional recordings may need everyone's consent (POST/DELETE /rooms/{id}/recording-consent). */
function RecordingConsent({ api, room, isHost }: { api: RoomsApi; room: RoomView; isHost: boolean }) {
  const [consented, setConsented] = useState<boolean | null>(null);
  const [error, setError] = useState<Problem | null>(null);
  if (isHost || room.recording !== 'optional') {
    return room.recording === 'compliance' && !isHost
      ? <p className="rooms-recording-note" role="note">This session is always recorded (compliance).</p> : null;
  }
  async function set(value: boolean) {
    setError(null);
    try {
      if (value) await api.giveConsent(room.room_id); else await api.withdrawConsent(room.room_id);
      setConsented(value);
    } catch (err) { setError(describeError(err)); }
  }
  return (
    <div className="rooms-consent">
      <span>The host may record this session.</span>
      <button className="lk-button" onClick={() => set(!consented)}>{consented ? 'Withdraw consent' : 'I agree to be recorded'}</button>
      {error && <span className="rooms-error">{error.title}</span>}
    </div>
  );
}
