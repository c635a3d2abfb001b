// The web app (issue 12), judged in a real browser: six journeys of organizers and members,
// each asserting what the person sees. `hearth up` (email to an SMTP sink) and the reference
// PDS (@atproto/pds 0.5.35, with its own OAuth server and authorization pages) share one PLC
// directory; headless Chromium (playwright-core) drives the web app at http://127.0.0.1:<port>.
// Every step runs axe-core (no serious or critical violations), checks that the browser reported
// no CSP violation, weighs the page (HTML+CSS+JS ≤ 60 KB) and saves screenshots at 390×844 and
// 1280×800 under target/web-journeys/. Journey 2 counts the Hearth pages from the invite link
// to the member's first post (the bar: at most 4; sign-in at their own PDS not counted).
//
// A journey whose page does not exist fails, loudly: nothing here is skipped.
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Checks } from './lib/check.mjs'
import { account, authorizeAtReference, journey, PAGE_WEIGHT_LIMIT, startWorld } from './lib/web-harness.mjs'

const Database = createRequire(import.meta.url)('better-sqlite3')

const t = new Checks('web journeys')

// A 1x1 PNG; a trailing byte after IEND makes each one a different blob.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
)
const png = (tag) => Buffer.concat([PNG, Buffer.from(tag)])

const rkey = (uri) => uri.split('/').pop()
const spacePath = (space) => `/s/${rkey(space)}`
const channelPath = (space, channel) => `${spacePath(space)}/c/${rkey(channel)}`

/** A space made through the API by `owner` (what journeys not about creating one start from). */
async function spaceBy(owner, name, description) {
  const created = await owner.h('space.create', undefined, { name, description, joinPolicy: 'invite' })
  const channels = Object.fromEntries(created.channels.map((c) => [c.kind, c.uri]))
  return { uri: created.space.uri, channels }
}

/**
 * Signs `person` in from the page they are on (following its "Sign in" link if it has no form):
 * an account on the reference PDS by its handle and the PDS's own OAuth authorization page; an
 * account on Hearth's PDS through the clearly labelled app-password form.
 */
async function signIn(person) {
  const { page, who } = person
  const appPasswordForm = page.locator('form', { has: page.getByLabel(/app password/i) })
  const handleForm = page.locator('form', { has: page.getByLabel(/handle/i) }).filter({ hasNot: page.getByLabel(/app password/i) })
  // The page's own form if it has the one this account needs (an invite's handle field),
  // otherwise the sign-in page.
  const form = who.where === 'reference' ? handleForm : appPasswordForm
  if (!(await form.first().isVisible().catch(() => false))) {
    await page.getByRole('link', { name: /^sign in/i }).or(page.getByRole('button', { name: /^sign in/i })).first().click()
    await form.first().waitFor()
  }
  const submit = async (name) => {
    if (who.where === 'reference') {
      await handleForm.getByLabel(/handle/i).fill(name)
      await handleForm.getByRole('button', { name: /continue|sign in/i }).click()
    } else {
      await appPasswordForm.getByLabel(/handle/i).fill(name)
      await appPasswordForm.getByLabel(/app password/i).fill(await who.appPassword())
      await appPasswordForm.getByRole('button', { name: /sign in/i }).click()
    }
    await page.waitForLoadState('load')
  }
  await submit(who.handle)
  // A handle the web app cannot resolve is a failure; the DID then lets the journey go on.
  const unknown = person.onHearth() && (await page.getByText(/no account was found/i).count()) > 0
  person.t.ok(!unknown, `journey ${person.journey.number} ${person.label}: the sign-in page finds the account by its handle ${who.handle}`)
  if (unknown) await submit(who.did)
  if (who.where === 'reference') await authorizeAtReference(person)
  await page.waitForLoadState('load')
  const signedIn = await page.getByRole('button', { name: /sign out/i }).first().isVisible().catch(() => false)
  if (!signedIn) throw new Error(`${person.label} is not signed in at ${page.url()}: ${(await person.visibleText()).slice(0, 300)}`)
  await person.sees(`@${who.handle}`, 'their handle, signed in')
}

/** The inbox badge on the home page ("3 unread"), 0 when there is none. */
async function inboxUnread(person) {
  const badge = person.page.getByRole('heading', { name: /inbox/i }).getByLabel(/unread/i)
  if (!(await badge.count())) return 0
  return Number((await badge.first().getAttribute('aria-label')).match(/\d+/)?.[0] ?? NaN)
}

/** Waits for the `seen + 1`th email to `to` whose text matches `re`; its decoded text. */
async function emailTo(sink, to, re, seen = 0, ms = 15000) {
  const start = Date.now()
  while (Date.now() - start < ms) {
    const mine = sink.messages.filter((m) => m.to.includes(to) && re.test(decodeMail(m.data)))
    if (mine.length > seen) return decodeMail(mine[seen].data)
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`no email to ${to} matching ${re}`)
}

/** A message's text with quoted-printable soft breaks and escapes undone (enough to read links). */
function decodeMail(data) {
  return data.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)))
}

let world
try {
  world = await startWorld()
  const { web, up } = world
  console.log(`web app at ${web}; reference PDS at ${world.ref.url}; Hearth PDS at ${up.url}`)
  // The README's bar: the first thing `hearth up` prints tells a newcomer where to go.
  const firstLine = up.log().split('\n')[0]
  t.ok(firstLine.includes(`open ${web} and sign in`), '`hearth up` first prints: open the web app and sign in', firstLine)
  t.ok(/accounts create --handle/.test(up.log().split('\n').slice(0, 6).join('\n')), '`hearth up` then says how to make a local account to sign in with')

  // ---------------------------------------------------------------------------------------
  // 6. An outsider, signed in, sees only the invite landing page; private image URLs return
  //    nothing (signed in or out), while a member gets the image at the same URL.
  await journey(t, world, 6, 'outsider sees only the landing page', async (j) => {
    const owner = await account(world, 'hearth', 'olivia')
    const outsiderAccount = await account(world, 'hearth', 'oscar')
    const space = await spaceBy(owner, 'Harbor Workers Assembly', 'Dock workers of the east harbor')
    const secret = 'PRIVATE-ALPHA strike fund vote on Monday'
    await owner.h('post.create', undefined, { channel: space.channels.announcements, text: secret })
    const up6 = await owner.h('post.uploadImage', { space: space.uri }, png('six'), 'image/png')
    const cid = up6.image.ref.toString()
    await owner.h('post.create', undefined, { channel: space.channels.discussion, text: 'PRIVATE-BRAVO picket map', images: [{ image: up6.image, alt: 'map' }] })
    const inv = await owner.h('invite.create', undefined, { space: space.uri })
    const imagePath = `${spacePath(space.uri)}/img/${cid}`
    const privateBits = [secret, 'PRIVATE-BRAVO', cid, 'picket map']

    // Control: the owner, signed in, gets the image at that URL (else a wrong URL would pass).
    const member = await j.person('owner', owner)
    await member.open('/')
    await signIn(member)
    const mine = await member.context.request.get(`${web}${imagePath}`)
    t.ok(mine.status() === 200 && Buffer.from(await mine.body()).equals(png('six')), 'journey 6 control: a member gets the private image', `${mine.status()}`)

    const oscar = await j.person('outsider', outsiderAccount)
    await oscar.open('/')
    await signIn(oscar)
    await oscar.step('signed in, home')
    await oscar.seesNothingOf([...privateBits, 'Harbor Workers'], 'home shows nothing of a space they are not in')

    for (const [what, path] of [
      ['the space page', spacePath(space.uri)],
      ['the announcements channel', channelPath(space.uri, space.channels.announcements)],
      ['the discussion channel', channelPath(space.uri, space.channels.discussion)],
    ]) {
      const res = await oscar.open(path)
      t.ok(res && res.status() >= 400, `journey 6 outsider: ${what} is refused`, `${res?.status()}`)
      await oscar.seesNothingOf([...privateBits, 'Harbor Workers', 'east harbor'], `${what} shows nothing of the space`)
    }
    await oscar.step('a space page, refused')

    const img = await oscar.context.request.get(`${web}${imagePath}`)
    const imgBody = Buffer.from(await img.body())
    t.ok(img.status() >= 400 && !imgBody.includes(PNG.subarray(0, 8)), 'journey 6 outsider: the private image URL returns nothing', `${img.status()}`)
    const anon = await fetch(`${web}${imagePath}`, { redirect: 'manual' })
    const anonBody = Buffer.from(await anon.arrayBuffer())
    t.ok(anon.status >= 300 && !anonBody.includes(PNG.subarray(0, 8)), 'journey 6 signed out: the private image URL returns nothing', `${anon.status}`)

    // The invite landing page: what the space is and who invited, nothing private.
    await oscar.open(inv.link)
    await oscar.mustSee('Harbor Workers Assembly', 'the space name on the invite landing page')
    await oscar.sees('Dock workers of the east harbor', 'the space description')
    await oscar.sees(owner.handle, 'who invited them')
    t.ok(await oscar.page.getByRole('button', { name: /join/i }).first().isVisible().catch(() => false), 'journey 6 outsider: one "Join" button on the landing page')
    await oscar.seesNothingOf(privateBits, 'the landing page shows nothing private')
    await oscar.step('invite landing, signed in')
  })

  // ---------------------------------------------------------------------------------------
  // 2. A member on the reference PDS opens the invite link signed out, signs in at their own
  //    PDS, joins, answers the notification question, reads the announcement and asks a
  //    question; a leader on Hearth's PDS answers and marks it; the member sees the answer
  //    marked and the inbox badge drop after reading.
  await journey(t, world, 2, 'member joins by invite link and asks a question', async (j) => {
    const leaderAccount = await account(world, 'hearth', 'lena')
    const memberAccount = await account(world, 'reference', 'mira')
    const space = await spaceBy(leaderAccount, 'Riverside Tenants Union', 'Tenants of the Riverside blocks')
    const announcement = 'Rent strike meeting Thursday at 7pm'
    await leaderAccount.h('post.create', undefined, { channel: space.channels.announcements, text: announcement })
    const inv = await leaderAccount.h('invite.create', undefined, { space: space.uri })

    const mira = await j.person('member', memberAccount)
    const mark = mira.hearthPages.length
    await mira.open(inv.link)
    await mira.mustSee('Riverside Tenants Union', 'the space name, signed out')
    await mira.sees('Tenants of the Riverside blocks', 'the description, signed out')
    await mira.seesNothingOf([announcement], 'the signed-out landing page shows no post')
    await mira.step('invite landing, signed out')

    // The landing page itself asks for the handle (or links to the sign-in page).
    if (!(await mira.page.getByLabel(/handle/i).first().isVisible().catch(() => false))) {
      await mira.page.getByRole('button', { name: /sign in/i }).or(mira.page.getByRole('link', { name: /sign in/i })).first().click()
    }
    await signIn(mira)
    await mira.mustSee('Riverside Tenants Union', 'the invitation again, signed in')
    // The one question: on the Join form, or on the page after it.
    const question1 = /how often do you want to hear from this group/i
    // Not the default answer, so the check below sees the answer was kept.
    const answerQuestion = async () => {
      await mira.page.getByLabel(/everything/i).first().check()
    }
    const askedWithJoin = (await mira.page.getByText(question1).count()) > 0
    if (askedWithJoin) {
      await answerQuestion()
      await mira.step('invite landing, signed in: join and the one question')
    }
    const join = mira.page.getByRole('button', { name: /^join/i }).first()
    if (await join.isVisible().catch(() => false)) {
      if (!askedWithJoin) await mira.step('invite landing, signed in')
      await join.click()
    }
    if (!askedWithJoin) {
      await mira.mustSee(question1, 'the one notification question')
      await mira.step('notification question')
      await answerQuestion()
      await mira.page.getByRole('button', { name: /save|continue|done/i }).first().click()
    }
    const after = await memberAccount.h('space.get', { space: space.uri })
    t.eq(after.space.viewer?.notificationLevel, 'all', 'journey 2: the answer to the one question is the space\'s notification level')

    if (!(await mira.page.getByText(announcement).count())) {
      await mira.step('the space after joining')
      await mira.page.getByRole('link', { name: /^announcements/i }).first().click()
    }
    await mira.mustSee(announcement, 'the announcement')
    await mira.step('the space, announcement read')
    const question = 'Where do we meet on Thursday?'
    // Asked where the person is if the page offers it, otherwise in the Questions channel.
    const askHere = mira.page.getByLabel(/your question/i).first()
    if (!(await askHere.isVisible().catch(() => false))) {
      await mira.page.getByRole('link', { name: /questions/i }).first().click()
      await mira.page.waitForLoadState('load')
    }
    await mira.page.getByLabel(/your question/i).first().fill(question)
    await mira.page.getByRole('button', { name: /^(post|ask|send)/i }).first().click()
    await mira.mustSee(question, 'their question posted')
    await mira.step('question asked')
    const pages = mira.pagesSince(mark)
    console.log(`  invite link → first post: ${pages.length} Hearth pages: ${pages.join(' → ')}`)
    world.invitePages = pages.length
    t.ok(pages.length <= 4, `journey 2: invite link → first post in ≤ 4 Hearth pages (${pages.length})`, pages.join(' → '))

    // The member's home page stays open while the leader answers.
    await mira.open('/')
    const liveBadge = mira.page.locator('header [data-unread]')
    t.ok(!(await liveBadge.isVisible()), 'journey 2 member: no unread badge in the header yet')

    // The leader, on Hearth's PDS, answers in the thread and marks the answer.
    const lena = await j.person('leader', leaderAccount)
    await lena.open(channelPath(space.uri, space.channels.questions))
    await signIn(lena)
    await lena.open(channelPath(space.uri, space.channels.questions))
    await lena.page.locator('article').filter({ hasText: question }).getByRole('link', { name: /repl(y|ies)/i }).first().click()
    await lena.mustSee(question, 'the question thread')
    const answer = 'In the community hall, ground floor'
    await lena.page.getByRole('textbox').first().fill(answer)
    await lena.page.getByRole('button', { name: /^(reply|post|send)/i }).first().click()
    await lena.mustSee(answer, 'their answer')
    await lena.page.getByRole('button', { name: /mark as answer/i }).first().click()
    await lena.mustSee(/answered|accepted answer/i, 'the answer marked')
    await lena.step('answer marked')

    // Without a reload, the header's badge has counted the answer (server-sent events).
    const live = await liveBadge.waitFor({ state: 'visible', timeout: 10000 }).then(() => true, () => false)
    t.ok(live && Number(await liveBadge.textContent()) > 0, 'journey 2 member: the badge in the header updates live, without a reload')
    await mira.step('badge updated live')

    // The member: an unread badge, the answer marked, then the badge gone.
    await mira.open('/')
    const unreadBefore = await inboxUnread(mira)
    t.ok(unreadBefore > 0, 'journey 2 member: the inbox badge shows unread notifications', `${unreadBefore}`)
    await mira.step('home with unread')
    await mira.page.getByRole('region', { name: /inbox/i }).getByRole('link').first().click()
    await mira.mustSee(answer, 'the answer in the thread')
    await mira.mustSee(/answered|accepted answer/i, 'the answer marked, as the member sees it')
    await mira.step('thread with the answer')
    await mira.open('/')
    const unreadAfter = await inboxUnread(mira)
    t.ok(unreadAfter < unreadBefore, `journey 2 member: the inbox badge drops after reading (${unreadBefore} → ${unreadAfter})`)
    await mira.step('home after reading')
  })
  // ---------------------------------------------------------------------------------------
  // 1. An organizer on the reference PDS signs in through its real authorization page,
  //    creates an Organization space from the template and invites by link (and QR code).
  await journey(t, world, 1, 'organizer creates a space and invites by link', async (j) => {
    const orgAccount = await account(world, 'reference', 'ona')
    const ona = await j.person('organizer', orgAccount)
    await ona.open('/')
    await ona.step('welcome, signed out')
    await signIn(ona)
    await ona.step('home, signed in')

    await ona.page.getByRole('link', { name: /start a space|create a space|new space/i }).first().click()
    await ona.mustSee(/organization/i, 'the Organization template')
    await ona.step('create a space')
    await ona.page.getByLabel(/organization/i).first().check()
    await ona.page.getByLabel(/^name/i).first().fill('Northside Food Bank')
    await ona.page.getByLabel(/description/i).first().fill('Volunteers of the Northside food bank')
    await ona.page.getByRole('button', { name: /^(create|start)/i }).first().click()
    await ona.mustSee('Northside Food Bank', 'their new space')
    for (const channel of ['Announcements', 'Discussion', 'Questions', 'Leadership']) {
      await ona.sees(new RegExp(`^\\s*${channel}`), `the ${channel} channel`)
    }
    await ona.step('the new space')
    // What the page says is what the service holds: an Organization with leaders-only parts.
    const mine = await orgAccount.h('space.listMine', {})
    const made = mine.spaces.find((sp) => sp.name === 'Northside Food Bank')
    t.ok(made, 'journey 1: the space exists for its organizer', JSON.stringify(mine.spaces.map((sp) => sp.name)))
    if (made) {
      const got = await orgAccount.h('space.get', { space: made.uri })
      const byName = Object.fromEntries(got.channels.map((c) => [c.name, c]))
      t.eq(Object.keys(byName).sort(), ['Announcements', 'Discussion', 'Leadership', 'Questions'], 'journey 1: the Organization template made its four channels')
      t.ok(byName.Leadership && byName.Leadership.readRole !== 'member', 'journey 1: Leadership is for leaders only', JSON.stringify(byName.Leadership))
      t.ok(byName.Announcements && byName.Announcements.postRole !== 'member', 'journey 1: only leaders post announcements', JSON.stringify(byName.Announcements))
    }

    const inviteLink = ona.page.getByRole('link', { name: /invite/i }).first()
    const findable = await inviteLink.isVisible().catch(() => false)
    t.ok(findable, 'journey 1: the space page links to its invite page')
    if (findable) await inviteLink.click()
    else if (made) await ona.open(`${spacePath(made.uri)}/invite`)
    await ona.page.getByRole('button', { name: /^(create|new|make)/i }).first().click()
    const linkField = ona.page.getByLabel(/invite link/i).and(ona.page.locator('input'))
    const shown = (await linkField.count()) ? await linkField.first().inputValue() : await ona.visibleText()
    const linkText = shown.match(/https?:\/\/\S+\/(?:i|join)\/[\w-]+/)?.[0]
    t.ok(linkText, 'journey 1: the invite page shows the link', (await ona.visibleText()).slice(0, 300))
    const qr = ona.page.locator('svg').filter({ has: ona.page.locator('path, rect') })
    t.ok((await qr.count()) > 0, 'journey 1: the invite page shows a QR code (SVG)')
    await ona.step('invite link and QR code')

    // The link works: someone signed out sees what the space is.
    if (linkText) {
      const guest = await j.person('guest', null)
      await guest.open(linkText)
      await guest.mustSee('Northside Food Bank', 'the space name behind the new link')
      await guest.step('the new link, signed out')
    }
  })

  // ---------------------------------------------------------------------------------------
  // 4. Moderation: a member reports a post; a moderator sees it in the queue and hides it with
  //    a reason; the audit log shows it; a removed member's next page load shows nothing.
  await journey(t, world, 4, 'report, hide, audit, remove', async (j) => {
    const ownerAccount = await account(world, 'hearth', 'mona')
    const reporterAccount = await account(world, 'hearth', 'rex')
    const trollAccount = await account(world, 'hearth', 'tristan')
    const space = await spaceBy(ownerAccount, 'Eastside Parents Circle', 'Parents of the Eastside school')
    const inv = await ownerAccount.h('invite.create', undefined, { space: space.uri, maxUses: 10 })
    await reporterAccount.h('invite.accept', undefined, { token: inv.token })
    await trollAccount.h('invite.accept', undefined, { token: inv.token })
    const spam = 'PRIVATE-SPAM cheap watches at my link'
    await trollAccount.h('post.create', undefined, { channel: space.channels.discussion, text: spam })
    const kind = 'Bake sale on Friday, who can help?'
    await reporterAccount.h('post.create', undefined, { channel: space.channels.discussion, text: kind })

    // The member who will be removed has the space open already.
    const tristan = await j.person('removed member', trollAccount)
    await tristan.open('/')
    await signIn(tristan)
    await tristan.open(channelPath(space.uri, space.channels.discussion))
    await tristan.mustSee(kind, 'the discussion, as a member')

    const rex = await j.person('reporter', reporterAccount)
    await rex.open('/')
    await signIn(rex)
    await rex.open(channelPath(space.uri, space.channels.discussion))
    await rex.mustSee(spam, 'the post to report')
    const post = rex.page.locator('article, li').filter({ hasText: spam }).last()
    await post.getByRole('button', { name: /report/i }).or(post.getByRole('link', { name: /report/i })).first().click()
    await rex.page.getByRole('radio').first().check()
    await rex.step('report a post')
    await rex.page.getByRole('button', { name: /^send report/i }).click()
    await rex.mustSee(/reported|report (was )?sent|thank/i, 'that the report was sent')
    await rex.step('report sent')

    const mona = await j.person('moderator', ownerAccount)
    await mona.open(spacePath(space.uri))
    await signIn(mona)
    await mona.open(spacePath(space.uri))
    await mona.page.getByRole('link', { name: /moderation|reports/i }).first().click()
    await mona.mustSee(spam, 'the reported post in the queue')
    await mona.step('moderation queue')
    const why = 'Advertising is not allowed here'
    await mona.page.getByLabel(/^hide the post/i).first().check()
    await mona.page.getByLabel(/^reason/i).first().fill(why)
    await mona.page.getByRole('button', { name: /^decide/i }).first().click()
    await mona.sees(/hidden|resolved|no open reports|nothing to review/i, 'the report resolved')
    await mona.step('post hidden')
    await mona.open(spacePath(space.uri))
    await mona.page.getByRole('link', { name: /audit/i }).first().click()
    await mona.mustSee(why, 'the reason in the audit log')
    await mona.sees(/hid|hide/i, 'the hide action in the audit log')
    await mona.step('audit log')

    // The reporter no longer sees the hidden post.
    await rex.open(channelPath(space.uri, space.channels.discussion))
    await rex.mustSee(kind, 'the discussion again')
    await rex.seesNothingOf([spam], 'the hidden post is gone for members')

    // Removing the member, from the members page.
    await mona.open(spacePath(space.uri))
    await mona.page.getByRole('link', { name: /members/i }).first().click()
    await mona.mustSee(trollAccount.handle, 'the member to remove')
    const row = mona.page.locator('li, tr, article').filter({ hasText: trollAccount.handle }).last()
    await row.getByRole('button', { name: /^remove/i }).first().click()
    const confirm = mona.page.getByRole('button', { name: /^(remove|yes|confirm)/i })
    if (await confirm.first().isVisible().catch(() => false)) await confirm.first().click()
    await mona.step('member removed')
    const members = await ownerAccount.h('member.list', { space: space.uri })
    t.ok(!members.members.some((m) => m.did === trollAccount.did), 'journey 4: the member is removed (the service agrees)')

    await tristan.page.reload()
    await tristan.seesNothingOf([kind, spam, 'Eastside Parents Circle', 'Parents of the Eastside'], "the removed member's next page load shows nothing of the space")
    await tristan.step('removed, next page load')
    await tristan.open('/')
    await tristan.seesNothingOf([kind, 'Eastside Parents Circle'], 'nor does their home page')
  })

  // ---------------------------------------------------------------------------------------
  // 3. Email: a member sets an address and confirms it from the email; announcement emails
  //    and the weekly digest reach verified addresses only; the unsubscribe link works.
  await journey(t, world, 3, 'email only to verified addresses, unsubscribe works', async (j) => {
    const leaderAccount = await account(world, 'hearth', 'ella')
    const verifiedAccount = await account(world, 'reference', 'vera')
    const unverifiedAccount = await account(world, 'hearth', 'uma')
    const space = await spaceBy(leaderAccount, 'Lakeside Choir', 'Singers of the Lakeside church')
    const inv = await leaderAccount.h('invite.create', undefined, { space: space.uri, maxUses: 10 })
    await verifiedAccount.h('invite.accept', undefined, { token: inv.token })
    await unverifiedAccount.h('invite.accept', undefined, { token: inv.token })
    const veraMail = 'vera.sings@example.org'
    const umaMail = 'uma.sings@example.org'
    // The other member gives an address and never confirms it.
    await unverifiedAccount.h('notification.putSettings', undefined, { email: umaMail, digest: 'weekly', announcementEmails: true })

    const vera = await j.person('member', verifiedAccount)
    await vera.open('/')
    await signIn(vera)
    await vera.open('/settings')
    await vera.page.getByLabel(/email/i).and(vera.page.locator('input')).first().fill(veraMail)
    await vera.page.getByLabel(/summary|digest/i).first().selectOption('weekly')
    const ann = vera.page.getByLabel(/announcement/i).and(vera.page.locator('input[type=checkbox]'))
    if (await ann.count()) await ann.first().check()
    await vera.step('email settings')
    await vera.page.getByRole('button', { name: /save/i }).first().click()
    await vera.sees(/confirm|verif/i, 'that the address needs confirming')
    await vera.step('email saved, not yet confirmed')

    const confirmMail = await emailTo(world.sink, veraMail, /\/email\/confirm\//)
    const confirmLink = confirmMail.match(/https?:\/\/\S+\/email\/confirm\/[\w-]+/)?.[0]
    t.ok(confirmLink, 'journey 3: the confirmation email carries a link', confirmMail.slice(0, 300))
    await vera.open(confirmLink)
    await vera.mustSee(/confirmed|verified/i, 'the address confirmed')
    await vera.step('address confirmed')
    await vera.open('/settings')
    await vera.sees(/confirmed|verified/i, 'settings show the address as confirmed')

    // The leader's composer says who will be emailed; the announcement reaches vera only.
    const ella = await j.person('leader', leaderAccount)
    await ella.open(channelPath(space.uri, space.channels.announcements))
    await signIn(ella)
    await ella.open(channelPath(space.uri, space.channels.announcements))
    await ella.sees(/email/i, 'the composer saying who will get an email')
    const text = 'Rehearsal moved to Wednesday 6pm'
    await ella.page.getByRole('textbox').first().fill(text)
    await ella.step('announcement composer')
    await ella.page.getByRole('button', { name: /^(post|send|announce)/i }).first().click()
    await ella.mustSee(text, 'the announcement posted')

    const annMail = await emailTo(world.sink, veraMail, new RegExp(text))
    t.ok(annMail.includes(text), 'journey 3: the announcement email reaches the verified address')
    const unsubscribe = annMail.match(/https?:\/\/\S+\/email\/unsubscribe\/[\w-]+/)?.[0]
    t.ok(unsubscribe, 'journey 3: the announcement email has an unsubscribe link')
    await new Promise((r) => setTimeout(r, 1500))
    t.ok(!world.sink.messages.some((m) => m.to.includes(umaMail) && decodeMail(m.data).includes(text)), 'journey 3: no announcement email to the unconfirmed address')

    // Digests are queued when the server starts and hourly after; turning one on starts its
    // first week now. A week passes (in the spaces database, while the server is stopped).
    await world.restart((dataDir) => {
      const db = new Database(join(dataDir, 'appview', 'spaces.sqlite'))
      try {
        const week = 7 * 24 * 3600 * 1000
        const changed = db.prepare('UPDATE settings SET last_digest_at = last_digest_at - ? WHERE digest = ?').run(week + 60_000, 'weekly').changes
        t.ok(changed >= 1, 'journey 3: a week has passed for the weekly digests', String(changed))
      } finally {
        db.close()
      }
    })
    const digest = await emailTo(world.sink, veraMail, /digest/i)
    t.ok(/weekly/i.test(digest), 'journey 3: the weekly digest reaches the verified address', digest.slice(0, 300))
    await new Promise((r) => setTimeout(r, 1500))
    // Only the request to confirm it: no announcement, no digest.
    const toUma = world.sink.messages.filter((m) => m.to.includes(umaMail)).map((m) => decodeMail(m.data))
    t.ok(toUma.every((m) => /\/email\/confirm\//.test(m) && !/digest/i.test(m)), 'journey 3: nothing but the confirmation request to the unconfirmed address', toUma.map((m) => m.slice(0, 200)).join('\n---\n'))

    // One click on the link in the email, then no more email.
    await vera.open(unsubscribe)
    const stop = vera.page.getByRole('button', { name: /stop|unsubscribe/i })
    if (await stop.first().isVisible().catch(() => false)) {
      await vera.step('unsubscribe page')
      await stop.first().click()
    }
    await vera.mustSee(/unsubscribed|no more email/i, 'unsubscribed')
    await vera.step('unsubscribed')
    const before = world.sink.messages.filter((m) => m.to.includes(veraMail)).length
    await leaderAccount.h('post.create', undefined, { channel: space.channels.announcements, text: 'Concert tickets are on sale' })
    await new Promise((r) => setTimeout(r, 3000))
    t.eq(world.sink.messages.filter((m) => m.to.includes(veraMail)).length, before, 'journey 3: no email after unsubscribing')
  })

  // ---------------------------------------------------------------------------------------
  // 5. Share publicly: a leader turns an announcement into an ordinary public post on their
  //    own account; it appears in their repo and in the AppView's app.bsky views, with nothing
  //    of the space in it.
  await journey(t, world, 5, 'leader shares an announcement publicly', async (j) => {
    const leaderAccount = await account(world, 'reference', 'sol')
    const space = await spaceBy(leaderAccount, 'Market Street Mutual Aid', 'Neighbours of Market Street')
    const text = 'Food drive on Saturday at 10am in the square, everyone welcome'
    const ann = await leaderAccount.h('post.create', undefined, { channel: space.channels.announcements, text })
    await leaderAccount.h('post.create', undefined, { channel: space.channels.discussion, text: 'PRIVATE-KILO who has the van keys?' })

    const sol = await j.person('leader', leaderAccount)
    await sol.open('/')
    await signIn(sol)
    await sol.open(channelPath(space.uri, space.channels.announcements))
    await sol.mustSee(text, 'the announcement')
    const post = sol.page.locator('article, li').filter({ hasText: text }).last()
    const share = post.getByRole('link', { name: /share publicly/i }).or(post.getByRole('button', { name: /share publicly/i })).first()
    const offered = await share.isVisible().catch(() => false)
    t.ok(offered, 'journey 5: the announcement offers "Share publicly" to its author')
    // Without the link, the share page itself is still judged.
    if (offered) await share.click()
    else await sol.open(`/share?post=${encodeURIComponent(ann.post.uri)}`)
    await sol.mustSee(/public/i, 'that the post becomes public')
    await sol.mustSee(text, 'the text to be shared')
    await sol.step('share publicly, stated plainly')
    const before = await leaderAccount.agent.com.atproto.repo.listRecords({ repo: leaderAccount.did, collection: 'app.bsky.feed.post' })
    t.eq(before.data.records.length, 0, 'journey 5: nothing public before the leader confirms')
    await sol.page.getByRole('button', { name: /share|post publicly|publish/i }).first().click()
    // The first time, the narrow repo scope is asked for at their own PDS.
    const refOrigin = new URL(world.ref.url).origin
    await sol.page.waitForURL((u) => u.origin === refOrigin || world.webOrigins.includes(u.origin))
    if (new URL(sol.page.url()).origin === refOrigin) await authorizeAtReference(sol)
    // Back from their PDS with the new permission, the page may ask once more.
    const shared = sol.page.getByRole('heading', { name: /^shared publicly/i })
    if (!(await shared.isVisible().catch(() => false))) {
      await sol.step('back from the PDS')
      await sol.page.getByRole('button', { name: /post publicly/i }).first().click()
    }
    await sol.mustSee(/^shared publicly$/i, 'that the post is public now')
    await sol.step('shared')

    const after = await leaderAccount.agent.com.atproto.repo.listRecords({ repo: leaderAccount.did, collection: 'app.bsky.feed.post' })
    t.eq(after.data.records.length, 1, 'journey 5: one public post in the leader\'s repo')
    const record = after.data.records[0]
    const secrets = ['Market Street Mutual Aid', 'Neighbours of Market Street', 'PRIVATE-KILO', 'social.hearth', space.uri, rkey(space.uri), ann.post.uri, world.up.appviewDid]
    if (record) {
      t.eq(record.value.text, text, 'journey 5: the public post is the announcement text')
      const json = JSON.stringify(record)
      t.eq(secrets.filter((x) => json.includes(x)), [], 'journey 5: no space text or URI in the public record')
    }
    // Hearth's AppView indexes the reference PDS's firehose: the post shows in app.bsky views.
    let feed = []
    for (let i = 0; i < 100 && !feed.length; i++) {
      const r = await fetch(`${world.up.appviewUrl}/xrpc/app.bsky.feed.getAuthorFeed?actor=${leaderAccount.did}`)
      feed = r.ok ? (await r.json()).feed : []
      if (!feed.length) await new Promise((res) => setTimeout(res, 100))
    }
    t.ok(feed.some((f) => f.post.record.text === text), 'journey 5: the public post is in the AppView\'s getAuthorFeed', JSON.stringify(feed).slice(0, 300))
    t.eq(secrets.filter((x) => JSON.stringify(feed).includes(x)), [], 'journey 5: no space text or URI in the app.bsky view')
  })
} catch (e) {
  t.ok(false, 'web journeys', e?.stack ?? String(e))
} finally {
  if (world?.weights?.length) {
    const heaviest = world.weights.reduce((a, b) => (b.total > a.total ? b : a))
    console.log(`  heaviest page: ${heaviest.total} B of ${PAGE_WEIGHT_LIMIT} B at ${heaviest.where}`)
  }
  await world?.stop()
  t.finish()
}
