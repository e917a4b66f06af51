//! The Ethereum wire protocol (ethereum/devp2p `caps/eth.md`): eth/68, eth/69 and eth/70.
//!
//! - [`ForkId`], [`ForkSchedule`] and [`ForkFilter`]: EIP-2124 fork identifiers, computed from a
//!   fork schedule of block and time forks, and the four validation rules.
//! - [`ChainSpec`]: mainnet, Sepolia, Holesky and Hoodi built in, any other chain read from a
//!   go-ethereum `genesis.json`.
//! - Block data: [`Header`] with every field through Prague and go-ethereum's two for
//!   Amsterdam, [`SealedHeader`] hashed over the
//!   bytes it came in, [`Block`] and [`BlockBody`], and [`TransactionEnvelope`]: a transaction
//!   kept in its network encoding (bytes, type, hash) and decoded on demand into
//!   [`Transaction`] (legacy, EIP-2930, EIP-1559, EIP-4844 with its network sidecar form,
//!   EIP-7702).
//! - [`EthMessage`]: every message of eth/68, eth/69 and eth/70 with the ids each version allows
//!   ([`is_allowed`]), request ids, the 10 MiB size limit and per-message item limits; the
//!   [`Status`] forms of eth/68 and eth/69+ and [`check_status`], the handshake check.
//! - Serving: [`ChainReader`], [`MemoryChain`] (a `genesis.json` and a `chain.rlp`, the genesis
//!   header built with its state root by [`Genesis`]), and [`respond`] with the spec's header
//!   request semantics.
//! - [`EthStream`]: the Status exchange and eth messages over a `P2pStream`, for tokio.
//!
//! ```
//! use devp2p_eth_wire::ChainSpec;
//!
//! let mainnet = ChainSpec::mainnet();
//! // Unsynced: the genesis fork hash, Homestead next.
//! let id = mainnet.fork_id(0, 0);
//! assert_eq!((id.hash, id.next), ([0xfc, 0x64, 0xec, 0x04], 1_150_000));
//! // A synced peer is ahead of us: rule 3 accepts it.
//! let theirs = mainnet.fork_id(20_000_000, 1_800_000_000);
//! assert!(mainnet.fork_filter().validate(theirs, 0, 0).is_ok());
//! ```

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod block;
mod chain;
mod chainspec;
mod forkid;
mod genesis;
mod header;
mod messages;
mod receipt;
mod status;
mod stream;
mod transaction;
mod walk;

pub use block::{Block, BlockBody, Withdrawal};
pub use chain::{
    ChainError, ChainReader, MemoryChain, SOFT_RESPONSE_LIMIT, respond, serve_bodies,
    serve_headers, serve_receipts,
};
pub use chainspec::{ChainSpec, GenesisError};
pub use forkid::{ForkFilter, ForkId, ForkIdError, ForkSchedule, TIMESTAMP_THRESHOLD};
pub use genesis::Genesis;
pub use header::{Header, SealedHeader};
pub use messages::{
    BlockBodies, BlockHashNumber, BlockHeaders, BlockId, BlockRangeUpdate, EthMessage, EthVersion,
    GetBlockBodies, GetBlockHeaders, GetPooledTransactions, GetReceipts, HeadersQuery,
    MAX_ANNOUNCED, MAX_BLOCKS, MAX_BODY_TRANSACTIONS, MAX_HEADERS, MAX_MESSAGE_SIZE,
    MAX_POOLED_REQUEST, MAX_TRANSACTIONS, MessageError, NewBlock, NewPooledTransactionHashes,
    PooledTransactions, Receipts, id, is_allowed,
};
pub use receipt::{Log, Receipt, ReceiptList};
pub use status::{Status, Status68, Status69, StatusError, check_status};
pub use stream::{EthError, EthStream, LocalStatus};
pub use transaction::{
    AccessListItem, Authorization, BlobSidecar, EIP1559_TX_TYPE, EIP2930_TX_TYPE, EIP4844_TX_TYPE,
    EIP7702_TX_TYPE, LEGACY_TX_TYPE, Transaction, TransactionEnvelope, TxEip1559, TxEip2930,
    TxEip4844, TxEip7702, TxKind, TxLegacy,
};
