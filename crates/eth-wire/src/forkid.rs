//! EIP-2124 fork identifiers: `FORK_HASH` (CRC32 of the genesis hash and every passed fork) and
//! `FORK_NEXT`, computed from a fork schedule, and the validation rules a node applies to a
//! peer's fork id. Forks activate by block number, then (since Shanghai) by timestamp; go-ethereum's
//! reading of rule 1a for timestamps is followed (see [`ForkFilter::validate`]).

use alloy_primitives::B256;
use devp2p_rlp_codec::{RlpDecodable, RlpEncodable};

/// A remote `FORK_NEXT` above this value is a timestamp, not a block number (mainnet's genesis
/// timestamp, as go-ethereum's `timestampThreshold`); rule 1a then also compares it with the head
/// time.
pub const TIMESTAMP_THRESHOLD: u64 = 1_438_269_973;

/// `[FORK_HASH, FORK_NEXT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, RlpEncodable, RlpDecodable)]
pub struct ForkId {
    /// CRC32 (IEEE) of the genesis hash followed by every passed fork, big-endian.
    pub hash: [u8; 4],
    /// The next fork's block number or timestamp, 0 when none is known.
    pub next: u64,
}

impl core::fmt::Display for ForkId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "0x{} next {}",
            alloy_primitives::hex::encode(self.hash),
            self.next
        )
    }
}

/// Why a peer's fork id was rejected (EIP-2124 "Validation rules").
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForkIdError {
    /// Rule 2: the peer is on a fork we passed, and does not know the fork after it.
    #[error(
        "remote needs a software update (it is at a passed fork and does not announce the next)"
    )]
    RemoteStale,
    /// Rules 1a and 4: we passed a fork the peer announces, or the chains differ.
    #[error("incompatible chain, or local node is stale")]
    LocalIncompatibleOrStale,
}

/// A fork schedule: the genesis and the forks after it, by block and by time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkSchedule {
    /// The genesis block's hash.
    pub genesis_hash: B256,
    /// The genesis block's timestamp: time forks at or before it count as part of genesis.
    pub genesis_time: u64,
    /// Block numbers of forks, any order, repeats and zeros allowed.
    pub block_forks: Vec<u64>,
    /// Timestamps of forks, any order, repeats allowed.
    pub time_forks: Vec<u64>,
}

impl ForkSchedule {
    /// The forks a fork id counts, in order: block forks (sorted, without repeats and without
    /// block 0), then time forks (sorted, without repeats and without those at or before
    /// genesis), and how many of them are block forks.
    fn forks(&self) -> (Vec<u64>, usize) {
        let mut blocks: Vec<u64> = self
            .block_forks
            .iter()
            .copied()
            .filter(|b| *b > 0)
            .collect();
        blocks.sort_unstable();
        blocks.dedup();
        let mut times: Vec<u64> = self
            .time_forks
            .iter()
            .copied()
            .filter(|t| *t > self.genesis_time)
            .collect();
        times.sort_unstable();
        times.dedup();
        let count = blocks.len();
        blocks.extend(times);
        (blocks, count)
    }

    /// The fork id of a node whose head is block `head_block` with timestamp `head_time`.
    pub fn fork_id(&self, head_block: u64, head_time: u64) -> ForkId {
        let (forks, block_count) = self.forks();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(self.genesis_hash.as_slice());
        for (i, fork) in forks.iter().enumerate() {
            let head = if i < block_count {
                head_block
            } else {
                head_time
            };
            if *fork > head {
                return ForkId {
                    hash: hasher.clone().finalize().to_be_bytes(),
                    next: *fork,
                };
            }
            hasher.update(&fork.to_be_bytes());
        }
        ForkId {
            hash: hasher.finalize().to_be_bytes(),
            next: 0,
        }
    }

    /// A filter that validates peers' fork ids against this schedule.
    pub fn filter(&self) -> ForkFilter {
        let (forks, block_count) = self.forks();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(self.genesis_hash.as_slice());
        let mut sums = vec![hasher.clone().finalize().to_be_bytes()];
        for fork in &forks {
            hasher.update(&fork.to_be_bytes());
            sums.push(hasher.clone().finalize().to_be_bytes());
        }
        ForkFilter {
            forks,
            block_count,
            sums,
        }
    }
}

/// Validates peers' fork ids against a schedule (EIP-2124 rules 1–4), given our head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkFilter {
    /// Every fork, block forks first.
    forks: Vec<u64>,
    /// How many of `forks` are block forks.
    block_count: usize,
    /// The fork hash at genesis and after each fork: `sums[i]` is the hash before `forks[i]`.
    sums: Vec<[u8; 4]>,
}

impl ForkFilter {
    /// Checks `remote` for a node at block `head_block` with timestamp `head_time`:
    ///
    /// 1. If the remote hash is ours: accept, unless the remote announces a next fork we
    ///    already passed (1a), comparing it with our head block, and with our head time too when
    ///    it is above [`TIMESTAMP_THRESHOLD`] (go-ethereum's reading for time forks).
    /// 2. If it is the hash at one of our passed forks: accept if it announces the fork that
    ///    followed there, else [`ForkIdError::RemoteStale`].
    /// 3. If it is the hash at one of our future forks: accept (we are behind).
    /// 4. Otherwise [`ForkIdError::LocalIncompatibleOrStale`].
    pub fn validate(
        &self,
        remote: ForkId,
        head_block: u64,
        head_time: u64,
    ) -> Result<(), ForkIdError> {
        // Fork `i` compares with the head block or the head time. Past the last fork sits a
        // virtual one at u64::MAX that is never passed: a block fork when the schedule has no
        // time forks (purely block-based chains stay in block numbers), else a time fork.
        let head = |i: usize| {
            if i < self.block_count || self.block_count == self.forks.len() {
                head_block
            } else {
                head_time
            }
        };
        // The first fork we have not passed.
        let current = self
            .forks
            .iter()
            .enumerate()
            .position(|(i, fork)| head(i) < *fork)
            .unwrap_or(self.forks.len());
        let ours = self.sums.get(current).copied().unwrap_or_default();
        if remote.hash == ours {
            let head = head(current);
            let passed = remote.next > 0
                && (head >= remote.next
                    || (remote.next > TIMESTAMP_THRESHOLD && head_time >= remote.next));
            return if passed {
                Err(ForkIdError::LocalIncompatibleOrStale)
            } else {
                Ok(())
            };
        }
        if let Some(j) = self
            .sums
            .iter()
            .take(current)
            .position(|sum| *sum == remote.hash)
        {
            return if self.forks.get(j) == Some(&remote.next) {
                Ok(())
            } else {
                Err(ForkIdError::RemoteStale)
            };
        }
        if self
            .sums
            .iter()
            .skip(current + 1)
            .any(|sum| *sum == remote.hash)
        {
            return Ok(());
        }
        Err(ForkIdError::LocalIncompatibleOrStale)
    }
}
