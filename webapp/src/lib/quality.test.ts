import { describe, expect, it } from 'vitest';
import { isPoor, PoorStreak, QualitySampler } from './quality';

/** A stand-in for RTCStatsReport: a map of stats by id, as browsers return it. */
function report(...stats: Record<string, unknown>[]): RTCStatsReport {
  return new Map(stats.map((s) => [s.id as string, s])) as unknown as RTCStatsReport;
}

const at = new Date('2026-12-01T10:00:00Z');

describe('QualitySampler', () => {
  it('packet loss is the share lost since the previous sample; jitter and RTT in ms', () => {
    const sampler = new QualitySampler();
    const first = sampler.sample([report(
      { id: 'in1', type: 'inbound-rtp', ssrc: 1, kind: 'video', packetsLost: 10, packetsReceived: 990, jitter: 0.012 },
      { id: 'cp', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.08 },
      { id: 'cp-old', type: 'candidate-pair', nominated: false, state: 'failed', currentRoundTripTime: 9 },
    )], at);
    expect(first).toEqual({ packet_loss_pct: 1, jitter_ms: 12, rtt_ms: 80, measured_at: '2026-12-01T10:00:00.000Z' });

    const second = sampler.sample([report(
      { id: 'in1', type: 'inbound-rtp', ssrc: 1, packetsLost: 60, packetsReceived: 1940, jitter: 0.03 },
    )], at);
    expect(second?.packet_loss_pct).toBe(5); // 50 lost of 1000 since the first sample
    expect(second?.jitter_ms).toBe(30);
  });

  it("what the server reports of our sending (remote-inbound-rtp) counts, with several reports at once", () => {
    const sample = new QualitySampler().sample([
      report({ id: 'ri', type: 'remote-inbound-rtp', fractionLost: 0.02, jitter: 0.004, roundTripTime: 0.1 }),
      report({ id: 'ri2', type: 'remote-inbound-rtp', fractionLost: 0.1, jitter: 0.02, roundTripTime: 0.3 }),
    ], at);
    expect(sample).toMatchObject({ packet_loss_pct: 10, jitter_ms: 20, rtt_ms: 200 });
  });

  it('nothing measurable yet → no sample (nothing is posted)', () => {
    expect(new QualitySampler().sample([report({ id: 't', type: 'transport' })], at)).toBeUndefined();
    expect(new QualitySampler().sample([], at)).toBeUndefined();
  });

  it('values stay within what the API accepts', () => {
    const sample = new QualitySampler().sample([report({ id: 'ri', type: 'remote-inbound-rtp', fractionLost: 3, roundTripTime: 100 })], at);
    expect(sample).toMatchObject({ packet_loss_pct: 100, rtt_ms: 60000 });
  });

  it('a counter reset (new SSRC stats) never gives negative loss', () => {
    const sampler = new QualitySampler();
    sampler.sample([report({ id: 'a', type: 'inbound-rtp', ssrc: 7, packetsLost: 50, packetsReceived: 5000 })], at);
    const after = sampler.sample([report({ id: 'a', type: 'inbound-rtp', ssrc: 7, packetsLost: 0, packetsReceived: 100 })], at);
    expect(after?.packet_loss_pct).toBe(0);
  });
});

describe('isPoor', () => {
  it('flags loss, delay or audio jitter that make a call hard to follow', () => {
    expect(isPoor({ packet_loss_pct: 1, rtt_ms: 80, jitter_ms: 10 })).toBe(false);
    expect(isPoor({ packet_loss_pct: 6 })).toBe(true);
    expect(isPoor({ rtt_ms: 700 })).toBe(true);
    expect(isPoor({ jitter_ms: 140 }, 20)).toBe(false); // video jitter on a busy machine: not poor
    expect(isPoor({ jitter_ms: 140 }, 120)).toBe(true); // speech breaks up
    expect(isPoor(undefined)).toBe(false);
  });

  it('the sampler keeps the audio jitter apart from the video jitter it posts', () => {
    const sampler = new QualitySampler();
    const sample = sampler.sample([report(
      { id: 'v', type: 'inbound-rtp', kind: 'video', ssrc: 1, packetsLost: 0, packetsReceived: 100, jitter: 0.14 },
      { id: 'a', type: 'inbound-rtp', kind: 'audio', ssrc: 2, packetsLost: 0, packetsReceived: 100, jitter: 0.012 },
      { id: 'ra', type: 'remote-inbound-rtp', kind: 'audio', fractionLost: 0, jitter: 0.02, roundTripTime: 0.05 },
    )], at);
    expect(sample?.jitter_ms).toBe(140); // posted: the worst stream
    expect(sampler.audioJitterMs).toBe(20);
    expect(sampler.sample([report({ id: 'v', type: 'inbound-rtp', kind: 'video', ssrc: 1, packetsLost: 0, packetsReceived: 200, jitter: 0.1 })], at)).toBeDefined();
    expect(sampler.audioJitterMs).toBeUndefined(); // no audio now: no audio jitter
  });
});

describe('PoorStreak', () => {
  it('shows the banner after two poor samples in a row, hides it at the first good one', () => {
    const s = new PoorStreak();
    expect([true, false, true, true, true, false, true].map((p) => s.next(p))).toEqual([false, false, false, true, true, false, false]);
  });
});
