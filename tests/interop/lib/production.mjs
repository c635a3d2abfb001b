// The production layout, on one machine: Caddy (Debian's package, `tls internal`) terminates
// TLS on port 443 for hostnames under a test domain that /etc/hosts maps to loopback
// (scripts/setup-caddy), in front of `hearth serve`, a PLC directory (`hearth plc`) and the
// reference PDS. Nothing runs in development mode: Hearth trusts Caddy's CA only through
// HEARTH_CA_CERTS and reaches its own hostnames through HEARTH_INTERNAL_HOSTS; Node processes
// trust it through NODE_EXTRA_CA_CERTS.
//
// `hearth serve` runs as deployed: one port (HEARTH_SINGLE_PORT) answering the PDS hostname, its
// handle subdomains and the AppView hostname, which Caddy proxies to as one upstream.
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hearthBin, freePort } from './hearth.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

export const DOMAIN = 'hearth.test'
export const HOSTS = {
  pds: `pds.${DOMAIN}`,
  appview: `appview.${DOMAIN}`,
  plc: `plc.${DOMAIN}`,
  ref: `ref.${DOMAIN}`,
}
/** Handles the suite signs up with: /etc/hosts has no wildcards, so each is mapped. */
export const HANDLES = {
  alice: `alice.${HOSTS.pds}`,
  bob: `bob.${HOSTS.pds}`,
  carol: `carol.${HOSTS.ref}`,
}

/** Installs Caddy if missing and maps every test hostname to loopback; returns caddy's path. */
export function setupCaddy() {
  const names = [...Object.values(HOSTS), ...Object.values(HANDLES)]
  return execFileSync(join(root, 'scripts', 'setup-caddy'), names, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
}

/**
 * A Caddyfile: each route's hostnames (wildcards allowed) proxied to a loopback port, with a
 * certificate from Caddy's local CA. No admin endpoint, no http->https redirects (the plain
 * port is a free one, not 80), and the CA is not installed into the system store: whoever
 * should trust it is told so explicitly.
 */
export function caddyfile({ httpPort, routes }) {
  const sites = routes.map(
    ({ hosts, port }) => `${hosts.join(', ')} {
  tls internal
  reverse_proxy 127.0.0.1:${port}
}`,
  )
  return `{
  admin off
  auto_https disable_redirects
  skip_install_trust
  http_port ${httpPort}
  https_port 443
}

${sites.join('\n\n')}
`
}

/** Connects to https://host/path over loopback trusting `ca`; resolves to the status code. */
export function httpsStatus(host, path, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', servername: host, headers: { host }, path, ca, timeout: 5000 }, (res) => {
      res.resume()
      resolve(res.statusCode)
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
  })
}

async function until(what, fn, ms = 30000) {
  const start = Date.now()
  let last
  while (Date.now() - start < ms) {
    try {
      if (await fn()) return
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} not ready after ${ms} ms${last ? `: ${last.message}` : ''}`)
}

/** Starts Caddy with `routes`; resolves once its CA exists and every site answers over TLS. */
export async function startCaddy({ caddy, routes }) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-caddy-'))
  const file = join(dir, 'Caddyfile')
  writeFileSync(file, caddyfile({ httpPort: await freePort(), routes }))
  const log = createWriteStream(join(dir, 'caddy.log'))
  // Caddy keeps its CA and certificates under XDG_DATA_HOME: a fresh CA for every run.
  const child = spawn(caddy, ['run', '--config', file, '--adapter', 'caddyfile'], {
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.pipe(log)
  child.stderr.pipe(log)
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const ca = join(dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt')
  const ready = async () => {
    await until('Caddy CA', () => existsSync(ca))
    const pem = readFileSync(ca)
    for (const { hosts } of routes) {
      const host = hosts[0].replace('*', 'probe')
      await until(`https://${host}`, async () => (await httpsStatus(host, '/', pem)) > 0)
    }
  }
  try {
    await Promise.race([
      ready(),
      exited.then((e) => {
        throw new Error(`caddy exited: ${JSON.stringify(e)} (log: ${join(dir, 'caddy.log')})`)
      }),
    ])
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  return {
    ca,
    caddyfile: file,
    log: join(dir, 'caddy.log'),
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/**
 * The caller's environment without any HEARTH_* variable, plus `extra`: no setting leaks in
 * from the shell running the suite (development mode least of all).
 */
function cleanEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEARTH_')))
  return Object.assign(env, extra)
}

/** Spawns `hearth <args>` with `env`, its stderr appended to `logFile`. */
function spawnHearth(args, env, logFile) {
  const log = createWriteStream(logFile, { flags: 'a' })
  const child = spawn(hearthBin, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.pipe(log)
  child.stderr.pipe(log)
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return {
    child,
    exited,
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** `hearth plc` on `port`, data in a fresh directory. */
export function startPlcDirectory({ port, logFile }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-plc-'))
  return spawnHearth(['plc'], { HEARTH_DATA_DIR: dataDir, HEARTH_PLC_PORT: String(port), RUST_LOG: 'warn' }, logFile)
}

/**
 * `hearth serve` as an operator would run it behind Caddy: both services on one port told apart
 * by hostname, the PLC directory over https, Caddy's CA through HEARTH_CA_CERTS, the test domain
 * vouched for through HEARTH_INTERNAL_HOSTS, and the AppView following the PDS and the reference
 * PDS over wss.
 */
export function startServe({ port, ca, logFile, firehoses }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-prod-'))
  const proc = spawnHearth(
    ['serve'],
    {
      HEARTH_HOSTNAME: HOSTS.pds,
      HEARTH_APPVIEW_HOSTNAME: HOSTS.appview,
      HEARTH_SINGLE_PORT: 'true',
      HEARTH_PORT: String(port),
      HEARTH_DATA_DIR: dataDir,
      HEARTH_PLC_URL: `https://${HOSTS.plc}`,
      HEARTH_CA_CERTS: ca,
      HEARTH_INTERNAL_HOSTS: DOMAIN,
      HEARTH_FIREHOSES: firehoses.join(','),
      HEARTH_TRUST_PROXY: 'true',
      HEARTH_ADMIN_PASSWORD: 'admin-pass',
      HEARTH_RATE_LIMITS: 'false',
      // Info: the suite reads which firehoses the AppView subscribed to. tower_http logs every
      // expected 4xx as an error.
      RUST_LOG: 'info,tower_http=off',
    },
    logFile,
  )
  return { ...proc, dataDir }
}

/** Resolves once https://host`path` answers 200 through Caddy (trusting `ca`). */
export async function waitHealthyTls(host, ca, exited, path = '/xrpc/_health') {
  const pem = readFileSync(ca)
  await Promise.race([
    until(`https://${host}${path}`, async () => (await httpsStatus(host, path, pem)) === 200),
    exited.then((e) => {
      throw new Error(`exited early: ${JSON.stringify(e)}`)
    }),
  ])
}
