// The web app's OAuth client against the reference PDS's own authorization server: `hearth up`
// (its web app in development, the loopback client) and the reference PDS (@atproto/pds) on one
// PLC directory. Headless Chromium opens the web app, types a reference-PDS handle, signs in on
// the reference PDS's real pages, and lands back signed in. Signing out revokes the grant: the
// refresh token the web app held no longer works (checked with the web app's own DPoP key and a
// control sign-in whose refresh token does). Also prints the server-side times of /oauth/login
// and /oauth/callback (for docs/benchmarks.md).
import { createRequire } from 'node:module'
import { createPrivateKey, sign as signRaw, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { startPlc } from './lib/plc-server.mjs'
import { startUpLogged, startReferencePds } from './lib/spaces-harness.mjs'
import { launchBrowser } from './lib/browser.mjs'
import { signInAndConsent } from './lib/oauth-pages.mjs'
import { freePort } from './lib/hearth.mjs'
import { agentOn } from './lib/hearth-lexicons.mjs'
import { Checks } from './lib/check.mjs'

const require = createRequire(import.meta.url)
const Database = require('better-sqlite3')
const t = new Checks('web-oauth interop')
let n = 0
const step = (what) => console.log(`[web-oauth] case ${++n}: ${what}`)

const b64u = (b) => Buffer.from(b).toString('base64url')

/** A DPoP proof made with the web app's stored P-256 key (its raw 32-byte scalar). */
function dpopProof(scalar, htm, htu, nonce) {
  const ecdh = require('node:crypto').createECDH('prime256v1')
  ecdh.setPrivateKey(Buffer.from(scalar))
  const pub = ecdh.getPublicKey()
  const jwk = { kty: 'EC', crv: 'P-256', x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) }
  const key = createPrivateKey({ key: { ...jwk, d: b64u(scalar) }, format: 'jwk' })
  const header = b64u(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk }))
  const claims = { jti: b64u(randomBytes(16)), htm, htu, iat: Math.floor(Date.now() / 1000) }
  if (nonce) claims.nonce = nonce
  const input = `${header}.${b64u(JSON.stringify(claims))}`
  const sig = signRaw('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${b64u(sig)}`
}

/** A refresh-token grant at the token endpoint, as the web app (loopback client) would send it. */
async function tryRefresh(row, clientId) {
  const meta = JSON.parse(row.metadata)
  let nonce
  for (let i = 0; i < 2; i++) {
    const res = await fetch(meta.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: dpopProof(row.dpop_key, 'POST', meta.token_endpoint, nonce) },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: row.refresh_token, client_id: clientId }),
    })
    const body = await res.json().catch(() => ({}))
    if (res.status === 400 && body.error === 'use_dpop_nonce' && !nonce) {
      nonce = res.headers.get('dpop-nonce')
      continue
    }
    return { status: res.status, error: body.error }
  }
}

const plc = await startPlc()
const ref = await startReferencePds({ plcUrl: plc.url })
const appviewPort = await freePort()
const pdsPort = await freePort()
// .test handles have no DNS: each PDS answers resolveHandle for its own accounts, Hearth's first
// (as `hearth up` asks its own PDS when nothing is set).
const up = await startUpLogged({
  plcUrl: plc.url,
  env: {
    HEARTH_PORT: String(pdsPort),
    HEARTH_APPVIEW_PORT: String(appviewPort),
    HEARTH_DEV: 'true',
    HEARTH_HANDLE_RESOLVER: `http://localhost:${pdsPort},${ref.url}`,
    RUST_LOG: 'info,tower_http=off',
  },
})
const web = `http://127.0.0.1:${appviewPort}`
const clientId = `http://localhost?${new URLSearchParams({ redirect_uri: `${web}/oauth/callback`, scope: 'atproto repo:app.bsky.feed.post?action=create' })}`
const browser = await launchBrowser()

async function tokensDb() {
  return new Database(join(up.dataDir, 'appview', 'oauth.sqlite'), { readonly: true, fileMustExist: true })
}

/** Signs `handle` in through the web app and the reference PDS's pages; returns the page. */
async function signIn(handle, password) {
  const ctx = await browser.newContext()
  const page = await ctx.newPage()
  await page.goto(`${web}/signin`)
  const form = page.locator('form[action="/oauth/login"]')
  await form.getByRole('textbox').fill(handle)
  await form.getByRole('button').click()
  await page.waitForURL((u) => u.href.startsWith(ref.url), { timeout: 30000 }).catch(async (e) => {
    const alert = await page.getByRole('alert').allTextContents().catch(() => [])
    const log = up.log().split('\n').filter((l) => l.includes('oauth')).slice(-5).join('\n')
    throw new Error(`not sent to the reference PDS (at ${page.url()}: ${alert.join(' ')})\n${log}\n${e.message}`)
  })
  await signInAndConsent(page, { handle, password, timeout: 30000, back: (u) => u.href.startsWith(web) })
  await page.waitForLoadState('load')
  return { ctx, page }
}

try {
  const password = 'carol-pass-1'
  const r = await fetch(`${ref.url}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle: 'carol.test', email: 'carol@example.com', password }),
  })
  const carol = await r.json()
  t.ok(r.ok && carol.did?.startsWith('did:plc:'), 'an account on the reference PDS', carol)

  step('sign-in through the reference PDS authorization page lands back signed in')
  const first = await signIn('carol.test', password)
  const html = await first.page.content()
  t.ok(html.includes('carol.test'), 'the page shows the signed-in handle', first.page.url())
  const cookies = await first.ctx.cookies(web)
  const session = cookies.find((c) => c.name === 'hearth_session')
  t.ok(session?.httpOnly && session?.sameSite === 'Lax', 'the session cookie is HttpOnly and SameSite=Lax', session)
  t.ok(!cookies.some((c) => c.name === 'hearth_oauth_state' && c.value), 'the state cookie is cleared after the callback')

  step('the grant is kept server-side: DPoP-bound tokens with the atproto scope only, for the right account')
  let db = await tokensDb()
  const held = db.prepare('SELECT did, issuer, scope, dpop_key, refresh_token, metadata FROM grant_tokens').all()
  db.close()
  t.eq(held.length, 1, 'one token set for the one session')
  t.eq(held[0]?.did, carol.did, 'the token set is carol\'s')
  t.eq(held[0]?.scope, 'atproto', 'sign-in asked for atproto only')
  t.eq(held[0]?.issuer, ref.url, 'issued by the reference PDS')

  step('a callback replayed with the same state is refused')
  const replay = await first.ctx.request.get(`${web}/oauth/callback?state=nope&code=x&iss=${encodeURIComponent(ref.url)}`, { maxRedirects: 0 })
  t.ok(replay.status() === 400, 'unknown state refused with the error page', replay.status())

  step('sign-out revokes the grant at the reference PDS and ends the session')
  await first.page.goto(`${web}/`)
  await first.page.getByRole('button', { name: /sign out/i }).first().click()
  await first.page.waitForLoadState('load')
  const after = await first.ctx.request.get(`${web}/`, { maxRedirects: 0 })
  t.ok(!(await after.text()).includes('carol.test'), 'signed out: the home page no longer shows carol')
  db = await tokensDb()
  t.eq(db.prepare('SELECT count(*) AS n FROM grant_tokens').get().n, 0, 'the token set is forgotten')
  db.close()
  const revoked = await tryRefresh(held[0], clientId)
  t.ok(revoked.status === 400 && revoked.error === 'invalid_grant', 'the revoked refresh token no longer works', revoked)

  const second = await signIn('carol.test', password)

  step('share publicly: the first time asks for the narrow repo scope, then posts only the text')
  const agent = agentOn(ref.url)
  await agent.login({ identifier: 'carol.test', password })
  const proxy = { headers: { 'atproto-proxy': `${up.appviewDid}#hearth_appview` } }
  const created = await agent.call('social.hearth.space.create', undefined, { name: 'Tenants Union', joinPolicy: 'request' }, proxy)
  const spaceUri = created.data.space.uri
  const annCh = created.data.channels.find((c) => c.kind === 'announcements').uri
  const TEXT = 'Meeting on Thursday at 7pm, everyone welcome'
  const ann = (await agent.call('social.hearth.post.create', undefined, { channel: annCh, text: TEXT }, proxy)).data.post
  const sp = second.page
  // The announcement's thread page offers its author the share link.
  const parts = ann.uri.split('/')
  const [author, rkey] = [parts.at(-3), parts.at(-1)]
  await sp.goto(`${web}/s/${spaceUri.split('/').pop()}/p/${author}/${rkey}`)
  await sp.getByRole('link', { name: /share publicly/i }).click().catch((e) => {
    throw new Error(`no share link on ${sp.url()} (post ${ann.uri}): ${e.message}`)
  })
  await sp.waitForLoadState('load')
  t.ok(sp.url().startsWith(`${web}/share?post=`), 'the thread page links its author to the share page', sp.url())
  const shareText = await sp.locator('main, body').first().innerText()
  t.ok(shareText.includes('becomes a public post') && shareText.includes(TEXT), 'the page says plainly it becomes public and shows the text')
  await sp.getByRole('button', { name: /post publicly/i }).click()
  await sp.waitForURL((u) => u.href.startsWith(ref.url), { timeout: 30000 })
  await signInAndConsent(sp, { handle: 'carol.test', password, timeout: 30000, back: (u) => u.href.startsWith(`${web}/share`) })
  db = await tokensDb()
  const granted = db.prepare('SELECT scope, refresh_token FROM grant_tokens').get()
  t.eq(granted?.scope, 'atproto repo:app.bsky.feed.post?action=create', 'the session now holds the narrow post scope')
  db.close()
  // The access token is made to look expired: posting must refresh it first.
  const rw = new Database(join(up.dataDir, 'appview', 'oauth.sqlite'))
  rw.prepare('UPDATE grant_tokens SET access_expires_at = 0').run()
  rw.close()
  await sp.getByRole('button', { name: /post publicly/i }).click()
  await sp.waitForLoadState('load')
  t.ok((await sp.locator('body').innerText()).includes('Shared publicly'), 'the page confirms the public post')
  db = await tokensDb()
  const refreshed = db.prepare('SELECT refresh_token, access_expires_at FROM grant_tokens').get()
  db.close()
  t.ok(refreshed && refreshed.refresh_token !== granted.refresh_token && refreshed.access_expires_at > Date.now() / 1000, 'the expired access token was refreshed (rotated refresh token) before posting')
  const list = await agent.com.atproto.repo.listRecords({ repo: carol.did, collection: 'app.bsky.feed.post' })
  t.eq(list.data.records.length, 1, 'one public post in carol\'s repository')
  const rec = JSON.stringify(list.data.records[0]?.value ?? {})
  t.eq(list.data.records[0]?.value?.text, TEXT, 'the post is the announcement\'s text')
  t.ok(!rec.includes(spaceUri) && !rec.includes(up.appviewDid) && !rec.includes('social.hearth') && !rec.includes('Tenants'), 'nothing of the space in the public post', rec)

  step('control: a live grant\'s refresh token does work with the same request')
  db = await tokensDb()
  const live = db.prepare('SELECT dpop_key, refresh_token, metadata FROM grant_tokens').get()
  db.close()
  const ok = await tryRefresh(live, clientId)
  t.eq(ok.status, 200, 'a live refresh token is accepted')
  await second.ctx.close()
  await first.ctx.close()

  step('a handle that does not resolve is answered on the sign-in page, not by a redirect')
  const ctx = await browser.newContext()
  const page = await ctx.newPage()
  await page.goto(`${web}/signin`)
  const form = page.locator('form[action="/oauth/login"]')
  await form.getByRole('textbox').fill('nobody.test')
  await form.getByRole('button').click()
  await page.waitForLoadState('load')
  t.ok(page.url().startsWith(web) && (await page.getByRole('alert').count()) > 0, 'an error on the sign-in page', page.url())
  await ctx.close()

  step("a Hearth-PDS member signs in through Hearth's own authorization server (typing the server's address)")
  const dora = agentOn(up.url)
  await dora.createAccount({ handle: 'dora.test', email: 'dora@example.com', password: 'dora-pass-1' })
  const hctx = await browser.newContext()
  const hp = await hctx.newPage()
  await hp.goto(`${web}/signin`)
  const hform = hp.locator('form[action="/oauth/login"]')
  await hform.getByRole('textbox').fill(up.url)
  await hform.getByRole('button').click()
  await hp.waitForURL((u) => u.href.startsWith(up.url), { timeout: 30000 })
  await signInAndConsent(hp, { handle: 'dora.test', password: 'dora-pass-1', timeout: 30000, back: (u) => u.href.startsWith(web) })
  t.ok(!(await hp.locator('body').innerText()).includes('Something is not right'), 'back at the web app without an error', hp.url())
  db = await tokensDb()
  const hearthGrant = db.prepare('SELECT did, issuer, scope FROM grant_tokens WHERE did = ?').get(dora.session?.did ?? '')
  db.close()
  t.eq(hearthGrant?.issuer, up.url, "the grant comes from Hearth's PDS")
  t.eq(hearthGrant?.scope, 'atproto', 'identity only')
  await hctx.close()

  step("a Hearth-PDS member signs in by typing their handle, as the README tells a newcomer")
  const hctx2 = await browser.newContext()
  const hp2 = await hctx2.newPage()
  await hp2.goto(`${web}/signin`)
  const hform2 = hp2.locator('form[action="/oauth/login"]')
  await hform2.getByRole('textbox').fill('dora.test')
  await hform2.getByRole('button').click()
  await hp2.waitForURL((u) => u.href.startsWith(up.url), { timeout: 30000 })
  await signInAndConsent(hp2, { handle: 'dora.test', password: 'dora-pass-1', timeout: 30000, back: (u) => u.href.startsWith(web) })
  await hp2.waitForLoadState('load')
  t.ok((await hp2.locator('body').innerText()).includes('@dora.test'), 'signed in to the web app as @dora.test', hp2.url())
  await hctx2.close()

  // Server-side times, from the web app's log lines.
  const times = [...up.log().matchAll(/web oauth: (login|callback) took ([\d.]+) ms/g)].map((m) => `${m[1]} ${m[2]} ms`)
  console.log(`[web-oauth] server times: ${times.join(', ')}`)
} catch (e) {
  t.ok(false, 'suite ran to the end', e?.stack ?? String(e))
} finally {
  await browser.close().catch(() => {})
  await up.stop().catch(() => {})
  await ref.stop().catch(() => {})
  await plc.close().catch(() => {})
  t.finish()
}
