// Starting Hearth's binary for a test: fresh data directory, free ports, wait for health.
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const hearthBin = process.env.HEARTH_BIN ?? join(root, 'target', 'debug', 'hearth')

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

export async function waitHealthy(url, ms = 30000) {
  const start = Date.now()
  while (Date.now() - start < ms) {
    try {
      const r = await fetch(`${url}/xrpc/_health`)
      if (r.ok) return Date.now() - start
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} did not become healthy`)
}

/** Starts `hearth pds` and resolves once healthy. `env` adds to the defaults. */
export async function startPds({ plcUrl, dataDir, port, env = {}, quiet = true } = {}) {
  port = port ?? (await freePort())
  dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'hearth-pds-'))
  const child = spawn(hearthBin, ['pds'], {
    env: {
      ...process.env,
      HEARTH_PORT: String(port),
      HEARTH_DATA_DIR: dataDir,
      HEARTH_PLC_URL: plcUrl,
      HEARTH_DEV: 'true',
      HEARTH_HANDLE_DOMAINS: '.test',
      HEARTH_ADMIN_PASSWORD: 'admin-pass',
      HEARTH_RATE_LIMITS: 'false',
      HEARTH_APPVIEW_URL: 'http://127.0.0.1:9',
      HEARTH_APPVIEW_DID: 'did:web:appview.invalid',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...env,
    },
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
  })
  const url = `http://localhost:${port}`
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  await Promise.race([
    waitHealthy(url),
    exited.then((e) => {
      throw new Error(`hearth pds exited early: ${JSON.stringify(e)}`)
    }),
  ])
  return {
    url,
    port,
    dataDir,
    child,
    exited,
    wsUrl: `ws://localhost:${port}`,
    async stop(signal = 'SIGTERM') {
      child.kill(signal)
      await exited
    },
  }
}

/**
 * Starts `hearth up` (PDS and AppView in one process; the AppView follows the PDS firehose and
 * the PDS proxies app.bsky.* to it) against an external PLC, and resolves once both are
 * healthy. `env` adds to the defaults.
 */
export async function startUp({ plcUrl, dataDir, port, appviewPort, env = {}, quiet = true } = {}) {
  port = port ?? (await freePort())
  appviewPort = appviewPort ?? (await freePort())
  dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'hearth-up-'))
  const childEnv = {
    ...process.env,
    HEARTH_PORT: String(port),
    HEARTH_APPVIEW_PORT: String(appviewPort),
    HEARTH_DATA_DIR: dataDir,
    HEARTH_PLC_URL: plcUrl,
    HEARTH_HANDLE_DOMAINS: '.test',
    HEARTH_ADMIN_PASSWORD: 'admin-pass',
    HEARTH_RATE_LIMITS: 'false',
    // tower_http logs every 4xx/5xx answer (expected ones included) as an error.
    RUST_LOG: process.env.RUST_LOG ?? 'warn,tower_http=off',
    ...env,
  }
  // `up` points the PDS at its own AppView unless these say otherwise.
  for (const k of ['HEARTH_APPVIEW_URL', 'HEARTH_APPVIEW_DID', 'HEARTH_FIREHOSES']) {
    if (!(k in env)) delete childEnv[k]
  }
  const child = spawn(hearthBin, ['up'], {
    env: childEnv,
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
  })
  const url = `http://localhost:${port}`
  const appviewUrl = `http://localhost:${appviewPort}`
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  try {
    await Promise.race([
      Promise.all([waitHealthy(url), waitHealthy(appviewUrl)]),
      exited.then((e) => {
        throw new Error(`hearth up exited early: ${JSON.stringify(e)}`)
      }),
    ])
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  return {
    url,
    port,
    appviewUrl,
    appviewPort,
    appviewDid: `did:web:localhost%3A${appviewPort}`,
    dataDir,
    child,
    exited,
    wsUrl: `ws://localhost:${port}`,
    async stop(signal = 'SIGTERM') {
      child.kill(signal)
      await exited
    },
  }
}
