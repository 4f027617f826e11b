"""The booking platform's events: a rule on the service bus → booking_events, failures to its queue; the
local stack delivers with the same pattern."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from infra.constructs.booking_events import DETAIL_TYPES, booking_event_pattern
from rooms.lifecycle.booking_models import INBOUND_DETAIL_TYPES
from rooms_local.event_bus import booking_event_pattern as local_pattern

pytestmark = pytest.mark.infra


def _rule(synth, source: str = "booking-platform") -> dict:
    rules = synth.resources("AWS::Events::Rule").values()
    [rule] = [r["Properties"] for r in rules
              if "EventPattern" in r["Properties"] and r["Properties"]["EventPattern"]["source"] == [source]]
    return rule


def test_dial_out_requests_reach_the_dial_out_function_with_retries_and_a_failure_queue(dev):
    from infra.constructs.booking_events import dial_out_event_pattern
    from rooms.phone.dial_out import REQUESTED_DETAIL_TYPE
    from rooms_local.event_bus import dial_out_event_pattern as local_dial_out_pattern

    rule = _rule(dev, "rooms")
    assert rule["EventPattern"] == dial_out_event_pattern("rooms") == local_dial_out_pattern()
    assert rule["EventPattern"]["detail-type"] == [REQUESTED_DETAIL_TYPE]
    function_id, props = dev.functions_by_name()["dial_out_worker"]
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
    queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    [config] = [c["Properties"] for c in dev.resources("AWS::Lambda::EventInvokeConfig").values()
                if c["Properties"]["FunctionName"] == {"Ref": function_id}]
    assert config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] == queue
    # it waits while the phone rings: longer than the longest ringing LiveKit allows (80 s)
    assert props["Timeout"] > 80 + 15


def test_the_rule_matches_the_platform_source_and_every_inbound_detail_type(dev, prod):
    assert tuple(INBOUND_DETAIL_TYPES) == DETAIL_TYPES
    rule = _rule(dev)
    assert rule["EventPattern"] == booking_event_pattern("booking-platform") == local_pattern("booking-platform")
    bus_id = next(iter(dev.resources("AWS::Events::EventBus")))
    assert rule["EventBusName"] == {"Ref": bus_id}  # the service's bus, not the default one


def test_the_rule_invokes_booking_events_and_failures_reach_its_queue(dev):
    function_id, props = dev.functions_by_name()["booking_events"]
    rule = _rule(dev)
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 8}
    configs = [c["Properties"] for c in dev.resources("AWS::Lambda::EventInvokeConfig").values()
               if c["Properties"]["FunctionName"] == {"Ref": function_id}]
    [config] = configs
    assert config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0] == queue
    assert config["MaximumRetryAttempts"] == 2
    assert props["Environment"]["Variables"]["BOOKING_EVENTS_SOURCE"] == "booking-platform"
    dev.template.has_resource_properties("AWS::Lambda::Permission", {
        "Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
        "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]}, "SourceArn": Match.any_value()})
