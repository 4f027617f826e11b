"""A refused webhook signature is counted (WebhookSignatureFailures, alarmed in infra/): LiveKit does not
retry a 4xx, so a wrong secret would otherwise stop all attendance silently."""

from __future__ import annotations

import json

from rooms_local.lambda_runtime import LambdaContext, load_function


def _emf_metrics(stdout: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            for directive in record["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    found[metric["Name"]] = record[metric["Name"]]
    return found


def test_bad_signature_is_401_and_emits_the_metric(capsys):
    handler = load_function("webhook_handler").handler
    event = {
        "version": "2.0",
        "routeKey": "POST /livekit/webhook",
        "rawPath": "/livekit/webhook",
        "headers": {"content-type": "application/webhook+json"},  # no Authorization
        "body": json.dumps({"event": "room_started"}),
        "isBase64Encoded": False,
        "requestContext": {"http": {"method": "POST", "path": "/livekit/webhook"}},
    }
    response = handler(event, LambdaContext("webhook_handler"))
    assert response["statusCode"] == 401
    metrics = _emf_metrics(capsys.readouterr().out)
    assert metrics["WebhookSignatureFailures"] == [1.0]
