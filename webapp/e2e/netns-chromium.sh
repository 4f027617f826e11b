#!/bin/sh
# Chromium inside the real-LiveKit harness's network namespace (WebRTC ignores loopback, so browser and
# livekit-server meet on the namespace's veth). Playwright drives it over the pipes it inherits.
exec ip netns exec "${ROOMS_E2E_NETNS:?set by e2e/global-setup.ts}" "${CHROMIUM_PATH:-/usr/bin/chromium}" "$@"
