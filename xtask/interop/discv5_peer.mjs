// A @chainsafe/discv5 node for `cargo xtask interop`, on 127.0.0.1 only.
//   node discv5_peer.mjs <private key hex> <udp port> [<bootnode enr>]
// Prints "LISTENING <its enr>" once started. Commands on stdin, one per line, each answered
// with one line ("ERROR <message>" on failure):
//   PING <enr>                  -> "PONG <enr seq> <ip>:<port>" (our address as the node saw it)
//   FINDNODE <enr> <d>[,<d>...] -> "NODES <node id>,<node id>,..."
//   TALK <enr> <protocol> <hex> -> "TALKRESP <hex>"
//   LOOKUP <node id hex>        -> "LOOKUP <node id>,..." (the nodes found)
//   TABLE                       -> "TABLE <node id>,..."
//   QUIT
// TALKREQ for protocol "echo" is answered with its payload; others are left to the library.
// It exits by itself after 30 seconds.
import { createInterface } from 'node:readline'
import { Discv5 } from '@chainsafe/discv5'
import { ENR, SignableENR } from '@chainsafe/enr'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'

const [keyHex, portText, bootnode] = process.argv.slice(2)
const port = Number(portText)
setTimeout(() => process.exit(0), 30_000).unref()
process.on('uncaughtException', (err) => console.error(`uncaught: ${err?.stack ?? err}`))
process.on('unhandledRejection', (err) => console.error(`unhandled: ${err?.stack ?? err}`))

const hex = (bytes) => Buffer.from(bytes).toString('hex')
const privateKey = privateKeyFromRaw(Buffer.from(keyHex, 'hex'))
const enr = SignableENR.createFromPrivateKey(privateKey)
enr.ip = '127.0.0.1'
enr.udp = port
const discv5 = Discv5.create({
  enr,
  privateKey,
  bindAddrs: { ip4: multiaddr(`/ip4/127.0.0.1/udp/${port}`) },
  config: { requestTimeout: 2000 },
})
discv5.on('talkReqReceived', (nodeAddr, _enr, message) => {
  if (Buffer.from(message.protocol).toString() === 'echo') {
    discv5.sendTalkResp(nodeAddr, message.id, message.request).catch((e) => console.error(`talkresp: ${e.message}`))
  }
})
await discv5.start()
if (bootnode !== undefined) discv5.addEnr(bootnode)
console.log(`LISTENING ${discv5.enr.toENR().encodeTxt()}`)

async function run(line) {
  const [cmd, ...args] = line.trim().split(/\s+/)
  switch (cmd) {
    case 'PING': {
      const pong = await discv5.sendPing(ENR.decodeTxt(args[0]))
      const ip = pong.addr.ip
      const text = typeof ip === 'string' ? ip : Array.from(ip.octets ?? []).join('.')
      return `PONG ${pong.enrSeq} ${text}:${pong.addr.port}`
    }
    case 'FINDNODE': {
      const nodes = await discv5.sendFindNode(ENR.decodeTxt(args[0]), args[1].split(',').map(Number))
      return `NODES ${nodes.map((n) => n.nodeId).join(',')}`
    }
    case 'TALK': {
      const resp = await discv5.sendTalkReq(ENR.decodeTxt(args[0]), Buffer.from(args[2] ?? '', 'hex'), args[1])
      return `TALKRESP ${hex(resp)}`
    }
    case 'LOOKUP': {
      const nodes = await discv5.findNode(args[0])
      return `LOOKUP ${nodes.map((n) => n.nodeId).join(',')}`
    }
    case 'TABLE':
      return `TABLE ${discv5.kadValues().map((n) => n.nodeId).join(',')}`
    case 'QUIT':
      await discv5.stop()
      process.exit(0)
    default:
      return `ERROR unknown command ${cmd}`
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return
  run(line).then(
    (out) => console.log(out),
    (err) => console.log(`ERROR ${err?.message ?? err}`),
  )
})
