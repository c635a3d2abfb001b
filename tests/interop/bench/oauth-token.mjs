// Token endpoint latency: `hearth pds` (dev), one account authorized through PAR and the pages
// (raw HTTP), then N refresh_token grants in a row, each with a fresh DPoP proof (signed before
// the clock starts). Prints p50/p90/p99 of the POST /oauth/token round trip.
//
//   PATH=$(scripts/setup-node):$PATH node tests/interop/bench/oauth-token.mjs [N]
import { createHash, randomUUID } from 'node:crypto'
import { startPlc } from '../lib/plc-server.mjs'
import { startPds } from '../lib/hearth.mjs'

const N = Number(process.argv[2] ?? 500)
const plc = await startPlc()
const pds = await startPds({ plcUrl: plc.url })
const { subtle } = globalThis.crypto
const key = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
const jwk = await subtle.exportKey('jwk', key.publicKey)
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
let nonce
async function proof(path) {
  const head = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } })
  const body = b64({ jti: randomUUID(), htm: 'POST', htu: `${pds.url}${path}`, iat: Math.floor(Date.now() / 1000), nonce })
  const sig = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, Buffer.from(`${head}.${body}`))
  return `${head}.${body}.${Buffer.from(sig).toString('base64url')}`
}
async function post(path, form) {
  for (;;) {
    const p = await proof(path)
    const started = process.hrtime.bigint()
    const res = await fetch(`${pds.url}${path}`, { method: 'POST', headers: { DPoP: p }, body: new URLSearchParams(form) })
    const body = await res.json()
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    nonce = res.headers.get('dpop-nonce') ?? nonce
    if (body.error === 'use_dpop_nonce') continue
    return { body, ms }
  }
}

await fetch(`${pds.url}/xrpc/com.atproto.server.createAccount`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ handle: 'bench.test', email: 'bench@example.com', password: 'bench-pass-1' }),
})
const clientId = `http://localhost?redirect_uri=${encodeURIComponent('http://127.0.0.1/cb')}&scope=atproto`
const verifier = 'v'.repeat(64)
const challenge = createHash('sha256').update(verifier).digest('base64url')
const par = await post('/oauth/par', {
  client_id: clientId, response_type: 'code', redirect_uri: 'http://127.0.0.1/cb', scope: 'atproto',
  code_challenge: challenge, code_challenge_method: 'S256',
})
const requestUri = par.body.request_uri
const form = (extra) => new URLSearchParams({ csrf: 't', client_id: clientId, request_uri: requestUri, ...extra })
const headers = { cookie: 'hearth-oauth-csrf=t', origin: pds.url }
const signIn = await fetch(`${pds.url}/oauth/authorize/sign-in`, { method: 'POST', headers, body: form({ identifier: 'bench.test', password: 'bench-pass-1' }) })
const device = signIn.headers.get('set-cookie').split(';')[0]
const did = (await signIn.text()).split('name="account" value="')[1].split('"')[0]
const consent = await fetch(`${pds.url}/oauth/authorize/consent`, {
  method: 'POST', redirect: 'manual', headers: { ...headers, cookie: `${headers.cookie}; ${device}` },
  body: form({ account: did, decision: 'accept' }),
})
const code = new URL(consent.headers.get('location')).searchParams.get('code')
let t = await post('/oauth/token', { grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: 'http://127.0.0.1/cb', code_verifier: verifier })
let refresh = t.body.refresh_token
const times = []
for (let i = 0; i < N; i++) {
  t = await post('/oauth/token', { grant_type: 'refresh_token', client_id: clientId, refresh_token: refresh })
  if (!t.body.refresh_token) throw new Error(JSON.stringify(t.body))
  refresh = t.body.refresh_token
  times.push(t.ms)
}
times.sort((a, b) => a - b)
const pct = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))].toFixed(2)
console.log(`oauth token endpoint (refresh_token grant), ${N} requests: p50 ${pct(50)} ms, p90 ${pct(90)} ms, p99 ${pct(99)} ms`)
await pds.stop()
plc.close()
process.exit(0)
