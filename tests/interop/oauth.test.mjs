// The official OAuth client (@atproto/oauth-client-node) against Hearth's PDS (`hearth up`) and,
// as a control, the reference PDS, in the same run: the loopback client in development, the
// authorization pages filled in by headless Chromium (lib/oauth-pages.mjs: "Sign in", then
// "Accept" or "Authorize"), then DPoP-bound createRecord and uploadBlob, refresh, revoke; on
// Hearth the post reaches the firehose (read with @atproto/sync) and the AppView. Then hostile
// requests against Hearth, each refused with the spec's error and leaving nothing behind (no request_uri issued
// or stored, no connection made): DPoP proofs without the nonce, for another URL or with a stale
// nonce, a token without its proof, a redirect URI the client does not list, a client metadata
// document over 64 KB, and, in a production-mode PDS, client metadata on a private address and
// the loopback client form. Reused codes, wrong verifiers, replayed proofs and refresh-token
// reuse are refused in pds/tests/oauth.rs.
import http from 'node:http'
import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent } from '@atproto/api'
import { IdResolver } from '@atproto/identity'
import { Firehose } from '@atproto/sync'
import { NodeOAuthClient, buildAtprotoLoopbackClientMetadata } from '@atproto/oauth-client-node'
import { startPlc } from './lib/plc-server.mjs'
import { startPds, freePort } from './lib/hearth.mjs'
import { startUpLogged, startReferencePds } from './lib/spaces-harness.mjs'
import { launchBrowser } from './lib/browser.mjs'
import { signInAndConsent } from './lib/oauth-pages.mjs'
import { Checks } from './lib/check.mjs'

const Database = createRequire(import.meta.url)('better-sqlite3')
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

  if (name === 'hearth') {
    // What a Bluesky client does next with the same session: its own session and preferences
    // at the PDS, and app.bsky views proxied to the AppView (transition:generic allows both).
    const me = await step('getSession', () => agent.com.atproto.server.getSession())
    t.eq(me?.data.did, did, `${name}: getSession over OAuth names the account`)
    const prefs = [{ $type: 'app.bsky.actor.defs#adultContentPref', enabled: false }]
    await step('putPreferences', () => agent.app.bsky.actor.putPreferences({ preferences: prefs }))
    const got = await step('getPreferences', () => agent.app.bsky.actor.getPreferences())
    t.eq(got?.data.preferences?.length, 1, `${name}: preferences written and read over OAuth`)
    let profile = null
    for (let i = 0; i < 50 && !profile; i++) {
      profile = await agent.app.bsky.actor.getProfile({ actor: did }).catch(() => null)
      if (!profile) await new Promise((r) => setTimeout(r, 100))
    }
    t.eq(profile?.data.did, did, `${name}: app.bsky.actor.getProfile proxied to the AppView over OAuth`)
  }

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

// And in the firehose, as the official consumer reads it.
{
  const events = []
  const errors = []
  const firehose = new Firehose({
    idResolver: new IdResolver({ plcUrl: plc.url }),
    service: hearth.url.replace(/^http/, 'ws'),
    // @atproto/sync 0.1.x sends this value as the cursor (a function would not encode).
    getCursor: 0,
    handleEvent: async (evt) => events.push(evt),
    onError: (err) => errors.push(err),
  })
  firehose.start()
  const hasPost = () => events.some((e) => e.event === 'create' && `at://${e.did}/${e.collection}/${e.rkey}` === onHearth.post)
  for (let i = 0; i < 200 && !hasPost(); i++) await new Promise((r) => setTimeout(r, 50))
  await Promise.race([firehose.destroy(), new Promise((r) => setTimeout(r, 5000))])
  t.ok(hasPost(), "hearth: @atproto/sync reads the OAuth post from Hearth's firehose")
  t.eq(errors.map((e) => `${e.name}: ${e.message}`), [], 'hearth: the firehose has no validation errors')
}

// ---- Hostile requests, against Hearth, with the raw protocol.
async function dpopPost(path, form, { key, nonce, htu, base = hearth.url } = {}) {
  const { subtle } = globalThis.crypto
  const k = key ?? (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']))
  const jwk = await subtle.exportKey('jwk', k.publicKey)
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const head = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } })
  const body = b64({ jti: crypto.randomUUID(), htm: 'POST', htu: htu ?? `${base}${path}`, iat: Math.floor(Date.now() / 1000), nonce })
  const sig = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, k.privateKey, Buffer.from(`${head}.${body}`))
  const proof = `${head}.${body}.${Buffer.from(sig).toString('base64url')}`
  const send = (p) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { DPoP: p, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) })
  const res = await send(proof)
  return { status: res.status, body: await res.json().catch(() => ({})), nonce: res.headers.get('dpop-nonce'), key: k, proof, replay: () => send(proof) }
}

/**
 * A pushed authorization request as a well-behaved client sends it (S256 challenge, its DPoP
 * proof carrying the server's nonce, fetched first), with `form` on top.
 */
async function par(base, form) {
  const full = {
    response_type: 'code',
    code_challenge: createHash('sha256').update('v'.repeat(50)).digest('base64url'),
    code_challenge_method: 'S256',
    scope: 'atproto',
    state: 'hostile-state',
    ...form,
  }
  const hello = await dpopPost('/oauth/par', full, { base })
  if (hello.body.error !== 'use_dpop_nonce') return hello
  return dpopPost('/oauth/par', full, { base, key: hello.key, nonce: hello.nonce })
}

/** Pushed requests a PDS holds (its data directory's pds.sqlite): a refused PAR adds none. */
function storedRequests(dataDir) {
  const db = new Database(join(dataDir, 'pds.sqlite'), { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT count(*) AS n FROM oauth_request').get().n
  } finally {
    db.close()
  }
}

/**
 * A local server that counts every TCP connection made to it (TLS or not) and answers HTTP
 * with `docs[path]` (a string body; `docs` may be added to later), 404 otherwise.
 */
async function countingServer(docs = {}) {
  docs = { ...docs }
  const port = await freePort()
  const seen = { connections: 0, requests: [] }
  const server = http.createServer((req, res) => {
    seen.requests.push(req.url)
    const doc = docs[req.url]
    res.writeHead(doc === undefined ? 404 : 200, { 'content-type': 'application/json' })
    res.end(doc ?? '{}')
  })
  server.on('connection', () => seen.connections++)
  await new Promise((r) => server.listen(port, '127.0.0.1', r))
  return { port, seen, docs, close: () => new Promise((r) => server.close(r)) }
}

/** The posts in a Hearth repository (public, read without a session). */
async function postsOf(did) {
  const q = new URLSearchParams({ repo: did, collection: 'app.bsky.feed.post' })
  const r = await fetch(`${hearth.url}/xrpc/com.atproto.repo.listRecords?${q}`).then((r) => r.json())
  return r.records?.length
}

const loopback = `http://localhost?redirect_uri=${encodeURIComponent('http://127.0.0.1/callback')}&scope=atproto`
const requestsBefore = storedRequests(hearth.dataDir)
const postsBefore = await postsOf(onHearth.did)
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
t.eq(storedRequests(hearth.dataDir), requestsBefore, 'hostile: no request is stored for the refused proofs')
const postsAfter = await postsOf(onHearth.did)
t.ok(postsBefore >= 1 && postsAfter === postsBefore, 'hostile: no post is written without a proof', { postsBefore, postsAfter })

// A redirect URI the client's metadata does not list: refused at PAR, so no authorization page
// can ever send a code there.
{
  const before = storedRequests(hearth.dataDir)
  const foreign = await par(hearth.url, { client_id: loopback, redirect_uri: 'https://evil.example/callback' })
  t.eq([foreign.status, foreign.body.error], [400, 'invalid_request'], 'hostile: PAR with a redirect URI the client does not list is refused')
  t.ok(foreign.body.request_uri === undefined && storedRequests(hearth.dataDir) === before, 'hostile: no request_uri is issued or stored for the foreign redirect', foreign.body)
  const own = await par(hearth.url, { client_id: loopback, redirect_uri: 'http://127.0.0.1:61234/callback' })
  t.ok(own.status === 201 && own.body.request_uri?.startsWith('urn:ietf:params:oauth:request_uri:'), 'control: the same request with the client\'s own redirect URI is accepted', own.body)
}

// A client metadata document over the 64 KB limit: fetched (development allows a local
// client), then refused at PAR; the same document under the limit is accepted.
{
  const meta = await countingServer()
  const doc = (path) => ({
    client_id: `http://127.0.0.1:${meta.port}${path}`,
    client_name: 'Hostile test client',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [`http://127.0.0.1:${meta.port}/callback`],
    scope: 'atproto',
    token_endpoint_auth_method: 'none',
    dpop_bound_access_tokens: true,
  })
  const bigPath = '/big/client-metadata.json'
  const smallPath = '/small/client-metadata.json'
  // Trailing whitespace is still valid JSON: only the size is wrong with it.
  meta.docs[bigPath] = JSON.stringify(doc(bigPath)) + ' '.repeat(64 * 1024)
  meta.docs[smallPath] = JSON.stringify(doc(smallPath))
  const redirect_uri = `http://127.0.0.1:${meta.port}/callback`
  const before = storedRequests(hearth.dataDir)
  const big = await par(hearth.url, { client_id: `http://127.0.0.1:${meta.port}${bigPath}`, redirect_uri })
  t.ok(
    big.status === 400 && big.body.error === 'invalid_client_metadata' && /too large/.test(big.body.error_description ?? ''),
    'hostile: a client whose metadata document is over 64 KB is refused at PAR as too large',
    big.body,
  )
  t.ok(meta.seen.requests.includes(bigPath), 'hostile: the oversized document was fetched, then refused', meta.seen.requests)
  t.ok(big.body.request_uri === undefined && storedRequests(hearth.dataDir) === before, 'hostile: no request_uri is issued or stored for the oversized client', big.body)
  const small = await par(hearth.url, { client_id: `http://127.0.0.1:${meta.port}${smallPath}`, redirect_uri })
  t.eq(small.status, 201, 'control: the same document under the limit is accepted')
  await meta.close()
}

// Client metadata on a private address, in production mode (no HEARTH_DEV): the guarded client
// refuses the address before connecting, so nothing reaches the local server.
const prod = await startPds({ plcUrl: plc.url, env: { HEARTH_DEV: 'false', HEARTH_HOSTNAME: 'localhost' } }).catch(() => null)
if (t.ok(prod, 'a production-mode PDS starts')) {
  const target = await countingServer({ '/client-metadata.json': '{}' })
  for (const host of ['localhost', '127.0.0.1']) {
    const client_id = `https://${host}:${target.port}/client-metadata.json`
    const priv = await par(prod.url, { client_id, redirect_uri: `https://${host}:${target.port}/callback` })
    t.ok(
      priv.status === 400 && priv.body.error === 'invalid_client_metadata' && /not allowed/.test(priv.body.error_description ?? ''),
      `production: a client whose metadata is at ${host} (a private address) is refused as a destination not allowed`,
      priv.body,
    )
  }
  t.eq(target.seen.connections, 0, 'production: no connection reached the local server')
  const loop = await par(prod.url, { client_id: loopback })
  t.eq([loop.status, loop.body.error], [401, 'invalid_client'], 'production: the loopback client form is refused')
  t.eq(storedRequests(prod.dataDir), 0, 'production: no request is stored for any of them')
  // The same client id on the development server does connect: the count above would see it.
  await par(hearth.url, { client_id: `https://localhost:${target.port}/client-metadata.json` })
  t.ok(target.seen.connections > 0, 'control: in development the same client id reaches the local server')
  await target.close()
  await prod.stop()
}

await browser.close()
await hearth.stop()
await ref.stop()
plc.close()
t.finish()
process.exit(process.exitCode ?? 0)
