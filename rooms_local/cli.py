"""``rooms``: the local stack's command line.

    rooms up [--sweep-every 60] [--livekit emulator|server]
                                  start everything (and the sweeper's timer), show it working
    rooms token --sub USER [--name NAME] [--admin]
    rooms invoke FUNCTION|SAMPLE [EVENT_FILE] [--keep-time]
    rooms emit EVENT_FILE         put a booking-platform event on the running stack's bus (moto)
    rooms join --token JWT [--publish audio,video]
    rooms leave --room ROOM --identity USER
    rooms dial-in --number +1... --pin 123456 [--from +1...]
    rooms state [--json]          LiveKit's rooms and participants
    rooms openapi [--check]       write (or check) docs/openapi.json and docs/errors.md

Commands in another shell find the stack `rooms up` runs through its state file (.local-stack/state.json,
or ROOMS_STATE_FILE); variables (ROOMS_API_PORT, MOTO_PORT, LIVEKIT_DEV_PORT, LIVEKIT_URL, ...) override it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from rooms_local.config import EVENTS_DIR, LocalConfig, read_running_state, remove_state, write_state


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def cmd_up(args: argparse.Namespace) -> int:
    from rooms_local.demo import room_urls_text, run_demo
    from rooms_local.stack import LocalStack

    config = LocalConfig.from_env()
    running = read_running_state()
    if running and running["pid"] != os.getpid():
        raise RuntimeError(f"a local stack already runs (pid {running['pid']}, API {running['urls']['api']}): "
                           "stop it first, or set ROOMS_STATE_FILE (and other ports) to run a second one")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # `kill` stops it as Ctrl-C does (and removes the file)
    if args.livekit:
        config = replace(config, livekit=args.livekit)
    if not args.verbose:  # function logs and EMF metrics are JSON lines (as in CloudWatch): quiet unless asked
        config = replace(config, extra_env={**config.extra_env, "POWERTOOLS_LOG_LEVEL": "WARNING",
                                            "POWERTOOLS_METRICS_DISABLED": "true"})
    print("Starting the Rooms local stack:", flush=True)
    stack = LocalStack(config, access_log=True, sweep_every=args.sweep_every or None,
                       progress=lambda step: print(f"  - {step}", flush=True)).start()
    # stack.config: with the real server, its namespace address (other shells then reach the same LiveKit)
    real_info = stack.livekit_server_info
    state_path = write_state(stack.config, stack.provisioned_env, livekit_server=real_info)
    try:
        config = stack.config  # with the real server: its namespace address, the gateway's extra address
        real = stack.livekit_server
        kind = ("livekit-server in a network namespace" if real else
                "outside, from LIVEKIT_URL" if config.external_livekit_url else "emulator")
        print(f"\nRoutes served (API Gateway HTTP API route → Lambda function):\n{_routes_table()}\n")
        print(f"Rooms local stack is up:\n"
              f"  API (HTTP API + JWT authorizer)  {config.api_url}   (Swagger UI: {config.api_url}/docs)\n"
              f"  LiveKit webhook (no authorizer)  {real.webhook_url if real else config.webhook_url}\n"
              f"  LiveKit                          {config.livekit_url}  ({kind}"
              f"{'' if kind.startswith('outside') else f', {config.livekit_api_key}/{config.livekit_api_secret}'})\n"
              f"  moto (DynamoDB, S3, EventBridge) {config.moto_url}\n"
              f"  room sweeper                     "
              f"{f'every {args.sweep_every:g} s' if args.sweep_every else 'off'} (the EventBridge schedule)\n\n"
              f"Local state (DynamoDB table, S3 bucket, LiveKit rooms) lives in this process's memory: it is "
              f"lost when it exits.\nOther shells find this stack in {state_path} (removed on exit): "
              f"`rooms token/invoke/join/state` need no variables.\n", flush=True)
        if real_info:
            print(_REAL.format(ns=real_info["netns"], host_ip=real_info["host_ip"], inside_ip=real_info["inside_ip"],
                               port=config.api_port, ws=real_info["ws_url"], http=real_info["url"],
                               log=real_info["log"]))
        if not args.no_demo:
            run_demo(config, real_info)
        else:
            print(room_urls_text(config, livekit_server=real_info))
        print(_TRY.format(api=config.api_url, body=json.dumps(_TRY_BODY, separators=(",", ":"))))
        if args.exit_after_demo:
            return 0
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        remove_state(state_path)
        stack.stop()


def _routes_table() -> str:
    from rooms_local.gateway import WEBHOOK_FUNCTION, WEBHOOK_PATH, load_routes

    rows = sorted((r.template, r.method, r.function) for r in load_routes())
    rows.append((WEBHOOK_PATH, "POST", f"{WEBHOOK_FUNCTION} (no authorizer: LiveKit-signed)"))
    rows.append(("/docs", "GET", "Swagger UI (/openapi.json: the document)"))
    width = max(len(path) for path, _, _ in rows)
    return "\n".join(f"  {method:<7}{path:<{width}}  {function}" for path, method, function in rows)


def _exit_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


_TRY = """Try it (another terminal):
  ADMIN=$(rooms token --sub platform --admin); HOST=$(rooms token --sub dr-smith --name "Dr Smith")
  curl -s -XPOST {api}/rooms -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \\
       -d '{body}'
  curl -s -XPOST {api}/bookings/b-42/room/token -H "authorization: Bearer $HOST"
  rooms join --token <token from above>      # a simulated LiveKit client joins
  rooms invoke create_room                   # one function with its sample event (events/create_room.json)
  rooms invoke room_sweeper events/schedule_sweep.json   # one sweep now (--keep-time: at the event's time)
  rooms state                                # the LiveKit rooms and who is in them
  rooms emit events/booking_confirmed.json    # the booking platform's event on the bus → booking_events
  rooms emit events/booking_rescheduled.json
Ctrl-C stops the stack."""


_REAL = """Real LiveKit (livekit-server + Redis) runs in network namespace {ns}:
  host side {host_ip} (the API also listens on {host_ip}:{port}), namespace side {inside_ip}
  clients connect to {ws} from inside the namespace (WebRTC ignores loopback), e.g.
    ip netns exec {ns} <your client> ...      # e.g. a LiveKit rtc SDK script, or chromium
  server log: {log}
  `rooms join/leave/dial-in/state` drive the emulator only: use real clients here; for
  `rooms invoke` in another terminal: export LIVEKIT_URL={http}
"""


_TRY_BODY = {"booking_id": "b-42", "service_type": "therapy", "host": {"user_id": "dr-smith"},
             "members": [{"user_id": "jane"}]}


def cmd_token(args: argparse.Namespace) -> int:
    from rooms_local.auth import mint_dev_token

    print(mint_dev_token(LocalConfig.for_cli(), args.sub, name=args.name, admin=args.admin,
                         ttl_seconds=args.ttl))
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    """Run one function with an event against the running stack, like ``sam local invoke``: the result
    alone on stdout, the function's logs and START/END/REPORT on stderr."""
    from rooms_local.lambda_runtime import LambdaContext, load_function

    config = LocalConfig.for_cli()
    function, event_arg = _function_and_event(args.function, args.event)
    event = json.loads(_event_path(event_arg).read_text())
    if not args.keep_time:
        _stamp_now(event)
    if function == "webhook_handler":
        _sign_webhook_sample(event, config)
    os.environ.update(config.function_env())
    running = read_running_state()
    for key, value in (running or {}).get("provisioned_env", {}).items():  # SIP trunk ids the stack made
        os.environ.setdefault(key, value)
    from rooms.settings import get_settings

    get_settings.cache_clear()
    context = LambdaContext(function)
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr), _logs_to_stderr(stdout):
        init_started = time.perf_counter()
        module = load_function(function)
        init_ms = (time.perf_counter() - init_started) * 1000
        print(f"START RequestId: {context.aws_request_id} Version: {context.function_version}", flush=True)
        started = time.perf_counter()
        try:
            result = module.handler(event, context)
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            print(f"END RequestId: {context.aws_request_id}", flush=True)
            print(f"REPORT RequestId: {context.aws_request_id}\tInit Duration: {init_ms:.2f} ms\t"
                  f"Duration: {duration_ms:.2f} ms\tMemory Size: {context.memory_limit_in_mb} MB", flush=True)
    _print(result)
    return 0


def _function_and_event(name: str, event: str | None) -> tuple[str, str]:
    """``FUNCTION [EVENT]`` where FUNCTION may also be a sample event's name (``get_room``): its function
    is the one serving the event's route (or its source: schedule, S3, the webhook URL)."""
    from rooms_local.lambda_runtime import function_names

    functions = function_names()
    if name in functions:
        if event is None and (EVENTS_DIR / f"{name}.json").exists():  # e.g. create_room: its sample
            return name, str(EVENTS_DIR / f"{name}.json")
        if event is None:
            raise LookupError(f"which event? e.g. rooms invoke {name} {_example_event(name)}")
        return name, event
    candidate = _event_path(name)
    if not candidate.exists():
        samples = sorted(p.stem for p in EVENTS_DIR.glob("*.json"))
        raise LookupError(f"no function or sample event {name!r}. Functions: {', '.join(functions)}. "
                          f"Sample events (events/): {', '.join(samples)}")
    return function_for_event(json.loads(candidate.read_text())), event or str(candidate)


def _event_path(name: str) -> Path:
    """An event file: a path, or a sample's name in events/ (with or without .json)."""
    path = Path(name)
    if path.exists():
        return path
    for candidate in (EVENTS_DIR / name, EVENTS_DIR / f"{name}.json"):
        if candidate.exists():
            return candidate
    return path


def function_for_event(event: dict) -> str:
    from rooms_local.gateway import WEBHOOK_FUNCTION, WEBHOOK_PATH
    from rooms_local.lambda_runtime import routes_manifest
    from rooms_local.schedules import SWEEPER_FUNCTION

    route = event.get("routeKey")
    for function, keys in routes_manifest().items():
        if route in keys:
            return function
    if route == f"POST {WEBHOOK_PATH}":  # LiveKit's route, outside functions/routes.json (no authorizer)
        return WEBHOOK_FUNCTION
    if event.get("source") == "aws.events":
        return SWEEPER_FUNCTION
    if event.get("source") == "rooms" and event.get("detail-type") == "Dial-Out Requested":
        return "dial_out_worker"  # the service's own event, through the dial-out rule
    if any(r.get("eventSource") == "aws:s3" for r in event.get("Records", [])):
        return "recording_processor"
    raise LookupError(f"no function serves this event (routeKey {route!r}): name the function")


def _example_event(function: str) -> str:
    for path in sorted(EVENTS_DIR.glob("*.json")):
        with contextlib.suppress(LookupError, ValueError):
            if function_for_event(json.loads(path.read_text())) == function:
                return f"events/{path.name}"
    return "events/<event>.json"


def _stamp_now(event: dict) -> None:
    """Sample events that carry a time are delivered now, as their source would (``--keep-time`` keeps
    the file's time): the schedule event's ``time`` (the sweeper works on it), S3 records' ``eventTime``."""
    import uuid
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    if event.get("source") == "aws.events" and "time" in event:
        event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        event["id"] = str(uuid.uuid4())
    for record in event.get("Records", []):
        if "eventTime" in record:
            record["eventTime"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@contextlib.contextmanager
def _logs_to_stderr(stdout):
    """The functions' log handlers (Powertools writes JSON lines to stdout, as Lambda's runtime does)
    write to stderr while `rooms invoke` runs, so stdout carries the result alone."""
    import logging

    moved = []
    for logger in [logging.getLogger(), *(v for v in logging.Logger.manager.loggerDict.values()
                                          if isinstance(v, logging.Logger))]:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.__stdout__, stdout):
                moved.append((handler, handler.setStream(sys.stderr)))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


def cmd_emit(args: argparse.Namespace) -> int:
    """Put an event on the running stack's bus: its rule delivers it to booking_events, as in AWS."""
    import boto3

    from rooms_local.event_bus import put_entry

    config = LocalConfig.for_cli()
    event_path = Path(args.event)
    if not event_path.exists() and (EVENTS_DIR / args.event).exists():
        event_path = EVENTS_DIR / args.event
    entry = put_entry(json.loads(event_path.read_text()), bus_name=config.event_bus_name)
    events = boto3.client("events", endpoint_url=config.moto_url, region_name=config.region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    response = events.put_events(Entries=[entry])
    _print({"entries": response["Entries"], "failed": response.get("FailedEntryCount", 0)})
    return 1 if response.get("FailedEntryCount") else 0


def _sign_webhook_sample(event: dict, config: LocalConfig) -> None:
    """Sample webhook events carry a placeholder signature: sign their body as LiveKit would, with the
    local stack's LiveKit credentials (a real signature is left alone)."""
    headers = event.setdefault("headers", {})
    if not str(headers.get("authorization", "<")).startswith("<") or event.get("isBase64Encoded"):
        return
    from rooms_local.livekit_emulator.webhooks import sign

    headers["authorization"] = sign(event.get("body") or "", config.livekit_api_key, config.livekit_api_secret)


def _livekit_control():
    from rooms_local.livekit_emulator import control

    return control, LocalConfig.for_cli().livekit_url


def cmd_join(args: argparse.Namespace) -> int:
    control, url = _livekit_control()
    publish = [p for p in (args.publish or "").split(",") if p]
    _print(control.join(url, args.token, publish=publish))
    return 0


def cmd_leave(args: argparse.Namespace) -> int:
    control, url = _livekit_control()
    _print(control.leave(url, args.room, args.identity))
    return 0


def cmd_dial_in(args: argparse.Namespace) -> int:
    control, url = _livekit_control()
    _print(control.dial_in(url, args.number, args.pin, args.from_number))
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    """LiveKit's rooms and participants, asked through its RoomService (ListRooms, ListParticipants) with
    the real client, as `lk room list` does: the emulator and a real LiveKit answer the same."""
    rooms = asyncio.run(_list_rooms(LocalConfig.for_cli()))
    if args.json:
        from google.protobuf import json_format

        _print({"rooms": [{**json_format.MessageToDict(room, always_print_fields_with_no_presence=True),
                           "participants": [json_format.MessageToDict(p, always_print_fields_with_no_presence=True)
                                            for p in participants]}
                          for room, participants in rooms]})
    else:
        print(_state_table(rooms))
    return 0


async def _list_rooms(config: LocalConfig) -> list:
    from livekit import api

    lk = api.LiveKitAPI(config.livekit_url, config.livekit_api_key, config.livekit_api_secret)
    try:
        rooms = sorted((await lk.room.list_rooms(api.ListRoomsRequest())).rooms, key=lambda r: r.creation_time)
        return [(room, (await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))).participants)
                for room in rooms]
    finally:
        await lk.aclose()


def _table(headers: list[str], rows: list[list[str]], indent: str = "") -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    return [indent + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in [headers, *rows]]


def _state_table(rooms: list) -> str:
    from datetime import UTC, datetime

    from livekit.protocol import models

    def when(seconds: int) -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S") if seconds else "-"

    if not rooms:
        return "No rooms."
    lines: list[str] = []
    for room, participants in rooms:
        lines += _table(["ROOM", "SID", "PARTICIPANTS", "PUBLISHERS", "CREATED (UTC)"],
                        [[room.name, room.sid, str(room.num_participants), str(room.num_publishers),
                          when(room.creation_time)]])
        if participants:
            lines += _table(["IDENTITY", "NAME", "KIND", "STATE", "JOINED (UTC)", "TRACKS"],
                            [[p.identity, p.name or "-", models.ParticipantInfo.Kind.Name(p.kind),
                              models.ParticipantInfo.State.Name(p.state), when(p.joined_at),
                              ", ".join(models.TrackSource.Name(t.source).lower() for t in p.tracks) or "-"]
                             for p in participants], indent="    ")
        lines.append("")
    return "\n".join(lines).rstrip()


def cmd_openapi(args: argparse.Namespace) -> int:
    from rooms_local import openapi

    if args.check:
        if openapi.is_current():
            print("docs/openapi.json and docs/errors.md are current")
            return 0
        print("docs/openapi.json or docs/errors.md is stale: run `rooms openapi`", file=sys.stderr)
        return 1
    print(f"wrote {openapi.write()} and {openapi.ERROR_CATALOGUE}")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("livekit-rooms")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rooms", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rooms {_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="start the local stack")
    p.add_argument("--no-demo", action="store_true", help="skip the walk-through (a therapy booking, played)")
    p.add_argument("--exit-after-demo", action="store_true", help="stop after the walk-through (smoke test)")
    p.add_argument("--verbose", action="store_true", help="print the functions' INFO logs (JSON lines)")
    p.add_argument("--sweep-every", type=float, default=60.0, metavar="SECONDS",
                   help="run the room sweeper on this timer, as the EventBridge schedule does (0: off)")
    p.add_argument("--livekit", choices=("emulator", "server"), default=None,
                   help="which LiveKit to start: 'emulator' (ours, in process; the default, also via "
                        "ROOMS_LIVEKIT) or 'server' (the real livekit-server + Redis in a network namespace: "
                        "needs root and `make livekit`). LIVEKIT_URL instead: use a LiveKit you run yourself")
    p.set_defaults(fn=cmd_up)

    p = sub.add_parser("token", help="print a bearer token the local API accepts")
    p.add_argument("--sub", required=True, metavar="USER", help="the caller's user id (the JWT's sub)")
    p.add_argument("--name", help="a display name (the JWT's name claim)")
    p.add_argument("--admin", action="store_true", help="carry the rooms/admin scope (the platform backend)")
    p.add_argument("--ttl", type=int, default=3600, metavar="SECONDS", help="lifetime (default: %(default)s)")
    p.set_defaults(fn=cmd_token)

    p = sub.add_parser("invoke", help="run one function with an event file against the running stack",
                       description="Run one function with an event against the running stack, like `sam local "
                                   "invoke`: the result alone on stdout, logs and START/END/REPORT on stderr.")
    p.add_argument("function", metavar="FUNCTION",
                   help="a function (functions/<name>), or a sample event's name (events/<name>.json): "
                        "the function serving that event's route runs with it")
    p.add_argument("event", metavar="EVENT", nargs="?",
                   help="an event file, or a sample's name in events/ (default: the sample FUNCTION names)")
    p.add_argument("--keep-time", action="store_true",
                   help="deliver the event with its own time (default: schedule and S3 events are stamped now)")
    p.set_defaults(fn=cmd_invoke)

    p = sub.add_parser("emit", help="put a booking-platform event (events/booking_*.json) on the stack's bus")
    p.add_argument("event", help="an EventBridge event file: a path, or a sample in events/ (booking_confirmed)")
    p.set_defaults(fn=cmd_emit)

    p = sub.add_parser("join", help="a simulated LiveKit client joins with a token")
    p.add_argument("--token", required=True, metavar="JWT", help="a join token (from a .../token route)")
    p.add_argument("--publish", default="audio,video", metavar="KINDS",
                   help="tracks to publish, comma-separated: audio, video, screen_share (default: %(default)s)")
    p.set_defaults(fn=cmd_join)

    p = sub.add_parser("leave", help="a simulated client leaves")
    p.add_argument("--room", required=True, help="the LiveKit room's name")
    p.add_argument("--identity", required=True, help="the participant's identity")
    p.set_defaults(fn=cmd_leave)

    p = sub.add_parser("dial-in", help="a simulated phone caller dials a number and enters a PIN")
    p.add_argument("--number", required=True, help="the dial-in number called (GET /rooms/{id}/dial-in)")
    p.add_argument("--pin", required=True, help="the room's PIN the caller enters")
    p.add_argument("--from", dest="from_number", default="+15550000001", metavar="NUMBER",
                   help="the caller's number (default: %(default)s)")
    p.set_defaults(fn=cmd_dial_in)

    p = sub.add_parser("state", help="LiveKit's rooms and participants (like `lk room list`)")
    p.add_argument("--json", action="store_true", help="print JSON (rooms, each with its participants) for scripts")
    p.set_defaults(fn=cmd_state)

    p = sub.add_parser("openapi", help="write or check docs/openapi.json and docs/errors.md (error codes)")
    p.add_argument("--check", action="store_true",
                   help="fail if docs/openapi.json or docs/errors.md differs from the code's")
    p.set_defaults(fn=cmd_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM to `rooms up`) before the command finished
        return 130
    except Exception as err:  # a CLI prints the error, not a traceback
        print(f"rooms {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
