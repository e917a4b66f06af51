//! The eth protocol's messages (caps/eth.md "Protocol Messages") for eth/68, eth/69 and eth/70,
//! with the ids each version allows, request ids (EIP-2481), and the size and count limits
//! applied on decoding.

use alloy_primitives::{B256, Bytes, U256};
use devp2p_rlp_codec::{
    Decodable, DecodeError, Encodable, Rlp, RlpDecodable, RlpEncodable, bytes::BufMut,
    decode_exact, encode_to_vec,
};

use crate::{
    Block, BlockBody, EIP4844_TX_TYPE, ReceiptList, SealedHeader, Status, Status68, Status69,
    StatusError, TransactionEnvelope, receipt::ReceiptList68, status::check_block_range, walk,
};

/// Largest eth message accepted, in bytes (go-ethereum's `maxMessageSize`).
pub const MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;
/// Most block headers in a response, and served for a request (go-ethereum's
/// `maxHeadersServe`).
pub const MAX_HEADERS: usize = 1024;
/// Most block bodies or receipt lists in a response, and served for a request however many it
/// names (go-ethereum's `maxBodiesServe` and `maxReceiptsServe`).
pub const MAX_BLOCKS: usize = 1024;
/// Most transactions announced in one NewPooledTransactionHashes (caps/eth.md's soft limit).
pub const MAX_ANNOUNCED: usize = 4096;
/// Most transactions in one Transactions or PooledTransactions message. go-ethereum takes up
/// to 5000 in a Transactions message and drops a peer that sends more, so send no more than
/// that; Besu packs its broadcasts to 1 MiB, about 9500 plain transfers (about 110 bytes
/// each); go-ethereum, reth, Erigon and Nethermind pack theirs to about 100-128 KiB, and
/// pooled transactions are asked for 256 at a time. At this count the
/// smallest envelopes a peer can send (10 bytes, each decoding into about 72) come to about
/// 1.2 MB. A GetPooledTransactions naming more hashes can get an answer this refuses.
pub const MAX_TRANSACTIONS: usize = 1 << 14;
/// Most transactions in all the bodies of one BlockBodies message, or in a NewBlock: what
/// 10 MiB (the message limit, which Besu fills) of the smallest signed transactions, about 77
/// bytes each, can hold is under 140,000; this is almost twice that. The smallest envelope a
/// peer can send without a real signature is 10 bytes but decodes into about 72.
pub const MAX_BODY_TRANSACTIONS: usize = 1 << 18;
/// Most transactions to ask for in one GetPooledTransactions (caps/eth.md's soft limit). A
/// request for more is still a valid message: peers such as Erigon send them.
pub const MAX_POOLED_REQUEST: usize = 256;

/// An eth protocol version this crate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EthVersion {
    /// eth/68 (EIP-5793).
    Eth68 = 68,
    /// eth/69 (EIP-7642): block ranges, receipts without bloom, no block announcements.
    Eth69 = 69,
    /// eth/70 (EIP-7975): paginated receipts.
    Eth70 = 70,
}

impl EthVersion {
    /// Every version, oldest first.
    pub const ALL: [Self; 3] = [Self::Eth68, Self::Eth69, Self::Eth70];

    /// How many message ids the version uses (its ids are `0..count`).
    pub const fn message_count(self) -> u8 {
        match self {
            Self::Eth68 => 17,
            Self::Eth69 | Self::Eth70 => 18,
        }
    }

    /// The version with this number.
    pub const fn from_number(number: u32) -> Option<Self> {
        match number {
            68 => Some(Self::Eth68),
            69 => Some(Self::Eth69),
            70 => Some(Self::Eth70),
            _ => None,
        }
    }
}

/// Message ids.
pub mod id {
    /// Status.
    pub const STATUS: u8 = 0x00;
    /// NewBlockHashes (eth/68 only).
    pub const NEW_BLOCK_HASHES: u8 = 0x01;
    /// Transactions.
    pub const TRANSACTIONS: u8 = 0x02;
    /// GetBlockHeaders.
    pub const GET_BLOCK_HEADERS: u8 = 0x03;
    /// BlockHeaders.
    pub const BLOCK_HEADERS: u8 = 0x04;
    /// GetBlockBodies.
    pub const GET_BLOCK_BODIES: u8 = 0x05;
    /// BlockBodies.
    pub const BLOCK_BODIES: u8 = 0x06;
    /// NewBlock (eth/68 only).
    pub const NEW_BLOCK: u8 = 0x07;
    /// NewPooledTransactionHashes.
    pub const NEW_POOLED_TRANSACTION_HASHES: u8 = 0x08;
    /// GetPooledTransactions.
    pub const GET_POOLED_TRANSACTIONS: u8 = 0x09;
    /// PooledTransactions.
    pub const POOLED_TRANSACTIONS: u8 = 0x0a;
    /// GetReceipts.
    pub const GET_RECEIPTS: u8 = 0x0f;
    /// Receipts.
    pub const RECEIPTS: u8 = 0x10;
    /// BlockRangeUpdate (eth/69 and later).
    pub const BLOCK_RANGE_UPDATE: u8 = 0x11;
}

/// Why a message could not be decoded or encoded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Over [`MAX_MESSAGE_SIZE`].
    #[error("message of {0} bytes is over the 10 MiB limit")]
    TooLarge(usize),
    /// No eth message has this id.
    #[error("unknown message id {0:#04x}")]
    UnknownId(u8),
    /// The message exists, but not in this version (e.g. NewBlock in eth/69), or not in this
    /// form (a Status of the other version's shape; a partial receipt list, or a request for
    /// one, before eth/70).
    #[error("message {id:#04x} in this form is not part of eth/{version}")]
    NotInVersion {
        /// The id.
        id: u8,
        /// The session's version.
        version: u8,
    },
    /// Malformed RLP, or the wrong shape for the message.
    #[error("invalid message: {0}")]
    Rlp(#[from] DecodeError),
    /// More items than the limit for this message.
    #[error("{got} items, over the limit of {limit}")]
    TooManyItems {
        /// The limit.
        limit: usize,
        /// How many came.
        got: usize,
    },
    /// A BlockRangeUpdate whose range is empty or whose latest hash is zero (the checks of
    /// an eth/69 Status's range).
    #[error("BlockRangeUpdate: {0}")]
    BlockRange(StatusError),
    /// A blob transaction in Transactions, which EIP-4844 forbids (blob transactions are only
    /// announced), one in PooledTransactions without its sidecar (the network form is
    /// required there), or one in a block (BlockBodies, NewBlock) with its sidecar (blocks
    /// hold the canonical form). Carries the transaction's index in the message, counted over
    /// all its bodies for BlockBodies.
    #[error("blob transaction {0} is not allowed in this form here (EIP-4844)")]
    MisplacedBlobTransaction(usize),
    /// An eth/70 Receipts flagged incomplete with no block's receipts at all: the flag says
    /// the last block's list was cut, and there is none (go-ethereum drops the peer).
    #[error("Receipts flagged incomplete without receipts")]
    IncompleteWithoutReceipts,
    /// NewPooledTransactionHashes with lists of different lengths.
    #[error("announcement lists differ in length: {types} types, {sizes} sizes, {hashes} hashes")]
    AnnouncementMismatch {
        /// Types.
        types: usize,
        /// Sizes.
        sizes: usize,
        /// Hashes.
        hashes: usize,
    },
}

/// Where a header request starts: a block hash or number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// By hash.
    Hash(B256),
    /// By number.
    Number(u64),
}

impl Decodable<'_> for BlockId {
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let offset = rlp.offset();
        let mut peek = *rlp;
        if peek.bytes().map(<[u8]>::len) == Ok(32) {
            return Ok(Self::Hash(B256::from(*rlp.array::<32>()?)));
        }
        rlp.decode()
            .map(Self::Number)
            .map_err(|e| DecodeError::new(e.kind(), offset))
    }
}

impl Encodable for BlockId {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match self {
            Self::Hash(hash) => hash.encode(out),
            Self::Number(number) => number.encode(out),
        }
    }

    fn length(&self) -> usize {
        match self {
            Self::Hash(hash) => hash.length(),
            Self::Number(number) => number.length(),
        }
    }
}

/// `[startblock, limit, skip, reverse]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct HeadersQuery {
    /// The first block.
    pub start: BlockId,
    /// At most this many headers.
    pub limit: u64,
    /// Blocks left out between two headers.
    pub skip: u64,
    /// Falling block numbers instead of rising.
    pub reverse: bool,
}

/// GetBlockHeaders: `[request-id, [startblock, limit, skip, reverse]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetBlockHeaders {
    /// Request id.
    pub request_id: u64,
    /// What to return.
    pub query: HeadersQuery,
}

/// BlockHeaders: `[request-id, [header, ...]]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockHeaders {
    /// The request's id.
    pub request_id: u64,
    /// The headers, hashed over the bytes they came in.
    pub headers: Vec<SealedHeader>,
}

/// GetBlockBodies: `[request-id, [hash, ...]]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetBlockBodies {
    /// Request id.
    pub request_id: u64,
    /// The blocks' hashes.
    pub hashes: Vec<B256>,
}

/// BlockBodies: `[request-id, [body, ...]]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockBodies {
    /// The request's id.
    pub request_id: u64,
    /// The bodies, in request order.
    pub bodies: Vec<BlockBody>,
}

/// GetPooledTransactions: `[request-id, [hash, ...]]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetPooledTransactions {
    /// Request id.
    pub request_id: u64,
    /// Transaction hashes.
    pub hashes: Vec<B256>,
}

/// PooledTransactions: `[request-id, [tx, ...]]` (blob transactions in their network form).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct PooledTransactions {
    /// The request's id.
    pub request_id: u64,
    /// The transactions.
    pub transactions: Vec<TransactionEnvelope>,
}

/// A NewBlockHashes entry: `[hash, number]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockHashNumber {
    /// The block hash.
    pub hash: B256,
    /// The block number.
    pub number: u64,
}

/// NewBlock: `[block, td]` (eth/68 only).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NewBlock {
    /// The block.
    pub block: Block,
    /// Total difficulty up to and including it.
    pub total_difficulty: U256,
}

/// NewPooledTransactionHashes (eth/68): `[types, [size, ...], [hash, ...]]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NewPooledTransactionHashes {
    /// One type byte per transaction.
    pub types: Bytes,
    /// Each transaction's size as PooledTransactions carries it: the length of its envelope's
    /// [`encoded`](crate::TransactionEnvelope::encoded) form, so a blob transaction's includes
    /// its sidecar. go-ethereum checks it against
    /// what it then receives and drops a peer whose figure is off by more than 8 bytes. A
    /// `u32`, as go-ethereum reads it: a message with a larger size does not decode.
    pub sizes: Vec<u32>,
    /// The hashes.
    pub hashes: Vec<B256>,
}

impl NewPooledTransactionHashes {
    /// Checks that the three lists are equally long.
    fn check(&self) -> Result<(), MessageError> {
        let (types, sizes, hashes) = (self.types.len(), self.sizes.len(), self.hashes.len());
        if types != hashes || sizes != hashes {
            return Err(MessageError::AnnouncementMismatch {
                types,
                sizes,
                hashes,
            });
        }
        Ok(())
    }
}

/// GetReceipts. eth/70 adds `firstBlockReceiptIndex`, an offset into the first block's list;
/// it is 0 in earlier versions and not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetReceipts {
    /// Request id.
    pub request_id: u64,
    /// eth/70: the first receipt of the first block to return.
    pub first_block_receipt_index: u64,
    /// Block hashes.
    pub hashes: Vec<B256>,
}

/// Receipts: one list per block. eth/70 adds `lastBlockIncomplete`; eth/68 sends the receipts
/// in their consensus encoding with blooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipts {
    /// The request's id.
    pub request_id: u64,
    /// eth/70: the last block's list was cut short by the size limit.
    pub last_block_incomplete: bool,
    /// Receipt lists, in request order.
    pub receipts: Vec<ReceiptList>,
}

/// BlockRangeUpdate (eth/69+): `[earliest, latest, latestHash]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockRangeUpdate {
    /// Earliest available full block.
    pub earliest: u64,
    /// Latest available full block.
    pub latest: u64,
    /// Its hash.
    pub latest_hash: B256,
}

#[derive(RlpEncodable, RlpDecodable)]
struct Receipts68Wire {
    request_id: u64,
    receipts: Vec<ReceiptList68>,
}

#[derive(RlpEncodable, RlpDecodable)]
struct Receipts69Wire {
    request_id: u64,
    receipts: Vec<ReceiptList>,
}

#[derive(RlpEncodable, RlpDecodable)]
struct Receipts70Wire {
    request_id: u64,
    last_block_incomplete: bool,
    receipts: Vec<ReceiptList>,
}

#[derive(RlpEncodable, RlpDecodable)]
struct GetReceipts69Wire {
    request_id: u64,
    hashes: Vec<B256>,
}

#[derive(RlpEncodable, RlpDecodable)]
struct GetReceipts70Wire {
    request_id: u64,
    first_block_receipt_index: u64,
    hashes: Vec<B256>,
}

/// An eth message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EthMessage {
    /// 0x00.
    Status(Status),
    /// 0x01 (eth/68).
    NewBlockHashes(Vec<BlockHashNumber>),
    /// 0x02.
    Transactions(Vec<TransactionEnvelope>),
    /// 0x03.
    GetBlockHeaders(GetBlockHeaders),
    /// 0x04.
    BlockHeaders(BlockHeaders),
    /// 0x05.
    GetBlockBodies(GetBlockBodies),
    /// 0x06.
    BlockBodies(BlockBodies),
    /// 0x07 (eth/68).
    NewBlock(Box<NewBlock>),
    /// 0x08.
    NewPooledTransactionHashes(NewPooledTransactionHashes),
    /// 0x09.
    GetPooledTransactions(GetPooledTransactions),
    /// 0x0a.
    PooledTransactions(PooledTransactions),
    /// 0x0f.
    GetReceipts(GetReceipts),
    /// 0x10.
    Receipts(Receipts),
    /// 0x11 (eth/69+).
    BlockRangeUpdate(BlockRangeUpdate),
}

/// Refuses the first blob transaction of `transactions` that `allowed` refuses.
fn blobs_allowed(
    transactions: &[TransactionEnvelope],
    allowed: impl Fn(&TransactionEnvelope) -> bool,
) -> Result<(), MessageError> {
    match transactions
        .iter()
        .position(|tx| tx.tx_type() == EIP4844_TX_TYPE && !allowed(tx))
    {
        Some(index) => Err(MessageError::MisplacedBlobTransaction(index)),
        None => Ok(()),
    }
}

/// Refuses a blob transaction with its sidecar among a block's `transactions`.
fn no_sidecars<'a>(
    transactions: impl IntoIterator<Item = &'a TransactionEnvelope>,
) -> Result<(), MessageError> {
    match transactions
        .into_iter()
        .position(TransactionEnvelope::has_sidecar)
    {
        Some(index) => Err(MessageError::MisplacedBlobTransaction(index)),
        None => Ok(()),
    }
}

/// Refuses a message whose list at `path` (see [`list_at`]) holds more than `limit` items,
/// before anything is decoded: a 10 MiB message of empty items would otherwise build millions
/// of values before the limit could be checked.
fn limit_at(data: &[u8], path: &[usize], limit: usize) -> Result<(), MessageError> {
    check_count(list_at(data, path).and_then(walk::count), limit)
}

/// Like [`limit_at`] for the items one level down: the total over the elements of the list
/// at `path` of the items in each element's list at `inner` (the transactions of all bodies:
/// a block count alone does not bound them).
fn limit_nested(
    data: &[u8],
    path: &[usize],
    inner: &[usize],
    limit: usize,
) -> Result<(), MessageError> {
    let total = list_at(data, path).and_then(|mut outer| {
        let mut total = 0;
        while !outer.is_empty() {
            total += walk::count(walk::descend(outer.list()?, inner)?)?;
        }
        Ok(total)
    });
    check_count(total, limit)
}

fn check_count(got: Result<usize, DecodeError>, limit: usize) -> Result<(), MessageError> {
    match got {
        Ok(got) if got > limit => Err(MessageError::TooManyItems { limit, got }),
        // Input that cannot be counted is malformed: the decoder reports where.
        _ => Ok(()),
    }
}

/// The list at `path` (see [`walk::descend`]) inside `data`'s top-level list.
fn list_at<'a>(data: &'a [u8], path: &[usize]) -> Result<Rlp<'a>, DecodeError> {
    walk::descend(Rlp::new(data).list()?, path)
}

/// Whether `version` has message `id`.
pub const fn is_allowed(version: EthVersion, id: u8) -> bool {
    match id {
        id::NEW_BLOCK_HASHES | id::NEW_BLOCK => matches!(version, EthVersion::Eth68),
        id::BLOCK_RANGE_UPDATE => !matches!(version, EthVersion::Eth68),
        id::STATUS..=id::POOLED_TRANSACTIONS | id::GET_RECEIPTS | id::RECEIPTS => true,
        _ => false,
    }
}

impl EthMessage {
    /// The message id.
    pub const fn id(&self) -> u8 {
        match self {
            Self::Status(_) => id::STATUS,
            Self::NewBlockHashes(_) => id::NEW_BLOCK_HASHES,
            Self::Transactions(_) => id::TRANSACTIONS,
            Self::GetBlockHeaders(_) => id::GET_BLOCK_HEADERS,
            Self::BlockHeaders(_) => id::BLOCK_HEADERS,
            Self::GetBlockBodies(_) => id::GET_BLOCK_BODIES,
            Self::BlockBodies(_) => id::BLOCK_BODIES,
            Self::NewBlock(_) => id::NEW_BLOCK,
            Self::NewPooledTransactionHashes(_) => id::NEW_POOLED_TRANSACTION_HASHES,
            Self::GetPooledTransactions(_) => id::GET_POOLED_TRANSACTIONS,
            Self::PooledTransactions(_) => id::POOLED_TRANSACTIONS,
            Self::GetReceipts(_) => id::GET_RECEIPTS,
            Self::Receipts(_) => id::RECEIPTS,
            Self::BlockRangeUpdate(_) => id::BLOCK_RANGE_UPDATE,
        }
    }

    /// The request id of a request or response.
    pub const fn request_id(&self) -> Option<u64> {
        match self {
            Self::GetBlockHeaders(m) => Some(m.request_id),
            Self::BlockHeaders(m) => Some(m.request_id),
            Self::GetBlockBodies(m) => Some(m.request_id),
            Self::BlockBodies(m) => Some(m.request_id),
            Self::GetPooledTransactions(m) => Some(m.request_id),
            Self::PooledTransactions(m) => Some(m.request_id),
            Self::GetReceipts(m) => Some(m.request_id),
            Self::Receipts(m) => Some(m.request_id),
            Self::Status(_)
            | Self::NewBlockHashes(_)
            | Self::Transactions(_)
            | Self::NewBlock(_)
            | Self::NewPooledTransactionHashes(_)
            | Self::BlockRangeUpdate(_) => None,
        }
    }

    /// Decodes message `id` of a session speaking `version` from its (decompressed) data.
    pub fn decode(version: EthVersion, id: u8, data: &[u8]) -> Result<Self, MessageError> {
        if data.len() > MAX_MESSAGE_SIZE {
            return Err(MessageError::TooLarge(data.len()));
        }
        if !is_allowed(version, id) {
            return Err(
                if is_allowed(EthVersion::Eth68, id) || is_allowed(EthVersion::Eth69, id) {
                    MessageError::NotInVersion {
                        id,
                        version: version as u8,
                    }
                } else {
                    MessageError::UnknownId(id)
                },
            );
        }
        let message = match id {
            id::STATUS => Self::Status(match version {
                EthVersion::Eth68 => Status::Eth68(decode_exact::<Status68>(data)?),
                EthVersion::Eth69 | EthVersion::Eth70 => {
                    Status::Eth69(decode_exact::<Status69>(data)?)
                }
            }),
            id::NEW_BLOCK_HASHES => {
                limit_at(data, &[], MAX_ANNOUNCED)?;
                Self::NewBlockHashes(decode_exact(data)?)
            }
            id::TRANSACTIONS => {
                limit_at(data, &[], MAX_TRANSACTIONS)?;
                let transactions: Vec<TransactionEnvelope> = decode_exact(data)?;
                blobs_allowed(&transactions, |_| false)?;
                Self::Transactions(transactions)
            }
            id::GET_BLOCK_HEADERS => Self::GetBlockHeaders(decode_exact(data)?),
            id::BLOCK_HEADERS => {
                limit_at(data, &[1], MAX_HEADERS)?;
                Self::BlockHeaders(decode_exact(data)?)
            }
            // A request may ask for more than is served (caps/eth.md's limits are soft; Erigon
            // asks for every hash it was told of at once): only the message size bounds it,
            // and the answer stops at the serving limits, as go-ethereum's does.
            id::GET_BLOCK_BODIES => Self::GetBlockBodies(decode_exact(data)?),
            id::BLOCK_BODIES => {
                limit_at(data, &[1], MAX_BLOCKS)?;
                limit_nested(data, &[1], &[0], MAX_BODY_TRANSACTIONS)?;
                let message: BlockBodies = decode_exact(data)?;
                no_sidecars(message.bodies.iter().flat_map(|body| &body.transactions))?;
                Self::BlockBodies(message)
            }
            id::NEW_BLOCK => {
                limit_at(data, &[0, 1], MAX_BODY_TRANSACTIONS)?;
                let message: NewBlock = decode_exact(data)?;
                no_sidecars(&message.block.transactions)?;
                Self::NewBlock(Box::new(message))
            }
            id::NEW_POOLED_TRANSACTION_HASHES => {
                limit_at(data, &[1], MAX_ANNOUNCED)?;
                limit_at(data, &[2], MAX_ANNOUNCED)?;
                let message: NewPooledTransactionHashes = decode_exact(data)?;
                message.check()?;
                Self::NewPooledTransactionHashes(message)
            }
            id::GET_POOLED_TRANSACTIONS => Self::GetPooledTransactions(decode_exact(data)?),
            id::POOLED_TRANSACTIONS => {
                limit_at(data, &[1], MAX_TRANSACTIONS)?;
                let message: PooledTransactions = decode_exact(data)?;
                blobs_allowed(&message.transactions, TransactionEnvelope::has_sidecar)?;
                Self::PooledTransactions(message)
            }
            id::GET_RECEIPTS => {
                let message = match version {
                    EthVersion::Eth70 => {
                        let wire: GetReceipts70Wire = decode_exact(data)?;
                        GetReceipts {
                            request_id: wire.request_id,
                            first_block_receipt_index: wire.first_block_receipt_index,
                            hashes: wire.hashes,
                        }
                    }
                    EthVersion::Eth68 | EthVersion::Eth69 => {
                        let wire: GetReceipts69Wire = decode_exact(data)?;
                        GetReceipts {
                            request_id: wire.request_id,
                            first_block_receipt_index: 0,
                            hashes: wire.hashes,
                        }
                    }
                };
                Self::GetReceipts(message)
            }
            id::RECEIPTS => {
                let receipts_at = if version == EthVersion::Eth70 { 2 } else { 1 };
                limit_at(data, &[receipts_at], MAX_BLOCKS)?;
                let mut message = match version {
                    EthVersion::Eth68 => {
                        let wire: Receipts68Wire = decode_exact(data)?;
                        Receipts {
                            request_id: wire.request_id,
                            last_block_incomplete: false,
                            receipts: wire.receipts.into_iter().map(|list| list.0).collect(),
                        }
                    }
                    EthVersion::Eth69 => {
                        let wire: Receipts69Wire = decode_exact(data)?;
                        Receipts {
                            request_id: wire.request_id,
                            last_block_incomplete: false,
                            receipts: wire.receipts,
                        }
                    }
                    EthVersion::Eth70 => {
                        let wire: Receipts70Wire = decode_exact(data)?;
                        if wire.last_block_incomplete && wire.receipts.is_empty() {
                            return Err(MessageError::IncompleteWithoutReceipts);
                        }
                        Receipts {
                            request_id: wire.request_id,
                            last_block_incomplete: wire.last_block_incomplete,
                            receipts: wire.receipts,
                        }
                    }
                };
                // The vector was sized for the smallest lists the payload could hold.
                message.receipts.shrink_to_fit();
                Self::Receipts(message)
            }
            id::BLOCK_RANGE_UPDATE => {
                let update: BlockRangeUpdate = decode_exact(data)?;
                check_block_range(update.earliest, update.latest, update.latest_hash)
                    .map_err(MessageError::BlockRange)?;
                Self::BlockRangeUpdate(update)
            }
            other => return Err(MessageError::UnknownId(other)),
        };
        Ok(message)
    }

    /// Encodes the message's data for a session speaking `version`. Fails for a message the
    /// version does not have, a Status in the other version's form, and before eth/70, for a
    /// GetReceipts starting inside a block or Receipts whose last list is incomplete (the
    /// older forms cannot say so).
    pub fn encode(&self, version: EthVersion) -> Result<Vec<u8>, MessageError> {
        let id = self.id();
        let partial = match self {
            Self::GetReceipts(m) => m.first_block_receipt_index != 0,
            Self::Receipts(m) => m.last_block_incomplete,
            _ => false,
        };
        if !is_allowed(version, id) || (partial && version != EthVersion::Eth70) {
            return Err(MessageError::NotInVersion {
                id,
                version: version as u8,
            });
        }
        // What the peer would refuse on arrival (as `decode` does) is not sent.
        match self {
            Self::Receipts(m) if m.last_block_incomplete && m.receipts.is_empty() => {
                return Err(MessageError::IncompleteWithoutReceipts);
            }
            Self::NewPooledTransactionHashes(m) => m.check()?,
            Self::BlockRangeUpdate(m) => check_block_range(m.earliest, m.latest, m.latest_hash)
                .map_err(MessageError::BlockRange)?,
            _ => {}
        }
        Ok(match self {
            Self::Status(Status::Eth68(status)) if version == EthVersion::Eth68 => {
                encode_to_vec(status)
            }
            Self::Status(Status::Eth69(status)) if version != EthVersion::Eth68 => {
                encode_to_vec(status)
            }
            Self::Status(_) => {
                return Err(MessageError::NotInVersion {
                    id,
                    version: version as u8,
                });
            }
            Self::NewBlockHashes(m) => encode_to_vec(m),
            Self::Transactions(m) => encode_to_vec(m),
            Self::GetBlockHeaders(m) => encode_to_vec(m),
            Self::BlockHeaders(m) => encode_to_vec(m),
            Self::GetBlockBodies(m) => encode_to_vec(m),
            Self::BlockBodies(m) => encode_to_vec(m),
            Self::NewBlock(m) => encode_to_vec(m.as_ref()),
            Self::NewPooledTransactionHashes(m) => encode_to_vec(m),
            Self::GetPooledTransactions(m) => encode_to_vec(m),
            Self::PooledTransactions(m) => encode_to_vec(m),
            Self::GetReceipts(m) => match version {
                EthVersion::Eth70 => encode_to_vec(&GetReceipts70Wire {
                    request_id: m.request_id,
                    first_block_receipt_index: m.first_block_receipt_index,
                    hashes: m.hashes.clone(),
                }),
                EthVersion::Eth68 | EthVersion::Eth69 => encode_to_vec(&GetReceipts69Wire {
                    request_id: m.request_id,
                    hashes: m.hashes.clone(),
                }),
            },
            Self::Receipts(m) => match version {
                EthVersion::Eth68 => encode_to_vec(&Receipts68Wire {
                    request_id: m.request_id,
                    receipts: m.receipts.iter().cloned().map(ReceiptList68).collect(),
                }),
                EthVersion::Eth69 => encode_to_vec(&Receipts69Wire {
                    request_id: m.request_id,
                    receipts: m.receipts.clone(),
                }),
                EthVersion::Eth70 => encode_to_vec(&Receipts70Wire {
                    request_id: m.request_id,
                    last_block_incomplete: m.last_block_incomplete,
                    receipts: m.receipts.clone(),
                }),
            },
            Self::BlockRangeUpdate(m) => encode_to_vec(m),
        })
    }
}
