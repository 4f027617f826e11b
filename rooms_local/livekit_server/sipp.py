"""sipp (Debian ``sip-tester``) as the real-LiveKit tier's phones: a dial-in caller that enters a PIN as
RFC 4733 DTMF, and dial-out callees that answer, answer 486 busy, or never answer. Scenarios are in
``sipp/`` (``caller.xml``, ``callee_answer.xml``, ``callee_busy.xml``, ``callee_no_answer.xml``);
``$names`` in them are filled in here, per call.

The PIN's DTMF: stock sipp replays a pcap as it is (``play_pcap_audio``: same RTP sequence numbers and
timestamps each time), and livekit-sip drops a repeated adjacent digit whose RTP timestamp equals the
previous one's. So the per-digit pcaps that ship with sipp (``dtmf_2833_<d>.pcap``) would lose the
second ``1`` of ``1123``. Instead ``write_dtmf_pcap`` writes one pcap per PIN, one RFC 4733 event per
digit: each event its own RTP timestamp (the next digit's starts after the previous tone and a gap),
the marker bit on its first packet, the duration growing by a packet time, and three end packets
(E bit) with the event's final duration, sequence numbers continuous over the whole PIN.

livekit-sip itself cannot be built here (build.py), so these phones are proved against each other and
against small stand-ins in tests/livekit_real/test_sipp.py, never against livekit-sip.
"""

from __future__ import annotations

import shutil
import string
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).with_name("sipp")
CALLEES = ("answer", "busy", "no_answer")

DTMF_PAYLOAD_TYPE = 101  # a=rtpmap:101 telephone-event/8000 in the caller's offer
CLOCK_RATE = 8000
PACKET_MS = 20
EVENT_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}
DIGITS = {code: digit for digit, code in EVENT_CODES.items()}


def sipp_binary() -> str | None:
    return shutil.which("sipp")


def missing_reason() -> str | None:
    if sipp_binary() is None:
        return "sipp is not installed (Debian: apt-get install sip-tester)"
    return None


# -- RFC 4733 DTMF as RTP, in a pcap sipp can play ------------------------------------------------------
@dataclass(frozen=True)
class RtpPacket:
    at: float  # seconds from the first packet
    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes

    def to_bytes(self) -> bytes:
        return struct.pack("!BBHII", 0x80, (0x80 if self.marker else 0) | self.payload_type,
                           self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc) + self.payload

    @classmethod
    def parse(cls, data: bytes, at: float = 0.0) -> RtpPacket:
        first, second, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
        if first >> 6 != 2:
            raise ValueError(f"not RTP version 2: {first:#x}")
        header = 12 + 4 * (first & 0x0F)
        return cls(at, bool(second & 0x80), second & 0x7F, seq, ts, ssrc, data[header:])


@dataclass(frozen=True)
class DtmfEvent:
    digit: str
    timestamp: int
    duration: int  # in clock units (final duration, from the end packets)
    end_packets: int


def dtmf_packets(digits: str, *, tone_ms: int = 160, gap_ms: int = 240, volume: int = 10,
                 ssrc: int = 0x524F4F4D, first_sequence: int = 1000, first_timestamp: int = 160_000,
                 ) -> list[RtpPacket]:
    """RFC 4733 telephone-events for ``digits``: one event (one RTP timestamp) per digit."""
    step = CLOCK_RATE * PACKET_MS // 1000
    packets: list[RtpPacket] = []
    seq, ts, at = first_sequence, first_timestamp, 0.0
    for digit in digits:
        if digit.upper() not in EVENT_CODES:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        code = EVENT_CODES[digit.upper()]
        n = max(1, tone_ms // PACKET_MS)
        for i in range(n):
            duration = step * (i + 1)
            packets.append(RtpPacket(at, i == 0, DTMF_PAYLOAD_TYPE, seq, ts,
                                     ssrc, struct.pack("!BBH", code, volume & 0x3F, duration)))
            seq, at = seq + 1, at + PACKET_MS / 1000
        for _ in range(3):  # the end of the event, sent three times (RFC 4733 2.5.1.4)
            packets.append(RtpPacket(at, False, DTMF_PAYLOAD_TYPE, seq, ts, ssrc,
                                     struct.pack("!BBH", code, 0x80 | (volume & 0x3F), step * n)))
            seq = seq + 1
        at += PACKET_MS / 1000
        ts += step * n + CLOCK_RATE * gap_ms // 1000  # the next digit: a fresh timestamp
        at += gap_ms / 1000
    return packets


def decode_dtmf(packets: list[RtpPacket]) -> list[DtmfEvent]:
    """The digits a receiver hears, the way livekit-sip counts them: an event is its RTP timestamp, so
    packets of an adjacent repeated digit with the same timestamp are the same key press."""
    events: list[DtmfEvent] = []
    for p in packets:
        if p.payload_type != DTMF_PAYLOAD_TYPE or len(p.payload) < 4:
            continue
        code, flags, duration = struct.unpack("!BBH", p.payload[:4])
        end = bool(flags & 0x80)
        last = events[-1] if events else None
        if last is not None and last.timestamp == p.timestamp and last.digit == DIGITS.get(code, "?"):
            events[-1] = DtmfEvent(last.digit, last.timestamp, max(last.duration, duration),
                                   last.end_packets + int(end))
        else:
            events.append(DtmfEvent(DIGITS.get(code, "?"), p.timestamp, duration, int(end)))
    return events


_ETH = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00"


def _ipv4_udp(payload: bytes, src: str, dst: str, sport: int, dport: int) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    words = struct.unpack("!10H", header)
    total = sum(words)
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    header = header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]
    return header + udp


def write_dtmf_pcap(path: Path, digits: str, **kwargs) -> list[RtpPacket]:
    """A pcap (Ethernet, IPv4, UDP) of ``dtmf_packets(digits)`` for sipp's ``play_pcap_audio``, which
    keeps each packet's RTP header and timing and sends it to the far end's media address."""
    packets = dtmf_packets(digits, **kwargs)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # LINKTYPE_ETHERNET
    base = 1_700_000_000
    for p in packets:
        frame = _ETH + _ipv4_udp(p.to_bytes(), "10.0.0.1", "10.0.0.2", 40000, 40002)
        sec, usec = base + int(p.at), round((p.at % 1) * 1_000_000)
        out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    Path(path).write_bytes(bytes(out))
    return packets


def read_pcap_rtp(path: Path) -> list[RtpPacket]:
    """The RTP packets of a pcap written by ``write_dtmf_pcap`` (Ethernet/IPv4/UDP, microseconds)."""
    data = Path(path).read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4 or linktype != 1:
        raise ValueError("not a little-endian microsecond Ethernet pcap")
    packets, offset, first = [], 24, None
    while offset < len(data):
        sec, usec, caplen, _ = struct.unpack("<IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        ihl = (frame[14] & 0x0F) * 4
        t = sec + usec / 1_000_000
        first = t if first is None else first
        packets.append(RtpPacket.parse(frame[14 + ihl + 8:], at=t - first))
    return packets


# -- running the scenarios ------------------------------------------------------------------------------
def render(name: str, directory: Path, **values: object) -> Path:
    """``sipp/<name>.xml`` with its ``$names`` filled in, written into ``directory``."""
    text = string.Template((SCENARIOS / f"{name}.xml").read_text()).substitute(
        {k: str(v) for k, v in values.items()})
    out = Path(directory) / f"{name}.xml"
    out.write_text(text)
    return out


@dataclass
class SippRun:
    """A sipp process, its scenario and its log files (in ``directory``)."""

    proc: subprocess.Popen
    scenario: Path
    directory: Path

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise

    def text(self, suffix: str) -> str:
        """The contents of the run's ``<suffix>`` log (``messages.log``, ``errors.log``, ``logs.log``)."""
        found = sorted(self.directory.glob(f"*{suffix}"))
        return "".join(p.read_text(errors="replace") for p in found)

    @property
    def outcome(self) -> str | None:
        """The caller's ``outcome=…`` log line (held, hung_up_by_far_end), or None."""
        for line in self.text("logs.log").splitlines():
            if "outcome=" in line:
                return line.split("outcome=", 1)[1].strip()
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def _sipp(scenario: Path, directory: Path, args: list[str], *, argv_prefix: list[str] | None,
          timeout_s: float) -> SippRun:
    binary = sipp_binary()
    if binary is None:
        raise RuntimeError(missing_reason())
    cmd = [*(argv_prefix or []), binary, "-sf", str(scenario), "-m", "1", "-nostdin", "-trace_msg", "-trace_err",
           "-trace_logs", "-timeout", f"{int(timeout_s)}s", "-timeout_error", *args]
    proc = subprocess.Popen(cmd, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return SippRun(proc, scenario, Path(directory))


def start_caller(target: str, number: str, pin: str, *, local_ip: str, from_user: str = "+15550000001",
                 pin_delay_ms: int = 1500, hold_ms: int = 5000, terminator: str = "#",
                 directory: Path | None = None, argv_prefix: list[str] | None = None,
                 timeout_s: float = 60) -> SippRun:
    """Dial ``number`` at ``target`` (host:port of the SIP server, e.g. livekit-sip) and enter ``pin``
    (then ``terminator``) as RFC 4733 DTMF. ``argv_prefix``: e.g. ``ip netns exec <ns>``."""
    directory = Path(directory or tempfile.mkdtemp(prefix="sipp-caller-"))
    directory.mkdir(parents=True, exist_ok=True)
    pcap = directory / "pin.pcap"
    write_dtmf_pcap(pcap, pin + terminator)
    scenario = render("caller", directory, from_user=from_user, pin_delay_ms=pin_delay_ms, hold_ms=hold_ms,
                      dtmf_pcap=pcap)
    return _sipp(scenario, directory, ["-s", number, "-i", local_ip, "-mi", local_ip, target],
                 argv_prefix=argv_prefix, timeout_s=timeout_s)


def start_callee(behaviour: str, *, local_ip: str, port: int, rtp_port: int = 0, ring_ms: int = 500,
                 directory: Path | None = None, argv_prefix: list[str] | None = None,
                 timeout_s: float = 60) -> SippRun:
    """A callee at ``local_ip:port`` (the outbound trunk's address) that answers (``answer``; its SDP
    asks for audio at ``rtp_port``), is busy (``busy``: 486) or never answers (``no_answer``)."""
    if behaviour not in CALLEES:
        raise ValueError(f"behaviour must be one of {CALLEES}")
    directory = Path(directory or tempfile.mkdtemp(prefix=f"sipp-callee-{behaviour}-"))
    directory.mkdir(parents=True, exist_ok=True)
    scenario = render(f"callee_{behaviour}", directory, ring_ms=ring_ms, rtp_port=rtp_port or 6000)
    return _sipp(scenario, directory, ["-i", local_ip, "-p", str(port)], argv_prefix=argv_prefix,
                 timeout_s=timeout_s)
