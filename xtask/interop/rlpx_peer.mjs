// An ethereumjs RLPx node for `cargo xtask interop`, on 127.0.0.1 only.
//   node rlpx_peer.mjs server <private key hex>                     prints "LISTENING <port>"
//   node rlpx_peer.mjs client <private key hex> <port> <node id hex> connects to 127.0.0.1:<port>
// It reports "PEER ADDED <shared capabilities>" once Hello is exchanged and
// "PEER REMOVED <reason code> <whether it disconnected>" when the session ends.
// It exits by itself after 20 seconds at the latest.
import { ETH, RLPx } from '@ethereumjs/devp2p'
import { Common, Mainnet } from '@ethereumjs/common'
import { hexToBytes } from '@ethereumjs/util'

const [mode, key, port, remoteId] = process.argv.slice(2)
setTimeout(() => process.exit(0), 20_000).unref()

const rlpx = new RLPx(hexToBytes(`0x${key}`), {
  maxPeers: 4,
  capabilities: [ETH.eth68],
  common: new Common({ chain: Mainnet }),
  timeout: 10_000,
})
rlpx.events.on('error', (err) => console.error(`rlpx error: ${err.message}`))
rlpx.events.on('peer:error', (_peer, err) => console.error(`peer error: ${err.message}`))
rlpx.events.on('peer:added', (peer) => {
  const shared = peer._protocols.map((p) => `${p.protocol.constructor.name.toLowerCase()}/${p.protocol._version}`)
  console.log(`PEER ADDED ${shared.join(',')}`)
})
rlpx.events.on('peer:removed', (_peer, reason, disconnectWe) => {
  console.log(`PEER REMOVED ${reason} ${disconnectWe === true}`)
})

if (mode === 'server') {
  rlpx.events.on('listening', () => console.log(`LISTENING ${rlpx._server.address().port}`))
  rlpx.listen(0, '127.0.0.1')
} else {
  await rlpx.connect({ id: hexToBytes(`0x${remoteId}`), address: '127.0.0.1', tcpPort: Number(port) })
  console.log('CONNECTED')
}
