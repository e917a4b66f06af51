// An ethereumjs eth/68 node for `cargo xtask interop`, on 127.0.0.1 only, on the ethtest chain.
//   node eth_peer.mjs server <key hex> <chain dir> <genesis hash> <head hash>
//   node eth_peer.mjs client <key hex> <chain dir> <genesis hash> <head hash> <port> <node id hex>
// Prints "LISTENING <port>" (server), "STATUS <fork hash> <fork next>" when the peer's Status
// passes ethereumjs's checks, serves GetBlockHeaders by number from chain.rlp, asks the peer
// for headers 10 and 12 (by number, amount 2, skip 1) and prints "HEADERS <numbers>" when they
// come back. Exits by itself after 20 seconds at the latest.
import { readFileSync } from 'node:fs'
import { ETH, EthMessageCodes, RLPx } from '@ethereumjs/devp2p'
import { createCommonFromGethGenesis } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt, bytesToHex, hexToBytes, intToBytes } from '@ethereumjs/util'

const [mode, key, dir, genesisHash, headHash, port, remoteId] = process.argv.slice(2)
setTimeout(() => process.exit(0), 20_000).unref()

const genesis = JSON.parse(readFileSync(`${dir}/genesis.json`, 'utf8'))
const common = createCommonFromGethGenesis(genesis, {
  chain: 'ethtest',
  genesisHash: hexToBytes(`0x${genesisHash}`),
  hardfork: 'prague',
})

// Headers by number: chain.rlp holds blocks 1..600 as [header, txs, ommers, withdrawals].
const headers = new Map()
let rest = readFileSync(`${dir}/chain.rlp`)
while (rest.length > 0) {
  const { data, remainder } = RLP.decode(rest, true)
  headers.set(bytesToBigInt(data[0][8]), data[0])
  rest = remainder
}
const head = headers.size

const rlpx = new RLPx(hexToBytes(`0x${key}`), {
  maxPeers: 4,
  capabilities: [ETH.eth68],
  common,
  timeout: 10_000,
})
rlpx.events.on('error', (err) => console.error(`rlpx error: ${err.message}`))
rlpx.events.on('peer:error', (_peer, err) => console.error(`peer error: ${err.message}`))
rlpx.events.on('peer:added', (peer) => {
  const eth = peer.getProtocols()[0]
  eth.events.on('status', (status) => {
    console.log(`STATUS ${bytesToHex(status.forkId[0])} ${bytesToBigInt(status.forkId[1])}`)
    // Zero is the empty string in RLP (intToBytes(0) would be the non-canonical 0x00).
    eth.sendMessage(EthMessageCodes.GET_BLOCK_HEADERS, [intToBytes(77), [intToBytes(10), intToBytes(2), intToBytes(1), new Uint8Array()]])
  })
  eth.events.on('message', (code, payload) => {
    if (code === EthMessageCodes.GET_BLOCK_HEADERS) {
      const [id, [start, limit, skip, reverse]] = payload
      const out = []
      let n = bytesToBigInt(start)
      const step = bytesToBigInt(skip) + 1n
      const down = bytesToBigInt(reverse) === 1n
      while (out.length < Number(bytesToBigInt(limit)) && headers.has(n)) {
        out.push(headers.get(n))
        n = down ? n - step : n + step
      }
      eth.sendMessage(EthMessageCodes.BLOCK_HEADERS, [id, out])
    } else if (code === EthMessageCodes.BLOCK_HEADERS) {
      const [id, list] = payload
      console.log(`HEADERS ${bytesToBigInt(id)} ${list.map((h) => bytesToBigInt(h[8])).join(',')}`)
    }
  })
  eth.sendStatus({
    td: intToBytes(131072),
    bestHash: hexToBytes(`0x${headHash}`),
    genesisHash: hexToBytes(`0x${genesisHash}`),
    latestBlock: intToBytes(head),
  })
})
rlpx.events.on('peer:removed', (_peer, reason, disconnectWe) => {
  console.log(`PEER REMOVED ${reason} ${disconnectWe === true}`)
})

if (mode === 'server') {
  rlpx.events.on('listening', () => console.log(`LISTENING ${rlpx._server.address().port}`))
  rlpx.listen(0, '127.0.0.1')
} else {
  await rlpx.connect({ id: hexToBytes(`0x${remoteId}`), address: '127.0.0.1', tcpPort: Number(port) })
}
