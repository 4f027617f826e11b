"""Rooms: video rooms for a booking platform on LiveKit.

This package is shipped to every Lambda as the ``rooms`` layer. It holds the domain (rooms, templates,
access, tokens), the single-table store (the only module that talks to DynamoDB) and the LiveKit
gateway (the only module that imports ``livekit.api``).
"""
