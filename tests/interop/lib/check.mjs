// Minimal test bookkeeping: named checks, a count, and a non-zero exit on any failure.
export class Checks {
  constructor(suite) {
    this.suite = suite
    this.passed = 0
    this.failed = []
  }
  ok(cond, name, detail) {
    if (cond) this.passed++
    else {
      this.failed.push(detail ? `${name}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : name)
      console.error(`  FAIL ${name}${detail ? ` — ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`)
    }
    return cond
  }
  eq(a, b, name) {
    return this.ok(JSON.stringify(a) === JSON.stringify(b), name, `got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`)
  }
  /** Expects `fn` to reject with an XRPC error of this name (and status, if given). */
  async rejects(fn, error, name, status) {
    try {
      await fn()
      return this.ok(false, name, `succeeded, expected ${error}`)
    } catch (e) {
      const got = e?.error ?? e?.body?.error ?? e?.message
      const st = e?.status
      return this.ok(got === error && (status === undefined || st === status), name, `got ${got} (${st}), want ${error}${status ? ` (${status})` : ''}`)
    }
  }
  finish() {
    console.log(`${this.suite}: ${this.passed + this.failed.length} checks, ${this.passed} passed, ${this.failed.length} failed`)
    if (this.failed.length) {
      for (const f of this.failed) console.log(`  - ${f}`)
      process.exitCode = 1
    }
  }
}
