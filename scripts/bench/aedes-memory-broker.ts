// The in-memory reference for `npm run bench -- ingest`: the same aedes the gateway embeds, with its
// defaults (default authorizePublish, in-memory persistence) behind a plain TCP server with noDelay, as
// a child process. Prints `{"msg":"listening","port":N}` and then only serves until SIGTERM.
//
// Not a benchmark (run.ts skips it): `node dist/scripts/bench/aedes-memory-broker.js`.
import { createServer } from 'node:net'
import { Aedes } from 'aedes'

const aedes = await Aedes.createBroker()
const server = createServer({ noDelay: true }, (socket) => aedes.handle(socket))
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  console.log(JSON.stringify({ msg: 'listening', port }))
})

process.once('SIGTERM', () => {
  server.close()
  aedes.close(() => process.exit(0))
})
