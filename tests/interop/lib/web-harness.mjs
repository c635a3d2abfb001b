// The browser journeys' harness (issue 12): `hearth up` with its email going to an SMTP sink
// and the reference PDS (@atproto/pds 0.5.35) on one real PLC directory; accounts on both;
// and people in headless Chromium whose every step is checked the same way:
// - axe-core on the page: no serious or critical violation (each one printed);
// - no Content-Security-Policy violation reported by the browser;
// - page weight: the HTML, CSS and JS of the page as loaded cold (images excluded), ≤ 60 KB;
// - a screenshot at 390×844 and at 1280×800 under target/web-journeys/<journey>/;
// - a count of the Hearth pages the person has opened (the invite-to-first-post bar).
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchBrowser, VIEWPORTS } from './browser.mjs'
import { freePort } from './hearth.mjs'
import { agentOn } from './hearth-lexicons.mjs'
import { signInAndConsent } from './oauth-pages.mjs'
import { startPlc } from './plc-server.mjs'
import { startSmtpSink } from './smtp-sink.mjs'
import { startReferencePds, startUpLogged } from './spaces-harness.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const OUT_DIR = process.env.HEARTH_JOURNEYS_OUT ?? join(root, 'target', 'web-journeys')
/** The bar: HTML + CSS + JS of any page on first load. */
export const PAGE_WEIGHT_LIMIT = 60 * 1024
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
// How long a person waits for something to appear: a page that does not exist fails fast.
const WAIT_MS = Number(process.env.HEARTH_JOURNEY_WAIT_MS ?? 8000)

/**
 * Everything the journeys run against. The AppView (and with it the web app) follows both
 * PDSes' firehoses, so a public post on the reference PDS shows in its app.bsky views.
 */
export async function startWorld() {
  const plc = await startPlc()
  const sink = await startSmtpSink()
  const ref = await startReferencePds({ plcUrl: plc.url })
  const port = await freePort()
  const appviewPort = await freePort()
  const env = {
    HEARTH_PORT: String(port),
    HEARTH_APPVIEW_PORT: String(appviewPort),
    HEARTH_SMTP_URL: sink.url,
    HEARTH_FIREHOSES: `localhost:${port},localhost:${ref.port}`,
    // Neither PDS's .test handles are in DNS: both are asked, as `hearth up` asks its own.
    HEARTH_HANDLE_RESOLVER: `http://localhost:${port},${ref.url}`,
  }
  let up = await startUpLogged({ plcUrl: plc.url, env })
  const browser = await launchBrowser()
  return {
    plc,
    sink,
    ref,
    browser,
    get up() {
      return up
    },
    // In development the web app is used at 127.0.0.1 (OAuth loopback redirects must be).
    web: `http://127.0.0.1:${appviewPort}`,
    webOrigins: [`http://127.0.0.1:${appviewPort}`, `http://localhost:${appviewPort}`],
    proxy: `${up.appviewDid}#hearth_appview`,
    /**
     * Stops `hearth up` and starts it again on the same data directory and ports; `whileStopped`
     * (given the data directory) runs in between, e.g. to let time pass in a database.
     */
    async restart(whileStopped) {
      await up.stop()
      if (whileStopped) await whileStopped(up.dataDir)
      up = await startUpLogged({ plcUrl: plc.url, dataDir: up.dataDir, env })
    },
    async stop() {
      await browser.close().catch(() => {})
      await ref.stop().catch(() => {})
      await up.stop().catch(() => {})
      await sink.close().catch(() => {})
      await plc.close().catch(() => {})
    },
  }
}

/**
 * An account on Hearth's PDS (`where` = 'hearth') or the reference PDS ('reference'), with an
 * agent signed in to it and `h()` for social.hearth calls through that PDS (as any client does).
 */
export async function account(world, where, name) {
  const pds = where === 'reference' ? world.ref.url : world.up.url
  const agent = agentOn(pds)
  const handle = `${name}.test`
  const password = `${name}-password-1`
  const email = `${name}@example.com`
  await agent.createAccount({ handle, email, password })
  return {
    name,
    where,
    pds,
    handle,
    password,
    email,
    agent,
    did: agent.session.did,
    /** An app password, for the web app's app-password sign-in. */
    async appPassword() {
      const res = await agent.com.atproto.server.createAppPassword({ name: `hearth web ${Date.now()}` })
      return res.data.password
    },
    async h(nsid, params, data, encoding) {
      const opts = { headers: { 'atproto-proxy': world.proxy } }
      if (encoding) opts.encoding = encoding
      const res = await agent.call(`social.hearth.${nsid}`, params, data, opts)
      return res.data
    },
  }
}

/** "Harbor Workers" → "harbor-workers". */
const slug = (s) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')

/**
 * Runs one journey: its screenshots go to OUT_DIR/<nn>-<title>/, its people are closed at the
 * end, and a thrown error fails it (with a screenshot of where each person was).
 */
export async function journey(t, world, number, title, fn) {
  const j = new Journey(t, world, number, title)
  console.log(`journey ${number}: ${title}`)
  const failedBefore = t.failed.length
  try {
    await fn(j)
  } catch (e) {
    t.ok(false, `journey ${number} (${title})`, e?.stack ?? String(e))
    await j.shootFailure()
  } finally {
    await j.close()
  }
  const ok = t.failed.length === failedBefore
  console.log(`journey ${number}: ${ok ? 'passed' : 'FAILED'} (${j.steps} steps, screenshots in ${j.dir})`)
  j.passed = ok
  return j
}

export class Journey {
  constructor(t, world, number, title) {
    this.t = t
    this.world = world
    this.number = number
    this.title = title
    this.dir = join(OUT_DIR, `${String(number).padStart(2, '0')}-${slug(title)}`)
    rmSync(this.dir, { recursive: true, force: true })
    mkdirSync(this.dir, { recursive: true })
    this.steps = 0
    this.people = []
  }

  /** A person with their own browser (cookies, session); `who` is their account, if any. */
  async person(label, who) {
    const context = await this.world.browser.newContext({ viewport: VIEWPORTS.desktop })
    const page = await context.newPage()
    page.setDefaultTimeout(WAIT_MS)
    const p = new Person(this, label, who, context, page)
    this.people.push(p)
    return p
  }

  async shootFailure() {
    for (const p of this.people) {
      await p.page.screenshot({ path: join(this.dir, `failed-${slug(p.label)}.png`), fullPage: true }).catch(() => {})
      console.log(`  ${p.label} was at ${p.page.url()}`)
    }
  }

  async close() {
    for (const p of this.people) await p.context.close().catch(() => {})
  }
}

export class Person {
  constructor(journey, label, who, context, page) {
    this.journey = journey
    this.t = journey.t
    this.label = label
    this.who = who
    this.context = context
    this.page = page
    /** Every Hearth page this person has opened, in order (redirects count once). */
    this.hearthPages = []
    this.cspViolations = []
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame() && this.onHearth()) this.hearthPages.push(frame.url())
    })
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) {
        this.cspViolations.push(`${page.url()}: ${msg.text()}`)
      }
    })
  }

  onHearth() {
    return this.journey.world.webOrigins.includes(new URL(this.page.url()).origin)
  }

  get web() {
    return this.journey.world.web
  }

  /** Opens a URL (a path is on the web app). */
  async open(url) {
    const full = url.startsWith('http') ? url : `${this.web}${url}`
    return this.page.goto(full, { waitUntil: 'load' })
  }

  /**
   * One step the person takes, as the bars want it checked: axe at both viewports, no CSP
   * violation, page weight, and the two screenshots.
   */
  async step(name) {
    const { t, page } = this
    const j = this.journey
    const n = String(++j.steps).padStart(2, '0')
    const base = join(j.dir, `${n}-${slug(this.label)}-${slug(name)}`)
    const where = `journey ${j.number} step ${n} ${this.label}: ${name} (${page.url()})`
    await page.waitForLoadState('load')
    // Another server's page (the member's own PDS signing them in) is photographed, not judged.
    if (!this.onHearth()) {
      for (const [vp, size] of Object.entries(VIEWPORTS)) {
        await page.setViewportSize(size)
        await page.screenshot({ path: `${base}-${vp}.png`, fullPage: true })
      }
      await page.setViewportSize(VIEWPORTS.desktop)
      return
    }
    const violations = []
    for (const [vp, size] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(size)
      violations.push(...(await axeViolations(page)).map((v) => ({ ...v, vp })))
      await page.screenshot({ path: `${base}-${vp}.png`, fullPage: true })
    }
    await page.setViewportSize(VIEWPORTS.desktop)
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    for (const v of serious) {
      console.log(`  axe ${v.impact} ${v.id} at ${v.vp} (${where}): ${v.help}`)
      for (const node of v.nodes.slice(0, 5)) console.log(`    ${node.target.join(' ')}: ${node.html.slice(0, 160)}`)
    }
    t.ok(serious.length === 0, `${where}: no serious or critical axe violations`, serious.map((v) => `${v.id} (${v.vp})`).join(', '))
    t.ok(this.cspViolations.length === 0, `${where}: no Content-Security-Policy violations`, this.cspViolations.join('\n'))
    this.cspViolations = []
    const weight = await pageWeight(page)
    j.world.weights ??= []
    j.world.weights.push({ where, ...weight })
    t.ok(weight.total <= PAGE_WEIGHT_LIMIT, `${where}: page weight ${weight.total} B ≤ ${PAGE_WEIGHT_LIMIT} B (HTML+CSS+JS)`, JSON.stringify(weight))
  }

  /** Waits until `text` (string or RegExp) is visible on the page; a check either way. */
  async sees(text, name) {
    const found = await this.page
      .getByText(text)
      .first()
      .waitFor({ state: 'visible', timeout: WAIT_MS })
      .then(() => true)
      .catch(() => false)
    return this.t.ok(found, `journey ${this.journey.number} ${this.label} sees ${name ?? text}`, found ? undefined : `not on ${this.page.url()}: ${(await this.visibleText()).slice(0, 400)}`)
  }

  /** Like `sees`, but the journey cannot go on without it. */
  async mustSee(text, name) {
    if (!(await this.sees(text, name))) throw new Error(`${this.label} does not see ${name ?? text} at ${this.page.url()}`)
  }

  /** None of `secrets` appears anywhere in the page's HTML (hidden markup included). */
  async seesNothingOf(secrets, name) {
    const html = await this.page.content()
    const hits = secrets.filter((s) => html.includes(s))
    return this.t.ok(hits.length === 0, `journey ${this.journey.number} ${this.label}: ${name}`, `found ${hits.join(', ')} at ${this.page.url()}`)
  }

  async visibleText() {
    return this.page
      .locator('body')
      .innerText()
      .catch(() => '')
  }

  /** Hearth pages opened since `mark` (a length of `hearthPages`). */
  pagesSince(mark) {
    return this.hearthPages.slice(mark)
  }
}

/** axe-core's violations on the page as it is now. */
async function axeViolations(page) {
  // `evaluate` runs outside the page's CSP (a script tag would be refused by it, rightly).
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE)
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }))
  return result.violations
}

/**
 * The page's HTML plus every stylesheet and script it loads, decoded sizes from the browser's
 * resource timing (a cached file still reports its size: this is what a first load costs).
 */
async function pageWeight(page) {
  const w = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0]
    const html = nav?.decodedBodySize || document.documentElement.outerHTML.length
    const files = performance
      .getEntriesByType('resource')
      .filter((e) => ['link', 'script', 'css'].includes(e.initiatorType) || /\.(css|m?js)(\?|$)/.test(e.name))
      .filter((e) => !/\.(png|jpe?g|gif|webp|avif|svg|ico)(\?|$)/.test(e.name))
      .map((e) => ({ url: e.name, bytes: e.decodedBodySize }))
    return { html, files }
  })
  const total = w.html + w.files.reduce((a, f) => a + f.bytes, 0)
  return { total, ...w }
}

/**
 * Signs in on the reference PDS's own authorization page (its real OAuth UI, through
 * lib/oauth-pages.mjs) with a step at the sign-in and at the consent screen; back on Hearth
 * afterwards.
 */
export async function authorizeAtReference(person) {
  const { page, who } = person
  const refOrigin = new URL(person.journey.world.ref.url).origin
  await page.waitForURL((u) => u.origin === refOrigin, { timeout: WAIT_MS })
  await signInAndConsent(page, {
    handle: who.handle,
    password: who.password,
    timeout: WAIT_MS,
    onScreen: (screen) => person.step(`${screen} at their own PDS`),
    back: (u) => person.journey.world.webOrigins.includes(u.origin),
  })
}
