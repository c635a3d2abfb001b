// Hearth in production mode, run for real: development mode nowhere. Caddy (`tls internal`) on
// port 443 terminates TLS for pds/appview/plc/ref.hearth.test (mapped to loopback by
// scripts/setup-caddy) in front of `hearth serve`, `hearth plc` and the reference PDS
// (@atproto/pds, not in dev mode either). Hearth trusts Caddy's CA through HEARTH_CA_CERTS and
// reaches the test domain through HEARTH_INTERNAL_HOSTS; its AppView follows both PDSes over
// wss://.
//
// Node reads NODE_EXTRA_CA_CERTS only at start-up and the CA exists only once Caddy runs, so
// this process starts the servers and the client scenario (lib/production-scenario.mjs, which
// prints the checks) runs in a child process that trusts the CA from its first line.
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './lib/hearth.mjs'
import { startReferencePds } from './lib/spaces-harness.mjs'
import { HOSTS, setupCaddy, startCaddy, startPlcDirectory, startServe, waitHealthyTls } from './lib/production.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const stops = []
const logDir = mkdtempSync(join(tmpdir(), 'hearth-production-logs-'))
const hearthLog = join(logDir, 'hearth.log')

try {
  const caddyBin = setupCaddy()
  const port = { hearth: await freePort(), plc: await freePort(), ref: await freePort() }
  const caddy = await startCaddy({
    caddy: caddyBin,
    routes: [
      // One upstream for the PDS, its handle hosts (alice.pds.hearth.test, for
      // /.well-known/atproto-did) and the AppView: `hearth serve` tells them apart by Host.
      { hosts: [HOSTS.pds, `*.${HOSTS.pds}`, HOSTS.appview], port: port.hearth },
      { hosts: [HOSTS.plc], port: port.plc },
      { hosts: [HOSTS.ref, `*.${HOSTS.ref}`], port: port.ref },
    ],
  })
  stops.push(caddy.stop)
  console.log(`production: Caddy on :443 with ${caddy.caddyfile}`)

  const plc = startPlcDirectory({ port: port.plc, logFile: hearthLog })
  stops.push(plc.stop)
  await waitHealthyTls(HOSTS.plc, caddy.ca, plc.exited, '/_health')

  const ref = await startReferencePds({
    plcUrl: `https://${HOSTS.plc}`,
    port: port.ref,
    env: {
      NODE_EXTRA_CA_CERTS: caddy.ca,
      PDS_HOSTNAME: HOSTS.ref,
      PDS_DEV_MODE: 'false',
      PDS_SERVICE_HANDLE_DOMAINS: `.${HOSTS.ref}`,
      // Its proxy to Hearth's AppView (social.hearth.*) resolves did:web:appview.hearth.test,
      // which is on loopback here; the reference has no per-host allowance like
      // HEARTH_INTERNAL_HOSTS, only this switch.
      PDS_DISABLE_SSRF_PROTECTION: 'true',
    },
  })
  stops.push(ref.stop)

  const serve = startServe({
    port: port.hearth,
    ca: caddy.ca,
    logFile: hearthLog,
    firehoses: [`wss://${HOSTS.pds}`, `wss://${HOSTS.ref}`],
  })
  stops.push(serve.stop)
  await waitHealthyTls(HOSTS.pds, caddy.ca, serve.exited)
  await waitHealthyTls(HOSTS.appview, caddy.ca, serve.exited)
  console.log(`production: hearth serve healthy behind TLS (log: ${hearthLog})`)

  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, 'lib', 'production-scenario.mjs')], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caddy.ca, PRODUCTION_HEARTH_LOG: hearthLog },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)))
  })
  process.exitCode = code
} catch (e) {
  console.error(`production: setup failed: ${e?.stack ?? e}`)
  console.error(`production: logs in ${logDir}`)
  process.exitCode = 1
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {})
}
