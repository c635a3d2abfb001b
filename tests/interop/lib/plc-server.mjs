// Runs the real PLC directory (@did-plc/server) with its in-memory store on the given port,
// for interop tests and benchmarks. Prints "plc ready <port>" once listening.
import plc from '@did-plc/server'

export async function startPlc(port = 0) {
  const server = plc.PlcServer.create({ db: plc.Database.mock(), port })
  await server.start()
  const actual = server.server.address().port
  return { server, port: actual, url: `http://localhost:${actual}`, close: () => server.destroy() }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const p = await startPlc(Number(process.argv[2] ?? 0))
  console.log(`plc ready ${p.port}`)
}
