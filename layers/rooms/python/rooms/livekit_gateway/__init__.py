"""The one package that talks to LiveKit (Twirp via ``livekit-api``), one module per LiveKit service:
``room_service`` (rooms, participants), ``egress_service``, ``sip_service``; ``webhook`` receives its
webhooks; ``client`` holds the connection. Callers get plain dataclasses back, never protocol messages.
"""
