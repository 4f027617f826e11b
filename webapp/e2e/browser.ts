import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LaunchOptions } from '@playwright/test';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags that work for Debian's chromium as root in a container, plus fake media devices (Playwright
 * gives every launch a fresh --user-data-dir itself). */
export function chromiumArgs(): string[] {
  return [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ];
}

/** A fresh profile directory, for chromium started by hand (Playwright's launch makes its own). */
export function freshUserDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'rooms-chromium-'));
}

export function chromiumLaunchOptions(): LaunchOptions {
  return { executablePath: CHROMIUM_PATH, args: chromiumArgs(), headless: true };
}
