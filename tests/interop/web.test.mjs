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
import { Checks } from './lib/check.mjs'
import { account, authorizeAtReference, journey, PAGE_WEIGHT_LIMIT, startWorld } from './lib/web-harness.mjs'

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
  if (!(await page.getByLabel(/handle/i).first().isVisible().catch(() => false))) {
    await page.getByRole('link', { name: /^sign in/i }).or(page.getByRole('button', { name: /^sign in/i })).first().click()
    await page.getByLabel(/handle/i).first().waitFor()
  }
  if (who.where === 'reference') {
    await handleForm.getByLabel(/handle/i).fill(who.handle)
    await handleForm.getByRole('button', { name: /sign in/i }).click()
    await authorizeAtReference(person)
  } else {
    await appPasswordForm.getByLabel(/handle/i).fill(who.handle)
    await appPasswordForm.getByLabel(/app password/i).fill(await who.appPassword())
    await appPasswordForm.getByRole('button', { name: /sign in/i }).click()
  }
  await page.waitForLoadState('load')
  await person.mustSee(`@${who.handle}`, 'their handle, signed in')
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

    await mira.page.getByRole('button', { name: /sign in/i }).or(mira.page.getByRole('link', { name: /sign in/i })).first().click()
    await signIn(mira)
    const join = mira.page.getByRole('button', { name: /^join/i }).first()
    if (await join.isVisible().catch(() => false)) {
      await mira.step('invite landing, signed in')
      await join.click()
    }
    await mira.mustSee(/how often do you want to hear from this group/i, 'the one notification question')
    await mira.step('notification question')
    await mira.page.getByLabel(/announcements and replies/i).first().check()
    await mira.page.getByRole('button', { name: /save|continue|done/i }).first().click()

    await mira.mustSee(announcement, 'the announcement')
    await mira.step('the space, announcement read')
    const questions = mira.page.getByRole('link', { name: /questions/i }).first()
    await questions.click()
    await mira.page.waitForLoadState('load')
    const question = 'Where do we meet on Thursday?'
    await mira.page.getByRole('textbox').first().fill(question)
    await mira.page.getByRole('button', { name: /^(post|ask|send)/i }).first().click()
    await mira.mustSee(question, 'their question posted')
    await mira.step('question asked')
    const pages = mira.pagesSince(mark)
    console.log(`  invite link → first post: ${pages.length} Hearth pages: ${pages.join(' → ')}`)
    world.invitePages = pages.length
    t.ok(pages.length <= 4, `journey 2: invite link → first post in ≤ 4 Hearth pages (${pages.length})`, pages.join(' → '))

    // The leader, on Hearth's PDS, answers in the thread and marks the answer.
    const lena = await j.person('leader', leaderAccount)
    await lena.open(channelPath(space.uri, space.channels.questions))
    await signIn(lena)
    await lena.open(channelPath(space.uri, space.channels.questions))
    await lena.page.getByRole('link', { name: question }).first().click()
    await lena.mustSee(question, 'the question thread')
    const answer = 'In the community hall, ground floor'
    await lena.page.getByRole('textbox').first().fill(answer)
    await lena.page.getByRole('button', { name: /^(reply|post|send)/i }).first().click()
    await lena.mustSee(answer, 'their answer')
    await lena.page.getByRole('button', { name: /mark as answer/i }).first().click()
    await lena.mustSee(/answered|accepted answer/i, 'the answer marked')
    await lena.step('answer marked')

    // The member: an unread badge, the answer marked, then the badge gone.
    await mira.open('/')
    const unreadBefore = await mira.visibleText()
    t.ok(/\b[1-9]\d*\b.{0,20}unread|unread.{0,20}\b[1-9]\d*\b/is.test(unreadBefore), 'journey 2 member: the inbox shows unread notifications', unreadBefore.slice(0, 300))
    await mira.step('home with unread')
    await mira.page.getByRole('link', { name: new RegExp(question.slice(0, 20)) }).first().click()
    await mira.mustSee(answer, 'the answer in the thread')
    await mira.mustSee(/answered|accepted answer/i, 'the answer marked, as the member sees it')
    await mira.step('thread with the answer')
    await mira.open('/')
    const unreadAfter = await mira.visibleText()
    t.ok(!/\b[1-9]\d*\b.{0,20}unread|unread.{0,20}\b[1-9]\d*\b/is.test(unreadAfter), 'journey 2 member: the inbox badge drops after reading', unreadAfter.slice(0, 300))
    await mira.step('home after reading')
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
