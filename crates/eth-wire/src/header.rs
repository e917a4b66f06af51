//! The block header (Yellow Paper 4.3, and the fields every fork since London appended): base fee
//! (EIP-1559), withdrawals root (EIP-4895), blob gas used and excess blob gas (EIP-4844), parent
//! beacon block root (EIP-4788), requests hash (EIP-7685), and Amsterdam's block access list
//! hash (EIP-7928) and slot number (EIP-7843), as go-ethereum has them.

use alloy_primitives::{Address, B64, B256, Bloom, Bytes, U256, keccak256};
use devp2p_rlp_codec::{Decodable, DecodeError, Rlp, RlpDecodable, RlpEncodable, encode_to_vec};

/// A block header. Fields a fork introduced are `None` in blocks before it.
#[derive(Debug, Clone, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct Header {
    /// Hash of the parent block's header.
    pub parent_hash: B256,
    /// Hash of the ommers list (the empty list's hash since the merge).
    pub ommers_hash: B256,
    /// Fee recipient.
    pub beneficiary: Address,
    /// State trie root after the block.
    pub state_root: B256,
    /// Transactions trie root.
    pub transactions_root: B256,
    /// Receipts trie root.
    pub receipts_root: B256,
    /// Bloom filter of the receipts' logs.
    pub logs_bloom: Bloom,
    /// Difficulty (zero since the merge).
    pub difficulty: U256,
    /// Block number.
    pub number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Unix timestamp.
    pub timestamp: u64,
    /// Extra data (at most 32 bytes on mainnet; not checked here).
    pub extra_data: Bytes,
    /// Mix hash (the beacon chain's RANDAO value since the merge).
    pub mix_hash: B256,
    /// Proof-of-work nonce (zero since the merge).
    pub nonce: B64,
    /// Base fee per gas (London, EIP-1559).
    pub base_fee_per_gas: Option<u64>,
    /// Withdrawals trie root (Shanghai, EIP-4895).
    pub withdrawals_root: Option<B256>,
    /// Blob gas used (Cancun, EIP-4844).
    pub blob_gas_used: Option<u64>,
    /// Excess blob gas (Cancun, EIP-4844).
    pub excess_blob_gas: Option<u64>,
    /// Parent beacon block root (Cancun, EIP-4788).
    pub parent_beacon_block_root: Option<B256>,
    /// Hash of the execution requests (Prague, EIP-7685).
    pub requests_hash: Option<B256>,
    /// Hash of the block access list (Amsterdam, EIP-7928).
    pub block_access_list_hash: Option<B256>,
    /// The beacon chain slot of the block (Amsterdam, EIP-7843).
    pub slot_number: Option<u64>,
}

impl Header {
    /// keccak256 of the header's RLP: its hash, for a header built or changed locally. A header
    /// received from the network is hashed over its bytes as received: see [`SealedHeader`].
    pub fn hash_slow(&self) -> B256 {
        keccak256(encode_to_vec(self))
    }
}

/// A header with its hash, computed once over the exact bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    /// The header.
    pub header: Header,
    /// keccak256 of its RLP.
    pub hash: B256,
}

impl SealedHeader {
    /// Seals a header by encoding and hashing it.
    pub fn seal(header: Header) -> Self {
        let hash = header.hash_slow();
        Self { header, hash }
    }
}

impl<'a> Decodable<'a> for SealedHeader {
    fn decode(rlp: &mut Rlp<'a>) -> Result<Self, DecodeError> {
        let raw = rlp.raw()?;
        let header = devp2p_rlp_codec::decode_exact::<Header>(raw)?;
        Ok(Self {
            header,
            hash: keccak256(raw),
        })
    }
}

impl devp2p_rlp_codec::Encodable for SealedHeader {
    fn encode<B: bytes::BufMut + ?Sized>(&self, out: &mut B) {
        self.header.encode(out);
    }

    fn length(&self) -> usize {
        self.header.length()
    }
}
