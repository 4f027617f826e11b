"""Attendance for billing: LiveKit's participant and track webhooks become connection segments, and the
attendance view derives everything else from them.

Why segments and not counters: LiveKit delivers at least once and out of order (a leave before its
join, a room_finished before the last leave). A segment is keyed by the participant SID and every event
writes plain values it carries itself (``ParticipantInfo.joined_at``, the event's ``created_at``), so
any order and any repetition converge to the same item; totals, reconnects, first join, last leave,
peak concurrency and duration are computed from the segments on read.

Cost: a participant_joined or participant_left is 2 DynamoDB round trips (the room read that routes the
event, then one transaction with the event-id marker, the segment, the room and, for a join, a check of
the membership). Revocation, superseded tokens and admitted members reconnecting with a waiting-room
token show up as a failed check: only then do we read the member and act (remove from LiveKit, or
grant the admitted permission), and write again.
"""
