"""Recordings: manual (host), automatic and compliance; egress state; the uploaded file; who may see it.

How the pieces meet:
- A recording's id names its room (``{room_id}.{12 hex}``), and the egress writes the file to
  ``{prefix}{room_id}/{recording_id}.mp4``: the S3 key, the egress's file path and the URL route all
  lead to the one record with a GetItem/BatchGetItem, never a Scan.
- Manual start: the record and the room's recording slot are written (conditionally) before LiveKit is
  called, so an ``egress_started`` that overtakes the start's answer finds its record.
- Automatic / compliance: the egress is part of the LiveKit room's creation (``CreateRoomRequest.egress``,
  see ``auto_recording_target``); the record appears with the first egress webhook (or the upload).
  LiveKit can still leave such a room unrecorded (a refused auto egress, a room it auto-creates), so
  ``ensure.verify_recording`` checks ListEgress at room_started and track_published (and at mandatory
  rooms' token requests) and starts a missing egress, reporting ``RecordingFailures`` when it cannot.
- An egress nobody published to ends ``aborted`` with no file: the record says ``empty``, not failed.
- The record holds facts (egress status and times, the verified object, errors); its processing status
  is derived from them (``processing_status``), so the ``egress_*`` webhooks, the S3 object-created event
  and the room-end reconciliation give the same record in any order.
"""
