// The client side of the production suite (started by production.test.mjs once Caddy, `hearth
// serve`, `hearth plc` and the reference PDS run, with NODE_EXTRA_CA_CERTS naming Caddy's CA):
// the official client (@atproto/api) signs up at https://pds.hearth.test, posts with an image,
// follows, reads its timeline through the AppView, and joins a space; an account on the
// reference PDS (https://ref.hearth.test) posts and joins too; in Chromium, the space's owner
// signs in to the web app, whose OAuth client is the confidential one. Everything goes over https and
// wss; the AppView learns every post from the firehoses, so reads poll until indexed.
import { IdResolver } from '@atproto/identity'
import { verifyRepoCar } from '@atproto/repo'
import { Firehose } from '@atproto/sync'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { agentOn } from './hearth-lexicons.mjs'
import { Checks } from './check.mjs'
import { HOSTS, HANDLES } from './production.mjs'
import { hearthBin } from './hearth.mjs'
import { launchBrowser } from './browser.mjs'
import { signInAndConsent } from './oauth-pages.mjs'

const t = new Checks('production')
const POLL_MS = Number(process.env.HEARTH_POLL_MS ?? 20000)
const PDS = `https://${HOSTS.pds}`
const REF = `https://${HOSTS.ref}`
const APPVIEW = `https://${HOSTS.appview}`
const APPVIEW_DID = `did:web:${HOSTS.appview}`
const PROXY = `${APPVIEW_DID}#hearth_appview`
const idResolver = new IdResolver({ plcUrl: `https://${HOSTS.plc}` })

// A 1x1 PNG.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
)

/** A social.hearth call through the member's own PDS, to Hearth's AppView. */
async function h(agent, nsid, params, data) {
  const res = await agent.call(`social.hearth.${nsid}`, params, data, { headers: { 'atproto-proxy': PROXY } })
  return res.data
}

const describe = (e) => `${e?.error ?? e?.name ?? 'Error'} (${e?.status ?? '-'}): ${e?.message ?? e}${e?.cause ? ` [${e.cause.code ?? e.cause.message}]` : ''}`

/** Calls `fn` until `pred` holds of its result or POLL_MS passes; records the check. */
async function eventually(name, fn, pred) {
  const start = Date.now()
  let last
  let err
  for (;;) {
    try {
      last = await fn()
      err = undefined
      if (pred(last)) return t.ok(true, name)
    } catch (e) {
      err = e
    }
    if (Date.now() - start > POLL_MS) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return t.ok(false, name, err ? describe(err) : JSON.stringify(last?.data ?? last).slice(0, 600))
}

/** Runs one step; an exception fails the step (named) instead of ending the suite. */
async function step(name, fn) {
  try {
    return await fn()
  } catch (e) {
    t.ok(false, name, describe(e))
    return undefined
  }
}

// --- the services name themselves by their public https URLs ---
await step('describeServer over https', async () => {
  const res = await fetch(`${PDS}/xrpc/com.atproto.server.describeServer`)
  const body = await res.json()
  t.eq(body.did, `did:web:${HOSTS.pds}`, 'the PDS is did:web:pds.hearth.test (no port: https on 443)')
  t.ok(body.availableUserDomains?.includes(`.${HOSTS.pds}`), 'handles under the PDS hostname', body)
})
await step('AppView DID document', async () => {
  const doc = await (await fetch(`${APPVIEW}/.well-known/did.json`)).json()
  t.eq(doc.id, APPVIEW_DID, 'the AppView serves its did:web document over https')
  t.ok(
    doc.service?.some((s) => s.id === '#hearth_appview' && s.serviceEndpoint === APPVIEW),
    'its #hearth_appview service is https://appview.hearth.test',
    doc.service,
  )
})

// --- accounts on Hearth's PDS and on the reference PDS ---
const alice = agentOn(PDS)
const bob = agentOn(PDS)
const carol = agentOn(REF)
const signedUp = await step('sign up', async () => {
  await alice.createAccount({ handle: HANDLES.alice, email: 'alice@example.com', password: 'alice-pass' })
  await bob.createAccount({ handle: HANDLES.bob, email: 'bob@example.com', password: 'bob-pass' })
  await carol.createAccount({ handle: HANDLES.carol, email: 'carol@example.com', password: 'carol-pass' })
  return true
})
t.ok(signedUp, 'alice and bob sign up at https://pds.hearth.test, carol at https://ref.hearth.test')
if (!signedUp) {
  t.finish()
  process.exit()
}
const A = alice.session.did
const B = bob.session.did
const C = carol.session.did

await step('PLC over https', async () => {
  const doc = await (await fetch(`https://${HOSTS.plc}/${A}`)).json()
  t.ok(
    doc.service?.some((s) => s.id === '#atproto_pds' && s.serviceEndpoint === PDS),
    "alice's did:plc (PLC directory behind TLS) names https://pds.hearth.test",
    doc,
  )
  const res = await fetch(`https://${HANDLES.alice}/.well-known/atproto-did`)
  t.eq((await res.text()).trim(), A, "alice's handle host answers her DID over https")
})

// --- a post with an image, follows ---
const post = await step('post with an image', async () => {
  const up = await alice.uploadBlob(PNG, { encoding: 'image/png' })
  return alice.post({
    text: 'Assembly on Thursday, bring a friend',
    embed: { $type: 'app.bsky.embed.images', images: [{ image: up.data.blob, alt: 'flyer' }] },
    createdAt: new Date().toISOString(),
  })
})
const carolPost = await step('post on the reference PDS', () =>
  carol.post({ text: 'Greetings from the reference PDS', createdAt: new Date().toISOString() }),
)
await step('follows', async () => {
  await bob.follow(A)
  await bob.follow(C)
})

// --- what a relay or another AppView sees: the repository and the firehose, checked by the
// official packages against the keys in the PLC directory ---
await step('repository verifies', async () => {
  const car = new Uint8Array(await (await fetch(`${PDS}/xrpc/com.atproto.sync.getRepo?did=${A}`)).arrayBuffer())
  const key = await idResolver.did.resolveAtprotoKey(A, true)
  const verified = await verifyRepoCar(car, A, key)
  t.ok(
    verified.creates.some((c) => `at://${A}/${c.collection}/${c.rkey}` === post?.uri),
    "alice's repository, fetched over https, verifies against her key in the PLC directory",
  )
})
await step('firehose over wss', async () => {
  const seen = []
  const errors = []
  const firehose = new Firehose({
    idResolver,
    service: `wss://${HOSTS.pds}`,
    // @atproto/sync 0.1.x sends this value as the cursor (a function would not encode).
    getCursor: 0,
    handleEvent: async (evt) => seen.push(evt),
    onError: (err) => errors.push(err),
  })
  firehose.start()
  const hasPost = () => seen.some((e) => e.event === 'create' && `at://${e.did}/${e.collection}/${e.rkey}` === post?.uri)
  for (let i = 0; i < 200 && !hasPost(); i++) await new Promise((r) => setTimeout(r, 50))
  // destroy() waits for the subscription loop to see the abort, which a loop retrying a failed
  // connection never does: the errors are reported below instead of hanging the suite.
  await Promise.race([firehose.destroy(), new Promise((r) => setTimeout(r, 5000))])
  t.ok(hasPost(), "@atproto/sync reads alice's post from the firehose over wss://pds.hearth.test")
  t.eq(errors.map((e) => `${e.name}: ${e.message}`), [], 'the firehose over wss: zero validation errors')
})

// --- reads through the AppView (PDS proxy -> https://appview.hearth.test) ---
let timeline
await eventually(
  "bob's timeline (through the AppView) has alice's post with its image",
  async () => (timeline = await bob.getTimeline({ limit: 30 })),
  (r) => r.data.feed.some((f) => f.post.uri === post?.uri && f.post.embed?.images?.length === 1),
)
const thumb = timeline?.data.feed.find((f) => f.post.uri === post?.uri)?.post.embed?.images?.[0]?.thumb
await step('image through the AppView', async () => {
  t.ok(thumb?.startsWith(`${APPVIEW}/img/`), 'the image link is on https://appview.hearth.test', thumb)
  const res = await fetch(thumb)
  t.ok(res.ok && Buffer.from(await res.arrayBuffer()).equals(PNG), 'the image link serves the uploaded bytes (redirected to the PDS over https)', res.status)
})
await eventually(
  "the AppView indexed the reference PDS over wss: carol's post is in bob's timeline",
  () => bob.getTimeline({ limit: 30 }),
  (r) => r.data.feed.some((f) => f.post.uri === carolPost?.uri),
)
await eventually(
  "alice's profile counts bob's follow and shows her verified handle",
  () => bob.getProfile({ actor: A }),
  (r) => r.data.followersCount === 1 && r.data.handle === HANDLES.alice,
)
await eventually(
  "carol's handle on the reference PDS is verified over https too",
  () => bob.getProfile({ actor: C }),
  (r) => r.data.handle === HANDLES.carol,
)
await eventually(
  "carol's author feed through the AppView",
  () => bob.getAuthorFeed({ actor: C }),
  (r) => r.data.feed.some((f) => f.post.uri === carolPost?.uri),
)

// --- a space: through Hearth's PDS proxy and through the reference PDS's ---
await step('spaces', async () => {
  const created = await h(alice, 'space.create', undefined, { name: 'Tenants Union', joinPolicy: 'invite' })
  const space = created.space.uri
  t.ok(space.startsWith(`at://${APPVIEW_DID}/`), 'space created through the PDS proxy, under the AppView authority', space)
  const inv = await h(alice, 'invite.create', undefined, { space })
  t.ok(inv.link.startsWith(`${APPVIEW}/i/`), 'the invite link is on https://appview.hearth.test', inv.link)
  const page = await fetch(inv.link)
  t.eq(page.status, 200, 'the invite page is served over https')
  const bobJoin = await h(bob, 'invite.accept', undefined, { token: inv.token })
  t.eq(bobJoin.space.viewer.role, 'member', 'bob joins through Hearth PDS')
  const carolJoin = await h(carol, 'invite.accept', undefined, { token: inv.token })
  t.eq(carolJoin.space.viewer.role, 'member', 'carol joins through the reference PDS')
  const discussion = created.channels.find((c) => c.kind === 'discussion').uri
  const said = await h(carol, 'post.create', undefined, { channel: discussion, text: 'Meeting notes to follow' })
  const feed = await h(bob, 'feed.getChannel', { channel: discussion })
  t.ok(feed.posts.some((p) => p.uri === said.post.uri), "bob reads carol's space post")
})

// --- the web app in production: a confidential OAuth client, signing alice in through Hearth's
// own authorization pages, everything behind TLS. The servers verify each other's certificates
// (HEARTH_CA_CERTS); only the browser is told to accept Caddy's, which it has no way to trust. ---
await step('web app sign-in in production', async () => {
  const metadataUrl = `${APPVIEW}/oauth/client-metadata.json`
  const meta = await fetch(metadataUrl).then((r) => r.json())
  t.eq(meta.client_id, metadataUrl, "the web app's client_id is its HTTPS metadata URL")
  t.eq(meta.token_endpoint_auth_method, 'private_key_jwt', 'the web app authenticates with private_key_jwt')
  const jwks = meta.jwks ?? (await fetch(meta.jwks_uri).then((r) => r.json()))
  t.ok(jwks?.keys?.length > 0 && jwks.keys.every((k) => !('d' in k)), 'its JWKS is served, public keys only', JSON.stringify(jwks).slice(0, 300))
  const browser = await launchBrowser()
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true })
    const page = await context.newPage()
    page.setDefaultTimeout(15000)
    await page.goto(`${APPVIEW}/signin`)
    const form = page.locator('form[action="/oauth/login"]')
    await form.getByLabel(/handle/i).fill(HANDLES.alice)
    await form.getByRole('button', { name: /continue/i }).click()
    await page.waitForURL((u) => u.origin === PDS)
    t.ok(true, "the web app sends alice to her PDS's authorization page", page.url())
    await signInAndConsent(page, { handle: HANDLES.alice, password: 'alice-pass', back: (u) => u.origin === APPVIEW })
    await page.waitForLoadState('load')
    const text = await page.locator('body').innerText()
    t.ok(text.includes(`@${HANDLES.alice}`) && text.includes('Tenants Union'), "alice is signed in to the web app, her space on her home page", text.slice(0, 300))
    const cookies = await context.cookies(APPVIEW)
    const shown = JSON.stringify(cookies.map((c) => ({ name: c.name, secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite })))
    t.ok(cookies.length > 0 && cookies.every((c) => c.secure && c.httpOnly), "the web app's cookies are Secure and HttpOnly", shown)
    await page.getByRole('button', { name: /sign out/i }).first().click()
    await page.waitForLoadState('load')
    t.ok(await page.getByRole('link', { name: /^sign in/i }).first().isVisible(), 'sign-out ends the session')
    const again = await context.newPage()
    await again.goto(`${APPVIEW}/`)
    t.ok(!(await again.locator('body').innerText()).includes('Tenants Union'), 'after sign-out, nothing of the space is shown')
  } finally {
    await browser.close()
  }
})

// --- the operator's admin CLI against the running server, over https ---
await step('hearth admin --url', async () => {
  const admin = (extra) =>
    execFileSync(hearthBin, ['admin', '--url', PDS, 'accounts', 'list'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, HEARTH_ADMIN_PASSWORD: 'admin-pass', ...extra },
    })
  const listed = admin({ HEARTH_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS })
  t.ok(listed.includes(A) && listed.includes(B), 'hearth admin lists the accounts of the server behind TLS (HEARTH_CA_CERTS)', listed)
  let refused = false
  try {
    admin({})
  } catch {
    refused = true
  }
  t.ok(refused, 'without HEARTH_CA_CERTS it does not trust the server: verification is never off')
})

// --- what the server did: followed both firehoses over wss, trusted the CA, no development mode ---
// The log is colored even into a file; the colors go before matching.
const log = readFileSync(process.env.PRODUCTION_HEARTH_LOG, 'utf8').replace(/\x1b\[[0-9;]*m/g, '')
t.ok(/PDS and AppView listening on \S+, by hostname/.test(log), 'one port for both services, told apart by hostname')
for (const host of [HOSTS.pds, HOSTS.ref]) {
  t.ok(new RegExp(`subscribing to firehose host=wss://${host.replace(/\./g, '\\.')}`).test(log), `the AppView subscribed to wss://${host}`)
}
t.ok(!/firehose connection failed/.test(log), 'no firehose connection failed', log.match(/.*firehose connection failed.*/)?.[0])
t.ok(!/UnknownIssuer|invalid peer certificate/i.test(log), 'no certificate was refused', log.match(/.*(UnknownIssuer|invalid peer certificate).*/i)?.[0])

t.finish()
