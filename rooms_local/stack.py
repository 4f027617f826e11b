"""The whole local stack in one process: moto (DynamoDB, S3, EventBridge), the LiveKit development
server, and the gateway running our functions. No AWS account, no Docker, no LiveKit account."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from rooms_local.config import LocalConfig
from rooms_local.gateway import Gateway, wait_until_up
from rooms_local.lambda_runtime import FunctionRunner
from rooms_local.s3_events import S3Notifier


@dataclass
class LocalStack:
    config: LocalConfig
    runner: FunctionRunner = field(default_factory=FunctionRunner)
    _moto: object | None = None
    _livekit: object | None = None
    _gateway: Gateway | None = None
    s3_events: S3Notifier | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    def start(self) -> LocalStack:
        self._apply_env()
        self._start_moto()
        self._provision_aws()
        if not self.config.external_livekit_url:
            self._start_livekit()
        self._gateway = Gateway(self.config, self.runner)
        self._gateway.start()
        wait_until_up(f"{self.config.api_url}/health")
        self._start_s3_events()
        return self

    def stop(self) -> None:
        if self.s3_events is not None:
            self.s3_events.stop()
        if self._gateway:
            self._gateway.stop()
        self.runner.shutdown()
        if self._livekit is not None:
            self._livekit.stop()
        if self._moto is not None:
            self._moto.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._reset_caches()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- parts ------------------------------------------------------------------------------------------
    def _apply_env(self) -> None:
        # The functions run in this process, so the process environment is their Lambda environment.
        for key, value in self.config.function_env().items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        self._reset_caches()

    @staticmethod
    def _reset_caches() -> None:
        from rooms import livekit_gateway, notify, recording_storage
        from rooms.settings import get_settings

        get_settings.cache_clear()
        livekit_gateway.reset_for_tests()
        recording_storage.reset_for_tests()
        notify.reset_for_tests()

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address=self.config.host, port=self.config.moto_port, verbose=False)
        self._moto.start()
        wait_until_up(f"{self.config.moto_url}/moto-api/")

    def _provision_aws(self) -> None:
        import boto3

        from rooms.store import create_table

        create_table(self.config.table_name)
        s3 = boto3.client("s3", endpoint_url=self.config.moto_url, region_name=self.config.region)
        s3.create_bucket(Bucket=self.config.recordings_bucket)
        from rooms.recording_storage import lifecycle_configuration

        s3.put_bucket_lifecycle_configuration(Bucket=self.config.recordings_bucket,
                                              LifecycleConfiguration=lifecycle_configuration())

    def _start_s3_events(self) -> None:
        # S3 → recording_processor, as the bucket notification does in AWS (moto cannot invoke us).
        from rooms.settings import get_settings

        self.s3_events = S3Notifier(self.runner, bucket=self.config.recordings_bucket,
                                    prefix=get_settings().recordings_prefix, endpoint_url=self.config.moto_url,
                                    region=self.config.region).start()

    def _start_livekit(self) -> None:
        from rooms_local.livekit_dev import DevServer

        self._livekit = DevServer(
            host=self.config.host,
            port=self.config.livekit_port,
            api_key=self.config.livekit_api_key,
            api_secret=self.config.livekit_api_secret,
            webhook_urls=[self.config.webhook_url],
            s3_endpoint_url=self.config.moto_url,
        )
        self._livekit.start()
