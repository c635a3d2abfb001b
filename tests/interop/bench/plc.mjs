// Side-by-side PDS benchmark: the one real PLC directory (@did-plc/server, in-memory store)
// that both PDSes register their accounts with. `node plc.mjs [port]` prints
// "plc ready <port>" once listening and exits on SIGTERM/SIGINT.
import { startPlc } from '../lib/plc-server.mjs'

const plc = await startPlc(Number(process.argv[2] ?? 0))
console.log(`plc ready ${plc.port}`)
const stop = async () => {
  await plc.close().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
