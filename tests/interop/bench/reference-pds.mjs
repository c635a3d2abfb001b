// Side-by-side PDS benchmark: the reference PDS (@atproto/pds 0.5.35) alone in this Node
// process, so its RSS is the PDS's own. Adapted from shared/reference/start-reference-pds.sh,
// except that the PLC directory is an outside one (PLC_URL, shared with Hearth) rather than an
// in-process one. Settings: dev mode, no invites, rate limits off, handles under .test, a fresh
// data directory (REF_DATA, created if missing), port PDS_PORT. Prints "reference ready <port>".
// A PDS_* setting already in the environment wins over these defaults (the production suite runs
// it as https://ref.hearth.test, not in dev mode).
import { mkdirSync } from 'node:fs'
import crypto from 'node:crypto'
import { PDS, envToCfg, envToSecrets, readEnv } from '@atproto/pds'

const dir = process.env.REF_DATA
const plcUrl = process.env.PLC_URL
if (!dir || !plcUrl || !process.env.PDS_PORT) {
  console.error('reference-pds.mjs needs REF_DATA, PLC_URL and PDS_PORT')
  process.exit(2)
}
mkdirSync(`${dir}/blobs`, { recursive: true })
const defaults = {
  PDS_HOSTNAME: 'localhost',
  PDS_DEV_MODE: 'true',
  PDS_DATA_DIRECTORY: dir,
  PDS_BLOBSTORE_DISK_LOCATION: `${dir}/blobs`,
  PDS_JWT_SECRET: 'dev-secret',
  PDS_ADMIN_PASSWORD: 'admin',
  PDS_INVITE_REQUIRED: 'false',
  PDS_RATE_LIMITS_ENABLED: 'false',
  PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: crypto.randomBytes(32).toString('hex'),
  PDS_DID_PLC_URL: plcUrl,
  PDS_SERVICE_HANDLE_DOMAINS: '.test',
  LOG_ENABLED: 'false',
}
for (const [k, v] of Object.entries(defaults)) process.env[k] ??= v
const env = readEnv()
const pds = await PDS.create(envToCfg(env), envToSecrets(env))
await pds.start()
console.log(`reference ready ${env.port}`)
const stop = async () => {
  await pds.destroy().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
