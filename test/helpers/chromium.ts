import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Debian's Chromium (scripts/test-env.sh installs it), headless, driven by playwright-core (which
 * downloads no browser of its own). A persistent context, because that is how a fresh
 * --user-data-dir of our own is given; --no-sandbox because tests run as root.
 */
export async function launchChromium(userDataDir: string, viewport = { width: 1400, height: 1000 }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
