// An ethereumjs discv4 node (DPT of @ethereumjs/devp2p) for `cargo xtask interop`, on 127.0.0.1 only.
//   node dpt_peer.mjs <private key hex> [<bootnode enode URL>]
// Prints, on stdout, one line each:
//   "LISTENING <udp port> <public key hex>"  once the UDP socket is bound
//   "PEER ADDED <public key hex> <ip>:<udp port>"  whenever a node enters its table
//   "PEERS <id>,<id>,..."  in answer to the stdin line "PEERS" (every node in its table)
//   "LOOKUP DONE"  in answer to the stdin line "LOOKUP", once the lookup has settled
// With a bootnode (enode://<id>@<ip>:<tcp port>[?discport=<udp port>]) it bootstraps from it and
// then looks up its own id, so it learns the bootnode's neighbours. DPT itself also asks every node
// in its table for neighbours (random target) once every 10 s.
// A lookup sends FindNode (target: our own id) to every node in the table, waits for their
// Neighbours (at most 2 s) and then for the pings DPT sends to each node they name (at most 2 s);
// DPT has no completion signal of its own, so "LOOKUP DONE" is this script's.
// Unlike bare DPT, it never adds itself to its table (DPT would, when a Neighbours names it).
// Errors (including undecodable packets) go to stderr. It exits 0 on "QUIT" or after 30 seconds.
import { createInterface } from 'node:readline'
import { DPT } from '@ethereumjs/devp2p'
import { RLP } from '@ethereumjs/rlp'
import { bytesToUnprefixedHex, hexToBytes } from '@ethereumjs/util'

const TIMEOUT_MS = 2_000
const [key, bootnode] = process.argv.slice(2)
if (!/^[0-9a-fA-F]{64}$/.test(key ?? '')) {
  console.error('usage: node dpt_peer.mjs <private key hex (64 chars)> [<bootnode enode URL>]')
  process.exit(2)
}

process.on('uncaughtException', (err) => console.error(`uncaught: ${err?.stack ?? err}`))
process.on('unhandledRejection', (err) => console.error(`unhandled: ${err?.stack ?? err}`))

// DPT keeps a reference to this object and sends it as the `from` of its pings: the UDP port is
// filled in once bound (it pings the `from` of unknown nodes that ping it, so this matters).
const endpoint = { address: '127.0.0.1', udpPort: null, tcpPort: null }
const dpt = new DPT(hexToBytes(`0x${key}`), {
  endpoint,
  timeout: TIMEOUT_MS,
  refreshInterval: 10_000, // DPT refreshes a tenth of its table every refreshInterval / 10
  shouldFindNeighbours: true,
  shouldGetDnsPeers: false,
  onlyConfirmed: false,
})
const selfId = bytesToUnprefixedHex(dpt.id)

// DPT pings every endpoint a Neighbours names, ids are dropped, and adds whatever answers: a
// Neighbours that names this node would put it into its own table. Skip our own endpoint/id.
const addPeer = dpt.addPeer.bind(dpt)
dpt.addPeer = async (obj) => {
  const isSelf =
    (obj.id instanceof Uint8Array && bytesToUnprefixedHex(obj.id) === selfId) ||
    (['127.0.0.1', '0.0.0.0', '::1', '::'].includes(obj.address) && obj.udpPort === endpoint.udpPort)
  if (isSelf) return { ...obj, id: dpt.id }
  return addPeer(obj)
}

let quitting = false
function quit() {
  if (quitting) return
  quitting = true
  try {
    dpt.destroy()
  } catch {}
  process.exit(0)
}
setTimeout(quit, 30_000).unref()

dpt.events.on('error', (err) => console.error(`dpt error: ${err?.message ?? err}`))
dpt.events.on('peer:added', (peer) => {
  console.log(`PEER ADDED ${bytesToUnprefixedHex(peer.id)} ${peer.address}:${peer.udpPort}`)
})
dpt.events.on('peer:removed', (peer) => {
  console.error(`peer removed: ${bytesToUnprefixedHex(peer.id)} ${peer.address}:${peer.udpPort}`)
})

// Neighbours packets, watched on the socket directly to know when a lookup has its answers.
const neighbourWaiters = new Set()
function onRawMessage(msg, rinfo) {
  if (msg.length < 98 || msg[97] !== 0x04 || neighbourWaiters.size === 0) return
  let endpoints
  try {
    const [nodes] = RLP.decode(msg.subarray(98), true).data
    endpoints = nodes.map((n) => ({
      address: n[0].length === 4 ? n[0].join('.') : null,
      udpPort: n[1].length === 0 ? null : n[1].reduce((a, b) => a * 256 + b, 0),
      tcpPort: n[2].length === 0 ? null : n[2].reduce((a, b) => a * 256 + b, 0),
      id: n[3],
    }))
  } catch {
    return // DPT itself reports undecodable packets as errors
  }
  for (const waiter of neighbourWaiters) waiter(`${rinfo.address}:${rinfo.port}`, endpoints)
}

async function lookup() {
  const peers = dpt.getPeers()
  const pending = new Set(peers.map((p) => `${p.address}:${p.udpPort}`))
  const learned = []
  let waiter
  const answered = new Promise((resolve) => {
    waiter = (from, endpoints) => {
      if (!pending.delete(from)) return
      learned.push(...endpoints)
      if (pending.size === 0) resolve()
    }
    neighbourWaiters.add(waiter)
    if (pending.size === 0) resolve()
    setTimeout(resolve, TIMEOUT_MS)
  })
  for (const peer of peers) {
    try {
      dpt._server.findneighbours(peer, dpt.id)
    } catch (err) {
      console.error(`findneighbours: ${err.message}`)
    }
  }
  await answered
  neighbourWaiters.delete(waiter)
  // DPT pings every node a Neighbours names (200 ms apart) and adds it to its table on Pong;
  // addPeer shares those pings (or answers at once for known nodes), so this awaits them all.
  const fresh = learned.filter(
    (e) => e.address !== null && e.udpPort !== null && bytesToUnprefixedHex(e.id) !== selfId,
  )
  await Promise.allSettled(
    fresh.map((e) => dpt.addPeer({ address: e.address, udpPort: e.udpPort, tcpPort: e.tcpPort })),
  )
}

function parseEnode(url) {
  const m = /^enode:\/\/([0-9a-fA-F]{128})@([^:/?]+):(\d+)(?:\?discport=(\d+))?$/.exec(url.trim())
  if (m === null) throw new Error(`bad enode URL: ${url}`)
  const tcpPort = Number(m[3])
  return {
    id: hexToBytes(`0x${m[1]}`),
    address: m[2],
    udpPort: m[4] !== undefined ? Number(m[4]) : tcpPort,
    tcpPort,
  }
}

dpt.events.once('listening', async () => {
  const port = dpt._server._socket.address().port
  endpoint.udpPort = port
  dpt._server._socket.on('message', onRawMessage)
  console.log(`LISTENING ${port} ${selfId}`)

  createInterface({ input: process.stdin }).on('line', async (line) => {
    const cmd = line.trim().toUpperCase()
    if (cmd === 'PEERS') {
      console.log(`PEERS ${dpt.getPeers().map((p) => bytesToUnprefixedHex(p.id)).join(',')}`)
    } else if (cmd === 'LOOKUP') {
      await lookup()
      console.log('LOOKUP DONE')
    } else if (cmd === 'QUIT') {
      quit()
    } else if (cmd !== '') {
      console.error(`unknown command: ${line}`)
    }
  })

  if (bootnode !== undefined) {
    let boot
    try {
      boot = parseEnode(bootnode)
    } catch (err) {
      console.error(err.message)
      return
    }
    // bootstrap: Ping, on Pong add it to the table and send it FindNode(our id).
    await dpt.bootstrap(boot)
    // Look up again: a node that follows the spec ignores that first FindNode if the bond is not
    // complete yet on its side (it pings us back first), so ask again once it has had time.
    setTimeout(() => lookup().catch((e) => console.error(`lookup: ${e.message}`)), 500)
    setTimeout(() => lookup().catch((e) => console.error(`lookup: ${e.message}`)), 2_500)
  }
})
dpt.bind(0, '127.0.0.1')
