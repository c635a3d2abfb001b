// Servers for the spaces interop suite: `hearth up` with its log (stderr, RUST_LOG=info)
// captured so the suite can search it, and the reference PDS (@atproto/pds 0.5.35, via
// bench/reference-pds.mjs) on the same PLC directory.
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hearthBin, freePort, waitHealthy } from './hearth.mjs'

const here = dirname(fileURLToPath(import.meta.url))

/**
 * `hearth up` at log level info; `log()` returns everything it wrote to stderr so far. A
 * `dataDir` given starts it again on that directory (a restart); otherwise a fresh one.
 */
export async function startUpLogged({ plcUrl, dataDir, env = {} }) {
  const port = env.HEARTH_PORT ? Number(env.HEARTH_PORT) : await freePort()
  const appviewPort = env.HEARTH_APPVIEW_PORT ? Number(env.HEARTH_APPVIEW_PORT) : await freePort()
  dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'hearth-spaces-'))
  const childEnv = {
    ...process.env,
    HEARTH_PORT: String(port),
    HEARTH_APPVIEW_PORT: String(appviewPort),
    HEARTH_DATA_DIR: dataDir,
    HEARTH_PLC_URL: plcUrl,
    HEARTH_HANDLE_DOMAINS: '.test',
    HEARTH_ADMIN_PASSWORD: 'admin-pass',
    HEARTH_RATE_LIMITS: 'false',
    RUST_LOG: 'info',
    ...env,
  }
  for (const k of ['HEARTH_APPVIEW_URL', 'HEARTH_APPVIEW_DID', 'HEARTH_FIREHOSES', 'HEARTH_SMTP_URL']) {
    if (!(k in env)) delete childEnv[k]
  }
  const child = spawn(hearthBin, ['up'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  const chunks = []
  child.stdout.on('data', (c) => chunks.push(c))
  child.stderr.on('data', (c) => chunks.push(c))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const url = `http://localhost:${port}`
  const appviewUrl = `http://localhost:${appviewPort}`
  try {
    await Promise.race([
      Promise.all([waitHealthy(url), waitHealthy(appviewUrl)]),
      exited.then((e) => {
        throw new Error(`hearth up exited early: ${JSON.stringify(e)}\n${Buffer.concat(chunks)}`)
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
    wsUrl: `ws://localhost:${port}`,
    log: () => Buffer.concat(chunks).toString('utf8'),
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/**
 * The reference PDS on `plcUrl` (and `port`, else a free one); resolves once it is listening.
 * `env` adds PDS_* settings (a PDS_HOSTNAME other than localhost makes its public URL
 * https://<hostname>, behind a proxy).
 */
export async function startReferencePds({ plcUrl, port, env = {} }) {
  port = port ?? (await freePort())
  const dataDir = mkdtempSync(join(tmpdir(), 'reference-pds-'))
  const child = spawn(process.execPath, [join(here, '..', 'bench', 'reference-pds.mjs')], {
    env: { ...process.env, ...env, REF_DATA: dataDir, PLC_URL: plcUrl, PDS_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out = []
  child.stderr.on('data', (c) => out.push(c))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  // Cleared once started: a pending timer would keep the suite's process alive for a minute.
  let timer
  await Promise.race([
    new Promise((resolve) => {
      child.stdout.on('data', (c) => {
        out.push(c)
        if (String(c).includes('reference ready')) resolve()
      })
    }),
    exited.then((e) => {
      throw new Error(`reference PDS exited: ${JSON.stringify(e)}\n${Buffer.concat(out)}`)
    }),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reference PDS did not start\n${Buffer.concat(out)}`)), 60000)
    }),
  ]).finally(() => clearTimeout(timer))
  const host = env.PDS_HOSTNAME
  return {
    url: host && host !== 'localhost' ? `https://${host}` : `http://localhost:${port}`,
    port,
    async stop() {
      child.kill('SIGTERM')
      await exited
    },
  }
}
