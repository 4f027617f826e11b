"""The HTTP API: JWT authorizer, one route per functions/routes.json entry, and LiveKit's webhook route."""

from __future__ import annotations

import json
from pathlib import Path

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import RoomsConfig
from infra.constructs.functions import retention_days
from infra.nag import acknowledge

ROOT = Path(__file__).resolve().parents[2]
ROUTES_FILE = ROOT / "functions" / "routes.json"
# Where LiveKit posts webhooks; the same path as the local stack (rooms_local/gateway.py WEBHOOK_PATH).
WEBHOOK_PATH = "/livekit/webhook"
WEBHOOK_ROUTE_KEY = f"POST {WEBHOOK_PATH}"

# One JSON object per request; fields chosen to debug auth failures and slow or failing integrations.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "sub": "$context.authorizer.claims.sub",
        "error": "$context.error.message",
    },
    separators=(",", ":"),
)


def load_routes(path: Path = ROUTES_FILE) -> dict[str, list[tuple[str, str]]]:
    """functions/routes.json as {function: [(METHOD, /path), ...]}."""
    manifest = json.loads(path.read_text())
    routes: dict[str, list[tuple[str, str]]] = {}
    for function, keys in manifest.items():
        for key in keys:
            method, _, route_path = key.strip().partition(" ")
            if not route_path.startswith("/"):
                raise ValueError(f"routes.json: {function}: bad route key {key!r}")
            routes.setdefault(function, []).append((method.upper(), route_path.strip()))
    return routes


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat):
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


class RoomsHttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RoomsConfig,
        functions: dict[str, lambda_.IFunction],
        routes: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        routes = load_routes() if routes is None else routes
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "JwtAuthorizer",
            config.jwt_issuer,
            jwt_audience=config.jwt_audience,
            identity_source=["$request.header.Authorization"],
            authorizer_name="rooms-jwt",
        )
        cors = None
        if config.cors_allow_origins:
            cors = apigwv2.CorsPreflightOptions(
                allow_origins=config.cors_allow_origins,
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                allow_headers=["authorization", "content-type"],
                max_age=Duration.hours(1),
            )
        self.api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"rooms-{config.stage}",
            description="Rooms service API (JWT-protected)",
            create_default_stage=False,  # the stage below carries throttling and access logs
            cors_preflight=cors,
        )
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention_days(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.api_throttle_rate_limit, burst_limit=config.api_throttle_burst_limit
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
            ),
        )
        self.url = self.stage.url
        self.webhook_url: str | None = None

        self.routes: dict[str, list[apigwv2.HttpRoute]] = {}
        for function_name, route_keys in routes.items():
            function = functions[function_name]  # routes.json names only functions of FUNCTION_SPECS
            integration = integrations.HttpLambdaIntegration(f"{function_name}-integration", function)
            for method, route_path in route_keys:
                self.routes.setdefault(function_name, []).extend(
                    self.api.add_routes(
                        path=route_path,
                        methods=[apigwv2.HttpMethod[method]],
                        integration=integration,
                        authorizer=self.authorizer,
                    )
                )

        # LiveKit cannot present a JWT (or sign AWS requests): no authorizer; the handler verifies LiveKit's
        # signature over the raw body and answers 401 otherwise. The route has its own throttle, so an
        # unsigned flood is capped (rate x duration bounds its Lambda concurrency) without touching the
        # rest of the API, and it shows in the stage's access logs. (An API route rather than a function
        # URL: it also works in the regions without function URLs.)
        webhook = functions.get("webhook_handler")
        if webhook is not None:
            self.routes["webhook_handler"] = self.api.add_routes(
                path=WEBHOOK_PATH,
                methods=[apigwv2.HttpMethod.POST],
                integration=integrations.HttpLambdaIntegration("webhook_handler-integration", webhook),
                authorizer=apigwv2.HttpNoneAuthorizer(),
            )
            for route in self.routes["webhook_handler"]:
                self.stage.node.add_dependency(route)  # route settings name an existing route
                acknowledge(
                    route,
                    (
                        "AwsSolutions-APIG4",
                        (
                            "LiveKit cannot present a JWT or sign AWS requests; the handler verifies LiveKit's "
                            "signature (a JWT over the body's sha256, signed with the API secret) and answers "
                            "401 otherwise. The route has its own throttle."
                        ),
                    ),
                )
            stage = self.stage.node.default_child
            stage.add_property_override(
                f"RouteSettings.{WEBHOOK_ROUTE_KEY}",
                {
                    "ThrottlingRateLimit": config.webhook_throttle_rate_limit,
                    "ThrottlingBurstLimit": config.webhook_throttle_burst_limit,
                },
            )
            self.webhook_url = f"{self.url}{WEBHOOK_PATH.lstrip('/')}"


