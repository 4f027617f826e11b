"""Powertools' batch processor, for the queue consumers only (webhook_worker): the batch utility imports
the event classes through ``data_classes``, which is made lazy first (``rooms.lazy_imports``), and the
other functions never import the batch utility at all."""

from rooms.lazy_imports import POWERTOOLS_DATA_CLASSES, lazy_package

lazy_package(POWERTOOLS_DATA_CLASSES)

from aws_lambda_powertools.utilities.batch import BatchProcessor as BatchProcessor  # noqa: E402
from aws_lambda_powertools.utilities.batch import EventType as EventType  # noqa: E402
from aws_lambda_powertools.utilities.batch import process_partial_response as process_partial_response  # noqa: E402
