//! Receipts as the eth protocol carries them: eth/68 sends the consensus encoding (a legacy
//! list, or a string `type || rlp([status, cumulative-gas, bloom, logs])`); eth/69 and later
//! send `[tx-type, status, cumulative-gas, logs]` without the bloom (EIP-7642).

use alloy_primitives::{Address, B256, Bloom, Bytes};
use devp2p_rlp_codec::{
    Decodable, DecodeError, DecodeErrorKind, Encodable, Header, Rlp, RlpDecodable, RlpEncodable,
    bytes::BufMut, decode_exact, encode_to_vec,
};

/// A log entry.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Log {
    /// The emitting contract.
    pub address: Address,
    /// Indexed topics.
    pub topics: Vec<B256>,
    /// Unindexed data.
    pub data: Bytes,
}

/// A transaction receipt.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Receipt {
    /// The transaction's type.
    pub tx_type: u8,
    /// Post-state root (before Byzantium) or status (`01` success, empty failure).
    pub status: Bytes,
    /// Gas used in the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// The logs.
    pub logs: Vec<Log>,
}

impl Receipt {
    /// The logs' bloom filter (eth/68 carries it; later versions leave it to be recomputed).
    pub fn bloom(&self) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in &self.logs {
            bloom.accrue_raw_log(log.address, &log.topics);
        }
        bloom
    }
}

/// `[status, cumulative-gas, bloom, logs]`: the consensus body of a receipt.
#[derive(RlpEncodable, RlpDecodable)]
struct ConsensusBody {
    status: Bytes,
    cumulative_gas_used: u64,
    bloom: Bloom,
    logs: Vec<Log>,
}

/// A receipt in eth/68's form, the consensus encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt68(pub(crate) Receipt);

impl Receipt68 {
    fn body(&self) -> Vec<u8> {
        encode_to_vec(&ConsensusBody {
            status: self.0.status.clone(),
            cumulative_gas_used: self.0.cumulative_gas_used,
            bloom: self.0.bloom(),
            logs: self.0.logs.clone(),
        })
    }
}

impl Encodable for Receipt68 {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        let body = self.body();
        if self.0.tx_type == 0 {
            out.put_slice(&body);
        } else {
            Header::string(body.len() + 1).encode(out);
            out.put_u8(self.0.tx_type);
            out.put_slice(&body);
        }
    }

    fn length(&self) -> usize {
        let body = self.body().len();
        if self.0.tx_type == 0 {
            body
        } else {
            Header::string(body + 1).length_with_payload()
        }
    }
}

impl Decodable<'_> for Receipt68 {
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let offset = rlp.offset();
        let (tx_type, body): (u8, ConsensusBody) = if rlp.peek_is_list() == Some(true) {
            (0, rlp.decode()?)
        } else {
            let typed = rlp.bytes()?;
            match typed.split_first() {
                Some((&tx_type, body)) if (1..=0x7f).contains(&tx_type) => (
                    tx_type,
                    decode_exact(body).map_err(|e| DecodeError::new(e.kind(), offset))?,
                ),
                _ => return Err(DecodeError::new(DecodeErrorKind::UnexpectedString, offset)),
            }
        };
        Ok(Self(Receipt {
            tx_type,
            status: body.status,
            cumulative_gas_used: body.cumulative_gas_used,
            logs: body.logs,
        }))
    }
}
