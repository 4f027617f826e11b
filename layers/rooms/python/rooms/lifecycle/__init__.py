"""A room's life across capabilities, the one package allowed to cross them: ending a room (record,
LiveKit, then recordings, attendance and phone released), LiveKit's room_started / room_finished, the
sweeper's time-driven work, and no-shows."""
