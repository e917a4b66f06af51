//! Blocks and block bodies: `[header, transactions, ommers, withdrawals]` as in `chain.rlp` and
//! `NewBlock`, and `[transactions, ommers, withdrawals]` as in `BlockBodies`.

use alloy_primitives::Address;
use devp2p_rlp_codec::{RlpDecodable, RlpEncodable};

use crate::{Header, SealedHeader, TransactionEnvelope};

/// A validator withdrawal (EIP-4895).
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Withdrawal {
    /// Monotonic index of the withdrawal.
    pub index: u64,
    /// The validator's index.
    pub validator_index: u64,
    /// Recipient.
    pub address: Address,
    /// Amount in gwei.
    pub amount: u64,
}

/// A block body: what `BlockBodies` carries per block.
#[derive(Debug, Clone, PartialEq, Eq, Default, RlpEncodable, RlpDecodable)]
pub struct BlockBody {
    /// The transactions, in their network encoding.
    pub transactions: Vec<TransactionEnvelope>,
    /// Ommer headers (empty since the merge).
    pub ommers: Vec<Header>,
    /// Withdrawals (Shanghai and later).
    pub withdrawals: Option<Vec<Withdrawal>>,
}

/// A full block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Block {
    /// The header, with its hash.
    pub header: SealedHeader,
    /// The transactions.
    pub transactions: Vec<TransactionEnvelope>,
    /// Ommer headers.
    pub ommers: Vec<Header>,
    /// Withdrawals (Shanghai and later).
    pub withdrawals: Option<Vec<Withdrawal>>,
}

impl Block {
    /// The block's body.
    pub fn body(&self) -> BlockBody {
        BlockBody {
            transactions: self.transactions.clone(),
            ommers: self.ommers.clone(),
            withdrawals: self.withdrawals.clone(),
        }
    }
}
