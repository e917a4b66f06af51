//! The Status handshake (caps/eth.md "Status (0x00)"): eth/68 announces total difficulty and
//! its best block, eth/69 and later the available block range (EIP-7642). [`check_status`] is
//! the sans-IO check of a peer's Status against ours.

use alloy_primitives::{B256, U256};
use devp2p_rlp_codec::{RlpDecodable, RlpEncodable};

use crate::{EthVersion, ForkFilter, ForkId, ForkIdError};

/// eth/68's Status: `[version, networkid, td, blockhash, genesis, forkid]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Status68 {
    /// The protocol version.
    pub version: u8,
    /// The network id.
    pub network_id: u64,
    /// Total difficulty of the best chain.
    pub total_difficulty: U256,
    /// Hash of the best block.
    pub head: B256,
    /// Hash of the genesis block.
    pub genesis: B256,
    /// EIP-2124 fork id.
    pub fork_id: ForkId,
}

/// eth/69's Status: `[version, networkid, genesis, forkid, earliest, latest, latestHash]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Status69 {
    /// The protocol version.
    pub version: u8,
    /// The network id.
    pub network_id: u64,
    /// Hash of the genesis block.
    pub genesis: B256,
    /// EIP-2124 fork id.
    pub fork_id: ForkId,
    /// Number of the earliest available full block.
    pub earliest: u64,
    /// Number of the latest available full block.
    pub latest: u64,
    /// Hash of the latest available full block.
    pub latest_hash: B256,
}

/// A Status message in the form its version uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// eth/68.
    Eth68(Status68),
    /// eth/69 and later.
    Eth69(Status69),
}

impl Status {
    /// The version it announces.
    pub const fn version(&self) -> u8 {
        match self {
            Self::Eth68(s) => s.version,
            Self::Eth69(s) => s.version,
        }
    }

    /// The network id.
    pub const fn network_id(&self) -> u64 {
        match self {
            Self::Eth68(s) => s.network_id,
            Self::Eth69(s) => s.network_id,
        }
    }

    /// The genesis hash.
    pub const fn genesis(&self) -> B256 {
        match self {
            Self::Eth68(s) => s.genesis,
            Self::Eth69(s) => s.genesis,
        }
    }

    /// The fork id.
    pub const fn fork_id(&self) -> ForkId {
        match self {
            Self::Eth68(s) => s.fork_id,
            Self::Eth69(s) => s.fork_id,
        }
    }
}

/// Why a peer's Status was refused. The session ends with Disconnect reason 0x10
/// (subprotocol error), as go-ethereum does.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The Status announces another version than the one negotiated.
    #[error("Status announces eth/{theirs}, the session speaks eth/{ours}")]
    Version {
        /// The negotiated version.
        ours: u8,
        /// What the Status says.
        theirs: u8,
    },
    /// Another network.
    #[error("network id {theirs}, ours is {ours}")]
    Network {
        /// Ours.
        ours: u64,
        /// Theirs.
        theirs: u64,
    },
    /// Another genesis block.
    #[error("genesis {theirs}, ours is {ours}")]
    Genesis {
        /// Ours.
        ours: B256,
        /// Theirs.
        theirs: B256,
    },
    /// The fork id fails EIP-2124 validation.
    #[error("fork id {fork_id}: {error}")]
    ForkId {
        /// Their fork id.
        fork_id: ForkId,
        /// Which rule refused it.
        error: ForkIdError,
    },
    /// eth/69+: the earliest available block is after the latest.
    #[error("block range {earliest}..={latest} is empty")]
    InvalidRange {
        /// Earliest.
        earliest: u64,
        /// Latest.
        latest: u64,
    },
    /// eth/69+: the latest block hash is zero.
    #[error("latest block hash is zero")]
    ZeroLatestHash,
}

/// Every refused Status ends the session with reason 0x10 (subprotocol error), as go-ethereum
/// does for a failed eth handshake.
impl From<&StatusError> for devp2p_p2p_capability::DisconnectReason {
    fn from(_: &StatusError) -> Self {
        Self::SubprotocolError
    }
}

/// Checks the peer's Status `theirs` against ours for a session speaking `version`, with our
/// head at `head_block` / `head_time` for the fork id rules.
pub fn check_status(
    version: EthVersion,
    ours: &Status,
    theirs: &Status,
    filter: &ForkFilter,
    head_block: u64,
    head_time: u64,
) -> Result<(), StatusError> {
    if theirs.version() != version as u8 {
        return Err(StatusError::Version {
            ours: version as u8,
            theirs: theirs.version(),
        });
    }
    if theirs.network_id() != ours.network_id() {
        return Err(StatusError::Network {
            ours: ours.network_id(),
            theirs: theirs.network_id(),
        });
    }
    if theirs.genesis() != ours.genesis() {
        return Err(StatusError::Genesis {
            ours: ours.genesis(),
            theirs: theirs.genesis(),
        });
    }
    filter
        .validate(theirs.fork_id(), head_block, head_time)
        .map_err(|error| StatusError::ForkId {
            fork_id: theirs.fork_id(),
            error,
        })?;
    if let Status::Eth69(status) = theirs {
        check_block_range(status.earliest, status.latest, status.latest_hash)?;
    }
    Ok(())
}

/// The block range of an eth/69+ Status or BlockRangeUpdate: not empty, and a latest hash that
/// is not zero.
pub(crate) fn check_block_range(
    earliest: u64,
    latest: u64,
    latest_hash: B256,
) -> Result<(), StatusError> {
    if earliest > latest {
        return Err(StatusError::InvalidRange { earliest, latest });
    }
    if latest_hash == B256::ZERO {
        return Err(StatusError::ZeroLatestHash);
    }
    Ok(())
}
