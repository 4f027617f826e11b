"""The room: its id, plan and record, templates, members, schedule, and the join token that lets a member
in (with the LiveKit room created just in time)."""
