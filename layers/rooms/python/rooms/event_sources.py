"""The Powertools event-source classes the non-HTTP functions read their events with, imported from
their own submodules (``rooms.lazy_imports``: the ``data_classes`` package would otherwise import every
event source Powertools knows at each cold start)."""

from rooms.lazy_imports import POWERTOOLS_DATA_CLASSES, lazy_package

lazy_package(POWERTOOLS_DATA_CLASSES)

from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import (  # noqa: E402
    APIGatewayProxyEventV2 as APIGatewayProxyEventV2,
)
from aws_lambda_powertools.utilities.data_classes.event_bridge_event import (  # noqa: E402
    EventBridgeEvent as EventBridgeEvent,
)
from aws_lambda_powertools.utilities.data_classes.event_source import event_source as event_source  # noqa: E402
from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event as S3Event  # noqa: E402
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord as SQSRecord  # noqa: E402
