"""Where LiveKit is and how to authenticate to it: the URL (context) and the API key/secret (Secrets
Manager, read by the functions at runtime and cached; never an environment variable)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import RoomsConfig
from infra.nag import acknowledge


class LiveKitConnection(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: RoomsConfig) -> None:
        super().__init__(scope, construct_id)
        self.url = config.livekit_url
        # Created with a placeholder key and a random secret so no credential ever sits in the template;
        # the operator writes the real pair with `aws secretsmanager put-secret-value` (infra/README.md).
        self.secret = secretsmanager.Secret(
            self,
            "ApiCredentials",
            description=(
                f"LiveKit API key and secret for the rooms service ({config.stage}): "
                'JSON {"api_key": "...", "api_secret": "..."}'
            ),
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"api_key": "SET_ME"}',
                generate_string_key="api_secret",
                exclude_punctuation=True,
            ),
            removal_policy=RemovalPolicy.RETAIN if config.is_production else RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            (
                "AwsSolutions-SMG4",
                (
                    "The LiveKit API key/secret pair is issued by LiveKit (Cloud console or the server's "
                    "keys file), not by AWS; a Secrets Manager rotation Lambda cannot mint a new pair. "
                    "Rotation is an operator procedure documented in infra/README.md."
                ),
            ),
        )
