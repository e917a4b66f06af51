//! `EthStream`: the eth protocol over a [`P2pStream`] for the tokio world. The thin driver: it
//! sends and awaits the Status messages (the check itself is the sans-IO [`check_status`]),
//! then moves [`EthMessage`]s.
#![allow(clippy::disallowed_methods)]

use core::time::Duration;

use alloy_primitives::U256;
use devp2p_p2p_capability::{Capability, DisconnectReason, P2pError, P2pStream};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{
    ChainSpec, EthMessage, EthVersion, MessageError, SealedHeader, Status, Status68, Status69,
    StatusError, check_status,
};

/// What we announce in Status: our chain and how far we have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStatus {
    /// The chain.
    pub spec: ChainSpec,
    /// Our head.
    pub head: SealedHeader,
    /// Total difficulty at the head (eth/68 only; a post-merge chain's terminal difficulty).
    pub total_difficulty: U256,
    /// The first block whose body and receipts we have (eth/69+). Announced as at most the
    /// head's number: peers (go-ethereum, and our own [`check_status`]) refuse a range that
    /// ends before it starts, as a node whose history starts at a pruning point past its head
    /// (a first sync, a rewound head) would otherwise announce.
    pub earliest: u64,
}

impl LocalStatus {
    /// Our Status for a session speaking `version`.
    pub fn status(&self, version: EthVersion) -> Status {
        let head = &self.head.header;
        let fork_id = self.spec.fork_id(head.number, head.timestamp);
        match version {
            EthVersion::Eth68 => Status::Eth68(Status68 {
                version: version as u8,
                network_id: self.spec.chain_id,
                total_difficulty: self.total_difficulty,
                head: self.head.hash,
                genesis: self.spec.schedule.genesis_hash,
                fork_id,
            }),
            EthVersion::Eth69 | EthVersion::Eth70 => Status::Eth69(Status69 {
                version: version as u8,
                network_id: self.spec.chain_id,
                genesis: self.spec.schedule.genesis_hash,
                fork_id,
                earliest: self.earliest.min(head.number),
                latest: head.number,
                latest_hash: self.head.hash,
            }),
        }
    }
}

/// Why an eth session failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EthError {
    /// The `p2p` session failed or ended.
    #[error("{0}")]
    P2p(#[from] P2pError),
    /// The peer does not speak eth/68, 69 or 70.
    #[error("no shared eth version")]
    NoSharedVersion,
    /// The peer's first eth message was not Status.
    #[error("expected Status, got message {0:#04x}")]
    ExpectedStatus(u8),
    /// A message was malformed, or not part of the version.
    #[error("{0}")]
    Message(#[from] MessageError),
    /// The peer's Status was refused; it is kept for inspection.
    #[error("Status refused: {error}")]
    Status {
        /// The peer's Status.
        status: Box<Status>,
        /// Why it was refused.
        error: StatusError,
    },
    /// The peer sent Status again after the handshake (go-ethereum ends such sessions too).
    #[error("Status again after the handshake")]
    UnexpectedStatus,
    /// No Status within the time limit.
    #[error("no Status within the time limit")]
    Timeout,
}

/// An eth session with a peer whose Status was accepted.
#[derive(Debug)]
pub struct EthStream<Io> {
    p2p: P2pStream<Io>,
    capability: usize,
    version: EthVersion,
    remote: Status,
}

impl<Io: AsyncRead + AsyncWrite + Unpin> EthStream<Io> {
    /// The capabilities to announce in Hello: eth/68, eth/69 and eth/70.
    pub fn capabilities() -> Vec<Capability> {
        EthVersion::ALL
            .iter()
            .map(|v| Capability::new("eth", *v as u32, v.message_count()))
            .collect()
    }

    /// Exchanges Status over `p2p` (whose Hello offered [`capabilities`](Self::capabilities))
    /// in the highest shared eth version, and checks the peer's against ours. A refused Status
    /// ends the session with reason 0x10 (as go-ethereum); the error keeps the peer's Status.
    /// No Status within `timeout` ends it with reason 0x0b.
    pub async fn handshake(
        mut p2p: P2pStream<Io>,
        local: &LocalStatus,
        timeout: Duration,
    ) -> Result<Self, EthError> {
        let (capability, version) = p2p
            .shared_capabilities()
            .iter()
            .enumerate()
            .find_map(|(i, shared)| {
                (shared.capability.name == "eth")
                    .then(|| EthVersion::from_number(shared.capability.version))
                    .flatten()
                    .map(|v| (i, v))
            })
            .ok_or(EthError::NoSharedVersion)?;
        let ours = local.status(version);
        let data = EthMessage::Status(ours.clone()).encode(version)?;
        p2p.send(capability, crate::id::STATUS, data.into()).await?;
        let Ok(received) = tokio::time::timeout(timeout, next_eth(&mut p2p, capability)).await
        else {
            // As go-ethereum: reason 0x0b, timeout on receiving a message.
            let _ = p2p.disconnect(DisconnectReason::PingTimeout).await;
            return Err(EthError::Timeout);
        };
        let (id, data) = received?;
        if id != crate::id::STATUS {
            let _ = p2p.disconnect(DisconnectReason::SubprotocolError).await;
            return Err(EthError::ExpectedStatus(id));
        }
        let theirs = match EthMessage::decode(version, id, &data) {
            Ok(EthMessage::Status(status)) => status,
            other => {
                let _ = p2p.disconnect(DisconnectReason::SubprotocolError).await;
                return Err(match other {
                    Err(error) => error.into(),
                    Ok(message) => EthError::ExpectedStatus(message.id()),
                });
            }
        };
        let head = &local.head.header;
        let filter = local.spec.fork_filter();
        if let Err(error) = check_status(
            version,
            &ours,
            &theirs,
            &filter,
            head.number,
            head.timestamp,
        ) {
            let _ = p2p.disconnect(DisconnectReason::from(&error)).await;
            return Err(EthError::Status {
                status: Box::new(theirs),
                error,
            });
        }
        Ok(Self {
            p2p,
            capability,
            version,
            remote: theirs,
        })
    }

    /// The negotiated version.
    pub const fn version(&self) -> EthVersion {
        self.version
    }

    /// The peer's Status.
    pub const fn remote_status(&self) -> &Status {
        &self.remote
    }

    /// The `p2p` session underneath.
    pub const fn p2p(&self) -> &P2pStream<Io> {
        &self.p2p
    }

    /// Sends a message.
    pub async fn send(&mut self, message: &EthMessage) -> Result<(), EthError> {
        let data = message.encode(self.version)?;
        self.p2p
            .send(self.capability, message.id(), data.into())
            .await?;
        Ok(())
    }

    /// The next eth message from the peer. A second Status is
    /// [`EthError::UnexpectedStatus`]: the session's Status is fixed at the handshake.
    pub async fn next_message(&mut self) -> Result<EthMessage, EthError> {
        let (id, data) = next_eth(&mut self.p2p, self.capability).await?;
        match EthMessage::decode(self.version, id, &data)? {
            EthMessage::Status(_) => Err(EthError::UnexpectedStatus),
            message => Ok(message),
        }
    }

    /// Ends the session with `reason`.
    pub async fn disconnect(self, reason: DisconnectReason) -> Result<(), EthError> {
        Ok(self.p2p.disconnect(reason).await?)
    }
}

/// The next message of the eth capability; other capabilities' messages are dropped.
async fn next_eth<Io: AsyncRead + AsyncWrite + Unpin>(
    p2p: &mut P2pStream<Io>,
    capability: usize,
) -> Result<(u8, bytes::Bytes), EthError> {
    loop {
        match p2p.next().await {
            Some(Ok(message)) if message.capability == capability => {
                return Ok((message.id, message.data));
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => return Err(P2pError::Closed.into()),
        }
    }
}
