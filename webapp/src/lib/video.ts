// Room options of the seed's "Performance" section: simulcast, adaptive stream, dynacast, and video
// quality limited by the number of participants.
//
// How the limit is applied, and why on the RECEIVING side: with dynacast on, livekit-server tells each
// publisher which simulcast layers its subscribers want, and livekit-client then switches the encoder's
// layers itself (handleSubscribedQualityUpdate → setPublishingLayers). A cap set on the publisher
// (LocalVideoTrack.setPublishingQuality) is overwritten by the next such update, so it does not hold.
// Instead every subscriber caps the layer it asks for (RemoteTrackPublication.setVideoQuality, which
// livekit-client combines with adaptiveStream's tile size: the smaller wins); the server forwards at
// most that layer, and dynacast then stops the publisher encoding the layers nobody asks for. Screen
// shares are not capped (text must stay readable).
import { VideoPresets, VideoQuality, type RoomOptions } from 'livekit-client';

export function roomOptions(): RoomOptions {
  return {
    adaptiveStream: true, // subscribe at the size the tile is shown, pause what is off screen
    dynacast: true, // stop encoding layers nobody subscribes to
    videoCaptureDefaults: { resolution: VideoPresets.h720.resolution },
    publishDefaults: {
      simulcast: true,
      videoSimulcastLayers: [VideoPresets.h180, VideoPresets.h360],
      red: true,
      dtx: true,
    },
  };
}

/** Up to how many people (ourselves included) each layer is received: 720p up to `highUpTo`, 360p up
 * to `mediumUpTo`, 180p above. */
export interface VideoQualityLimits { highUpTo: number; mediumUpTo: number }

export const DEFAULT_VIDEO_QUALITY_LIMITS: VideoQualityLimits = { highUpTo: 3, mediumUpTo: 8 };

/** The highest camera layer we receive when this many people are in the room (ourselves included). */
export function maxVideoQuality(participantCount: number, limits: VideoQualityLimits = DEFAULT_VIDEO_QUALITY_LIMITS): VideoQuality {
  if (participantCount <= limits.highUpTo) return VideoQuality.HIGH; // 1-on-1 and small groups: 720p
  if (participantCount <= limits.mediumUpTo) return VideoQuality.MEDIUM; // workshops: 360p
  return VideoQuality.LOW; // large groups and webinars: 180p
}

/** What the cap needs of a remote publication (livekit-client's RemoteTrackPublication). */
export interface CappablePublication {
  kind: string;
  source: string;
  isSubscribed: boolean;
  videoQuality?: VideoQuality;
  setVideoQuality(quality: VideoQuality): void;
}

/** Cap every subscribed camera track at the quality for this many people; how many were changed. */
export function capVideoQuality(publications: Iterable<CappablePublication>, participantCount: number,
  limits: VideoQualityLimits = DEFAULT_VIDEO_QUALITY_LIMITS): number {
  const quality = maxVideoQuality(participantCount, limits);
  let changed = 0;
  for (const pub of publications) {
    if (pub.kind !== 'video' || pub.source !== 'camera' || !pub.isSubscribed) continue;
    if (pub.videoQuality === quality) continue;
    pub.setVideoQuality(quality);
    changed += 1;
  }
  return changed;
}
