// The AppView judged by the official client: @atproto/api's AtpAgent signs in to the PDS of
// `hearth up` (real PLC directory: @did-plc/server, in memory) and calls app.bsky.*, which the
// PDS proxies to Hearth's AppView with a service-auth token. The AppView learns everything from
// the PDS firehose, so it indexes asynchronously: every check polls (briefly) until the index
// has caught up, never sleeps blindly.
//
// Every successful response is validated by the agent itself against the official lexicons
// (@atproto/xrpc calls lex.assertValidXrpcOutput and throws XRPCInvalidResponseError otherwise);
// the suite records which methods were validated that way and fails on any invalid response.
import { AtpAgent } from '@atproto/api'
import { XRPCInvalidResponseError } from '@atproto/xrpc'
import { startPlc } from './lib/plc-server.mjs'
import { startUp, freePort, waitHealthy, hearthBin } from './lib/hearth.mjs'
import { Checks } from './lib/check.mjs'
import { IdResolver } from '@atproto/identity'
// What a real feed generator uses to check the token the user's PDS minted for it.
import { verifyJwt } from '@atproto/xrpc-server'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import http from 'node:http'

const t = new Checks('appview interop')
const POLL_MS = Number(process.env.HEARTH_POLL_MS ?? 10000)

// A 1x1 PNG.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
)

// --- what the official client validated, and what is not implemented yet ---
const validated = new Set() // app.bsky.* methods whose 200 responses passed lexicon validation
const invalid = [] // lexicon validation failures
const notImplemented = new Set() // methods still answering 501 MethodNotImplemented
const answered = new Set() // methods answered 200 (seen by the fetch wrapper)

/** A fetch that notes which app.bsky methods answered 200 (the agent then validates them). */
function recordingFetch(input, init) {
  return globalThis.fetch(input, init).then((res) => {
    const u = new URL(input instanceof Request ? input.url : String(input))
    const nsid = u.pathname.replace(/^\/xrpc\//, '')
    if (nsid.startsWith('app.bsky.') && res.status === 200) answered.add(nsid)
    return res
  })
}

function agent(pds) {
  return new AtpAgent({ service: pds.url, fetch: recordingFetch })
}

/** Runs an agent call; on success its response passed validation, so the method is noted. */
async function call(nsid, fn) {
  try {
    const res = await fn()
    validated.add(nsid)
    return res
  } catch (e) {
    if (e instanceof XRPCInvalidResponseError) {
      invalid.push(`${nsid}: ${e.validationError?.message ?? e.message}`)
    }
    if (e?.status === 501 || e?.error === 'MethodNotImplemented') notImplemented.add(nsid)
    throw e
  }
}

const describe = (e) => `${e?.error ?? e?.name ?? 'Error'} (${e?.status ?? '-'}): ${e?.message ?? e}`

/**
 * Calls `fn` until `pred` holds of its result (or `POLL_MS` passes) and records the check.
 * A method that is not implemented (501) ends the wait at once. Returns the last result.
 */
async function eventually(name, nsid, fn, pred, detail) {
  const start = Date.now()
  let last
  let err
  for (;;) {
    try {
      last = await call(nsid, fn)
      err = undefined
      if (pred(last)) {
        t.ok(true, name)
        return last
      }
    } catch (e) {
      err = e
      last = undefined
      if (notImplemented.has(nsid) || e instanceof XRPCInvalidResponseError) break
    }
    if (Date.now() - start > POLL_MS) break
    await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(false, name, err ? describe(err) : detail ? detail(last) : JSON.stringify(last?.data ?? last).slice(0, 600))
  return last
}

/** Polls until the call fails with XRPC error `error` (a 501 ends the wait at once). */
async function eventuallyRejects(name, nsid, fn, error) {
  const start = Date.now()
  let got
  for (;;) {
    try {
      await call(nsid, fn)
      got = 'success'
    } catch (e) {
      got = describe(e)
      if (e?.error === error) {
        t.ok(true, name)
        return
      }
      if (notImplemented.has(nsid) || e instanceof XRPCInvalidResponseError) break
    }
    if (Date.now() - start > POLL_MS) break
    await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(false, name, `got ${got}, want ${error}`)
}

const plc = await startPlc()
const up = await startUp({ plcUrl: plc.url })

try {
  // --- two accounts on the PDS ---
  const alice = agent(up)
  const bob = agent(up)
  await alice.createAccount({ handle: 'alice.test', email: 'alice@example.com', password: 'alice-pass' })
  await bob.createAccount({ handle: 'bob.test', email: 'bob@example.com', password: 'bob-pass' })
  const A = alice.session.did
  const B = bob.session.did
  await alice.upsertProfile(() => ({ displayName: 'Alice' }))
  await bob.upsertProfile(() => ({ displayName: 'Bob', description: 'Organizer' }))

  // --- A follows B; B posts with an image ---
  const follow = await alice.follow(B)
  const up1 = await bob.uploadBlob(PNG, { encoding: 'image/png' })
  const post = await bob.post({
    text: 'Strike committee meets Thursday at the union hall',
    createdAt: new Date().toISOString(),
    embed: { $type: 'app.bsky.embed.images', images: [{ image: up1.data.blob, alt: 'the hall', aspectRatio: { width: 1, height: 1 } }] },
  })

  const inFeed = (res, uri) => res?.data?.feed?.find((f) => f.post.uri === uri)
  const tl = await eventually(
    "A's timeline shows B's post",
    'app.bsky.feed.getTimeline',
    () => alice.getTimeline({ limit: 50 }),
    (r) => !!inFeed(r, post.uri),
  )
  const item = inFeed(tl, post.uri)
  if (item) {
    const p = item.post
    t.eq(p.cid, post.cid, 'timeline: post cid')
    t.eq([p.author.did, p.author.handle, p.author.displayName], [B, 'bob.test', 'Bob'], 'timeline: author did, verified handle, display name')
    t.eq([p.likeCount, p.replyCount, p.repostCount, p.quoteCount], [0, 0, 0, 0], 'timeline: counts start at zero')
    t.eq(p.author.viewer?.following, follow.uri, "timeline: author's viewer.following is A's follow record")
    t.ok(p.viewer && p.viewer.like === undefined && p.viewer.repost === undefined, 'timeline: viewer has not liked or reposted', p.viewer)
    t.eq(p.record?.text, 'Strike committee meets Thursday at the union hall', 'timeline: record text')
    t.eq(p.embed?.$type, 'app.bsky.embed.images#view', 'timeline: images embed view')
    const img = p.embed?.images?.[0]
    t.eq([img?.alt, img?.aspectRatio?.width, img?.aspectRatio?.height], ['the hall', 1, 1], 'timeline: image alt and aspect ratio')
    if (img?.fullsize && img?.thumb) {
      const r = await fetch(img.fullsize)
      t.ok(r.ok && Buffer.from(await r.arrayBuffer()).equals(PNG), 'image link serves the uploaded blob', `${img.fullsize}: ${r.status}`)
      t.ok((await fetch(img.thumb)).ok, 'thumbnail link answers')
    } else t.ok(false, 'image view has thumb and fullsize', img)
  }

  // --- profiles ---
  await eventually(
    "getProfile: B's counts and A's follow",
    'app.bsky.actor.getProfile',
    () => alice.getProfile({ actor: 'bob.test' }),
    (r) => r.data.did === B && r.data.followersCount === 1 && r.data.postsCount === 1 && r.data.viewer?.following === follow.uri && r.data.description === 'Organizer',
  )
  await eventually(
    'getProfiles: both accounts',
    'app.bsky.actor.getProfiles',
    () => bob.getProfiles({ actors: [A, B] }),
    (r) => r.data.profiles.map((p) => p.did).sort().join() === [A, B].sort().join() && r.data.profiles.find((p) => p.did === A)?.followsCount === 1,
  )

  // --- A likes and replies ---
  const like = await alice.like(post.uri, post.cid)
  const reply = await alice.post({
    text: 'I will bring the banners',
    reply: { root: { uri: post.uri, cid: post.cid }, parent: { uri: post.uri, cid: post.cid } },
    createdAt: new Date().toISOString(),
  })
  await eventually(
    "timeline: like and reply counted, A's like in viewer state",
    'app.bsky.feed.getTimeline',
    () => alice.getTimeline({ limit: 50 }),
    (r) => {
      const p = inFeed(r, post.uri)?.post
      return p?.likeCount === 1 && p?.replyCount === 1 && p?.viewer?.like === like.uri
    },
  )
  await eventually(
    'timeline: the reply carries its parent',
    'app.bsky.feed.getTimeline',
    () => alice.getTimeline({ limit: 50 }),
    (r) => inFeed(r, reply.uri)?.reply?.parent?.uri === post.uri && inFeed(r, reply.uri)?.reply?.root?.uri === post.uri,
  )
  await eventually(
    "getPosts: B sees A's like counted but not as its own",
    'app.bsky.feed.getPosts',
    () => bob.getPosts({ uris: [post.uri, reply.uri] }),
    (r) => r.data.posts.length === 2 && r.data.posts[0].likeCount === 1 && r.data.posts[0].viewer?.like === undefined,
  )
  await eventually(
    "getAuthorFeed: B's post",
    'app.bsky.feed.getAuthorFeed',
    () => alice.getAuthorFeed({ actor: B }),
    (r) => !!inFeed(r, post.uri),
  )

  // --- notifications ---
  const notifs = await eventually(
    "B's notifications: A's follow, like and reply",
    'app.bsky.notification.listNotifications',
    () => bob.listNotifications({ limit: 50 }),
    (r) => ['follow', 'like', 'reply'].every((reason) => r.data.notifications.some((n) => n.reason === reason && n.author.did === A)),
  )
  if (notifs) {
    const n = notifs.data.notifications
    t.eq(n.find((x) => x.reason === 'like')?.reasonSubject, post.uri, 'like notification names the liked post')
    t.eq(n.find((x) => x.reason === 'reply')?.uri, reply.uri, 'reply notification is the reply')
    t.ok(n.every((x) => x.isRead === false), 'notifications start unread')
  }
  await eventually(
    'getUnreadCount counts them',
    'app.bsky.notification.getUnreadCount',
    () => bob.countUnreadNotifications(),
    (r) => r.data.count === 3,
  )
  try {
    await call('app.bsky.notification.updateSeen', () => bob.updateSeenNotifications(new Date().toISOString()))
    t.ok(true, 'updateSeen accepted')
  } catch (e) {
    t.ok(false, 'updateSeen accepted', describe(e))
  }
  await eventually(
    'getUnreadCount drops to 0 after updateSeen',
    'app.bsky.notification.getUnreadCount',
    () => bob.countUnreadNotifications(),
    (r) => r.data.count === 0,
  )
  await eventually(
    'notifications read after updateSeen',
    'app.bsky.notification.listNotifications',
    () => bob.listNotifications({ limit: 50 }),
    (r) => r.data.notifications.length >= 3 && r.data.notifications.every((x) => x.isRead === true),
  )

  // --- the thread ---
  await eventually(
    'getPostThread shows the reply',
    'app.bsky.feed.getPostThread',
    () => alice.getPostThread({ uri: post.uri }),
    (r) => r.data.thread?.post?.uri === post.uri && (r.data.thread.replies ?? []).some((x) => x.post?.uri === reply.uri),
  )
  await eventually(
    'getPostThread of the reply shows its parent',
    'app.bsky.feed.getPostThread',
    () => bob.getPostThread({ uri: reply.uri }),
    (r) => r.data.thread?.post?.uri === reply.uri && r.data.thread.parent?.post?.uri === post.uri,
  )

  // --- search ---
  await eventually(
    'searchPosts finds the post',
    'app.bsky.feed.searchPosts',
    () => alice.app.bsky.feed.searchPosts({ q: 'committee' }),
    (r) => r.data.posts.some((p) => p.uri === post.uri),
  )

  // --- a deleted post disappears everywhere ---
  const doomed = await alice.post({
    text: 'Wrong room: picket moves to gatehouse',
    reply: { root: { uri: post.uri, cid: post.cid }, parent: { uri: post.uri, cid: post.cid } },
    createdAt: new Date().toISOString(),
  })
  await eventually(
    'the doomed reply is indexed',
    'app.bsky.feed.getPosts',
    () => alice.getPosts({ uris: [doomed.uri] }),
    (r) => r.data.posts.length === 1,
  )
  // Give the other views a chance to see it before it goes, so "gone" means "removed".
  await eventually('the doomed reply is in B\'s notifications', 'app.bsky.notification.listNotifications', () => bob.listNotifications({ limit: 50 }), (r) => r.data.notifications.some((n) => n.uri === doomed.uri))
  await eventually('the doomed reply is found by search', 'app.bsky.feed.searchPosts', () => alice.app.bsky.feed.searchPosts({ q: 'gatehouse' }), (r) => r.data.posts.some((p) => p.uri === doomed.uri))
  await alice.deletePost(doomed.uri)
  await eventually('deleted: gone from getPosts', 'app.bsky.feed.getPosts', () => alice.getPosts({ uris: [doomed.uri] }), (r) => r.data.posts.length === 0)
  await eventually('deleted: gone from the timeline', 'app.bsky.feed.getTimeline', () => alice.getTimeline({ limit: 50 }), (r) => !inFeed(r, doomed.uri) && !!inFeed(r, reply.uri))
  await eventually('deleted: gone from the author feed', 'app.bsky.feed.getAuthorFeed', () => bob.getAuthorFeed({ actor: A }), (r) => !inFeed(r, doomed.uri) && !!inFeed(r, reply.uri))
  await eventually('deleted: replyCount back to 1', 'app.bsky.feed.getPosts', () => alice.getPosts({ uris: [post.uri] }), (r) => r.data.posts[0]?.replyCount === 1)
  await eventuallyRejects('deleted: getPostThread answers NotFound', 'app.bsky.feed.getPostThread', () => alice.getPostThread({ uri: doomed.uri }), 'NotFound')
  await eventually(
    "deleted: gone from the parent's thread",
    'app.bsky.feed.getPostThread',
    () => alice.getPostThread({ uri: post.uri }),
    (r) => {
      const replies = (r.data.thread?.replies ?? []).map((x) => x.post?.uri)
      return replies.includes(reply.uri) && !replies.includes(doomed.uri)
    },
  )
  await eventually('deleted: gone from search', 'app.bsky.feed.searchPosts', () => alice.app.bsky.feed.searchPosts({ q: 'gatehouse' }), (r) => r.data.posts.length === 0)
  await eventually(
    'deleted: gone from notifications',
    'app.bsky.notification.listNotifications',
    () => bob.listNotifications({ limit: 50 }),
    (r) => r.data.notifications.some((n) => n.uri === reply.uri) && !r.data.notifications.some((n) => n.uri === doomed.uri),
  )

  // --- blocks: B blocks A, and B's posts are hidden from A ---
  const block = await bob.app.bsky.graph.block.create({ repo: B }, { subject: A, createdAt: new Date().toISOString() })
  await eventuallyRejects("blocked: A cannot read B's author feed (BlockedByActor)", 'app.bsky.feed.getAuthorFeed', () => alice.getAuthorFeed({ actor: B }), 'BlockedByActor')
  await eventuallyRejects("blocked: B reading A's author feed is BlockedActor", 'app.bsky.feed.getAuthorFeed', () => bob.getAuthorFeed({ actor: A }), 'BlockedActor')
  await eventually("blocked: B's post gone from A's timeline", 'app.bsky.feed.getTimeline', () => alice.getTimeline({ limit: 50 }), (r) => !inFeed(r, post.uri) && r.data.feed.every((f) => f.post.author.did !== B))
  await eventually(
    "blocked: A's profile view of B says blockedBy",
    'app.bsky.actor.getProfile',
    () => alice.getProfile({ actor: B }),
    (r) => r.data.viewer?.blockedBy === true,
  )
  await bob.app.bsky.graph.block.delete({ repo: B, rkey: block.uri.split('/').pop() })
  await eventually("unblocked: B's post back in A's timeline", 'app.bsky.feed.getTimeline', () => alice.getTimeline({ limit: 50 }), (r) => !!inFeed(r, post.uri))

  // --- deactivation hides an account; activation brings it back ---
  await bob.com.atproto.server.deactivateAccount({})
  await eventuallyRejects('deactivated: getProfile answers AccountDeactivated', 'app.bsky.actor.getProfile', () => alice.getProfile({ actor: B }), 'AccountDeactivated')
  await eventually("deactivated: B's posts gone from A's timeline", 'app.bsky.feed.getTimeline', () => alice.getTimeline({ limit: 50 }), (r) => r.data.feed.every((f) => f.post.author.did !== B))
  await eventually("deactivated: B's post gone from getPosts", 'app.bsky.feed.getPosts', () => alice.getPosts({ uris: [post.uri] }), (r) => r.data.posts.length === 0)
  await bob.com.atproto.server.activateAccount()
  await eventually('activated: getProfile answers again', 'app.bsky.actor.getProfile', () => alice.getProfile({ actor: B }), (r) => r.data.did === B && r.data.handle === 'bob.test')
  await eventually("activated: B's post back in A's timeline", 'app.bsky.feed.getTimeline', () => alice.getTimeline({ limit: 50 }), (r) => !!inFeed(r, post.uri))

  // --- a handle change reaches the AppView through #identity ---
  await alice.com.atproto.identity.updateHandle({ handle: 'alice2.test' })
  await eventually('handle change: profile shows the new handle', 'app.bsky.actor.getProfile', () => bob.getProfile({ actor: A }), (r) => r.data.handle === 'alice2.test')
  await eventually('handle change: the new handle resolves to the account', 'app.bsky.actor.getProfile', () => bob.getProfile({ actor: 'alice2.test' }), (r) => r.data.did === A)

  // --- the AppView tells the PDS how far it has read the caller's repo (atproto-repo-rev) ---
  {
    const rev = (await alice.com.atproto.sync.getLatestCommit({ did: A })).data.rev
    const raw = (path) => fetch(`${up.url}/xrpc/${path}`, { headers: { authorization: `Bearer ${alice.session.accessJwt}` } })
    for (const path of [
      'app.bsky.feed.getTimeline',
      `app.bsky.feed.getAuthorFeed?actor=${B}`,
      `app.bsky.feed.getPostThread?uri=${encodeURIComponent(post.uri)}`,
      `app.bsky.actor.getProfile?actor=${B}`,
    ]) {
      const start = Date.now()
      let got
      while (Date.now() - start < POLL_MS) {
        const r = await raw(path)
        got = `${r.status} ${r.headers.get('atproto-repo-rev')}`
        if (r.ok && r.headers.get('atproto-repo-rev') === rev) break
        await new Promise((res) => setTimeout(res, 50))
      }
      t.eq(got, `200 ${rev}`, `atproto-repo-rev is the caller's indexed rev: ${path.split('?')[0]}`)
    }
  }

  // --- getFeed through the PDS: a feed generator on did:web gets a token meant for it ---
  {
    const genPort = await freePort()
    const genDid = `did:web:localhost%3A${genPort}`
    const idResolver = new IdResolver({ plcUrl: plc.url })
    const seen = []
    const gen = http.createServer(async (req, res) => {
      const u = new URL(req.url, 'http://localhost')
      const send = (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (u.pathname === '/.well-known/did.json') {
        return send(200, {
          '@context': ['https://www.w3.org/ns/did/v1'],
          id: genDid,
          service: [{ id: '#bsky_fg', type: 'BskyFeedGenerator', serviceEndpoint: `http://localhost:${genPort}` }],
        })
      }
      if (u.pathname === '/xrpc/app.bsky.feed.getFeedSkeleton') {
        const jwt = (req.headers.authorization ?? '').replace(/^Bearer /, '')
        try {
          const payload = await verifyJwt(jwt, genDid, 'app.bsky.feed.getFeedSkeleton', (iss, force) =>
            idResolver.did.resolveAtprotoKey(iss, force),
          )
          seen.push({ ok: true, iss: payload.iss, aud: payload.aud, lxm: payload.lxm })
        } catch (e) {
          seen.push({ ok: false, error: e.message })
          return send(401, { error: 'AuthRequired', message: e.message })
        }
        return send(200, { feed: [{ post: post.uri }], cursor: 'next' })
      }
      send(404, { error: 'NotFound', message: u.pathname })
    })
    await new Promise((r) => gen.listen(genPort, '127.0.0.1', r))
    try {
      const genRec = await bob.com.atproto.repo.createRecord({
        repo: B,
        collection: 'app.bsky.feed.generator',
        rkey: 'organizers',
        record: { $type: 'app.bsky.feed.generator', did: genDid, displayName: 'Organizers', createdAt: new Date().toISOString() },
      })
      const feedUri = genRec.data.uri
      await eventually(
        'getFeedGenerator through the PDS: the generator is online',
        'app.bsky.feed.getFeedGenerator',
        () => alice.app.bsky.feed.getFeedGenerator({ feed: feedUri }),
        (r) => r.data.view.did === genDid && r.data.isOnline === true,
      )
      const f = await eventually(
        "getFeed through the PDS: the generator's skeleton, hydrated",
        'app.bsky.feed.getFeed',
        () => alice.app.bsky.feed.getFeed({ feed: feedUri, limit: 10 }),
        (r) => r.data.feed.length === 1 && r.data.feed[0].post.uri === post.uri,
      )
      t.eq(f?.data?.cursor, 'next', "getFeed: the generator's cursor")
      const good = seen.find((s) => s.ok)
      t.eq(
        [good?.iss, good?.aud, good?.lxm],
        [A, genDid, 'app.bsky.feed.getFeedSkeleton'],
        'the generator got a token from the user, for itself, for getFeedSkeleton (signature checked by @atproto/xrpc-server verifyJwt)',
      )
      t.eq(seen.filter((s) => !s.ok), [], 'the generator refused no token')
    } finally {
      gen.close()
    }
  }

  // --- read-after-write: an AppView that stopped indexing, and the user's PDS fills the gap ---
  {
    const lagPort = await freePort()
    const lagDid = `did:web:localhost%3A${lagPort}`
    const lagUrl = `http://localhost:${lagPort}`
    const lagDir = mkdtempSync(join(tmpdir(), 'hearth-lagging-appview-'))
    const startLagging = async (firehoses) => {
      const child = spawn(hearthBin, ['appview'], {
        env: {
          ...process.env,
          HEARTH_APPVIEW_PORT: String(lagPort),
          HEARTH_DATA_DIR: lagDir,
          HEARTH_PLC_URL: plc.url,
          HEARTH_DEV: 'true',
          HEARTH_FIREHOSES: firehoses,
          RUST_LOG: process.env.RUST_LOG ?? 'warn,tower_http=off',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      })
      const exited = new Promise((r) => child.on('exit', r))
      await waitHealthy(lagUrl)
      return async () => {
        child.kill('SIGTERM')
        await exited
      }
    }
    // Indexing: a second AppView follows the PDS until it has A's repo at the current rev...
    let stop = await startLagging(`localhost:${up.port}`)
    try {
      const viaLag = alice.withProxy('bsky_appview', lagDid)
      const bobViaLag = bob.withProxy('bsky_appview', lagDid)
      const rev = (await alice.com.atproto.sync.getLatestCommit({ did: A })).data.rev
      await eventually(
        'the second AppView indexed A up to the current rev',
        'app.bsky.feed.getPostThread',
        () => viaLag.getPostThread({ uri: post.uri }),
        (r) => r.headers['atproto-repo-rev'] === rev && (r.data.thread.replies ?? []).some((x) => x.post?.uri === reply.uri),
      )
      // ...then it restarts following nothing: it serves what it has and learns nothing new.
      await stop()
      stop = await startLagging('')

      const fresh = await alice.post({ text: 'Posted while the AppView lags: flyers are at the office', createdAt: new Date().toISOString() })
      const freshReply = await alice.post({
        text: 'Lagging reply: I can staff the Thursday table',
        reply: { root: { uri: post.uri, cid: post.cid }, parent: { uri: post.uri, cid: post.cid } },
        createdAt: new Date().toISOString(),
      })
      await alice.upsertProfile((p) => ({ ...p, displayName: 'Alice (read-after-write)', description: 'Steward, Local 12' }))

      const tl = await call('app.bsky.feed.getTimeline', () => viaLag.getTimeline({ limit: 50 }))
      t.eq(tl.data.feed[0]?.post?.uri, freshReply.uri, 'read-after-write: the newest write leads the timeline')
      t.ok(!!inFeed(tl, fresh.uri), 'read-after-write: the new post is in the timeline')
      t.eq(inFeed(tl, fresh.uri)?.post?.author?.displayName, 'Alice (read-after-write)', 'read-after-write: with the new display name')
      t.ok(Number(tl.headers['atproto-upstream-lag']) >= 0, 'read-after-write: the PDS reports the lag', tl.headers)
      const af = await call('app.bsky.feed.getAuthorFeed', () => viaLag.getAuthorFeed({ actor: A }))
      t.ok(!!inFeed(af, fresh.uri) && !!inFeed(af, freshReply.uri), 'read-after-write: the author feed has both new posts')
      const prof = await call('app.bsky.actor.getProfile', () => viaLag.getProfile({ actor: A }))
      t.eq([prof.data.displayName, prof.data.description], ['Alice (read-after-write)', 'Steward, Local 12'], 'read-after-write: getProfile shows the new profile')
      const th = await call('app.bsky.feed.getPostThread', () => viaLag.getPostThread({ uri: post.uri }))
      t.ok((th.data.thread.replies ?? []).some((x) => x.post?.uri === freshReply.uri), 'read-after-write: the thread shows the new reply')
      const own = await call('app.bsky.feed.getPostThread', () => viaLag.getPostThread({ uri: freshReply.uri }))
      t.eq([own.data.thread.post?.uri, own.data.thread.parent?.post?.uri], [freshReply.uri, post.uri], "read-after-write: the new reply's own thread, with its parent")

      // The control: the AppView really lags; what A saw came from A's PDS.
      const other = await call('app.bsky.feed.getAuthorFeed', () => bobViaLag.getAuthorFeed({ actor: A }))
      t.ok(!inFeed(other, fresh.uri), 'control: others reading the lagging AppView do not see the new post')
      const otherProf = await call('app.bsky.actor.getProfile', () => bobViaLag.getProfile({ actor: A }))
      t.ok(otherProf.data.displayName !== 'Alice (read-after-write)', 'control: nor the new display name', otherProf.data.displayName)
      // And the live AppView gets there on its own.
      await eventually('the live AppView indexes the new post', 'app.bsky.feed.getPosts', () => bob.getPosts({ uris: [fresh.uri] }), (r) => r.data.posts.length === 1)
    } finally {
      await stop()
    }
  }

  // --- the AppView's own health: nothing the PDS sent was dropped ---
  const health = await (await fetch(`${up.appviewUrl}/xrpc/_health`)).json()
  t.eq(health.ingest?.dropped ?? {}, {}, 'AppView dropped no event of a well-behaved PDS')
} catch (e) {
  t.ok(false, 'scenario ran to the end', e?.stack ?? String(e))
} finally {
  await up.stop()
  await plc.close()
  t.eq(invalid, [], 'every response valid per the official lexicons')
  const v = [...validated].sort()
  console.log(`appview interop: lexicon-validated by @atproto/api: ${v.join(', ') || 'none'}`)
  const unvalidated = [...answered].filter((n) => !validated.has(n))
  if (unvalidated.length) console.log(`appview interop: answered but not validated: ${unvalidated.join(', ')}`)
  if (notImplemented.size) console.log(`appview interop: still 501 MethodNotImplemented: ${[...notImplemented].sort().join(', ')}`)
  t.finish()
}
