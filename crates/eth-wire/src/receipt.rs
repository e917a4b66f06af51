//! Receipts as the eth protocol carries them: eth/68 sends the consensus encoding (a legacy
//! list, or a string `type || rlp([status, cumulative-gas, bloom, logs])`); eth/69 and later
//! send `[tx-type, status, cumulative-gas, logs]` without the bloom (EIP-7642).

use alloy_primitives::{Address, B256, Bloom, Bytes};
use devp2p_rlp_codec::{
    Decodable, DecodeError, DecodeErrorKind, Encodable, Header, Rlp, RlpDecodable, RlpEncodable,
    bytes::BufMut, decode_exact,
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

/// `[status, cumulative-gas, bloom, logs]`: the consensus body of a receipt, as decoded.
#[derive(RlpDecodable)]
struct ConsensusBody {
    status: Bytes,
    cumulative_gas_used: u64,
    /// Checked for its form only: the bloom sent is always the one the logs give.
    _bloom: Bloom,
    logs: Vec<Log>,
}

/// A receipt in eth/68's form, the consensus encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt68(pub(crate) Receipt);

/// The list header of the consensus body `[status, cumulative-gas, bloom, logs]`; the bloom is
/// a fixed 256 bytes, so its length needs no bloom.
fn body_header(receipt: &Receipt) -> Header {
    Header::list(
        receipt.status.length()
            + receipt.cumulative_gas_used.length()
            + Bloom::ZERO.length()
            + receipt.logs.length(),
    )
}

/// The length of `receipt` in eth/68's form, without encoding it.
pub(crate) fn length68(receipt: &Receipt) -> usize {
    let body = body_header(receipt).length_with_payload();
    if receipt.tx_type == 0 {
        body
    } else {
        Header::string(body + 1).length_with_payload()
    }
}

impl Encodable for Receipt68 {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        let (receipt, body) = (&self.0, body_header(&self.0));
        if receipt.tx_type != 0 {
            Header::string(body.length_with_payload() + 1).encode(out);
            out.put_u8(receipt.tx_type);
        }
        body.encode(out);
        receipt.status.encode(out);
        receipt.cumulative_gas_used.encode(out);
        receipt.bloom().encode(out);
        receipt.logs.encode(out);
    }

    fn length(&self) -> usize {
        length68(&self.0)
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
