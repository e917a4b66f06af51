//! Serving the chain (caps/eth.md "GetBlockHeaders", "GetBlockBodies", "GetReceipts"): the
//! [`ChainReader`] a node implements over its storage, [`MemoryChain`] over a `chain.rlp` and
//! its genesis, and [`respond`], which answers a request from a reader, echoing its request id.

use std::collections::HashMap;

use alloy_primitives::B256;
use alloy_trie::EMPTY_ROOT_HASH;
use devp2p_rlp_codec::{DecodeError, Encodable, Rlp, decode_exact};

use crate::{
    Block, BlockBodies, BlockBody, BlockHeaders, BlockId, EthMessage, EthVersion, Genesis,
    GenesisError, HeadersQuery, MAX_BLOCKS, MAX_HEADERS, MAX_MESSAGE_SIZE, PooledTransactions,
    Receipt, ReceiptList, Receipts, SealedHeader, receipt::length68,
};

/// Responses stop growing past this many bytes (caps/eth.md's recommended soft limit).
pub const SOFT_RESPONSE_LIMIT: usize = 2 * 1024 * 1024;
/// How many bytes of receipts an eth/70 answer may hold before its last list is cut:
/// [`MAX_MESSAGE_SIZE`] less room for the list headers (at most 1024 lists of at most 5 header
/// bytes each), the request id and the flag.
const RECEIPTS_HARD_LIMIT: usize = MAX_MESSAGE_SIZE - 64 * 1024;

/// What a node serves from: its canonical chain.
pub trait ChainReader {
    /// The canonical header at `number`.
    fn header_by_number(&self, number: u64) -> Option<SealedHeader>;
    /// The header with `hash`.
    fn header_by_hash(&self, hash: &B256) -> Option<SealedHeader>;
    /// The body of the block with `hash`.
    fn body(&self, hash: &B256) -> Option<BlockBody>;
    /// The receipts of the block with `hash`.
    fn receipts(&self, hash: &B256) -> Option<Vec<Receipt>>;
    /// The head of the canonical chain.
    fn head(&self) -> SealedHeader;
    /// The first block whose body and receipts are available.
    fn earliest(&self) -> u64 {
        0
    }
}

/// The headers a GetBlockHeaders query asks for: from `start`, `skip + 1` apart, rising or
/// falling, at most `limit` (and at most [`MAX_HEADERS`], and the soft size limit). The reply
/// ends early, never with an error, where the chain ends, at genesis, or where a number would
/// overflow.
pub fn serve_headers(chain: &impl ChainReader, query: &HeadersQuery) -> Vec<SealedHeader> {
    let max = usize::try_from(query.limit)
        .unwrap_or(usize::MAX)
        .min(MAX_HEADERS);
    let first = match query.start {
        BlockId::Number(number) => chain.header_by_number(number),
        // Only a canonical block starts a walk along canonical numbers.
        BlockId::Hash(hash) => chain.header_by_hash(&hash).filter(|h| {
            chain
                .header_by_number(h.header.number)
                .is_some_and(|canonical| canonical.hash == hash)
        }),
    };
    let mut headers = Vec::new();
    let mut size = 0;
    let mut next = first;
    while let Some(header) = next.take() {
        if headers.len() >= max || size >= SOFT_RESPONSE_LIMIT {
            break;
        }
        size += header.length();
        let number = header.header.number;
        headers.push(header);
        let step = query.skip.checked_add(1);
        let following = step.and_then(|step| {
            if query.reverse {
                number.checked_sub(step)
            } else {
                number.checked_add(step)
            }
        });
        next = following.and_then(|n| chain.header_by_number(n));
    }
    headers
}

/// The bodies of the blocks with `hashes`, in order, ending at the first block the chain does
/// not have, at [`MAX_BLOCKS`] or at the soft size limit. The answer is read by position
/// (go-ethereum checks the n-th body against the n-th header it asked for), so an unknown block
/// cannot be left out and the rest sent.
pub fn serve_bodies(chain: &impl ChainReader, hashes: &[B256]) -> Vec<BlockBody> {
    let mut bodies = Vec::new();
    let mut size = 0;
    for hash in hashes.iter().take(MAX_BLOCKS) {
        if size >= SOFT_RESPONSE_LIMIT {
            break;
        }
        let Some(body) = chain.body(hash) else {
            break;
        };
        size += body.length();
        bodies.push(body);
    }
    bodies
}

/// The receipt lists of the blocks with `hashes`, ending at the first block the chain has no
/// receipts for or where the soft size limit is reached (checked between blocks: a partial
/// list cannot be checked against the block's receipts root), in the form `version` serves
/// them. From eth/70 the first list starts at `first_index`, and a list that would take the
/// message over [`MAX_MESSAGE_SIZE`] is cut short (caps/eth.md: only a list that would overflow
/// the message may be incomplete): the returned flag says so. Before eth/70 a list is never cut.
pub fn serve_receipts(
    chain: &impl ChainReader,
    version: EthVersion,
    hashes: &[B256],
    first_index: u64,
) -> (Vec<ReceiptList>, bool) {
    let split = version == EthVersion::Eth70;
    let mut lists = Vec::new();
    let mut size = 0;
    for (i, hash) in hashes.iter().take(MAX_BLOCKS).enumerate() {
        if size >= SOFT_RESPONSE_LIMIT {
            break;
        }
        let Some(receipts) = chain.receipts(hash) else {
            break;
        };
        let skip = match (i, split) {
            (0, true) => usize::try_from(first_index).unwrap_or(usize::MAX),
            _ => 0,
        };
        let mut list = ReceiptList::default();
        for receipt in receipts.into_iter().skip(skip) {
            // Counted in the form sent: eth/68's carries the 256-byte bloom.
            let length = if version == EthVersion::Eth68 {
                length68(&receipt)
            } else {
                receipt.length()
            };
            if split && size + length > RECEIPTS_HARD_LIMIT {
                // Never an empty list flagged incomplete (go-ethereum refuses it): a block
                // that cannot start here is left for the next request, and the answer ends
                // there, empty if it is the first (as go-ethereum's does: a message over 10
                // MiB would end the session).
                if list.is_empty() {
                    return (lists, false);
                }
                lists.push(list);
                return (lists, true);
            }
            size += length;
            list.push(&receipt);
        }
        lists.push(list);
    }
    (lists, false)
}

/// The answer to a request, echoing its request id: headers, bodies and receipts from `chain`;
/// an empty PooledTransactions (a chain has no pool). `None` for messages that are not
/// requests.
pub fn respond(
    chain: &impl ChainReader,
    version: EthVersion,
    request: &EthMessage,
) -> Option<EthMessage> {
    Some(match request {
        EthMessage::GetBlockHeaders(get) => EthMessage::BlockHeaders(BlockHeaders {
            request_id: get.request_id,
            headers: serve_headers(chain, &get.query),
        }),
        EthMessage::GetBlockBodies(get) => EthMessage::BlockBodies(BlockBodies {
            request_id: get.request_id,
            bodies: serve_bodies(chain, &get.hashes),
        }),
        EthMessage::GetReceipts(get) => {
            let (receipts, incomplete) =
                serve_receipts(chain, version, &get.hashes, get.first_block_receipt_index);
            EthMessage::Receipts(Receipts {
                request_id: get.request_id,
                last_block_incomplete: incomplete,
                receipts,
            })
        }
        EthMessage::GetPooledTransactions(get) => {
            EthMessage::PooledTransactions(PooledTransactions {
                request_id: get.request_id,
                transactions: Vec::new(),
            })
        }
        _ => return None,
    })
}

/// Why a chain could not be loaded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The genesis file is invalid.
    #[error("genesis: {0}")]
    Genesis(#[from] GenesisError),
    /// A block of the chain file is not valid RLP of a block.
    #[error("block {index} of the chain file: {error}")]
    Block {
        /// Its position in the file (0 is the first).
        index: usize,
        /// What was wrong.
        error: DecodeError,
    },
    /// A block does not follow the one before it.
    #[error("block {number} does not extend the chain (wrong number or parent hash)")]
    NotLinked {
        /// Its number.
        number: u64,
    },
}

/// A chain held in memory: the genesis and the blocks after it, all canonical. The blocks are
/// not executed, so receipts are known only for blocks without transactions (an empty list,
/// as their empty receipts root says).
#[derive(Debug, Clone)]
pub struct MemoryChain {
    genesis: Genesis,
    headers: Vec<SealedHeader>,
    bodies: Vec<BlockBody>,
    by_hash: HashMap<B256, usize>,
}

impl MemoryChain {
    /// Loads a go-ethereum `genesis.json` and a `chain.rlp` (concatenated RLP blocks from
    /// block 1), checking that each block extends the one before.
    pub fn load(genesis_json: &str, chain_rlp: &[u8]) -> Result<Self, ChainError> {
        let genesis = Genesis::from_geth_json(genesis_json)?;
        let mut headers = vec![genesis.header.clone()];
        let mut bodies = vec![BlockBody::default()];
        let mut rlp = Rlp::new(chain_rlp);
        let mut index = 0;
        while !rlp.is_empty() {
            let block: Block = rlp
                .raw()
                .and_then(decode_exact)
                .map_err(|error| ChainError::Block { index, error })?;
            let previous = headers.last().unwrap_or(&genesis.header);
            if block.header.header.parent_hash != previous.hash
                || Some(block.header.header.number) != previous.header.number.checked_add(1)
            {
                return Err(ChainError::NotLinked {
                    number: block.header.header.number,
                });
            }
            bodies.push(block.body());
            headers.push(block.header);
            index += 1;
        }
        let by_hash = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.hash, i))
            .collect();
        Ok(Self {
            genesis,
            headers,
            bodies,
            by_hash,
        })
    }

    /// The genesis and chain spec.
    pub const fn genesis(&self) -> &Genesis {
        &self.genesis
    }
}

impl ChainReader for MemoryChain {
    fn header_by_number(&self, number: u64) -> Option<SealedHeader> {
        self.headers.get(usize::try_from(number).ok()?).cloned()
    }

    fn header_by_hash(&self, hash: &B256) -> Option<SealedHeader> {
        self.headers.get(*self.by_hash.get(hash)?).cloned()
    }

    fn body(&self, hash: &B256) -> Option<BlockBody> {
        self.bodies.get(*self.by_hash.get(hash)?).cloned()
    }

    fn receipts(&self, hash: &B256) -> Option<Vec<Receipt>> {
        let header = self.headers.get(*self.by_hash.get(hash)?)?;
        (header.header.receipts_root == EMPTY_ROOT_HASH).then(Vec::new)
    }

    fn head(&self) -> SealedHeader {
        self.headers
            .last()
            .cloned()
            .unwrap_or_else(|| self.genesis.header.clone())
    }
}
