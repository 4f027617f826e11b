"""CDK app entry point: `cdk synth` runs `python -m infra.app` (see cdk.json).

cdk-nag's AwsSolutions pack is registered as a policy-validation plugin, so every synth fails on any
finding that is not acknowledged (with its reason) next to the resource it concerns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import RoomsConfig
from infra.layer_build import LayerBuild
from infra.stack import RoomsStack

ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = ROOT / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text()).get("context", {})


def build_app(
    context: dict[str, Any] | None = None,
    *,
    outdir: str | None = None,
    layer_build: LayerBuild | None = None,
    functions_dir: Path | None = None,
    nag: bool = True,
) -> App:
    """Build the app. With `context`, cdk.json's context is the base (as the CDK CLI would pass it) and
    `context` overrides it; without, the context comes from the CDK CLI's environment.
    `functions_dir` replaces functions/ (tests synthesize from a copy)."""
    kwargs: dict[str, Any] = {}
    if context is not None:
        kwargs["context"] = {**cdk_json_context(), **context}
    if outdir is not None:
        kwargs["outdir"] = outdir
    app = App(**kwargs)
    config = RoomsConfig.from_node(app.node)
    stack = RoomsStack(
        app,
        config.stack_name,
        config=config,
        layer_build=layer_build,
        functions_dir=functions_dir,
        description=f"Rooms: LiveKit video rooms for the booking platform ({config.stage})",
        termination_protection=config.is_production,
    )
    Tags.of(stack).add("service", "rooms")
    Tags.of(stack).add("stage", config.stage)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    # cdk.json's context is the base; the CDK CLI's context (cdk.json again, plus `-c` values) overrides it.
    # Run without the CLI (`python -m infra.app`), the same defaults and feature flags still apply.
    build_app(context={}).synth()


if __name__ == "__main__":
    main()
