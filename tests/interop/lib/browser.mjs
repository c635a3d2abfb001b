// Headless Chromium for the browser suites: Debian's chromium (scripts/setup-chromium) driven by
// playwright-core. Flags keep it off the network this machine does not have: without the
// background-networking ones Chromium opens many refused connections at every start.
import { chromium } from 'playwright-core'
import { execFileSync } from 'node:child_process'

export function chromiumPath() {
  if (process.env.HEARTH_CHROMIUM) return process.env.HEARTH_CHROMIUM
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('chromium not found: run scripts/setup-chromium')
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

// The two viewports every journey is photographed at.
export const VIEWPORTS = {
  mobile: { width: 390, height: 844 },
  desktop: { width: 1280, height: 800 },
}
