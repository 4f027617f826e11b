"""Recording state from LiveKit: ``egress_started``, ``egress_updated`` and ``egress_ended`` each carry the
whole ``EgressInfo``, so one handler applies any of them (a late one never moves a recording back)."""

from __future__ import annotations

from rooms.livekit_gateway.egress import egress_state
from rooms.recordings import apply_egress_webhook
from rooms.webhooks import WebhookContext, on


@on("egress_started", "egress_updated", "egress_ended")
def egress_event(event, ctx: WebhookContext) -> None:
    apply_egress_webhook(egress_state(event.egress_info), ctx)
