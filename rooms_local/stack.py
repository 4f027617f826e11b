"""The whole local stack in one process: moto (DynamoDB, S3, EventBridge), a LiveKit, and the gateway
running our functions. No AWS account, no Docker, no LiveKit account.

The LiveKit is our emulator (in process, the default), or with ``LocalConfig.livekit == "server"`` the
real livekit-server + Redis in a network namespace of ours (rooms_local/livekit_server): the functions
then call it at the namespace address, and the gateway also listens on the host side of the namespace's
veth, where the server sends its webhooks. ``LIVEKIT_URL`` (external_livekit_url): a LiveKit we do not
start at all."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from rooms_local.config import LocalConfig, ensure_port_free
from rooms_local.event_bus import BookingEventDelivery, dial_out_event_pattern
from rooms_local.gateway import Gateway, load_routes, wait_until_up
from rooms_local.lambda_runtime import FunctionRunner
from rooms_local.s3_events import S3Notifier
from rooms_local.schedules import SweepTimer
from rooms_local.webhook_work import WebhookWorkDelivery


def _quiet_dev_noise() -> None:
    import logging
    import warnings

    # moto's and the servers' per-request lines drown the useful output; the gateway logs its own.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="The HMAC key is .* bytes long")  # LiveKit's dev key "secret"
    warnings.filterwarnings("ignore", message="No application metrics to publish")


@dataclass
class LocalStack:
    config: LocalConfig
    runner: FunctionRunner = field(default_factory=FunctionRunner)
    # Seconds between sweeper runs (the EventBridge schedule's stand-in); None: no timer (tests).
    sweep_every: float | None = None
    _moto: object | None = None
    _livekit: object | None = None
    _gateway: Gateway | None = None
    _sweep_timer: SweepTimer | None = None
    access_log: bool = False
    s3_events: S3Notifier | None = None
    booking_events: BookingEventDelivery | None = None
    dial_outs: BookingEventDelivery | None = None
    # webhook_handler's follow-up queue → webhook_worker (rooms_local/webhook_work.py); drain() in tests
    webhook_work: WebhookWorkDelivery | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)
    _provisioned_env: dict[str, str] = field(default_factory=dict)
    # Told each part as it starts (`rooms up` prints them); None: quiet (tests).
    progress: Callable[[str], None] | None = None
    # The real livekit-server (config.livekit == "server") and its network namespace.
    netns: object | None = None
    livekit_server: object | None = None

    def start(self) -> LocalStack:
        _quiet_dev_noise()
        self._check_ports()
        try:
            self._start()
        except BaseException:
            self.stop()  # nothing half-started is left behind (threads, servers, the namespace, the environment)
            raise
        return self

    def _check_ports(self) -> None:
        """Every port we are about to bind is free, or PortInUse says which one and how to move it."""
        cfg = self.config
        ensure_port_free(cfg.host, cfg.api_port, "the API (local gateway)", "ROOMS_API_PORT")
        ensure_port_free(cfg.host, cfg.moto_port, "moto (DynamoDB, S3, EventBridge)", "MOTO_PORT")
        if not cfg.external_livekit_url and cfg.livekit == "emulator":
            ensure_port_free(cfg.host, cfg.livekit_port, "the LiveKit emulator", "LIVEKIT_DEV_PORT")

    def _start(self) -> None:
        real = self.config.livekit == "server" and not self.config.external_livekit_url
        if real:
            self._say("a network namespace for LiveKit's media (WebRTC ignores loopback)")
            self._make_netns()
        cfg = self.config
        self._apply_env()
        self._say(f"moto (DynamoDB, S3, EventBridge) on {cfg.moto_url}")
        self._start_moto()
        self._say(f"table {cfg.table_name}, bucket {cfg.recordings_bucket} (in moto)")
        self._provision_aws()
        self._provision_webhook_work()
        if real:
            self._say(f"Redis and livekit-server on {cfg.livekit_url} (namespace {self.netns.name}), SIP trunks")
            self._start_livekit_server()
            self._provision_sip()
        elif not cfg.external_livekit_url:
            self._say(f"LiveKit emulator on {cfg.livekit_url}, SIP trunks")
            self._start_livekit()
            self._provision_sip()
        self._say(f"API gateway on {cfg.api_url} ({len(load_routes())} routes, the webhook URL)")
        self._gateway = Gateway(self.config, self.runner, access_log=self.access_log)
        self._gateway.start()
        wait_until_up(f"{self.config.api_url}/health")
        self._say("webhook follow-up queue → webhook_worker")
        self.webhook_work.start()
        self._say("S3 → recording_processor notifications")
        self._start_s3_events()
        self._start_booking_events()
        if self.sweep_every:
            self._sweep_timer = SweepTimer(self.runner, self.sweep_every).start()

    def stop(self) -> None:
        if self._sweep_timer is not None:
            self._sweep_timer.stop()
        if self.s3_events is not None:
            self.s3_events.stop()
        if self.booking_events is not None:
            self.booking_events.stop()
        if self.dial_outs is not None:
            self.dial_outs.stop()
        if self._gateway:
            self._gateway.stop()
        if self.webhook_work is not None:
            self.webhook_work.stop()
        self.runner.shutdown()
        from rooms.livekit_gateway import client as livekit_client

        livekit_client.close_clients()
        if self._livekit is not None:
            self._livekit.stop()
        if self.livekit_server is not None:
            self.livekit_server.stop()
        if self.netns is not None:
            self.netns.remove()
        if self._moto is not None:
            self._moto.shutdown()
            self._moto.server_close()
            self._moto = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._reset_caches()

    def _say(self, step: str) -> None:
        if self.progress is not None:
            self.progress(step)

    @property
    def provisioned_env(self) -> dict[str, str]:
        """The functions' variables that provisioning created (SIP trunk ids), beyond the config's."""
        return dict(self._provisioned_env)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- parts ------------------------------------------------------------------------------------------
    def _apply_env(self, env: dict[str, str] | None = None) -> None:
        # The functions run in this process, so the process environment is their Lambda environment.
        for key, value in (self.config.function_env() if env is None else env).items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        self._reset_caches()

    @staticmethod
    def _reset_caches() -> None:
        from rooms import notify, work_queue
        from rooms.livekit_gateway import client as livekit_client
        from rooms.recordings import storage as recording_storage
        from rooms.settings import get_settings

        # One process plays many Lambda containers' lifetimes here (a stack per test session, new ports):
        # forget what a container would keep for its life (settings, clients bound to the old endpoints).
        get_settings.cache_clear()
        livekit_client._local.__dict__.clear()
        recording_storage._client.cache_clear()
        notify._client.cache_clear()
        work_queue._client.cache_clear()

    def _start_moto(self) -> None:
        # What moto's ThreadedMotoServer does, but binding here: its start() binds in its thread and
        # waits forever on an event that a failed bind never sets (a busy port hung `rooms up`).
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        from rooms_local.moto_dynamodb import rollback_touched_items_only, serialize_dynamodb_requests

        rollback_touched_items_only()
        app = serialize_dynamodb_requests(DomainDispatcherApplication(create_backend_app))
        self._moto = make_server(self.config.host, self.config.moto_port, app, threaded=True,
                                 request_handler=MotoRequestHandler)
        threading.Thread(target=self._moto.serve_forever, name="moto", daemon=True).start()
        wait_until_up(f"{self.config.moto_url}/moto-api/")

    def _provision_aws(self) -> None:
        import boto3

        from rooms.store import create_table

        create_table(self.config.table_name)
        s3 = boto3.client("s3", endpoint_url=self.config.moto_url, region_name=self.config.region)
        s3.create_bucket(Bucket=self.config.recordings_bucket)
        from rooms.recordings.storage import lifecycle_configuration
        from rooms.settings import get_settings

        s3.put_bucket_lifecycle_configuration(Bucket=self.config.recordings_bucket,
                                              LifecycleConfiguration=lifecycle_configuration(get_settings()))

    def _provision_webhook_work(self) -> None:
        # The queue and its dead-letter queue in moto, as infra/constructs/functions.py makes them in AWS;
        # webhook_handler gets its URL as in AWS (WEBHOOK_WORK_QUEUE_URL).
        self.webhook_work = WebhookWorkDelivery(
            self.runner, endpoint_url=self.config.moto_url, region=self.config.region,
            name=f"{self.config.table_name}-webhook-work").provision()
        self._provisioned_env["WEBHOOK_WORK_QUEUE_URL"] = self.webhook_work.queue_url
        self._apply_env({"WEBHOOK_WORK_QUEUE_URL": self.webhook_work.queue_url})

    def _start_s3_events(self) -> None:
        # S3 → recording_processor, as the bucket notification does in AWS (moto cannot invoke us).
        from rooms.settings import get_settings

        self.s3_events = S3Notifier(self.runner, bucket=self.config.recordings_bucket,
                                    prefix=get_settings().recordings_prefix, endpoint_url=self.config.moto_url,
                                    region=self.config.region).start()

    def _start_booking_events(self) -> None:
        # The booking platform's events: a rule on the bus → booking_events, as in AWS (rooms_local/event_bus.py).
        from rooms.settings import get_settings

        self.booking_events = BookingEventDelivery(
            self.runner, endpoint_url=self.config.moto_url, region=self.config.region,
            bus_name=self.config.event_bus_name, source=get_settings().booking_events_source,
        ).provision().start()
        # Dial-out requests: a rule on the same bus → dial_out, as in AWS (infra DialOutRule).
        self.dial_outs = BookingEventDelivery(
            self.runner, endpoint_url=self.config.moto_url, region=self.config.region,
            bus_name=self.config.event_bus_name, source="rooms", name="rooms-dial-out", function="dial_out_worker",
            pattern=dial_out_event_pattern(),
        ).provision().start()

    def _provision_sip(self) -> None:
        """Create the dial-in trunks (US, UK, AU) and the dial-out trunk in the emulator with the
        real livekit-api client, as an operator does once per deployment, and hand their ids to the
        functions (SIP_NUMBERS, SIP_OUTBOUND_TRUNK_ID) unless the config's extra_env sets SIP_NUMBERS."""
        import asyncio
        import json

        from livekit import api

        from rooms_local.config import DEV_SIP_NUMBERS, DEV_SIP_OUTBOUND_NUMBER

        if "SIP_NUMBERS" in self.config.extra_env:
            return

        async def provision() -> dict[str, str]:
            lk = api.LiveKitAPI(self.config.livekit_url, self.config.livekit_api_key, self.config.livekit_api_secret)
            try:
                numbers = {}
                for region, number in DEV_SIP_NUMBERS.items():
                    trunk = await lk.sip.create_inbound_trunk(api.CreateSIPInboundTrunkRequest(
                        trunk=api.SIPInboundTrunkInfo(name=f"rooms dial-in {region}", numbers=[number])))
                    numbers[region] = {"number": number, "trunk_id": trunk.sip_trunk_id}
                outbound = await lk.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(
                    trunk=api.SIPOutboundTrunkInfo(name="rooms dial-out", address="sip.example.invalid",
                                                   numbers=[DEV_SIP_OUTBOUND_NUMBER])))
                return {"SIP_NUMBERS": json.dumps(numbers), "SIP_OUTBOUND_TRUNK_ID": outbound.sip_trunk_id}
            finally:
                await lk.aclose()

        sip = asyncio.run(provision())
        self._provisioned_env.update(sip)
        self._apply_env(sip)

    @property
    def livekit_server_info(self) -> dict[str, str] | None:
        """The real livekit-server's namespace and addresses (None on the emulator): ``api_url`` is the
        gateway as a client inside the namespace reaches it (the web app's Room URLs there)."""
        if self.livekit_server is None:
            return None
        return {"netns": self.netns.name, "host_ip": self.netns.host_ip, "inside_ip": self.netns.inside_ip,
                "url": self.livekit_server.url, "ws_url": self.livekit_server.ws_url,
                "api_url": f"http://{self.netns.host_ip}:{self.config.api_port}",
                "log": str(self.livekit_server.log_path)}

    @property
    def webhook_deliveries(self) -> list:
        """What reached the webhook route so far (gateway.WebhookDelivery), oldest first."""
        return list(self._gateway.webhook_deliveries) if self._gateway else []

    def _make_netns(self) -> None:
        from dataclasses import replace

        from rooms_local.livekit_server import Netns, server, unavailable_reason

        if reason := unavailable_reason():
            raise RuntimeError(f"the real livekit-server cannot run here: {reason}")
        self.netns = Netns.create()
        self.config = replace(self.config, external_livekit_url=f"http://{self.netns.inside_ip}:{server.HTTP_PORT}",
                              gateway_extra_hosts=(*self.config.gateway_extra_hosts, self.netns.host_ip))

    def _start_livekit_server(self) -> None:
        from rooms.settings import get_settings
        from rooms_local.gateway import WEBHOOK_PATH
        from rooms_local.livekit_server import LiveKitServer

        settings = get_settings()
        self.livekit_server = LiveKitServer(
            self.netns,
            api_key=self.config.livekit_api_key,
            api_secret=self.config.livekit_api_secret,
            webhook_url=f"http://{self.netns.host_ip}:{self.config.api_port}{WEBHOOK_PATH}",
            empty_timeout=settings.empty_timeout_seconds,
            departure_timeout=settings.departure_timeout_seconds,
        ).start()

    def _start_livekit(self) -> None:
        from rooms_local.livekit_emulator import LiveKitEmulator

        self._livekit = LiveKitEmulator(
            host=self.config.host,
            port=self.config.livekit_port,
            api_key=self.config.livekit_api_key,
            api_secret=self.config.livekit_api_secret,
            webhook_urls=[self.config.webhook_url],
            s3_endpoint_url=self.config.moto_url,
        )
        self._livekit.start()

