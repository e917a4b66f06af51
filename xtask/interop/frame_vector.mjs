// Makes testdata/rlpx/frame_ethereumjs.json: three RLPx frames in a row, written by
// ethereumjs's own frame code (ECIES.createBlockHeader and createBody over its MAC class),
// so that our frame MACs are checked against an implementation other than ours. Run it from
// the directory `cargo xtask interop` installs the peers into:
//   cp xtask/interop/frame_vector.mjs target/interop/ && node target/interop/frame_vector.mjs
import crypto from 'node:crypto'
import { ECIES, MAC } from '@ethereumjs/devp2p'

const hex = (bytes) => Buffer.from(bytes).toString('hex')
const fill = (byte, length) => new Uint8Array(length).fill(byte)

const aesSecret = fill(0x11, 32)
const macSecret = fill(0x22, 32)
// The egress MAC starts from keccak256 over (mac-secret ^ nonce) and the handshake message
// sent; any bytes do for a frame vector.
const seed = fill(0x33, 32)
const initMessage = new TextEncoder().encode('the auth or ack as sent')

const key = fill(0x44, 32)
const ecdh = crypto.createECDH('secp256k1')
ecdh.setPrivateKey(key)
const id = ecdh.getPublicKey().subarray(1)
const ecies = new ECIES(key, id, null)
ecies._egressAes = crypto.createDecipheriv('aes-256-ctr', aesSecret, new Uint8Array(16))
ecies._egressMac = new MAC(macSecret)
ecies._egressMac.update(Buffer.concat([seed, initMessage]))

// Frame bodies: the message id's RLP, then its data. Sizes with 10, 0 and 13 bytes of padding.
const bodies = [
  Buffer.from('08c401020304', 'hex'),
  Buffer.concat([Buffer.from([0x10]), fill(0xab, 31)]),
  Buffer.concat([Buffer.from([0x81, 0x80]), fill(0xcd, 97)]),
]
const frames = bodies.map((body) => {
  const header = ecies.createBlockHeader(body.length)
  const encrypted = ecies.createBody(body)
  return {
    body: hex(body),
    header: hex(header.subarray(0, 16)),
    header_mac: hex(header.subarray(16)),
    frame: hex(encrypted.subarray(0, -16)),
    frame_mac: hex(encrypted.subarray(-16)),
  }
})

console.log(
  JSON.stringify(
    {
      description:
        'Three RLPx frames in a row on one egress session, written by @ethereumjs/devp2p 10.0.0 (ECIES.createBlockHeader, ECIES.createBody and its MAC class: AES-256-CTR with a zero IV under aes_secret, header-mac and frame-mac as rlpx.md). The egress MAC starts as keccak256 over mac_seed (mac-secret ^ nonce in a session) then init_message. Each body is the message id RLP then the data; the vector is the ciphertext and MAC of each. Made by xtask/interop/frame_vector.mjs.',
      aes_secret: hex(aesSecret),
      mac_secret: hex(macSecret),
      mac_seed: hex(seed),
      init_message: hex(initMessage),
      frames,
    },
    null,
    2,
  ),
)
