"""Schedules, the service bus, alarms, the alarm topic and the dashboard."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.infra


def test_sweeper_runs_on_a_schedule_with_a_dead_letter_queue(dev, prod):
    sweeper_id, _ = dev.functions_by_name()["room_sweeper"]
    dev.template.resource_count_is("AWS::Events::Rule", 3)  # + booking events', dial-outs' (test_booking_events)
    dev.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "State": "ENABLED",
            "Targets": [
                {
                    "Arn": {"Fn::GetAtt": [sweeper_id, "Arn"]},
                    "Id": Match.any_value(),
                    "DeadLetterConfig": {
                        "Arn": {"Fn::GetAtt": [Match.string_like_regexp("FailureQueue"), "Arn"]}
                    },
                    "RetryPolicy": Match.object_like({"MaximumRetryAttempts": 2}),
                }
            ],
        },
    )
    prod.template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(2 minutes)"})


def test_service_event_bus_is_given_to_publishers(dev):
    dev.template.resource_count_is("AWS::Events::EventBus", 1)
    dev.template.resource_count_is("AWS::Events::Archive", 1)
    assert "EventBusName" in dev.template_dict["Outputs"]


def test_alarms_cover_errors_throttles_failure_queues_and_api(dev):
    alarms = dev.resources("AWS::CloudWatch::Alarm").values()
    by_metric: dict[str, int] = {}
    for alarm in alarms:
        props = alarm["Properties"]
        by_metric[props["MetricName"]] = by_metric.get(props["MetricName"], 0) + 1
        assert props["AlarmActions"] == [{"Ref": next(iter(dev.resources("AWS::SNS::Topic")))}]
        # only the sweeper heartbeat counts missing data as breaching (tests/infra/test_real_account.py)
        assert props["TreatMissingData"] == ("breaching" if props["MetricName"] == "SweepDueItems" else "notBreaching")
    functions = len(dev.functions_by_name())
    assert by_metric["Errors"] == functions
    assert by_metric["Throttles"] == functions
    # every failure queue (dial_out_worker's included), and the webhook follow-up queue's dead-letter queue
    assert by_metric["ApproximateNumberOfMessagesVisible"] == 5
    assert by_metric["ApproximateAgeOfOldestMessage"] == 1  # the webhook follow-up queue's backlog
    assert by_metric["5xx"] == 1
    assert by_metric["RecordingFailures"] == 1
    assert by_metric["Duration"] == 1  # webhook latency


def test_alarm_topic_is_encrypted_and_subscribed_when_configured(dev, prod):
    dev.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}
    )
    dev.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    dev.template.resource_count_is("AWS::SNS::Subscription", 0)
    prod.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@bookings.test"}
    )


def test_dashboard_shows_the_service_metrics(dev):
    (dashboard,) = dev.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in (
        "Rooms created",
        "Joins",
        "No-shows",
        "Recording failures",
        "Phone participation",
        "Webhook latency",
    ):
        assert title in body
    for metric in (
        "RoomsCreated",
        "ParticipantJoins",
        "NoShows",
        "RecordingFailures",
        "PhoneParticipantJoins",
    ):
        assert f'\\"Rooms\\",\\"{metric}\\"' in body
