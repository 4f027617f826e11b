"""Phone: a regional dial-in number and a PIN per SIP-enabled room, its LiveKit dispatch rule, dial-out.

- The PIN is allocated when the room is created (so the booking confirmation can show it): a lock item
  per (number, PIN) rides in the room's creation transaction with ``attribute_not_exists``, so two live
  rooms on one number never share a PIN and a repeated create never takes a second one.
- The LiveKit dispatch rule (direct, with ``pin``) is created when the LiveKit room opens, and deleted
  with the PIN lock when the room ends (``release_room_phone``, from ``release_room_resources``).
- Dial-out (``rooms.phone.dial_out``) is asynchronous: the request is recorded and answered 202, a worker
  places the call with ``CreateSIPParticipant(wait_until_answered)`` and records its outcome; only answered
  time is attendance. Given a member's ``user_id`` the call joins as
  that member's identity, so a client whose video failed keeps ONE attendance record. Dial-in cannot do
  that: a dispatch rule does not know who calls, and LiveKit names the caller ``sip_…`` itself.
- Phone numbers never reach the logs in full (``mask_phone_number``).
"""
