// Side-by-side MST benchmark, reference half: build an MST of the keys in a file with
// @atproto/repo and compute its root. `node mst-build.mjs emit N path` writes N realistic keys
// (post paths with TIDs 1 ms apart); `node mst-build.mjs run path [runs]` times the build and
// prints one JSON line with the median, in the same shape as Hearth's `mst_build` example.
import { writeFileSync, readFileSync } from 'node:fs'
import { MST, MemoryBlockstore } from '@atproto/repo'
import { CID } from 'multiformats/cid'

const S32 = '234567abcdefghijklmnopqrstuvwxyz'
const tid = (micros) => {
  let v = (BigInt(micros) << 10n) | 0n
  let s = ''
  for (let i = 0; i < 13; i++) {
    s = S32[Number(v & 31n)] + s
    v >>= 5n
  }
  return s
}

const [cmd, a, b] = process.argv.slice(2)
if (cmd === 'emit') {
  const n = Number(a)
  const keys = []
  for (let i = 0; i < n; i++) keys.push(`app.bsky.feed.post/${tid(1_700_000_000_000_000 + i * 1000)}`)
  writeFileSync(b, keys.join('\n') + '\n')
} else if (cmd === 'run') {
  const keys = readFileSync(a, 'utf8').split('\n').filter(Boolean)
  const runs = Number(b ?? 5)
  const leaf = CID.parse('bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454')
  const times = []
  let root
  for (let r = 0; r < runs; r++) {
    const t = performance.now()
    let mst = await MST.create(new MemoryBlockstore())
    for (const k of keys) mst = await mst.add(k, leaf)
    root = await mst.getPointer()
    times.push(performance.now() - t)
  }
  times.sort((x, y) => x - y)
  console.log(JSON.stringify({ keys: keys.length, root: root.toString(), add_ms: times[Math.floor(runs / 2)] }))
} else {
  console.error('usage: mst-build.mjs emit N path | run path [runs]')
  process.exit(2)
}
