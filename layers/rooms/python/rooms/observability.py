"""Powertools Logger, Metrics and Tracer shared by every function (service "rooms")."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="rooms")
metrics = Metrics(namespace="Rooms", service="rooms")
tracer = Tracer(service="rooms")
