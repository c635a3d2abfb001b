// A person on a PDS's authorization pages, as every browser suite goes through them: Hearth's
// (sign-in form, "Accept") and the reference PDS's (@atproto/pds: a welcome screen when no
// login hint came with the request, the username shown read-only when one did, "Sign in",
// then "Authorize"). One driver, so that a change in either server's pages is met once.

/**
 * Signs in as `handle`/`password` on the authorization page `page` is at and accepts, then
 * waits until the browser is sent back to the client (`back(url)` says when it is).
 * `onScreen('sign-in' | 'consent')` runs before each form is submitted (screenshots, checks).
 * A failure says which page the person was left on and what it showed.
 */
export async function signInAndConsent(page, { handle, password, back, onScreen = async () => {}, timeout = 15000 }) {
  try {
    const field = (label) => page.getByLabel(label).and(page.locator('input')).first()
    const passwordField = field(/password/i)
    const signIn = page.getByRole('button', { name: /^sign in$/i })
    const accept = page.getByRole('button', { name: /^(accept|authorize|allow)$/i })
    // Hearth's account chooser, when this browser has signed in before.
    const continueAs = page.getByRole('link', { name: new RegExp(`^continue as .*${escapeRegExp(handle)}`, 'i') })
    await passwordField.or(signIn).or(accept).or(continueAs).first().waitFor({ timeout })
    if (await continueAs.isVisible()) {
      await continueAs.click()
      await passwordField.or(accept).first().waitFor({ timeout })
    }
    if (!(await passwordField.isVisible()) && !(await accept.isVisible())) {
      await signIn.first().click() // the reference PDS's welcome screen
      await passwordField.waitFor({ timeout })
    }
    if (await passwordField.isVisible()) {
      const identifier = field(/handle|identifier|username|email/i)
      if ((await identifier.isEditable()) && !(await identifier.inputValue())) await identifier.fill(handle)
      await passwordField.fill(password)
      await onScreen('sign-in')
      await signIn.first().click()
    }
    await accept.waitFor({ timeout })
    await onScreen('consent')
    await accept.click()
    await page.waitForURL((u) => back(u), { timeout })
  } catch (e) {
    const text = await page
      .locator('body')
      .innerText()
      .catch(() => '')
    const shown = text.replace(/\s+/g, ' ').trim().slice(0, 400)
    throw new Error(`the authorization pages stopped at ${page.url()} showing "${shown}": ${e?.message ?? e}`)
  }
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
