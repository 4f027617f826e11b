import { VideoQuality } from 'livekit-client';
import { describe, expect, it } from 'vitest';
import { capVideoQuality, type CappablePublication, maxVideoQuality, roomOptions } from './video';

function pub(over: Partial<CappablePublication> = {}) {
  const calls: VideoQuality[] = [];
  const p: CappablePublication & { calls: VideoQuality[] } = {
    kind: 'video', source: 'camera', isSubscribed: true, videoQuality: VideoQuality.HIGH, calls,
    setVideoQuality(q) { calls.push(q); this.videoQuality = q; },
    ...over,
  };
  return p;
}

describe('room options (the seed\'s Performance section)', () => {
  it('adaptive stream, dynacast and simulcast with two lower layers', () => {
    const o = roomOptions();
    expect(o.adaptiveStream).toBe(true);
    expect(o.dynacast).toBe(true);
    expect(o.publishDefaults?.simulcast).toBe(true);
    expect(o.publishDefaults?.videoSimulcastLayers?.map((l) => l.height)).toEqual([180, 360]);
    expect(o.videoCaptureDefaults?.resolution?.height).toBe(720);
  });
});

describe('video quality limited by participant count', () => {
  it.each([[1, VideoQuality.HIGH], [2, VideoQuality.HIGH], [3, VideoQuality.HIGH], [4, VideoQuality.MEDIUM],
    [8, VideoQuality.MEDIUM], [9, VideoQuality.LOW], [100, VideoQuality.LOW]])('%i people → %s', (n, q) => {
    expect(maxVideoQuality(n)).toBe(q);
  });

  it('limits can be tuned by the platform', () => {
    expect(maxVideoQuality(2, { highUpTo: 1, mediumUpTo: 1 })).toBe(VideoQuality.LOW);
    expect(maxVideoQuality(5, { highUpTo: 6, mediumUpTo: 10 })).toBe(VideoQuality.HIGH);
  });

  it('caps subscribed camera tracks only, and only when the cap changes', () => {
    const cam = pub();
    const screen = pub({ source: 'screen_share' });
    const mic = pub({ kind: 'audio', source: 'microphone' });
    const unsubscribed = pub({ isSubscribed: false });
    expect(capVideoQuality([cam, screen, mic, unsubscribed], 5)).toBe(1);
    expect(cam.calls).toEqual([VideoQuality.MEDIUM]);
    expect([screen.calls, mic.calls, unsubscribed.calls]).toEqual([[], [], []]);
    expect(capVideoQuality([cam], 6)).toBe(0); // still MEDIUM: nothing sent
    expect(capVideoQuality([cam], 12)).toBe(1);
    expect(capVideoQuality([cam], 2)).toBe(1); // people left: back up to 720p
    expect(cam.calls).toEqual([VideoQuality.MEDIUM, VideoQuality.LOW, VideoQuality.HIGH]);
  });
});
