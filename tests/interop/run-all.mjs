// Runs every interop suite (tests/interop/*.test.mjs) one after another, each in its own Node
// process, prints each suite's summary line, and exits non-zero if any suite failed.
//
//   PATH=$(scripts/setup-node):$PATH node tests/interop/run-all.mjs [name-filter]
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = dirname(fileURLToPath(import.meta.url))
const filter = process.argv[2]
const TIMEOUT_S = Number(process.env.HEARTH_INTEROP_TIMEOUT_S ?? 600)
const suites = readdirSync(dir)
  .filter((f) => f.endsWith('.test.mjs') && (!filter || f.includes(filter)))
  .sort()

if (!process.version.startsWith('v22.')) {
  console.error(`run-all: Node 22 expected, got ${process.version} (put $(scripts/setup-node) first on PATH)`)
}

function run(file) {
  return new Promise((resolve) => {
    const started = Date.now()
    const lines = []
    let partial = ''
    // Its own process group, so that a suite that hangs goes down with what it started.
    const child = spawn(process.execPath, [join(dir, file)], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], detached: true })
    const timer = setTimeout(() => {
      console.error(`run-all: ${file} still running after ${TIMEOUT_S}s; killing it`)
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {}
    }, TIMEOUT_S * 1000)
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk)
      const text = partial + chunk.toString()
      const parts = text.split('\n')
      partial = parts.pop()
      lines.push(...parts)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (partial) lines.push(partial)
      // The summary line Checks.finish() prints: "<suite>: N checks, P passed, F failed".
      const summary = lines.filter((l) => /: \d+ checks, \d+ passed, \d+ failed/.test(l)).pop()
      resolve({ file, code, signal, summary, secs: ((Date.now() - started) / 1000).toFixed(1) })
    })
  })
}

const results = []
for (const file of suites) {
  console.log(`\n== ${file} ==`)
  results.push(await run(file))
}

console.log('\n== interop summary ==')
let failed = 0
for (const r of results) {
  const ok = r.code === 0 && r.summary !== undefined
  if (!ok) failed++
  const why = r.summary ?? `no summary (exit ${r.code ?? r.signal})`
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${r.file} (${r.secs}s): ${why}${ok || r.summary === undefined ? '' : ` [exit ${r.code ?? r.signal}]`}`)
}
if (suites.length === 0) {
  console.log('no interop suites found')
  failed++
}
console.log(`interop: ${results.length} suites, ${results.length - failed} passed, ${failed} failed`)
process.exitCode = failed ? 1 : 0
