"""``rooms``: the local stack's command line (SPEC "Local stack" contract).

    rooms up [--sweep-every 60] [--livekit emulator|server]
                                  start everything (and the sweeper's timer), show it working
    rooms token --sub USER [--name NAME] [--admin]
    rooms invoke FUNCTION EVENT_FILE
    rooms join --token JWT [--publish audio,video]
    rooms leave --room ROOM --identity USER
    rooms dial-in --number +1... --pin 123456 [--from +1...]
    rooms state                   the LiveKit emulator's rooms and participants
    rooms openapi [--check]       write (or check) docs/openapi.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from rooms_local.config import EVENTS_DIR, LocalConfig


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def cmd_up(args: argparse.Namespace) -> int:
    from rooms_local.demo import run_demo
    from rooms_local.stack import LocalStack

    config = LocalConfig.from_env()
    if args.livekit:
        config = replace(config, livekit=args.livekit)
    if not args.verbose:  # function logs and EMF metrics are JSON lines (as in CloudWatch): quiet unless asked
        config = replace(config, extra_env={**config.extra_env, "POWERTOOLS_LOG_LEVEL": "WARNING",
                                            "POWERTOOLS_METRICS_DISABLED": "true"})
    stack = LocalStack(config, access_log=True, sweep_every=args.sweep_every or None).start()
    try:
        config = stack.config  # with the real server: its namespace address, the gateway's extra address
        real = stack.livekit_server
        kind = ("livekit-server in a network namespace" if real else
                "outside, from LIVEKIT_URL" if config.external_livekit_url else "emulator")
        print(f"Rooms local stack is up:\n"
              f"  API (HTTP API + JWT authorizer)  {config.api_url}   (Swagger UI: {config.api_url}/docs)\n"
              f"  LiveKit webhook function URL     {real.webhook_url if real else config.webhook_url}\n"
              f"  LiveKit                          {config.livekit_url}  ({kind}"
              f"{'' if kind.startswith('outside') else f', {config.livekit_api_key}/{config.livekit_api_secret}'})\n"
              f"  moto (DynamoDB, S3, EventBridge) {config.moto_url}\n"
              f"  room sweeper                     "
              f"{f'every {args.sweep_every:g} s' if args.sweep_every else 'off'} (the EventBridge schedule)\n")
        if real:
            print(_REAL.format(ns=real.netns.name, host_ip=real.netns.host_ip, inside_ip=real.netns.inside_ip,
                               port=config.api_port, ws=real.ws_url, http=real.url, log=real.log_path))
        if not args.no_demo:
            run_demo(config)
        print(_TRY.format(api=config.api_url, body=json.dumps(_TRY_BODY, separators=(",", ":"))))
        if args.exit_after_demo:
            return 0
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


_TRY = """Try it (another terminal):
  ADMIN=$(rooms token --sub platform --admin); HOST=$(rooms token --sub dr-smith --name "Dr Smith")
  curl -s -XPOST {api}/rooms -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \\
       -d '{body}'
  curl -s -XPOST {api}/bookings/b-42/room/token -H "authorization: Bearer $HOST"
  rooms join --token <token from above>      # a simulated LiveKit client joins
  rooms invoke create_room events/create_room.json
  rooms invoke room_sweeper events/schedule_sweep.json   # one sweep at the event's time
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

    print(mint_dev_token(LocalConfig.from_env(), args.sub, name=args.name, admin=args.admin,
                         ttl_seconds=args.ttl))
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    """Run one function with an event against the running stack, like ``sam local invoke``."""
    from rooms_local.lambda_runtime import LambdaContext, load_function

    config = LocalConfig.from_env()
    event_path = Path(args.event)
    if not event_path.exists() and (EVENTS_DIR / args.event).exists():
        event_path = EVENTS_DIR / args.event
    event = json.loads(event_path.read_text())
    if args.function == "webhook_handler":
        _sign_webhook_sample(event, config)
    os.environ.update(config.function_env())
    from rooms.settings import get_settings

    get_settings.cache_clear()
    result = load_function(args.function).handler(event, LambdaContext(args.function))
    _print(result)
    return 0


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

    return control, LocalConfig.from_env().livekit_url


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
    control, url = _livekit_control()
    _print(control.state(url))
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from rooms_local import openapi

    if args.check:
        if openapi.is_current():
            print("docs/openapi.json is current")
            return 0
        print("docs/openapi.json is stale: run `rooms openapi`", file=sys.stderr)
        return 1
    print(f"wrote {openapi.write()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rooms", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start the local stack")
    p.add_argument("--no-demo", action="store_true", help="skip the walk-through")
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
    p.add_argument("--sub", required=True)
    p.add_argument("--name")
    p.add_argument("--admin", action="store_true", help="carry the rooms/admin scope")
    p.add_argument("--ttl", type=int, default=3600)
    p.set_defaults(fn=cmd_token)

    p = sub.add_parser("invoke", help="run one function with an event file against the running stack")
    p.add_argument("function")
    p.add_argument("event")
    p.set_defaults(fn=cmd_invoke)

    p = sub.add_parser("join", help="a simulated LiveKit client joins with a token")
    p.add_argument("--token", required=True)
    p.add_argument("--publish", default="audio,video")
    p.set_defaults(fn=cmd_join)

    p = sub.add_parser("leave", help="a simulated client leaves")
    p.add_argument("--room", required=True)
    p.add_argument("--identity", required=True)
    p.set_defaults(fn=cmd_leave)

    p = sub.add_parser("dial-in", help="a simulated phone caller dials a number and enters a PIN")
    p.add_argument("--number", required=True)
    p.add_argument("--pin", required=True)
    p.add_argument("--from", dest="from_number", default="+15550000001")
    p.set_defaults(fn=cmd_dial_in)

    p = sub.add_parser("state", help="the LiveKit emulator's state")
    p.set_defaults(fn=cmd_state)

    p = sub.add_parser("openapi", help="write or check docs/openapi.json")
    p.add_argument("--check", action="store_true")
    p.set_defaults(fn=cmd_openapi)

    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except Exception as err:  # a CLI prints the error, not a traceback
        print(f"rooms {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
