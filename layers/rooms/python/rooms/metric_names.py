"""Every metric name the service emits (CloudWatch EMF, namespace ``Rooms``, dimension ``service``).

The code emits only these constants (``metrics.add_metric(name=metric_names.X, ...)``), and
``infra/constructs/monitoring.py`` builds its dashboard and alarms from the same constants, so a
renamed metric cannot silently leave an alarm watching nothing. docs/ARCHITECTURE.md documents each.
"""

from __future__ import annotations

# rooms and the way in
ROOMS_CREATED = "RoomsCreated"
ROOMS_OPENED = "RoomsOpened"
ROOMS_ENDED = "RoomsEnded"
TOKENS_ISSUED = "TokensIssued"
MEMBERS_GRANTED = "MembersGranted"
MEMBERS_REVOKED = "MembersRevoked"
ROOMS_RESCHEDULED = "RoomsRescheduled"
ROOMS_CANCELLED = "RoomsCancelled"
BOOKING_EVENTS_HANDLED = "BookingEventsHandled"
BOOKING_EVENTS_REJECTED = "BookingEventsRejected"

# attendance (LiveKit's participant webhooks) and the host's controls
PARTICIPANT_JOINS = "ParticipantJoins"
PARTICIPANT_LEAVES = "ParticipantLeaves"
PARTICIPANT_RECONNECTS = "ParticipantReconnects"
RECONNECT_STORMS = "ReconnectStorms"
REVOKED_JOINS_REMOVED = "RevokedJoinsRemoved"
SUPERSEDED_JOINS_REMOVED = "SupersededJoinsRemoved"
PARTICIPANTS_ADMITTED = "ParticipantsAdmitted"
PARTICIPANTS_MUTED = "ParticipantsMuted"
PARTICIPANTS_UNMUTED = "ParticipantsUnmuted"
PARTICIPANTS_REMOVED = "ParticipantsRemoved"
PARTICIPANTS_WAITING = "ParticipantsWaiting"
HOST_MESSAGES = "HostMessages"
UNMUTE_REQUESTS = "UnmuteRequests"
QUALITY_SAMPLES = "QualitySamples"

# recordings
RECORDINGS_STARTED = "RecordingsStarted"
RECORDINGS_AVAILABLE = "RecordingsAvailable"
RECORDINGS_DELETED = "RecordingsDeleted"
RECORDING_FAILURES = "RecordingFailures"

# phone
PHONE_PARTICIPANT_JOINS = "PhoneParticipantJoins"
PHONE_PINS_ALLOCATED = "PhonePinsAllocated"
PHONE_PINS_EXHAUSTED = "PhonePinsExhausted"
PHONE_PINS_REASSIGNED = "PhonePinsReassigned"
PHONE_DISPATCH_RULE_FAILURES = "PhoneDispatchRuleFailures"
PHONE_RELEASE_FAILURES = "PhoneReleaseFailures"
PHONE_DIAL_OUTS = "PhoneDialOuts"
PHONE_DIAL_OUT_FAILURES = "PhoneDialOutFailures"

# the sweeper and webhooks
NO_SHOWS = "NoShows"
SWEEP_DUE_ITEMS = "SweepDueItems"
SWEEP_FAILURES = "SweepFailures"
WEBHOOKS_PROCESSED = "WebhooksProcessed"
WEBHOOK_SIGNATURE_FAILURES = "WebhookSignatureFailures"

# evidence: retention and erasure
RETENTION_DELETIONS = "RetentionDeletions"
USER_ERASURES = "UserErasures"
# LiveKit refused our API key (a rotated or wrong key/secret): every room operation fails until fixed
LIVEKIT_AUTH_FAILURES = "LiveKitAuthFailures"
