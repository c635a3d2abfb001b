// Token endpoint latency, Hearth's PDS (`hearth pds`, dev) and the reference PDS (@atproto/pds,
// dev) side by side with the same client: one account on each, authorized as a loopback client
// through PAR and the server's own pages (driven in Chromium), then N refresh_token grants in a
// row, each with a fresh DPoP proof signed before the clock starts. Prints p50/p90/p99 of the
// POST /oauth/token round trip for each, and Hearth's p50 as a fraction of the reference's.
//
//   PATH=$(scripts/setup-node):$PATH node tests/interop/bench/oauth-token.mjs [N]
//   (HEARTH_BIN=target/release/hearth for a release build)
import { createHash, randomUUID } from 'node:crypto'
import http from 'node:http'
import { launchBrowser } from '../lib/browser.mjs'
import { freePort, startPds } from '../lib/hearth.mjs'
import { signInAndConsent } from '../lib/oauth-pages.mjs'
import { startPlc } from '../lib/plc-server.mjs'
import { startReferencePds } from '../lib/spaces-harness.mjs'

const N = Number(process.argv[2] ?? 500)
// The loopback client's redirect target: answers anything; the code is read from the URL.
const cbPort = await freePort()
const cbServer = http.createServer((_, res) => res.end('done'))
await new Promise((r) => cbServer.listen(cbPort, '127.0.0.1', r))
const REDIRECT = `http://127.0.0.1:${cbPort}/cb`
const { subtle } = globalThis.crypto
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')

/** A DPoP client for one server: its own key and the server's latest nonce. */
async function dpopClient(base) {
  const key = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
  const jwk = await subtle.exportKey('jwk', key.publicKey)
  let nonce
  async function proof(path) {
    const head = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } })
    const body = b64({ jti: randomUUID(), htm: 'POST', htu: `${base}${path}`, iat: Math.floor(Date.now() / 1000), nonce })
    const sig = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, Buffer.from(`${head}.${body}`))
    return `${head}.${body}.${Buffer.from(sig).toString('base64url')}`
  }
  /** POSTs a form with a fresh proof (retrying once the server names its nonce); the time of the answered try. */
  return async function post(path, form) {
    for (;;) {
      const p = await proof(path)
      const started = process.hrtime.bigint()
      const res = await fetch(`${base}${path}`, { method: 'POST', headers: { DPoP: p }, body: new URLSearchParams(form) })
      const body = await res.json()
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      nonce = res.headers.get('dpop-nonce') ?? nonce
      if (body.error === 'use_dpop_nonce') continue
      return { body, ms }
    }
  }
}

/** Authorizes a new account on `base` and times N refreshes; the sorted times. */
async function measure(base, browser, name) {
  const handle = `bench-${name}.test`
  const password = 'bench-pass-1'
  const made = await fetch(`${base}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, email: `bench-${name}@example.com`, password }),
  }).then((r) => r.json())
  if (!made.did) throw new Error(`${name}: no account: ${JSON.stringify(made)}`)
  const post = await dpopClient(base)
  const clientId = `http://localhost?redirect_uri=${encodeURIComponent(REDIRECT)}&scope=atproto`
  const verifier = 'v'.repeat(64)
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  const par = await post('/oauth/par', {
    client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'atproto',
    code_challenge: challenge, code_challenge_method: 'S256', login_hint: handle,
  })
  if (!par.body.request_uri) throw new Error(`${name}: PAR: ${JSON.stringify(par.body)}`)
  const page = await browser.newPage()
  let code
  try {
    await page.goto(`${base}/oauth/authorize?${new URLSearchParams({ client_id: clientId, request_uri: par.body.request_uri })}`)
    await signInAndConsent(page, { handle, password, back: (u) => u.href.startsWith(REDIRECT) })
    code = new URL(page.url()).searchParams.get('code')
  } finally {
    await page.close()
  }
  let t = await post('/oauth/token', { grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: REDIRECT, code_verifier: verifier })
  let refresh = t.body.refresh_token
  if (!refresh) throw new Error(`${name}: token: ${JSON.stringify(t.body)}`)
  const times = []
  for (let i = 0; i < N; i++) {
    t = await post('/oauth/token', { grant_type: 'refresh_token', client_id: clientId, refresh_token: refresh })
    if (!t.body.refresh_token) throw new Error(`${name}: refresh: ${JSON.stringify(t.body)}`)
    refresh = t.body.refresh_token
    times.push(t.ms)
  }
  return times.sort((a, b) => a - b)
}

const pct = (times, p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]
const plc = await startPlc()
const hearth = await startPds({ plcUrl: plc.url })
const ref = await startReferencePds({ plcUrl: plc.url })
const browser = await launchBrowser()
try {
  const results = {}
  for (const [name, base] of [['hearth', hearth.url], ['reference', ref.url]]) {
    const times = await measure(base, browser, name)
    results[name] = times
    console.log(
      `oauth token endpoint (refresh_token grant), ${name}, ${N} requests: p50 ${pct(times, 50).toFixed(2)} ms, p90 ${pct(times, 90).toFixed(2)} ms, p99 ${pct(times, 99).toFixed(2)} ms`,
    )
  }
  const ratio = pct(results.hearth, 50) / pct(results.reference, 50)
  console.log(`hearth / reference p50: ${ratio.toFixed(2)}`)
} finally {
  await browser.close().catch(() => {})
  await hearth.stop()
  await ref.stop()
  plc.close()
  cbServer.close()
}
process.exit(0)
