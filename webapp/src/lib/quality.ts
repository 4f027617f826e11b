// The client's own connection-quality samples from WebRTC stats, for POST /rooms/{id}/quality.
//
// LiveKit's ConnectionQuality (excellent/good/poor) is the server's summary and is what the tiles show;
// the API wants numbers (packet loss %, jitter ms, RTT ms) to keep per attendee, so we read them from
// the standard RTCStatsReport of our published and subscribed tracks:
//   - inbound-rtp (what we receive): packetsLost / packetsReceived deltas since the last sample, jitter;
//   - remote-inbound-rtp (what the server reports of our sending): fractionLost, jitter, roundTripTime;
//   - candidate-pair (the selected one): currentRoundTripTime.
import type { QualitySample } from './api';

interface Counters { lost: number; received: number }

type StatsLike = Pick<RTCStatsReport, 'forEach'>;
type Stat = Record<string, unknown> & { id: string; type: string };

export class QualitySampler {
  private previous = new Map<string, Counters>();
  /** The largest AUDIO jitter (ms) of the last sample, or undefined with no audio stream. Speech is what
   * jitter breaks up; video jitter is absorbed by the jitter buffer and runs high on a busy machine
   * (100-250 ms seen on the 2-core CI box over a loopback link), so it does not make a call "poor". */
  audioJitterMs: number | undefined;

  /** One sample from all the reports read now (one per track/transport); undefined when there is nothing yet. */
  sample(reports: StatsLike[], now: Date = new Date()): QualitySample | undefined {
    let lostDelta = 0;
    let receivedDelta = 0;
    const fractions: number[] = [];
    const jitters: number[] = [];
    const rtts: number[] = [];
    const audioJitters: number[] = [];
    const seen = new Map<string, Counters>();

    for (const report of reports) {
      report.forEach((raw) => {
        const stat = raw as Stat;
        if (stat.type === 'inbound-rtp') {
          const lost = num(stat.packetsLost);
          const received = num(stat.packetsReceived);
          if (lost !== undefined && received !== undefined) {
            const key = String(stat.ssrc ?? stat.id);
            seen.set(key, { lost, received });
            let before = this.previous.get(key) ?? { lost: 0, received: 0 };
            // Counters going backwards: the stream restarted (renegotiation); count from zero.
            if (received < before.received || lost < before.lost) before = { lost: 0, received: 0 };
            lostDelta += lost - before.lost;
            receivedDelta += received - before.received;
          }
          pushSeconds(jitters, stat.jitter);
          if (stat.kind === 'audio') pushSeconds(audioJitters, stat.jitter);
        } else if (stat.type === 'remote-inbound-rtp') {
          const fraction = num(stat.fractionLost);
          if (fraction !== undefined) fractions.push(fraction * 100);
          pushSeconds(jitters, stat.jitter);
          if (stat.kind === 'audio') pushSeconds(audioJitters, stat.jitter);
          pushSeconds(rtts, stat.roundTripTime);
        } else if (stat.type === 'candidate-pair' && (stat.nominated === true || stat.selected === true)
          && stat.state === 'succeeded') {
          pushSeconds(rtts, stat.currentRoundTripTime);
        }
      });
    }
    for (const [key, counters] of seen) this.previous.set(key, counters);
    this.audioJitterMs = audioJitters.length ? round(Math.max(...audioJitters), 1) : undefined;

    const losses: number[] = [...fractions];
    if (lostDelta + receivedDelta > 0) losses.push((100 * lostDelta) / (lostDelta + receivedDelta));
    const sample: QualitySample = {};
    if (losses.length) sample.packet_loss_pct = round(clamp(Math.max(...losses), 0, 100), 2);
    if (jitters.length) sample.jitter_ms = round(clamp(Math.max(...jitters), 0, 60000), 1);
    if (rtts.length) sample.rtt_ms = round(clamp(average(rtts), 0, 60000), 1);
    if (Object.keys(sample).length === 0) return undefined;
    sample.measured_at = now.toISOString();
    return sample;
  }
}

/** Poor when a figure crosses what makes a call hard to follow (ITU-T G.114 ~ 300 ms one way, 5 % loss,
 * 100 ms of AUDIO jitter: see QualitySampler.audioJitterMs). */
export function isPoor(sample: QualitySample | undefined, audioJitterMs?: number): boolean {
  if (!sample) return false;
  return (sample.packet_loss_pct ?? 0) >= 5 || (sample.rtt_ms ?? 0) >= 600 || (audioJitterMs ?? 0) >= 100;
}

/** The poor-quality banner: on after `after` poor samples in a row, off at the first good one (one bad
 * sample is a blip, not a connection to worry anybody about). */
export class PoorStreak {
  private streak = 0;
  constructor(private readonly after = 2) {}
  /** Whether to show the banner after this sample. */
  next(poor: boolean): boolean {
    this.streak = poor ? this.streak + 1 : 0;
    return this.streak >= this.after;
  }
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function pushSeconds(into: number[], value: unknown) {
  const v = num(value);
  if (v !== undefined) into.push(v * 1000);
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
