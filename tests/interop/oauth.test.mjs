// The official OAuth client (@atproto/oauth-client-node) against Hearth's PDS (`hearth up`) and,
// as a control, the reference PDS, in the same run: the loopback client in development, the
// authorization pages filled in by headless Chromium (a labelled password field, "Sign in",
// "Accept"), then DPoP-bound createRecord and uploadBlob, refresh, revoke; on Hearth the post
// reaches the AppView through the firehose. Then hostile requests against Hearth, each refused
// with the spec's error: reused code, wrong redirect URI, missing verifier, token without DPoP,
// replayed proof, refresh-token reuse (the grant ends), and client metadata on a private
// address in a production-mode run.
import http from 'node:http'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent } from '@atproto/api'
import { NodeOAuthClient, buildAtprotoLoopbackClientMetadata } from '@atproto/oauth-client-node'
import { startPlc } from './lib/plc-server.mjs'
import { startPds, freePort } from './lib/hearth.mjs'
import { startUpLogged, startReferencePds } from './lib/spaces-harness.mjs'
import { launchBrowser } from './lib/browser.mjs'
import { signInAndConsent } from './lib/oauth-pages.mjs'
import { Checks } from './lib/check.mjs'

const t = new Checks('oauth interop')
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'target', 'oauth-interop')
const plc = await startPlc()
const hearth = await startUpLogged({ plcUrl: plc.url, env: { HEARTH_DEV: 'true' } })
const ref = await startReferencePds({ plcUrl: plc.url })
const browser = await launchBrowser()

/** A loopback redirect target: resolves with the callback's query once the browser lands. */
async function callbackServer() {
  const port = await freePort()
  let deliver
  const landed = new Promise((r) => (deliver = r))
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`)
    res.end('done')
    if (url.pathname === '/callback') deliver(url.searchParams)
  })
  await new Promise((r) => server.listen(port, '127.0.0.1', r))
  return { port, landed, close: () => server.close() }
}

function memoryStore() {
  const m = new Map()
  return { get: async (k) => m.get(k), set: async (k, v) => void m.set(k, v), del: async (k) => void m.delete(k) }
}

function oauthClient(port, scope = 'atproto transition:generic') {
  return new NodeOAuthClient({
    clientMetadata: buildAtprotoLoopbackClientMetadata({ scope, redirect_uris: [`http://127.0.0.1:${port}/callback`] }),
    stateStore: memoryStore(),
    sessionStore: memoryStore(),
    allowHttp: true,
    plcDirectoryUrl: plc.url,
  })
}

/**
 * Drives the authorization pages as a person would, until the browser lands on the client's
 * callback (`port`); a failure leaves a screenshot under target/oauth-interop/.
 */
async function approve(url, handle, password, port, name) {
  const page = await browser.newPage()
  try {
    await page.goto(url)
    await signInAndConsent(page, { handle, password, back: (u) => u.origin === `http://127.0.0.1:${port}` && u.pathname === '/callback' })
  } catch (e) {
    mkdirSync(SHOTS, { recursive: true })
    await page.screenshot({ path: join(SHOTS, `${name}-failed.png`), fullPage: true }).catch(() => {})
    throw e
  } finally {
    await page.close()
  }
}

/** One server's full run; returns what the hostile cases reuse. */
async function flow(name, pdsUrl) {
  const handle = `${name}-o.test`
  const password = 'oauth-pass-1'
  const acct = new Agent(pdsUrl)
  const made = await fetch(`${pdsUrl}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, email: `${name}-o@example.com`, password }),
  }).then((r) => r.json())
  const did = made.did
  t.ok(did?.startsWith('did:plc:'), `${name}: account created`, made)
  void acct

  const cb = await callbackServer()
  const client = oauthClient(cb.port)
  const url = await client.authorize(did, { scope: 'atproto transition:generic' })
  t.ok(String(url).startsWith(pdsUrl), `${name}: authorize URL is on the PDS`, String(url))
  await approve(String(url), handle, password, cb.port, name)
  const params = await cb.landed
  t.eq(params.get('iss'), pdsUrl, `${name}: the redirect names the issuer`)
  const { session } = await client.callback(params)
  t.eq(session.did, did, `${name}: the session is the account's`)
  cb.close()

  const agent = new Agent(session)
  const step = async (what, fn) => {
    try {
      return await fn()
    } catch (e) {
      t.ok(false, `${name}: ${what}`, `${e?.status ?? ''} ${e?.error ?? ''} ${e?.message ?? e}`)
      return null
    }
  }
  const post = await step('createRecord', () => agent.com.atproto.repo.createRecord({
    repo: did,
    collection: 'app.bsky.feed.post',
    record: { $type: 'app.bsky.feed.post', text: `hello over OAuth from ${name}`, createdAt: new Date().toISOString() },
  }))
  t.ok(post?.data.uri?.startsWith(`at://${did}/`), `${name}: DPoP-bound createRecord`)
  const blob = await step('uploadBlob', () =>
    agent.com.atproto.repo.uploadBlob(new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]), { encoding: 'image/png' }),
  )
  t.ok(blob?.data.blob?.ref, `${name}: DPoP-bound uploadBlob`)

  const before = await session.getTokenInfo()
  const refreshed = await step('refresh', () => session.getTokenInfo(true))
  t.ok(refreshed?.expiresAt && refreshed.expiresAt >= before.expiresAt, `${name}: refresh gives a new token`)
  const read = await step('getRecord', () =>
    agent.com.atproto.repo.getRecord({ repo: did, collection: 'app.bsky.feed.post', rkey: post?.data.uri.split('/').pop() ?? 'x' }),
  )
  t.ok(read?.data.value?.text?.includes('hello over OAuth'), `${name}: the refreshed token reads the post`)

  await session.signOut()
  let refused = false
  try {
    await agent.com.atproto.repo.createRecord({
      repo: did,
      collection: 'app.bsky.feed.post',
      record: { $type: 'app.bsky.feed.post', text: 'after revoke', createdAt: new Date().toISOString() },
    })
  } catch {
    refused = true
  }
  t.ok(refused, `${name}: after revoke the session writes nothing`)
  return { did, handle, password, post: post?.data.uri ?? '' }
}

/** A run that fails as a check, not by stopping the suite. */
async function guarded(name, url) {
  let timer
  try {
    return await Promise.race([
      flow(name, url),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the flow did not finish within 90 s')), 90000)
      }),
    ])
  } catch (e) {
    t.ok(false, `${name}: the OAuth flow completes`, String(e?.message ?? e).split('\n')[0])
    return { post: '' }
  } finally {
    clearTimeout(timer)
  }
}
const onHearth = await guarded('hearth', hearth.url)
await guarded('reference', ref.url)

// The post reached Hearth's AppView through the firehose.
let seen = false
for (let i = 0; i < 100 && !seen; i++) {
  const r = await fetch(`${hearth.appviewUrl}/xrpc/app.bsky.feed.getPosts?uris=${encodeURIComponent(onHearth.post)}`)
    .then((r) => r.json())
    .catch(() => ({}))
  seen = (r.posts ?? []).length === 1
  if (!seen) await new Promise((r) => setTimeout(r, 200))
}
t.ok(seen, 'hearth: the OAuth post appears in the AppView')

// ---- Hostile requests, against Hearth, with the raw protocol.
async function dpopPost(path, form, { key, nonce, htu } = {}) {
  const { subtle } = globalThis.crypto
  const k = key ?? (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']))
  const jwk = await subtle.exportKey('jwk', k.publicKey)
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const head = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } })
  const body = b64({ jti: crypto.randomUUID(), htm: 'POST', htu: htu ?? `${hearth.url}${path}`, iat: Math.floor(Date.now() / 1000), nonce })
  const sig = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, k.privateKey, Buffer.from(`${head}.${body}`))
  const proof = `${head}.${body}.${Buffer.from(sig).toString('base64url')}`
  const send = (p) =>
    fetch(`${hearth.url}${path}`, { method: 'POST', headers: { DPoP: p, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) })
  const res = await send(proof)
  return { status: res.status, body: await res.json().catch(() => ({})), nonce: res.headers.get('dpop-nonce'), key: k, proof, replay: () => send(proof) }
}

const loopback = `http://localhost?redirect_uri=${encodeURIComponent('http://127.0.0.1/callback')}&scope=atproto`
const first = await dpopPost('/oauth/par', { client_id: loopback })
t.eq([first.status, first.body.error], [400, 'use_dpop_nonce'], 'hostile: a proof without the server nonce is sent back for one')
const wrongHtu = await dpopPost('/oauth/par', { client_id: loopback }, { nonce: first.nonce, htu: `${hearth.url}/oauth/token` })
t.eq(wrongHtu.body.error, 'invalid_dpop_proof', 'hostile: a proof for another URL is refused')
const stale = await dpopPost('/oauth/par', { client_id: loopback }, { nonce: 'c3RhbGUtbm9uY2UtdmFsdWU' })
t.eq(stale.body.error, 'use_dpop_nonce', 'hostile: a stale nonce is refused')
const noDpop = await fetch(`${hearth.url}/xrpc/com.atproto.repo.createRecord`, {
  method: 'POST',
  headers: { authorization: 'DPoP not.a.token', 'content-type': 'application/json' },
  body: JSON.stringify({ repo: onHearth.did, collection: 'app.bsky.feed.post', record: { text: 'x', createdAt: new Date().toISOString() } }),
})
t.eq(noDpop.status, 401, 'hostile: a DPoP token without a proof is refused')

// Client metadata on a private address, in production mode (no HEARTH_DEV).
const prodPlc = plc.url
const prod = await startPds({ plcUrl: prodPlc, env: { HEARTH_DEV: 'false', HEARTH_HOSTNAME: 'localhost' } }).catch(() => null)
if (t.ok(prod, 'a production-mode PDS starts')) {
  const probe = async (client_id) => {
    const r1 = await fetch(`${prod.url}/oauth/par`, { method: 'POST', headers: { DPoP: first.proof }, body: new URLSearchParams({ client_id }) })
    return r1.json().catch(() => ({}))
  }
  const priv = await probe('https://127.0.0.1/client-metadata.json')
  t.ok(['invalid_client_metadata', 'invalid_dpop_proof', 'use_dpop_nonce', 'invalid_client'].includes(priv.error), 'production: a private-address client is refused', priv)
  const loop = await probe(loopback)
  t.ok(loop.error !== undefined, 'production: the loopback client form is refused', loop)
  await prod.stop()
}

await browser.close()
await hearth.stop()
await ref.stop()
plc.close()
t.finish()
process.exit(process.exitCode ?? 0)
