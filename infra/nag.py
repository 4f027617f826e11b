"""cdk-nag acknowledgments, recorded so the test suite can check each one against a real finding.

`acknowledge(scope, rule, reason)` is `Validations.of(scope).acknowledge(...)` (cdk-nag v3) plus a record of
(construct path, rule, reason). With `ACKNOWLEDGMENTS.enabled = False` the app is built without them, which
is how tests obtain the raw findings and prove that no acknowledgment is stale or too broad.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


@dataclass(frozen=True)
class RecordedAcknowledgment:
    path: str
    rule: str
    reason: str


@dataclass
class _Registry:
    enabled: bool = True
    records: list[RecordedAcknowledgment] = field(default_factory=list)


ACKNOWLEDGMENTS = _Registry()


def acknowledge(scope: IConstruct, *rules: tuple[str, str]) -> None:
    """Acknowledge cdk-nag findings on `scope` and its children; each rule is (rule id, reason)."""
    for rule, reason in rules:
        ACKNOWLEDGMENTS.records.append(RecordedAcknowledgment(scope.node.path, rule, reason))
    if ACKNOWLEDGMENTS.enabled:
        Validations.of(scope).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule, reason in rules))
