// Account migration judged by the official packages: @atproto/api drives the documented flow
// (getServiceAuth → createAccount with the DID → importRepo → listMissingBlobs/uploadBlob →
// preferences → requestPlcOperationSignature, the emailed token, signPlcOperation →
// submitPlcOperation → activateAccount → deactivateAccount) from the reference PDS
// (@atproto/pds 0.5.35) to Hearth's and back, on one real PLC directory (@did-plc/server).
// After each move @atproto/repo verifies the new server's export against the new DID document,
// the old server refuses writes, the preferences are the same, Hearth's AppView shows the
// account's profile and posts and the same followers and follows, and the member still reads
// their members-only space (memberships are by DID).
import { IdResolver } from '@atproto/identity'
import { verifyRepoCar } from '@atproto/repo'
import { startPlc } from './lib/plc-server.mjs'
import { agentOn } from './lib/hearth-lexicons.mjs'
import { freePort } from './lib/hearth.mjs'
import { startSmtpSink } from './lib/smtp-sink.mjs'
import { startUpLogged, startReferencePds } from './lib/spaces-harness.mjs'
import { Checks } from './lib/check.mjs'

const t = new Checks('migration interop')
const plc = await startPlc()
const smtp = await startSmtpSink()
// Hearth's AppView is the reference PDS's AppView too (it serves app.bsky.* preferences only
// with one configured), so the AppView's port is chosen before either starts.
const hearthPort = await freePort()
const appviewPort = await freePort()
const ref = await startReferencePds({
  plcUrl: plc.url,
  env: {
    PDS_EMAIL_SMTP_URL: smtp.url,
    PDS_EMAIL_FROM_ADDRESS: 'ref@localhost',
    PDS_BSKY_APP_VIEW_URL: `http://localhost:${appviewPort}`,
    PDS_BSKY_APP_VIEW_DID: `did:web:localhost%3A${appviewPort}`,
  },
})
// `hearth up`: the PDS, and the AppView with the spaces service following it and the reference
// PDS (as a relay would carry both): a move is announced by the new server's #identity.
const hearth = await startUpLogged({
  plcUrl: plc.url,
  env: {
    HEARTH_PORT: String(hearthPort),
    HEARTH_APPVIEW_PORT: String(appviewPort),
    HEARTH_SMTP_URL: smtp.url,
    HEARTH_DEV: 'true',
    HEARTH_FIREHOSES: `localhost:${hearthPort},localhost:${ref.port}`,
  },
})
const PROXY = `${hearth.appviewDid}#hearth_appview`

/** A social.hearth call through the member's own PDS. */
async function h(agent, nsid, params, data) {
  const res = await agent.call(`social.hearth.${nsid}`, params, data, { headers: { 'atproto-proxy': PROXY } })
  return res.data
}

/** Waits (up to 30 s) for `probe` to return a truthy value from Hearth's AppView. */
async function eventually(probe) {
  for (let i = 0; i < 150; i++) {
    const v = await probe().catch(() => null)
    if (v) return v
    await new Promise((r) => setTimeout(r, 200))
  }
  return null
}

/** The AppView's view of `did`: its profile's display name and its posts' texts. */
async function appviewSees(did, posts) {
  return eventually(async () => {
    const p = await (await fetch(`${hearth.appviewUrl}/xrpc/app.bsky.actor.getProfile?actor=${did}`)).json()
    const f = await (await fetch(`${hearth.appviewUrl}/xrpc/app.bsky.feed.getAuthorFeed?actor=${did}&limit=100`)).json()
    const texts = (f.feed ?? []).filter((i) => i.post.author.did === did).map((i) => i.post.record.text)
    return p.displayName === 'Mover' && posts.every((t) => texts.includes(t)) ? { profile: p, texts } : null
  })
}
const idResolver = new IdResolver({ plcUrl: plc.url })

/** The AppView's follower and follow counts for `did` and the DIDs of its followers. */
async function socialGraph(did) {
  const p = await (await fetch(`${hearth.appviewUrl}/xrpc/app.bsky.actor.getProfile?actor=${did}`)).json()
  const f = await (await fetch(`${hearth.appviewUrl}/xrpc/app.bsky.graph.getFollowers?actor=${did}&limit=100`)).json()
  return {
    followersCount: p.followersCount,
    followsCount: p.followsCount,
    followers: (f.followers ?? []).map((a) => a.did).sort(),
  }
}

/** Waits for the AppView to show `did` with the graph `want`; returns the last one it showed. */
async function graphSettles(did, want) {
  let last = null
  await eventually(async () => {
    last = await socialGraph(did)
    return JSON.stringify(last) === JSON.stringify(want)
  })
  return last
}

/** Preferences in an order that does not depend on the server. */
const sortedPrefs = (prefs) => [...prefs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

// Not the defaults: both servers must carry them over as they are.
const PREFS = [
  { $type: 'app.bsky.actor.defs#adultContentPref', enabled: true },
  { $type: 'app.bsky.actor.defs#contentLabelPref', label: 'graphic-media', visibility: 'warn' },
]

// A 1x1 PNG, and another.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
)
const PNG2 = Buffer.concat([PNG, Buffer.from('extra')])

const now = () => new Date().toISOString()

/** Gives `agent`'s account posts with an image, a reply thread, likes, a follow, a profile with
 *  an avatar and preferences; `friend` (same server) takes part. Returns what must survive. */
async function populate(agent, friend) {
  const did = agent.session.did
  const img = await agent.uploadBlob(PNG, { encoding: 'image/png' })
  const post = await agent.post({
    text: 'Meeting on Thursday',
    createdAt: now(),
    embed: { $type: 'app.bsky.embed.images', images: [{ image: img.data.blob, alt: 'a pixel' }] },
  })
  const answer = await friend.post({
    text: 'I will be there',
    reply: { root: { uri: post.uri, cid: post.cid }, parent: { uri: post.uri, cid: post.cid } },
    createdAt: now(),
  })
  await agent.post({
    text: 'See you',
    reply: { root: { uri: post.uri, cid: post.cid }, parent: { uri: answer.uri, cid: answer.cid } },
    createdAt: now(),
  })
  await agent.like(answer.uri, answer.cid)
  await agent.follow(friend.session.did)
  await friend.follow(did)
  const avatar = await agent.uploadBlob(PNG2, { encoding: 'image/png' })
  await agent.upsertProfile((p) => ({ ...(p ?? {}), displayName: 'Mover', description: 'Organizer', avatar: avatar.data.blob }))
  await agent.app.bsky.actor.putPreferences({ preferences: PREFS })
  const records = {}
  for (const collection of ['app.bsky.feed.post', 'app.bsky.feed.like', 'app.bsky.graph.follow', 'app.bsky.actor.profile']) {
    const r = await agent.com.atproto.repo.listRecords({ repo: did, collection })
    for (const rec of r.data.records) records[rec.uri] = rec.cid
  }
  const blobs = (await agent.com.atproto.sync.listBlobs({ did })).data.cids.sort()
  const prefs = sortedPrefs((await agent.app.bsky.actor.getPreferences()).data.preferences)
  t.eq(prefs, sortedPrefs(PREFS), `${agent.session.handle}: the preferences were stored`)
  // One follower (the friend) and one follow, as the AppView sees them before the move.
  const want = { followersCount: 1, followsCount: 1, followers: [friend.session.did] }
  const graph = await graphSettles(did, want)
  t.eq(graph, want, `${agent.session.handle}: the AppView sees the follower and the follow before the move`)
  return { records, blobs, prefs, graph }
}

/** Moves `oldAgent`'s account to the server at `newUrl` the documented way. */
async function migrate(name, oldAgent, newUrl, { handle, email, password }) {
  const did = oldAgent.session.did
  const newAgent = agentOn(newUrl)
  const describe = await newAgent.com.atproto.server.describeServer()
  const auth = await oldAgent.com.atproto.server.getServiceAuth({
    aud: describe.data.did,
    lxm: 'com.atproto.server.createAccount',
  })
  await newAgent.com.atproto.server.createAccount(
    { handle, email, password, did },
    { headers: { authorization: `Bearer ${auth.data.token}` }, encoding: 'application/json' },
  )
  await newAgent.login({ identifier: did, password })
  let status = (await newAgent.com.atproto.server.checkAccountStatus()).data
  t.eq(status.activated, false, `${name}: the new account starts deactivated`)

  const car = (await oldAgent.com.atproto.sync.getRepo({ did })).data
  await newAgent.com.atproto.repo.importRepo(car, { encoding: 'application/vnd.ipld.car' })

  let cursor
  let moved = 0
  do {
    const page = await newAgent.com.atproto.repo.listMissingBlobs({ cursor, limit: 100 })
    for (const b of page.data.blobs) {
      const got = await oldAgent.com.atproto.sync.getBlob({ did, cid: b.cid })
      await newAgent.com.atproto.repo.uploadBlob(got.data, { encoding: got.headers['content-type'] })
      moved++
    }
    cursor = page.data.cursor
  } while (cursor)
  t.ok(moved >= 2, `${name}: listMissingBlobs named the ${moved} blobs`)

  const prefs = await oldAgent.app.bsky.actor.getPreferences()
  await newAgent.app.bsky.actor.putPreferences({ preferences: prefs.data.preferences })

  const creds = await newAgent.com.atproto.identity.getRecommendedDidCredentials()
  const seen = smtp.messages.filter((m) => m.to.includes(email)).length
  await oldAgent.com.atproto.identity.requestPlcOperationSignature()
  const token = await smtp.code(email, seen)
  const signed = await oldAgent.com.atproto.identity.signPlcOperation({ token, ...creds.data })
  await newAgent.com.atproto.identity.submitPlcOperation({ operation: signed.data.operation })

  await newAgent.com.atproto.server.activateAccount()
  await oldAgent.com.atproto.server.deactivateAccount({})
  status = (await newAgent.com.atproto.server.checkAccountStatus()).data
  t.ok(status.activated && status.validDid, `${name}: activated with a valid DID`, JSON.stringify(status))
  t.eq(status.expectedBlobs, status.importedBlobs, `${name}: every expected blob imported`)
  return newAgent
}

/** What must hold after a move: everything on the new server, verified, the old one refusing. */
async function verifyMove(name, oldAgent, newAgent, newUrl, before) {
  const did = newAgent.session.did
  const doc = await idResolver.did.resolve(did, true)
  const pds = doc.service.find((s) => s.id === '#atproto_pds' || s.id === `${did}#atproto_pds`)
  t.eq(pds?.serviceEndpoint, newUrl, `${name}: the DID document names the new server`)
  const atp = await idResolver.did.resolveAtprotoData(did, true)
  // Hearth re-signs an imported repository with the account's new key at once; the reference
  // PDS keeps the old server's commit until the account's next write.
  const verify = async (what, records) => {
    const car = (await newAgent.com.atproto.sync.getRepo({ did })).data
    try {
      const verified = await verifyRepoCar(car, did, atp.signingKey)
      t.eq(verified.creates.length, records, `${name}: the repo verifies against the new PLC document ${what}`)
    } catch (e) {
      t.ok(false, `${name}: the repo verifies against the new PLC document ${what}`, String(e))
    }
  }
  if (newUrl === hearth.url) await verify('right after the import', Object.keys(before.records).length)
  const after = await (async () => {
    const records = {}
    for (const collection of ['app.bsky.feed.post', 'app.bsky.feed.like', 'app.bsky.graph.follow', 'app.bsky.actor.profile']) {
      const r = await newAgent.com.atproto.repo.listRecords({ repo: did, collection })
      for (const rec of r.data.records) records[rec.uri] = rec.cid
    }
    return records
  })()
  t.eq(after, before.records, `${name}: every record is on the new server`)
  const blobs = (await newAgent.com.atproto.sync.listBlobs({ did })).data.cids.sort()
  t.eq(blobs, before.blobs, `${name}: every blob is on the new server`)
  for (const cid of blobs) {
    const r = await fetch(`${newUrl}/xrpc/com.atproto.sync.getBlob?did=${did}&cid=${cid}`)
    const bytes = Buffer.from(await r.arrayBuffer())
    t.ok(r.ok && (bytes.equals(PNG) || bytes.equals(PNG2)), `${name}: blob ${cid.slice(0, 12)}… served by the new server`)
  }
  const prefs = await newAgent.app.bsky.actor.getPreferences()
  t.eq(sortedPrefs(prefs.data.preferences), before.prefs, `${name}: the preferences moved`)
  const prof = await newAgent.com.atproto.repo.getRecord({ repo: did, collection: 'app.bsky.actor.profile', rkey: 'self' })
  t.eq(prof.data.value.displayName, 'Mover', `${name}: the profile moved`)
  await newAgent.post({ text: 'Arrived', createdAt: now() })
  t.ok(true, `${name}: the new server takes writes`)
  await verify('after a new post', Object.keys(before.records).length + 1)
  await t.rejects(() => oldAgent.post({ text: 'Still here?', createdAt: now() }), 'AccountDeactivated', `${name}: the old server refuses writes`)
}

try {
  // --- a members-only space on Hearth, with a member on the reference PDS ---
  const alice = agentOn(hearth.url)
  const bob = agentOn(hearth.url)
  await alice.createAccount({ handle: 'alice.test', email: 'alice@example.com', password: 'alice-pass' })
  await bob.createAccount({ handle: 'bob.test', email: 'bob@example.com', password: 'bob-pass' })
  const created = await h(alice, 'space.create', undefined, { name: 'Harbor Workers Assembly', joinPolicy: 'request', joinQuestion: 'Which dock?' })
  const discussion = created.channels.find((c) => c.kind === 'discussion').uri
  const inv = await h(alice, 'invite.create', undefined, { space: created.space.uri })

  // --- reference PDS → Hearth ---
  const carol = agentOn(ref.url)
  const dan = agentOn(ref.url)
  await carol.createAccount({ handle: 'carol.test', email: 'carol@example.com', password: 'carol-pass' })
  await dan.createAccount({ handle: 'dan.test', email: 'dan@example.com', password: 'dan-pass' })
  await h(carol, 'invite.accept', undefined, { token: inv.token })
  await h(carol, 'feed.getChannel', { channel: discussion })
  const carolBefore = await populate(carol, dan)
  const carolOnHearth = await migrate('reference → hearth', carol, hearth.url, {
    handle: 'carol2.test',
    email: 'carol@example.com',
    password: 'carol-pass',
  })
  await verifyMove('reference → hearth', carol, carolOnHearth, hearth.url, carolBefore)
  const seen = await appviewSees(carolOnHearth.session.did, ['Meeting on Thursday', 'See you', 'Arrived'])
  t.ok(seen, 'reference → hearth: the AppView shows the moved profile and posts (it followed #identity and #sync)')
  t.eq(
    await graphSettles(carolOnHearth.session.did, carolBefore.graph),
    carolBefore.graph,
    'reference → hearth: the AppView shows the same followers and follows after the move',
  )
  const feed = await h(carolOnHearth, 'feed.getChannel', { channel: discussion }).catch((e) => e)
  t.ok(Array.isArray(feed?.posts), 'reference → hearth: the member still reads their space, through Hearth', String(feed?.error ?? ''))

  // --- Hearth → reference PDS ---
  const aliceBefore = await populate(alice, bob)
  t.ok(await appviewSees(alice.session.did, ['Meeting on Thursday', 'See you']), 'hearth → reference: the AppView shows the profile and posts before the move')
  const aliceOnRef = await migrate('hearth → reference', alice, ref.url, {
    handle: 'alice2.test',
    email: 'alice@example.com',
    password: 'alice-pass',
  })
  await verifyMove('hearth → reference', alice, aliceOnRef, ref.url, aliceBefore)
  t.ok(await appviewSees(alice.session.did, ['Meeting on Thursday', 'See you']), 'hearth → reference: the AppView still shows the profile and posts after the move')
  t.eq(
    await graphSettles(alice.session.did, aliceBefore.graph),
    aliceBefore.graph,
    'hearth → reference: the AppView shows the same followers and follows after the move',
  )
  const ownFeed = await h(aliceOnRef, 'feed.getChannel', { channel: discussion }).catch((e) => e)
  t.ok(Array.isArray(ownFeed?.posts), 'hearth → reference: the space owner still reads their space, through the reference PDS', String(ownFeed?.error ?? ''))
} catch (e) {
  t.ok(false, 'scenario ran to the end', `${e?.stack ?? String(e)} ${e?.validationError ?? ''} ${JSON.stringify(e?.responseBody ?? '')}`)
} finally {
  await hearth.stop()
  await ref.stop()
  await plc.close()
  await smtp.close()
  t.finish()
}
