//! Receipts as the eth protocol carries them: eth/68 sends the consensus encoding (a legacy
//! list, or a string `type || rlp([status, cumulative-gas, bloom, logs])`); eth/69 and later
//! send `[tx-type, status, cumulative-gas, logs]` without the bloom (EIP-7642).

use alloy_primitives::{Address, B256, Bloom, Bytes};
use devp2p_rlp_codec::{
    Decodable, DecodeError, DecodeErrorKind, Encodable, Header, Rlp, RlpDecodable, RlpEncodable,
    bytes::BufMut,
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
    /// The transaction's type: 0 (legacy) to 0x7f (EIP-2718); peers refuse a receipt of
    /// another, as we do.
    pub tx_type: u8,
    /// Post-state root (before Byzantium, 32 bytes) or status (`01` success, empty failure);
    /// peers refuse a receipt whose status has another length, as we do.
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

/// One block's receipts, kept in eth/69's encoding and decoded on demand.
///
/// A receipt's smallest encoding is 5 bytes and a decoded [`Receipt`] takes about 70, so a
/// Receipts message decoded eagerly could take 15 times its size (up to about 150 MB for 10
/// MiB). Kept encoded, a list takes no more memory than the bytes it came in (fewer when it came
/// in eth/68's form: the blooms are dropped). Each receipt is checked when a list is decoded,
/// by walking its items without building them, as [`Receipt`] decodes it and as go-ethereum
/// does (a type up to 0x7f, a status of 0, 1 or 32 bytes), so a malformed one fails the
/// message; it is decoded each time [`iter`](Self::iter) passes it.
///
/// ```
/// use devp2p_eth_wire::{Receipt, ReceiptList};
///
/// let receipt = Receipt {
///     tx_type: 2,
///     status: vec![1].into(),
///     cumulative_gas_used: 21_000,
///     logs: vec![],
/// };
/// let list: ReceiptList = [receipt.clone()].into_iter().collect();
/// assert_eq!(list.len(), 1);
/// assert_eq!(list.iter().collect::<Vec<_>>(), [receipt]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ReceiptList {
    /// The receipts' encodings, one after the other: the list's payload.
    payload: Vec<u8>,
    /// How many there are.
    len: usize,
}

impl ReceiptList {
    /// How many receipts the list holds.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The receipts, each decoded as it is reached.
    pub fn iter(&self) -> impl Iterator<Item = Receipt> + '_ {
        // Every receipt was decoded when the list was made, so none fails here.
        Rlp::new(&self.payload)
            .iter::<Receipt>()
            .map_while(Result::ok)
    }

    /// Appends `receipt`.
    pub(crate) fn push(&mut self, receipt: &Receipt) {
        receipt.encode(&mut self.payload);
        self.len += 1;
    }
}

impl FromIterator<Receipt> for ReceiptList {
    fn from_iter<I: IntoIterator<Item = Receipt>>(receipts: I) -> Self {
        let mut list = Self::default();
        for receipt in receipts {
            list.push(&receipt);
        }
        list
    }
}

impl core::fmt::Debug for ReceiptList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// eth/69's form: a list of `[tx-type, status, cumulative-gas, logs]`.
impl Encodable for ReceiptList {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        Header::list(self.payload.len()).encode(out);
        out.put_slice(&self.payload);
    }

    fn length(&self) -> usize {
        Header::list(self.payload.len()).length_with_payload()
    }
}

impl Decodable<'_> for ReceiptList {
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let mut list = rlp.list()?;
        let payload = list.remaining();
        let mut len = 0;
        while !list.is_empty() {
            check_receipt(&mut list)?;
            len += 1;
        }
        Ok(Self {
            payload: payload.to_vec(),
            len,
        })
    }
}

/// Checks the eth/69 receipt `[tx-type, status, cumulative-gas, logs]` next in `rlp` as
/// [`Receipt`] decodes it, and as go-ethereum does (a type up to 0x7f, a status of 0, 1 or 32
/// bytes), without building its logs.
fn check_receipt(rlp: &mut Rlp<'_>) -> Result<(), DecodeError> {
    let mut fields = rlp.list()?;
    let offset = fields.offset();
    let tx_type: u8 = fields.decode()?;
    if tx_type > 0x7f {
        return Err(DecodeError::new(
            DecodeErrorKind::Custom("receipt type over 0x7f"),
            offset,
        ));
    }
    check_status(&mut fields)?;
    fields.decode::<u64>()?;
    logs(&mut fields)?;
    fields.finish()
}

/// Reads a receipt's status: empty (failure), one byte (success) or 32 (a post-state root).
fn check_status<'a>(rlp: &mut Rlp<'a>) -> Result<&'a [u8], DecodeError> {
    let offset = rlp.offset();
    let status = rlp.bytes()?;
    if !matches!(status.len(), 0 | 1 | 32) {
        return Err(DecodeError::new(DecodeErrorKind::UnexpectedLength, offset));
    }
    Ok(status)
}

/// Checks the logs `[[address, [topic, ...], data], ...]` next in `rlp` as `Vec<Log>` decodes
/// them, without building them, and returns their encoding.
fn logs<'a>(rlp: &mut Rlp<'a>) -> Result<&'a [u8], DecodeError> {
    let encoding = { *rlp }.raw()?;
    let mut logs = rlp.list()?;
    while !logs.is_empty() {
        let mut log = logs.list()?;
        log.array::<20>()?;
        let mut topics = log.list()?;
        while !topics.is_empty() {
            topics.array::<32>()?;
        }
        log.bytes()?;
        log.finish()?;
    }
    Ok(encoding)
}

/// A [`ReceiptList`] in eth/68's form: a list of consensus encodings, with blooms.
pub(crate) struct ReceiptList68(pub(crate) ReceiptList);

impl ReceiptList68 {
    fn payload_length(&self) -> usize {
        self.0.iter().map(|receipt| length68(&receipt)).sum()
    }
}

impl Encodable for ReceiptList68 {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        Header::list(self.payload_length()).encode(out);
        for receipt in self.0.iter() {
            Receipt68(receipt).encode(out);
        }
    }

    fn length(&self) -> usize {
        Header::list(self.payload_length()).length_with_payload()
    }
}

impl Decodable<'_> for ReceiptList68 {
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let mut receipts = rlp.list()?;
        let mut list = ReceiptList::default();
        while !receipts.is_empty() {
            receipt68_to_69(&mut receipts, &mut list.payload)?;
            list.len += 1;
        }
        // Growing by doubling can leave up to half the capacity unused.
        list.payload.shrink_to_fit();
        Ok(Self(list))
    }
}

/// Reads the eth/68 receipt next in `rlp` (a legacy list, or a string `type || rlp([status,
/// cumulative-gas, bloom, logs])` of type 1 to 0x7f) and appends it to `out` in eth/69's form.
/// The bloom is checked for its form only: the one sent is always the one the logs give.
fn receipt68_to_69(rlp: &mut Rlp<'_>, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let offset = rlp.offset();
    if rlp.peek_is_list() == Some(true) {
        return body_to_69(0, rlp, out);
    }
    let typed = rlp.bytes()?;
    match typed.split_first() {
        Some((&tx_type, body)) if (1..=0x7f).contains(&tx_type) => {
            let mut body = Rlp::new(body);
            body_to_69(tx_type, &mut body, out)
                .and_then(|()| body.finish())
                .map_err(|e| DecodeError::new(e.kind(), offset))
        }
        _ => Err(DecodeError::new(DecodeErrorKind::UnexpectedString, offset)),
    }
}

/// Reads the consensus body `[status, cumulative-gas, bloom, logs]` next in `rlp` and appends
/// `[tx_type, status, cumulative-gas, logs]` to `out`.
fn body_to_69(tx_type: u8, rlp: &mut Rlp<'_>, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let mut fields = rlp.list()?;
    let status = check_status(&mut fields)?;
    let gas: u64 = fields.decode()?;
    fields.array::<256>()?;
    let logs = logs(&mut fields)?;
    fields.finish()?;
    Header::list(tx_type.length() + status.length() + gas.length() + logs.len()).encode(out);
    tx_type.encode(out);
    status.encode(out);
    gas.encode(out);
    out.put_slice(logs);
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EthMessage, EthVersion, Receipts, id};

    /// A Receipts message of `count` receipts of the smallest kind, in `version`'s form.
    fn smallest_receipts(version: EthVersion, count: usize) -> Vec<u8> {
        let receipt = Receipt {
            tx_type: 0,
            status: Bytes::new(),
            cumulative_gas_used: 0,
            logs: Vec::new(),
        };
        let list: ReceiptList = core::iter::repeat_n(receipt, count).collect();
        EthMessage::Receipts(Receipts {
            request_id: 1,
            last_block_incomplete: false,
            receipts: vec![list; 2],
        })
        .encode(version)
        .unwrap()
    }

    /// Bytes of heap a decoded Receipts message holds.
    fn heap(data: &[u8], version: EthVersion) -> usize {
        let Ok(EthMessage::Receipts(message)) = EthMessage::decode(version, id::RECEIPTS, data)
        else {
            panic!("not Receipts");
        };
        message.receipts.capacity() * size_of::<ReceiptList>()
            + message
                .receipts
                .iter()
                .map(|list| list.payload.capacity())
                .sum::<usize>()
    }

    #[test]
    fn a_receipts_message_takes_no_more_memory_than_its_encoding() {
        // 5 bytes each in eth/69's form; decoded, a `Receipt` alone is over 60.
        let eth69 = smallest_receipts(EthVersion::Eth69, 15_000);
        assert!(size_of::<Receipt>() > 60);
        let lists = 2 * size_of::<ReceiptList>();
        assert!(heap(&eth69, EthVersion::Eth69) <= eth69.len() + lists);
        // eth/68's form carries a bloom with each; the list keeps eth/69's.
        let eth68 = smallest_receipts(EthVersion::Eth68, 15_000);
        assert!(eth68.len() > 40 * eth69.len());
        assert!(heap(&eth68, EthVersion::Eth68) <= eth69.len() + lists);
    }

    #[test]
    fn a_malformed_receipt_fails_the_list_not_its_iteration() {
        // `[1, [[[0, "", gas, []]]]]`: gas 0 written `80` decodes; written `00`, not canonical,
        // it fails the message, not a later iteration.
        let message = |gas| [0xc8, 0x01, 0xc6, 0xc5, 0xc4, 0x80, 0x80, gas, 0xc0];
        let Ok(EthMessage::Receipts(good)) =
            EthMessage::decode(EthVersion::Eth69, id::RECEIPTS, &message(0x80))
        else {
            panic!("not Receipts");
        };
        assert_eq!(good.receipts[0].iter().count(), 1);
        assert!(EthMessage::decode(EthVersion::Eth69, id::RECEIPTS, &message(0x00)).is_err());
    }
}
