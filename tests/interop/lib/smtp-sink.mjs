// A minimal SMTP server for the interop suites: accepts every message (no TLS, no auth) and
// keeps it in memory, so a suite can read the code an email carries.
import { createServer } from 'node:net'

export async function startSmtpSink() {
  const messages = [] // { to: [address], data }
  const server = createServer((sock) => {
    sock.setEncoding('utf8')
    let buf = ''
    let inData = false
    let rcpt = []
    sock.on('error', () => {})
    sock.write('220 sink ESMTP\r\n')
    sock.on('data', (chunk) => {
      buf += chunk
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n')
          if (end < 0) return
          messages.push({ to: rcpt, data: buf.slice(2, end).replace(/\r\n\.\./g, '\r\n.') })
          buf = buf.slice(end + 5)
          inData = false
          rcpt = []
          sock.write('250 OK\r\n')
          continue
        }
        const nl = buf.indexOf('\r\n')
        if (nl < 0) return
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 2)
        const verb = line.split(' ')[0].toUpperCase()
        if (verb === 'EHLO') sock.write('250-sink\r\n250 8BITMIME\r\n')
        else if (verb === 'RCPT') {
          rcpt.push(line.match(/<([^>]*)>/)?.[1] ?? '')
          sock.write('250 OK\r\n')
        } else if (verb === 'DATA') {
          inData = true
          // The end marker is CRLF . CRLF; a message may end right after DATA's line.
          buf = '\r\n' + buf
          sock.write('354 go on\r\n')
        } else if (verb === 'QUIT') {
          sock.end('221 bye\r\n')
          return
        } else sock.write('250 OK\r\n')
      }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    /** Waits for message number `seen + 1` to `to` and returns the code it carries. */
    async code(to, seen = 0) {
      for (let i = 0; i < 200; i++) {
        const mine = messages.filter((m) => m.to.includes(to))
        if (mine.length > seen) {
          const code = mine[seen].data.match(/\b[A-Z2-7]{5}-[A-Z2-7]{5}\b/)?.[0]
          if (!code) throw new Error(`no code in ${mine[seen].data}`)
          return code
        }
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error(`no email to ${to}`)
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}
