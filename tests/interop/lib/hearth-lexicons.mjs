// The social.hearth lexicon documents (lexicons/social/hearth/**), and agents that know them:
// @atproto/api calls a method only if its lexicon is loaded, and validates our answers with it.
import { AtpAgent } from '@atproto/api'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

function hearthLexicons() {
  const out = []
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p)
      else if (f.endsWith('.json')) out.push(JSON.parse(readFileSync(p, 'utf8')))
    }
  }
  walk(join(root, 'lexicons'))
  return out
}

export const LEXICONS = hearthLexicons()

/** An agent on `url` that knows the social.hearth lexicons. */
export function agentOn(url) {
  const a = new AtpAgent({ service: url })
  for (const doc of LEXICONS) a.lex.add(doc)
  return a
}
