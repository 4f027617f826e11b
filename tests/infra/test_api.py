"""HTTP API: JWT authorizer, every routes.json entry mapped to its function, throttling, access logs;
LiveKit's webhook route (no authorizer, its own throttle: tests/infra/test_real_account.py)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from infra.constructs.api import ROUTES_FILE, WEBHOOK_ROUTE_KEY, load_routes

pytestmark = pytest.mark.infra


def _integration_function(synth, route) -> str:
    """Project function name behind a route (Route.Target -> Integration -> Function)."""
    target = route["Properties"]["Target"]["Fn::Join"][1]
    integration_id = next(part["Ref"] for part in target if isinstance(part, dict))
    integration = synth.template_dict["Resources"][integration_id]
    function_logical_id = integration["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
    names = {lid: name for name, (lid, _) in synth.functions_by_name().items()}
    return names[function_logical_id]


def test_every_route_of_the_manifest_is_mapped_to_its_function(dev):
    expected = {
        f"{method} {path}": function for function, routes in load_routes().items() for method, path in routes
    }
    assert expected, f"{ROUTES_FILE} lists no routes"
    expected[WEBHOOK_ROUTE_KEY] = "webhook_handler"
    routes = dev.resources("AWS::ApiGatewayV2::Route")
    actual = {r["Properties"]["RouteKey"]: _integration_function(dev, r) for r in routes.values()}
    assert actual == expected


def test_routes_json_is_read_not_copied():
    manifest = json.loads(ROUTES_FILE.read_text())
    assert sum(len(v) for v in manifest.values()) == sum(len(v) for v in load_routes().values())


def test_every_route_requires_the_jwt_authorizer(dev):
    (authorizer_id,) = dev.resources("AWS::ApiGatewayV2::Authorizer")
    for route in dev.resources("AWS::ApiGatewayV2::Route").values():
        if route["Properties"]["RouteKey"] == WEBHOOK_ROUTE_KEY:
            continue  # LiveKit's signature is the check
        assert route["Properties"]["AuthorizationType"] == "JWT"
        assert route["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}


def test_jwt_issuer_and_audience_come_from_context(dev, prod):
    dev.template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Issuer": "https://issuer.example.com/", "Audience": ["rooms-api"]},
        },
    )
    prod.template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "JwtConfiguration": {
                "Issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Rooms123",
                "Audience": ["rooms-api", "rooms-web"],
            }
        },
    )


def test_stage_is_throttled_and_access_logged(dev, prod):
    dev.template.resource_count_is("AWS::ApiGatewayV2::Stage", 1)
    dev.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": [Match.string_like_regexp("^ApiAccessLogs"), "Arn"]},
                "Format": Match.string_like_regexp(r"\$context\.requestId"),
            },
        },
    )
    prod.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {"DefaultRouteSettings": {"ThrottlingRateLimit": 200, "ThrottlingBurstLimit": 400}},
    )
    (stage,) = dev.resources("AWS::ApiGatewayV2::Stage").values()
    json.loads(stage["Properties"]["AccessLogSettings"]["Format"])  # one JSON object per request


def test_cors_only_when_origins_are_configured(dev, prod):
    (api,) = dev.resources("AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" not in api["Properties"]
    prod.template.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {"CorsConfiguration": Match.object_like({"AllowOrigins": ["https://app.bookings.test"]})},
    )
