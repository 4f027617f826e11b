"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized templates."""

from __future__ import annotations

import json

import pytest
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint

pytestmark = pytest.mark.infra

# Where the service is expected to run (SIP regions US / UK / AU, and the usual EU home).
LINT_REGIONS = ["us-east-1", "eu-west-1", "eu-west-2", "ap-southeast-2"]


@pytest.mark.parametrize("fixture", ["dev", "prod"])
def test_cdk_nag_has_no_unacknowledged_findings(request, fixture):
    synth = request.getfixturevalue(fixture)
    report = AwsSolutionsChecks().validate_scope(synth.app)
    findings = [
        f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}: {v.description}"
        for v in report.violations
    ]
    assert findings == []
    assert report.success


def test_every_acknowledgment_matches_a_real_finding(raw_nag):
    """No stale acknowledgment, and none wider than the findings it exists for."""
    assert raw_nag.findings, "cdk-nag found nothing at all: is the pack running?"
    for ack in raw_nag.acknowledgments:
        matched = [
            path for rule, path in raw_nag.findings if rule == ack.rule and path.startswith(ack.path + "/")
        ]
        assert matched, f"acknowledgment {ack.rule} on {ack.path} matches no finding"


def test_every_finding_is_acknowledged_with_a_reason(raw_nag):
    for rule, path in raw_nag.findings:
        acks = [a for a in raw_nag.acknowledgments if a.rule == rule and path.startswith(a.path + "/")]
        assert acks, f"{rule} at {path} is not acknowledged"
        for ack in acks:
            # a reason a reviewer can check: several words, not a placeholder
            assert len(ack.reason.split()) >= 12, ack
            assert "todo" not in ack.reason.lower()


def test_acknowledgments_are_never_stack_wide(raw_nag, dev):
    for ack in raw_nag.acknowledgments:
        assert ack.path not in ("", dev.stack_name), ack


@pytest.mark.parametrize("fixture", ["dev", "prod"])
def test_cfn_lint_reports_no_errors(request, fixture):
    synth = request.getfixturevalue(fixture)
    matches = lint(json.dumps(synth.template_dict), regions=LINT_REGIONS)
    errors = [f"{m.rule.id} {m.message} at {m.path}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
