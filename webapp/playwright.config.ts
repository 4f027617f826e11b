import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './e2e/browser';

// End to end against the local stack (started by e2e/global-setup.ts on free ports, stopped after).
// Browser: Debian's chromium (CHROMIUM_PATH, default /usr/bin/chromium) with fake camera and microphone;
// `npx playwright install` is never needed.
export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results/artifacts',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1, // one stack, and a 2-core CI machine
  retries: 0,
  reporter: [['list']],
  globalSetup: './e2e/global-setup.ts',
  use: {
    launchOptions: chromiumLaunchOptions(),
    viewport: { width: 1280, height: 800 },
    permissions: ['camera', 'microphone'],
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
});
