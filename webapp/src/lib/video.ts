// Room options of the seed's "Performance" section: simulcast, adaptive stream, dynacast, and video
// quality limited by the number of participants.
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

/** The highest layer we publish for this many people in the room (ourselves included). */
export function maxPublishQuality(participantCount: number): VideoQuality {
  if (participantCount <= 3) return VideoQuality.HIGH; // 1-on-1 and small groups: 720p
  if (participantCount <= 8) return VideoQuality.MEDIUM; // workshops: 360p
  return VideoQuality.LOW; // large groups: 180p; a webinar's viewers do not publish at all
}
