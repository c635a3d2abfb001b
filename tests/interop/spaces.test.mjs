// Members-only spaces, judged by the official packages: NOTHING LEAKS, and any PDS works.
//
// `hearth up` (PDS + AppView, logging at info) and the REFERENCE PDS (@atproto/pds 0.5.35) share
// one real PLC directory (@did-plc/server). Members on Hearth's PDS and on the reference PDS call
// social.hearth.* through their own PDS with `atproto-proxy: <appview did>#hearth_appview`,
// exactly as a bsky.social user would; @atproto/api validates every answer against the
// social.hearth lexicons (loaded into the agent). After a scenario with posts, replies,
// reactions, images, invites and role changes, every public surface is searched for the private
// text, the space and post URIs, the image CIDs and the invite token: every public repo on both
// PDSes (decoded), both PDSes' firehoses from cursor 0 (decoded), the app.bsky views (including
// ones asked directly about space URIs), public getBlob
// (must 404), the data directory outside the spaces database, and the process log. Zero hits.
// Hearth's PDS refuses public records that point into a space, naming the rule.
import { readCarWithRoot } from '@atproto/repo'
import { cborDecodeMulti, cborDecode } from '@atproto/common'
import { CID } from 'multiformats/cid'
import WebSocket from 'ws'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { startPlc } from './lib/plc-server.mjs'
import { agentOn } from './lib/hearth-lexicons.mjs'
import { startUpLogged, startReferencePds } from './lib/spaces-harness.mjs'
import { Checks } from './lib/check.mjs'

const t = new Checks('spaces interop')

// Two distinct 1x1 PNGs (a trailing byte after IEND changes the CID, not the image).
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
)
const PNG_A = Buffer.concat([PNG, Buffer.from([0x41])])
const PNG_B = Buffer.concat([PNG, Buffer.from([0x42])])

/** Every file under a directory (path, bytes). */
function filesUnder(dir) {
  const out = []
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      const st = statSync(p)
      if (st.isDirectory()) walk(p)
      else out.push(p)
    }
  }
  walk(dir)
  return out
}

/** Every string inside a decoded value (CIDs as strings, bytes as latin1). */
function strings(v, out = []) {
  if (v === null || v === undefined) return out
  const cid = CID.asCID(v)
  if (cid) out.push(cid.toString())
  else if (typeof v === 'string') out.push(v)
  else if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('latin1'))
  else if (Array.isArray(v)) v.forEach((x) => strings(x, out))
  else if (typeof v === 'object') Object.values(v).forEach((x) => strings(x, out))
  else out.push(String(v))
  return out
}

const plc = await startPlc()
const up = await startUpLogged({ plcUrl: plc.url })
const ref = await startReferencePds({ plcUrl: plc.url })
const PROXY = `${up.appviewDid}#hearth_appview`

/** A social.hearth call through the member's own PDS. */
async function h(agent, nsid, params, data, encoding) {
  const opts = { headers: { 'atproto-proxy': PROXY } }
  if (encoding) opts.encoding = encoding
  const res = await agent.call(`social.hearth.${nsid}`, params, data, opts)
  return res.data
}

try {
  // --- accounts: three on Hearth's PDS, one on the reference PDS ---
  const alice = agentOn(up.url)
  const bob = agentOn(up.url)
  const dave = agentOn(up.url)
  const carol = agentOn(ref.url)
  await alice.createAccount({ handle: 'alice.test', email: 'alice@example.com', password: 'alice-pass' })
  await bob.createAccount({ handle: 'bob.test', email: 'bob@example.com', password: 'bob-pass' })
  await dave.createAccount({ handle: 'dave.test', email: 'dave@example.com', password: 'dave-pass' })
  await carol.createAccount({ handle: 'carol.test', email: 'carol@example.com', password: 'carol-pass' })
  t.ok(carol.session.did.startsWith('did:plc:'), 'the reference PDS account is a did:plc on the shared PLC')

  // --- ordinary public activity, so public surfaces are not empty ---
  const pub = await alice.post({ text: 'Rally on Saturday at noon, all welcome', createdAt: new Date().toISOString() })
  await bob.follow(alice.session.did)
  await bob.post({ text: 'See you at the rally', createdAt: new Date().toISOString() })

  // --- the space ---
  const created = await h(alice, 'space.create', undefined, { name: 'Harbor Workers Assembly', joinPolicy: 'request', joinQuestion: 'Which dock?' })
  const space = created.space.uri
  t.ok(space.startsWith(`at://${up.appviewDid}/space/social.hearth.space/`), 'space URI under the AppView authority')
  const skey = space.split('/').pop()
  const ch = Object.fromEntries(created.channels.map((c) => [c.kind, c.uri]))
  t.eq(Object.keys(ch).sort(), ['announcements', 'discussion', 'questions', 'restricted'], 'default channels')

  const inv = await h(alice, 'invite.create', undefined, { space })
  t.ok(inv.link.endsWith(`/i/${inv.token}`), 'invite link carries the token')
  const page = await fetch(inv.link)
  const html = await page.text()
  t.ok(
    page.status === 200 && html.includes('Harbor Workers Assembly') && html.includes('Sign in to join') && !html.includes('Which dock?'),
    'the invite page (the web app) says what the space is and how to join, nothing more',
  )
  const bobJoin = await h(bob, 'invite.accept', undefined, { token: inv.token })
  t.eq(bobJoin.space.viewer.role, 'member', 'bob joins through Hearth PDS')
  const carolJoin = await h(carol, 'invite.accept', undefined, { token: inv.token })
  t.eq(carolJoin.space.viewer.role, 'member', 'carol joins through the REFERENCE PDS')

  // A join request with an answer, approved.
  const eve = agentOn(ref.url)
  await eve.createAccount({ handle: 'eve.test', email: 'eve@example.com', password: 'eve-pass' })
  const req = await h(eve, 'join.request', undefined, { space, answer: 'PRIVATE-FOXTROT dock 7' })
  t.eq(req.request.status, 'pending', 'join request from the reference PDS')
  const decided = await h(alice, 'join.decide', undefined, { space, id: req.request.id, approve: true })
  t.eq(decided.request.status, 'approved', 'join request approved')

  // Role changes.
  await h(alice, 'member.setRole', undefined, { space, did: bob.session.did, role: 'admin' })
  await h(alice, 'member.setRole', undefined, { space, did: carol.session.did, role: 'moderator' })

  // --- posts, replies, reactions, images ---
  const ann = await h(alice, 'post.create', undefined, { channel: ch.announcements, text: 'PRIVATE-ALPHA strike fund vote on Monday' })
  const upA = await h(bob, 'post.uploadImage', { space }, PNG_A, 'image/png')
  const cidA = upA.image.ref.toString()
  const disc = await h(bob, 'post.create', undefined, { channel: ch.discussion, text: 'PRIVATE-BRAVO picket schedule', images: [{ image: upA.image, alt: 'schedule' }] })
  const reply = await h(carol, 'post.create', undefined, { replyTo: disc.post.uri, text: 'PRIVATE-CHARLIE I can take Tuesday' })
  t.eq(reply.post.reply.root, disc.post.uri, 'carol replies through the reference PDS')
  const upB = await h(carol, 'post.uploadImage', { space }, PNG_B, 'image/png')
  const cidB = upB.image.ref.toString()
  await h(carol, 'post.create', undefined, { channel: ch.discussion, text: 'PRIVATE-ECHO photo from the dock', images: [{ image: upB.image, alt: 'dock' }] })
  const lead = await h(bob, 'post.create', undefined, { channel: ch.restricted, text: 'PRIVATE-DELTA leadership budget' })
  const q = await h(eve, 'post.create', undefined, { channel: ch.questions, text: 'PRIVATE-GOLF where do we meet?' })
  const ans = await h(bob, 'post.create', undefined, { replyTo: q.post.uri, text: 'PRIVATE-HOTEL union hall' })
  const marked = await h(eve, 'post.markAnswer', undefined, { uri: ans.post.uri, accepted: true })
  t.eq(marked.post.isAcceptedAnswer, true, 'the asker (reference PDS) accepts an answer')
  const reacted = await h(carol, 'post.react', undefined, { uri: ann.post.uri, emoji: '✊' })
  t.eq(reacted.reactions[0], { emoji: '✊', count: 1, viewerReacted: true }, 'reaction through the reference PDS')
  await h(alice, 'post.pin', undefined, { uri: ann.post.uri, pinned: true })
  await h(carol, 'post.hide', undefined, { uri: reply.post.uri, hidden: false })

  // Reading through either PDS.
  const feed = await h(carol, 'feed.getChannel', { channel: ch.discussion })
  t.ok(feed.posts.some((p) => p.uri === disc.post.uri), 'carol reads the discussion through the reference PDS')
  const img = await h(carol, 'post.getImage', { space, cid: cidA })
  t.ok(Buffer.from(img).equals(PNG_A), 'carol fetches a private image through the reference PDS')
  const inbox = await h(carol, 'notification.list', {})
  t.ok(inbox.notifications.some((n) => n.reason === 'announcement' && n.subject === ann.post.uri), 'carol is notified of the announcement')
  const thread = await h(bob, 'feed.getThread', { uri: disc.post.uri })
  t.eq(thread.thread.replies.map((r) => r.uri), [reply.post.uri], 'bob reads the thread')
  await t.rejects(() => h(carol, 'feed.getChannel', { channel: ch.restricted }), 'Forbidden', 'a moderator cannot read the leadership channel')
  await t.rejects(() => h(dave, 'feed.getChannel', { channel: ch.discussion }), 'Forbidden', 'a non-member is refused through the PDS')
  await t.rejects(() => h(dave, 'post.getImage', { space, cid: cidA }), 'Forbidden', 'a non-member cannot fetch a private image')
  const exp = await h(alice, 'space.export', { space })
  t.ok(exp.scope === 'space' && exp.posts.length >= 7, 'the owner exports the space')
  const audit = await h(bob, 'space.getAuditLog', { space })
  t.ok(['member.role', 'join.approve', 'post.pin'].every((a) => audit.entries.some((e) => e.action === a)), 'audit log (read by an admin)')

  // Removal takes effect at once, whichever PDS the member uses.
  await h(alice, 'member.remove', undefined, { space, did: eve.session.did })
  await t.rejects(() => h(eve, 'feed.getChannel', { channel: ch.questions }), 'Forbidden', 'a removed member (reference PDS) is refused on the next request')

  // --- Hearth's PDS refuses public records that point into a space ---
  const strong = { uri: disc.post.uri, cid: pub.cid }
  await t.rejects(
    () => alice.post({ text: 'replying into a space', reply: { root: strong, parent: strong }, createdAt: new Date().toISOString() }),
    'SpaceReferenceNotAllowed',
    'a public reply to a space post is refused',
    400,
  )
  await t.rejects(
    () => alice.post({ text: 'quoting a space post', embed: { $type: 'app.bsky.embed.record', record: strong }, createdAt: new Date().toISOString() }),
    'SpaceReferenceNotAllowed',
    'a public quote of a space post is refused',
  )
  await t.rejects(
    () => alice.app.bsky.feed.like.create({ repo: alice.session.did }, { subject: strong, createdAt: new Date().toISOString() }),
    'SpaceReferenceNotAllowed',
    'a public like of a space post is refused',
  )
  try {
    await alice.post({ text: 'x', reply: { root: strong, parent: strong }, createdAt: new Date().toISOString() })
  } catch (e) {
    t.ok(/space/i.test(e.message ?? ''), 'the refusal names the rule', e.message)
  }

  // --- the search: every public surface, for every secret ---
  const secrets = [
    'Harbor Workers', 'PRIVATE-', 'Which dock', 'social.hearth', '/space/social.hearth.space/', skey,
    space, disc.post.uri, ann.post.uri, lead.post.uri, cidA, cidB, inv.token,
  ]
  const hits = []
  // `asked` is what the request itself named (an error may echo it back, and with it every
  // part of it): not a leak. Everything else still counts.
  const search = (surface, text, asked = []) => {
    for (const s of secrets) {
      if (asked.some((a) => a.includes(s))) continue
      if (text.includes(s)) hits.push(`${surface}: ${s}`)
    }
  }
  let surfaces = 0

  // Every public repo on both PDSes, decoded.
  for (const pds of [up.url, ref.url]) {
    const repos = await (await fetch(`${pds}/xrpc/com.atproto.sync.listRepos?limit=1000`)).json()
    for (const { did } of repos.repos) {
      const car = new Uint8Array(await (await fetch(`${pds}/xrpc/com.atproto.sync.getRepo?did=${did}`)).arrayBuffer())
      search(`repo ${did} (raw)`, Buffer.from(car).toString('latin1'))
      const { blocks } = await readCarWithRoot(car)
      const text = []
      blocks.forEach((bytes) => {
        try {
          strings(cborDecode(bytes), text)
        } catch {
          text.push(Buffer.from(bytes).toString('latin1'))
        }
      })
      search(`repo ${did}`, text.join('\n'))
      surfaces++
    }
  }

  // The firehose of both PDSes from cursor 0, every frame decoded (commit blocks too): Hearth's
  // carries alice, bob and dave; the reference's carries carol and eve, who joined the space,
  // posted in it and reacted through their PDS.
  const replay = (wsBase) =>
    new Promise((resolve, reject) => {
      const out = []
      const ws = new WebSocket(`${wsBase}/xrpc/com.atproto.sync.subscribeRepos?cursor=0`)
      let timer = setTimeout(() => ws.close(), 3000)
      ws.on('message', (data) => {
        out.push(new Uint8Array(data))
        clearTimeout(timer)
        timer = setTimeout(() => ws.close(), 700)
      })
      ws.on('close', () => resolve(out))
      ws.on('error', reject)
    })
  let frameCount = 0
  for (const [name, wsBase] of [['hearth', up.wsUrl], ['reference', ref.url.replace(/^http/, 'ws')]]) {
    const frames = await replay(wsBase)
    frameCount += frames.length
    t.ok(frames.length > 2, `the ${name} firehose replayed ${frames.length} frames`)
    for (const f of frames) {
      search(`${name} firehose (raw)`, Buffer.from(f).toString('latin1'))
      const [header, body] = cborDecodeMulti(f)
      const text = strings([header, body])
      if (body?.blocks instanceof Uint8Array && body.blocks.length) {
        const { blocks } = await readCarWithRoot(body.blocks)
        blocks.forEach((bytes) => {
          try {
            strings(cborDecode(bytes), text)
          } catch {}
        })
      }
      search(`${name} firehose`, text.join('\n'))
    }
    surfaces++
  }

  // Every app.bsky view, through Hearth's PDS (to Hearth's AppView).
  const views = [
    ['getTimeline', (a) => a.getTimeline({ limit: 100 })],
    ['getAuthorFeed alice', (a) => a.getAuthorFeed({ actor: alice.session.did })],
    ['getAuthorFeed bob', (a) => a.getAuthorFeed({ actor: bob.session.did })],
    ['getAuthorFeed carol', (a) => a.getAuthorFeed({ actor: carol.session.did })],
    ['searchPosts', (a) => a.app.bsky.feed.searchPosts({ q: 'PRIVATE' })],
    ['searchPosts rally', (a) => a.app.bsky.feed.searchPosts({ q: 'rally' })],
    ['searchActors', (a) => a.searchActors({ q: 'alice' })],
    ['listNotifications', (a) => a.listNotifications()],
    ['getProfile', (a) => a.getProfile({ actor: alice.session.did })],
    ['getPostThread', (a) => a.getPostThread({ uri: pub.uri })],
  ]
  const notImplemented = []
  for (const who of [alice, bob]) {
    for (const [name, fn] of views) {
      try {
        const res = await fn(who)
        search(`app.bsky ${name}`, JSON.stringify(res.data))
      } catch (e) {
        if (e?.status === 501) notImplemented.push(name)
        search(`app.bsky ${name} (error)`, `${e?.error} ${e?.message}`)
      }
      surfaces++
    }
  }
  // app.bsky views asked directly about space URIs: nothing of the space comes back.
  for (const uri of [disc.post.uri, ann.post.uri, lead.post.uri, space]) {
    for (const [name, fn] of [
      ['getPostThread', (a) => a.getPostThread({ uri })],
      ['getPosts', (a) => a.getPosts({ uris: [uri] })],
      ['getLikes', (a) => a.app.bsky.feed.getLikes({ uri })],
      ['getQuotes', (a) => a.app.bsky.feed.getQuotes({ uri })],
    ]) {
      try {
        const res = await fn(bob)
        search(`app.bsky ${name} of a space URI`, JSON.stringify(res.data), [uri])
      } catch (e) {
        if (e?.status === 501) notImplemented.push(name)
        search(`app.bsky ${name} of a space URI (error)`, `${e?.error} ${e?.message}`, [uri])
      }
      surfaces++
    }
  }
  if (notImplemented.length) console.log(`  (not implemented yet, so cannot leak: ${[...new Set(notImplemented)].join(', ')})`)

  // Public getBlob never serves a private image, on either PDS, for anyone.
  for (const pds of [up.url, ref.url]) {
    for (const did of [alice.session.did, bob.session.did, carol.session.did, eve.session.did]) {
      for (const cid of [cidA, cidB]) {
        const r = await fetch(`${pds}/xrpc/com.atproto.sync.getBlob?did=${did}&cid=${cid}`)
        const body = await r.text()
        t.ok(r.status === 404 || r.status === 400, `getBlob ${cid.slice(0, 12)}… on ${pds === up.url ? 'hearth' : 'reference'} is refused`, `${r.status} ${body.slice(0, 80)}`)
        search('getBlob', body)
      }
    }
  }
  surfaces++

  // Everything Hearth keeps on disk outside the spaces database and the private images.
  const allFiles = filesUnder(up.dataDir)
  const privateFile = (p) => /appview\/(spaces\.sqlite|space-images)/.test(relative(up.dataDir, p))
  let controlHit = false
  for (const p of allFiles) {
    const rel = relative(up.dataDir, p)
    const bytes = readFileSync(p).toString('latin1')
    if (privateFile(p)) {
      if (bytes.includes('PRIVATE-ALPHA')) controlHit = true
      continue
    }
    search(`file ${rel}`, rel + '\n' + bytes)
  }
  t.ok(controlHit, 'control: the search does find private text where it belongs (spaces.sqlite)')
  surfaces++

  // The process log at info level.
  const log = up.log()
  t.ok(/listening/i.test(log), 'control: the info-level log was captured', log.slice(0, 200))
  search('hearth log', log)
  surfaces++
  console.log(`  searched ${surfaces} public surfaces (${frameCount} firehose frames, ${allFiles.length} files, ${log.length} log bytes) for ${secrets.length} secrets`)

  t.eq(hits, [], `zero hits across ${surfaces} public surfaces for ${secrets.length} secrets`)
} catch (e) {
  t.ok(false, 'spaces scenario', e?.stack ?? String(e))
} finally {
  await ref.stop().catch(() => {})
  await up.stop().catch(() => {})
  await plc.close().catch(() => {})
  t.finish()
}
