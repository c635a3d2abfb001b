// The PDS judged by the official packages: @atproto/api drives a real user's session against
// `hearth pds` with the real PLC directory (@did-plc/server, in memory); @atproto/sync's
// Firehose replays the stream from cursor 0 with full validation; @atproto/repo verifies every
// repository export and, with its own MST, inverts every commit back to its prevData.
import { AtpAgent } from '@atproto/api'
import { Firehose } from '@atproto/sync'
import { IdResolver } from '@atproto/identity'
import { verifyRepoCar, readCarWithRoot, MST, MemoryBlockstore } from '@atproto/repo'
import { cborDecodeMulti, cborDecode } from '@atproto/common'
import { CID } from 'multiformats/cid'
import WebSocket from 'ws'
import { startPlc } from './lib/plc-server.mjs'
import { startPds } from './lib/hearth.mjs'
import { startSmtpSink } from './lib/smtp-sink.mjs'
import { Checks } from './lib/check.mjs'

const t = new Checks('pds interop')
const plc = await startPlc()
const smtp = await startSmtpSink()
const pds = await startPds({ plcUrl: plc.url, env: { HEARTH_SMTP_URL: smtp.url } })
const idResolver = new IdResolver({ plcUrl: plc.url })
const expected = [] // every write, in order: { did, action, path, cid }

// A 1x1 PNG.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
)

try {
  // --- accounts and sessions ---
  const alice = new AtpAgent({ service: pds.url })
  const bob = new AtpAgent({ service: pds.url })
  await alice.createAccount({ handle: 'alice.test', email: 'alice@example.com', password: 'alice-pass' })
  await bob.createAccount({ handle: 'bob.test', email: 'bob@example.com', password: 'bob-pass' })
  const aliceDid = alice.session.did
  const bobDid = bob.session.did
  t.ok(aliceDid.startsWith('did:plc:'), 'createAccount gives a did:plc')

  const login = new AtpAgent({ service: pds.url })
  await login.login({ identifier: 'alice.test', password: 'alice-pass' })
  t.eq(login.session.did, aliceDid, 'login by handle')
  const byEmail = new AtpAgent({ service: pds.url })
  await byEmail.login({ identifier: 'alice@example.com', password: 'alice-pass' })
  t.eq(byEmail.session.did, aliceDid, 'login by email')
  const sess = await login.com.atproto.server.getSession()
  t.ok(sess.data.active === true && sess.data.didDoc?.id === aliceDid, 'getSession carries active and the DID document')
  await t.rejects(() => new AtpAgent({ service: pds.url }).login({ identifier: 'alice.test', password: 'wrong' }), 'AuthenticationRequired', 'wrong password refused', 401)

  // Refresh rotates the refresh token; the old one still answers (with the same successor) for
  // a grace period; after deleteSession the new one is dead.
  const r1 = login.session.refreshJwt
  const refresh = (jwt) => login.com.atproto.server.refreshSession(undefined, { headers: { authorization: `Bearer ${jwt}` } })
  const rot = await refresh(r1)
  t.ok(rot.data.refreshJwt !== r1, 'refreshSession rotates the refresh token')
  const again = await refresh(r1)
  t.eq(JSON.parse(Buffer.from(again.data.refreshJwt.split('.')[1], 'base64url')).jti, JSON.parse(Buffer.from(rot.data.refreshJwt.split('.')[1], 'base64url')).jti, 'retrying a refresh gives the same successor')
  await login.com.atproto.server.deleteSession(undefined, { headers: { authorization: `Bearer ${rot.data.refreshJwt}` } })
  await t.rejects(() => refresh(rot.data.refreshJwt), 'InvalidToken', 'deleted session cannot refresh')
  await t.rejects(
    () => login.com.atproto.server.getSession(undefined, { headers: { authorization: `Bearer ${rot.data.refreshJwt}` } }),
    'InvalidToken',
    'a refresh token is not an access token',
  )

  // --- posting with an image ---
  const up = await alice.uploadBlob(PNG, { encoding: 'image/png' })
  t.eq(up.data.blob.mimeType, 'image/png', 'uploadBlob sniffs the type')
  const post = await alice.post({
    text: 'Meeting on Thursday',
    createdAt: new Date().toISOString(),
    embed: { $type: 'app.bsky.embed.images', images: [{ image: up.data.blob, alt: 'a pixel' }] },
  })
  expected.push({ did: aliceDid, action: 'create', path: post.uri.split('/').slice(3).join('/'), cid: post.cid })
  const blob = await fetch(`${pds.url}/xrpc/com.atproto.sync.getBlob?did=${aliceDid}&cid=${up.data.blob.ref.toString()}`)
  t.ok(blob.ok && Buffer.from(await blob.arrayBuffer()).equals(PNG), 'getBlob serves the image')
  t.eq(blob.headers.get('content-type'), 'image/png', 'getBlob content type')

  // --- reply, like, follow ---
  const reply = await bob.post({
    text: 'I will be there',
    reply: { root: { uri: post.uri, cid: post.cid }, parent: { uri: post.uri, cid: post.cid } },
    createdAt: new Date().toISOString(),
  })
  expected.push({ did: bobDid, action: 'create', path: reply.uri.split('/').slice(3).join('/'), cid: reply.cid })
  const like = await bob.like(post.uri, post.cid)
  expected.push({ did: bobDid, action: 'create', path: like.uri.split('/').slice(3).join('/'), cid: like.cid })
  const follow = await bob.follow(aliceDid)
  expected.push({ did: bobDid, action: 'create', path: follow.uri.split('/').slice(3).join('/'), cid: follow.cid })

  // --- profile with avatar (putRecord with swapRecord, twice) ---
  const avatar = await alice.uploadBlob(PNG, { encoding: 'image/png' })
  await alice.upsertProfile((p) => ({ ...(p ?? {}), displayName: 'Alice', avatar: avatar.data.blob }))
  let prof = await alice.com.atproto.repo.getRecord({ repo: aliceDid, collection: 'app.bsky.actor.profile', rkey: 'self' })
  expected.push({ did: aliceDid, action: 'create', path: 'app.bsky.actor.profile/self', cid: prof.data.cid })
  await alice.upsertProfile((p) => ({ ...p, description: 'Organizer' }))
  prof = await alice.com.atproto.repo.getRecord({ repo: aliceDid, collection: 'app.bsky.actor.profile', rkey: 'self' })
  expected.push({ did: aliceDid, action: 'update', path: 'app.bsky.actor.profile/self', cid: prof.data.cid })
  t.eq(prof.data.value.description, 'Organizer', 'profile updated')
  await t.rejects(
    () => alice.com.atproto.repo.putRecord({ repo: aliceDid, collection: 'app.bsky.actor.profile', rkey: 'self', record: prof.data.value, swapRecord: 'bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454' }),
    'InvalidSwap',
    'stale swapRecord refused',
  )

  // --- a post to delete ---
  const doomed = await alice.post({ text: 'typo', createdAt: new Date().toISOString() })
  expected.push({ did: aliceDid, action: 'create', path: doomed.uri.split('/').slice(3).join('/'), cid: doomed.cid })
  await alice.deletePost(doomed.uri)
  expected.push({ did: aliceDid, action: 'delete', path: doomed.uri.split('/').slice(3).join('/'), cid: null })
  await t.rejects(() => alice.com.atproto.repo.getRecord({ repo: aliceDid, collection: 'app.bsky.feed.post', rkey: doomed.uri.split('/').pop() }), 'RecordNotFound', 'deleted post is gone')

  // --- list and get ---
  const posts = await alice.com.atproto.repo.listRecords({ repo: aliceDid, collection: 'app.bsky.feed.post' })
  t.eq(posts.data.records.map((r) => r.uri), [post.uri], 'listRecords lists what is there')
  const got = await bob.com.atproto.repo.getRecord({ repo: 'alice.test', collection: 'app.bsky.feed.post', rkey: post.uri.split('/').pop() })
  t.eq(got.data.cid, post.cid, 'getRecord by handle')
  const desc = await alice.com.atproto.repo.describeRepo({ repo: aliceDid })
  t.eq(desc.data.collections, ['app.bsky.actor.profile', 'app.bsky.feed.post'], 'describeRepo collections')

  // --- app passwords ---
  const ap = await alice.com.atproto.server.createAppPassword({ name: 'phone' })
  const phone = new AtpAgent({ service: pds.url })
  await phone.login({ identifier: 'alice.test', password: ap.data.password })
  const fromPhone = await phone.post({ text: 'from my phone', createdAt: new Date().toISOString() })
  expected.push({ did: aliceDid, action: 'create', path: fromPhone.uri.split('/').slice(3).join('/'), cid: fromPhone.cid })
  await t.rejects(() => phone.com.atproto.server.createAppPassword({ name: 'sneaky' }), 'InvalidToken', 'app-password session cannot manage the account')
  const list = await alice.com.atproto.server.listAppPasswords()
  t.eq(list.data.passwords.map((p) => p.name), ['phone'], 'listAppPasswords')
  await alice.com.atproto.server.revokeAppPassword({ name: 'phone' })
  await t.rejects(() => new AtpAgent({ service: pds.url }).login({ identifier: 'alice.test', password: ap.data.password }), 'AuthenticationRequired', 'revoked app password no longer logs in')

  // --- writing someone else's repo ---
  await t.rejects(() => bob.com.atproto.repo.createRecord({ repo: aliceDid, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text: 'x', createdAt: new Date().toISOString() } }), 'AuthenticationRequired', "writing another user's repo refused", 401)

  // --- handle change ---
  await alice.com.atproto.identity.updateHandle({ handle: 'alice2.test' })
  const resolved = await bob.com.atproto.identity.resolveHandle({ handle: 'alice2.test' })
  t.eq(resolved.data.did, aliceDid, 'resolveHandle finds the new handle')
  const plcDoc = await (await fetch(`${plc.url}/${aliceDid}`)).json()
  t.eq(plcDoc.alsoKnownAs, ['at://alice2.test'], 'PLC document has the new handle')

  // --- PLC documents name Hearth ---
  for (const did of [aliceDid, bobDid]) {
    const doc = await (await fetch(`${plc.url}/${did}`)).json()
    const svc = doc.service?.find((s) => s.id === '#atproto_pds')
    t.eq(svc?.serviceEndpoint, pds.url, `PLC names Hearth as ${did}'s PDS`)
  }

  // --- @atproto/repo verifies every repository ---
  for (const did of [aliceDid, bobDid]) {
    const car = new Uint8Array(await (await fetch(`${pds.url}/xrpc/com.atproto.sync.getRepo?did=${did}`)).arrayBuffer())
    const key = await idResolver.did.resolveAtprotoKey(did, true)
    try {
      const verified = await verifyRepoCar(car, did, key)
      const live = new Set()
      for (const e of expected.filter((e) => e.did === did)) {
        if (e.action === 'delete') live.delete(e.path)
        else live.add(e.path)
      }
      const paths = verified.creates.map((c) => `${c.collection}/${c.rkey}`).sort()
      t.eq(paths, [...live].sort(), `verifyRepoCar: every record of ${did}`)
    } catch (e) {
      t.ok(false, `verifyRepoCar ${did}`, String(e))
    }
  }

  // --- the firehose, replayed from 0 by @atproto/sync with full validation ---
  const seen = []
  const errors = []
  const firehose = new Firehose({
    idResolver,
    service: pds.wsUrl,
    getCursor: 0,
    handleEvent: async (evt) => seen.push(evt),
    onError: (err) => errors.push(err),
  })
  firehose.start()
  const writes = () => seen.filter((e) => ['create', 'update', 'delete'].includes(e.event))
  for (let i = 0; i < 200 && writes().length < expected.length; i++) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 300))
  await firehose.destroy()
  t.eq(errors.map((e) => `${e.name}: ${e.message}`), [], 'firehose replay: zero validation errors')
  const got2 = writes().map((e) => ({ did: e.did, action: e.event, path: `${e.collection}/${e.rkey}`, cid: e.cid ? e.cid.toString() : null }))
  t.eq(got2, expected, 'firehose replay: every write, in order')
  const kinds = seen.filter((e) => e.did === aliceDid).map((e) => e.event)
  t.ok(kinds.indexOf('identity') < kinds.indexOf('create') && kinds.indexOf('account') < kinds.indexOf('create'), 'identity and account events precede the first write', kinds.join(','))
  t.ok(kinds.lastIndexOf('identity') > kinds.lastIndexOf('create'), 'handle change is an #identity event after the writes')

  // --- every #commit, inverted with the reference MST, lands on prevData ---
  const raw = await new Promise((resolve, reject) => {
    const frames = []
    const ws = new WebSocket(`${pds.wsUrl}/xrpc/com.atproto.sync.subscribeRepos?cursor=0`)
    let timer
    ws.on('message', (data) => {
      frames.push(cborDecodeMulti(new Uint8Array(data)))
      clearTimeout(timer)
      timer = setTimeout(() => ws.close(), 500)
    })
    ws.on('close', () => resolve(frames))
    ws.on('error', reject)
  })
  const seqs = raw.map(([, b]) => b.seq)
  t.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'sequence numbers increase')
  let inverted = 0
  for (const [h, evt] of raw) {
    if (h.t !== '#commit' || !evt.prevData) continue
    const { root, blocks } = await readCarWithRoot(evt.blocks)
    const commit = cborDecode(blocks.get(root))
    let mst = MST.load(new MemoryBlockstore(blocks), commit.data)
    try {
      for (const op of [...evt.ops].reverse()) {
        if (op.action === 'create') mst = await mst.delete(op.path)
        else if (op.action === 'update') mst = await mst.update(op.path, op.prev)
        else mst = await mst.add(op.path, op.prev)
      }
      const back = await mst.getPointer()
      if (t.ok(back.equals(evt.prevData), `commit ${evt.seq} inverts to prevData`)) inverted++
    } catch (e) {
      t.ok(false, `commit ${evt.seq} inverts with its own blocks`, String(e))
    }
  }
  t.ok(inverted >= expected.length, `${inverted} commits inverted by @atproto/repo`)

  // --- a forgotten password, by email ---
  const stranger = new AtpAgent({ service: pds.url })
  await stranger.com.atproto.server.requestPasswordReset({ email: 'alice@example.com' })
  const code = await smtp.code('alice@example.com')
  await t.rejects(() => stranger.com.atproto.server.resetPassword({ token: 'AAAAA-AAAAA', password: 'alice-new-pass' }), 'InvalidToken', 'resetPassword refuses a wrong code')
  await stranger.com.atproto.server.resetPassword({ token: code, password: 'alice-new-pass' })
  await t.rejects(() => stranger.com.atproto.server.resetPassword({ token: code, password: 'third-pass' }), 'InvalidToken', 'a reset code works once')
  await t.rejects(() => new AtpAgent({ service: pds.url }).login({ identifier: aliceDid, password: 'alice-pass' }), 'AuthenticationRequired', 'the old password no longer logs in', 401)
  const renewed = new AtpAgent({ service: pds.url })
  await renewed.login({ identifier: aliceDid, password: 'alice-new-pass' })
  t.eq(renewed.session.did, aliceDid, 'requestPasswordReset, the emailed code, resetPassword: the new password logs in')

  console.log(`pds interop: ${expected.length} writes replayed and verified, ${inverted} commits inverted`)
} catch (e) {
  t.ok(false, 'scenario ran to the end', e?.stack ?? String(e))
} finally {
  await pds.stop()
  await plc.close()
  await smtp.close()
  t.finish()
}
