//! Transactions in their network encoding (EIP-2718): a legacy transaction is an RLP list, a
//! typed one an RLP string holding `type || payload`. [`TransactionEnvelope`] keeps the exact
//! bytes, the type and the hash, and decodes the fields on demand into [`Transaction`]: legacy,
//! EIP-2930 access lists, EIP-1559 fees, EIP-4844 blobs (with the network form that carries the
//! sidecar) and EIP-7702 authorizations.

use alloy_primitives::{Address, B256, Bytes, FixedBytes, U256, keccak256};
use devp2p_rlp_codec::{
    Decodable, DecodeError, DecodeErrorKind, Encodable, Header as RlpHeader, Rlp, RlpDecodable,
    RlpEncodable, bytes::BufMut, decode_exact,
};

use sha2::{Digest, Sha256};

use crate::walk;

/// Legacy transactions' type number (they carry none on the wire).
pub const LEGACY_TX_TYPE: u8 = 0x00;
/// EIP-2930.
pub const EIP2930_TX_TYPE: u8 = 0x01;
/// EIP-1559.
pub const EIP1559_TX_TYPE: u8 = 0x02;
/// EIP-4844.
pub const EIP4844_TX_TYPE: u8 = 0x03;
/// EIP-7702.
pub const EIP7702_TX_TYPE: u8 = 0x04;

/// A transaction as it travels: its exact canonical bytes, its type and its hash.
///
/// For a blob transaction in its network form (with the sidecar, as `PooledTransactions`
/// carries it) the hash is over the transaction without the sidecar, as on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionEnvelope {
    /// Legacy: the RLP list. Typed: `type || payload`.
    encoded: Bytes,
    tx_type: u8,
    hash: B256,
    /// Whether `encoded` is a blob transaction's network form, with its sidecar.
    with_sidecar: bool,
}

impl TransactionEnvelope {
    /// Reads a transaction from its canonical bytes (`type || payload`, or a legacy list).
    ///
    /// The type must be one of the five known ones and its payload a list of that type's number
    /// of fields (for a blob transaction's network form: a wrapper of 4 or 5 items around one);
    /// the fields themselves are decoded on demand by [`decode`](Self::decode). Counting them
    /// here keeps a peer from passing off a two-byte `c0` or `02 c0` as a transaction: each one
    /// costs an allocation and a hash, so a 10 MiB message of them would cost a gigabyte.
    pub fn from_encoded(encoded: Bytes) -> Result<Self, DecodeError> {
        let (&first, payload) = encoded
            .split_first()
            .ok_or(DecodeError::new(DecodeErrorKind::InputTooShort, 0))?;
        if first >= 0xc0 {
            // A legacy list: the whole of it, nothing after.
            let mut rlp = Rlp::new(&encoded);
            expect_fields(rlp.list()?, LEGACY_FIELDS)?;
            rlp.finish()?;
            let hash = keccak256(&encoded);
            return Ok(Self {
                encoded,
                tx_type: LEGACY_TX_TYPE,
                hash,
                with_sidecar: false,
            });
        }
        let fields = match first {
            EIP2930_TX_TYPE => 11,
            EIP1559_TX_TYPE => 12,
            EIP4844_TX_TYPE => EIP4844_FIELDS,
            EIP7702_TX_TYPE => 13,
            _ => return Err(DecodeError::new(DecodeErrorKind::UnexpectedString, 0)),
        };
        let mut body = Rlp::new(payload);
        let mut list = body.list()?;
        body.finish()?;
        // A blob transaction's network form starts with the transaction itself, a list.
        let with_sidecar = first == EIP4844_TX_TYPE && list.peek_is_list() == Some(true);
        let hash = if with_sidecar {
            let inner = list.raw()?;
            expect_fields(Rlp::new(inner).list()?, EIP4844_FIELDS)?;
            check_sidecar(list, blob_hashes(inner)?)?;
            let mut hasher = alloy_primitives::Keccak256::new();
            hasher.update([first]);
            hasher.update(inner);
            hasher.finalize()
        } else {
            expect_fields(list, fields)?;
            keccak256(&encoded)
        };
        Ok(Self {
            encoded,
            tx_type: first,
            hash,
            with_sidecar,
        })
    }

    /// The exact bytes: `type || payload`, or the legacy list.
    pub fn encoded(&self) -> &Bytes {
        &self.encoded
    }

    /// The transaction type (0 for legacy).
    pub const fn tx_type(&self) -> u8 {
        self.tx_type
    }

    /// The transaction hash.
    pub const fn hash(&self) -> B256 {
        self.hash
    }

    /// Whether this is a blob transaction in its network form, carrying its sidecar.
    pub const fn has_sidecar(&self) -> bool {
        self.with_sidecar
    }

    /// Decodes the fields.
    pub fn decode(&self) -> Result<Transaction, DecodeError> {
        let payload = self.encoded.get(1..).unwrap_or_default();
        Ok(match self.tx_type {
            LEGACY_TX_TYPE => Transaction::Legacy(decode_exact(&self.encoded)?),
            EIP2930_TX_TYPE => Transaction::Eip2930(decode_exact(payload)?),
            EIP1559_TX_TYPE => Transaction::Eip1559(decode_exact(payload)?),
            EIP4844_TX_TYPE if self.with_sidecar => {
                let network: BlobTransactionNetwork = decode_exact(payload)?;
                Transaction::Eip4844(network.tx, Some(network.sidecar))
            }
            EIP4844_TX_TYPE => Transaction::Eip4844(decode_exact(payload)?, None),
            EIP7702_TX_TYPE => Transaction::Eip7702(decode_exact(payload)?),
            _ => return Err(DecodeError::new(DecodeErrorKind::UnexpectedString, 0)),
        })
    }
}

/// Fields of a legacy transaction and of an EIP-4844 one.
const LEGACY_FIELDS: usize = 9;
const EIP4844_FIELDS: usize = 14;
/// Where an EIP-4844 transaction lists its blob versioned hashes.
const BLOB_HASHES_FIELD: usize = 10;
/// Bytes in a blob (EIP-4844).
const BLOB_SIZE: usize = 131_072;
/// Cell proofs per blob in the Osaka sidecar (EIP-7594's `CELLS_PER_EXT_BLOB`).
const CELL_PROOFS_PER_BLOB: usize = 128;

/// The list of blob versioned hashes of the EIP-4844 transaction `tx` (its field list).
fn blob_hashes(tx: &[u8]) -> Result<Rlp<'_>, DecodeError> {
    walk::descend(Rlp::new(tx).list()?, &[BLOB_HASHES_FIELD])
}

/// Checks a blob sidecar (`list` stands after the transaction, whose versioned hashes are
/// `hashes`): a wrapper version, which must be 1 (EIP-7594's cell proofs), or none (Cancun);
/// then lists of blobs, commitments and proofs, each of its fixed size: one blob per versioned
/// hash, one commitment per blob, and one proof per blob, or 128 with cell proofs; and each
/// commitment's versioned hash (EIP-4844's `kzg_to_versioned_hash`: its SHA-256 with the first
/// byte made 0x01) is the transaction's. go-ethereum drops a peer sending a sidecar that
/// fails this. The blobs and proofs themselves are not checked here (that takes KZG).
fn check_sidecar(mut list: Rlp<'_>, mut hashes: Rlp<'_>) -> Result<(), DecodeError> {
    let blobs = walk::count_sized(hashes, 32)?;
    let per_blob = if list.peek_is_list() == Some(false) {
        let offset = list.offset();
        if list.decode::<u8>()? != 1 {
            return Err(DecodeError::new(
                DecodeErrorKind::Custom("unknown blob sidecar version"),
                offset,
            ));
        }
        CELL_PROOFS_PER_BLOB
    } else {
        1
    };
    let offset = list.offset();
    let blob_list = list.list()?;
    let mut commitments = list.list()?;
    let counts = [
        walk::count_sized(blob_list, BLOB_SIZE)?,
        walk::count_sized(commitments, 48)?,
        walk::count_sized(list.list()?, 48)?,
    ];
    list.finish()?;
    if counts != [blobs, blobs, blobs.saturating_mul(per_blob)] {
        return Err(DecodeError::new(
            DecodeErrorKind::Custom("blob sidecar counts do not match the blob hashes"),
            offset,
        ));
    }
    while !commitments.is_empty() {
        let offset = commitments.offset();
        let mut versioned: [u8; 32] = Sha256::digest(commitments.array::<48>()?).into();
        versioned[0] = VERSIONED_HASH_VERSION_KZG;
        if versioned != *hashes.array::<32>()? {
            return Err(DecodeError::new(
                DecodeErrorKind::Custom("blob commitment does not match its versioned hash"),
                offset,
            ));
        }
    }
    Ok(())
}

/// The first byte of a KZG commitment's versioned hash (EIP-4844).
const VERSIONED_HASH_VERSION_KZG: u8 = 0x01;

/// Checks that `list` holds exactly `n` well-formed items (their contents are not decoded).
fn expect_fields(list: Rlp<'_>, n: usize) -> Result<(), DecodeError> {
    let mut list = list;
    for _ in 0..n {
        if list.is_empty() {
            return Err(DecodeError::new(DecodeErrorKind::MissingItem, 0));
        }
        list.raw()?;
    }
    list.finish()
}

impl<'a> Decodable<'a> for TransactionEnvelope {
    fn decode(rlp: &mut Rlp<'a>) -> Result<Self, DecodeError> {
        let offset = rlp.offset();
        let result = if rlp.peek_is_list() == Some(true) {
            Self::from_encoded(Bytes::copy_from_slice(rlp.raw()?))
        } else {
            match rlp.bytes()? {
                // A legacy transaction is sent as its list, never wrapped in a string (geth
                // refuses that too): this form would not re-encode to the bytes received.
                typed if typed.first().is_some_and(|b| *b >= 0xc0) => {
                    Err(DecodeError::new(DecodeErrorKind::UnexpectedString, 0))
                }
                typed => Self::from_encoded(Bytes::copy_from_slice(typed)),
            }
        };
        // Errors inside the transaction are reported at the transaction's own offset.
        result.map_err(|e| DecodeError::new(e.kind(), offset))
    }
}

impl Encodable for TransactionEnvelope {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        if self.tx_type != LEGACY_TX_TYPE {
            RlpHeader::string(self.encoded.len()).encode(out);
        }
        out.put_slice(&self.encoded);
    }

    fn length(&self) -> usize {
        if self.tx_type == LEGACY_TX_TYPE {
            self.encoded.len()
        } else {
            RlpHeader::string(self.encoded.len()).length_with_payload()
        }
    }
}

/// A transaction's decoded fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transaction {
    /// Pre-EIP-2718.
    Legacy(TxLegacy),
    /// EIP-2930.
    Eip2930(TxEip2930),
    /// EIP-1559.
    Eip1559(TxEip1559),
    /// EIP-4844, with its sidecar when in the network form.
    Eip4844(TxEip4844, Option<BlobSidecar>),
    /// EIP-7702.
    Eip7702(TxEip7702),
}

/// A call's recipient, or none for a contract creation (the empty string on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// Contract creation.
    Create,
    /// A call to this address.
    Call(Address),
}

impl Decodable<'_> for TxKind {
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let offset = rlp.offset();
        match rlp.bytes()? {
            [] => Ok(Self::Create),
            bytes => Address::try_from(bytes)
                .map(Self::Call)
                .map_err(|_| DecodeError::new(DecodeErrorKind::UnexpectedLength, offset)),
        }
    }
}

impl Encodable for TxKind {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match self {
            Self::Create => out.put_u8(0x80),
            Self::Call(address) => address.encode(out),
        }
    }

    fn length(&self) -> usize {
        match self {
            Self::Create => 1,
            Self::Call(address) => address.length(),
        }
    }
}

/// An access list entry (EIP-2930).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccessListItem {
    /// The account.
    pub address: Address,
    /// Its storage slots.
    pub storage_keys: Vec<B256>,
}

/// `[nonce, gasPrice, gasLimit, to, value, data, v, r, s]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxLegacy {
    /// Sender's nonce.
    pub nonce: u64,
    /// Gas price in wei.
    pub gas_price: u128,
    /// Gas limit.
    pub gas_limit: u64,
    /// Recipient.
    pub to: TxKind,
    /// Value in wei.
    pub value: U256,
    /// Call data or init code.
    pub input: Bytes,
    /// `v` (27/28, or with the chain id per EIP-155).
    pub v: u64,
    /// `r`.
    pub r: U256,
    /// `s`.
    pub s: U256,
}

/// EIP-2930's payload.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxEip2930 {
    /// Chain id.
    pub chain_id: u64,
    /// Sender's nonce.
    pub nonce: u64,
    /// Gas price in wei.
    pub gas_price: u128,
    /// Gas limit.
    pub gas_limit: u64,
    /// Recipient.
    pub to: TxKind,
    /// Value in wei.
    pub value: U256,
    /// Call data or init code.
    pub input: Bytes,
    /// Access list.
    pub access_list: Vec<AccessListItem>,
    /// Signature y parity.
    pub y_parity: u8,
    /// `r`.
    pub r: U256,
    /// `s`.
    pub s: U256,
}

/// EIP-1559's payload.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxEip1559 {
    /// Chain id.
    pub chain_id: u64,
    /// Sender's nonce.
    pub nonce: u64,
    /// Priority fee per gas.
    pub max_priority_fee_per_gas: u128,
    /// Maximum fee per gas.
    pub max_fee_per_gas: u128,
    /// Gas limit.
    pub gas_limit: u64,
    /// Recipient.
    pub to: TxKind,
    /// Value in wei.
    pub value: U256,
    /// Call data or init code.
    pub input: Bytes,
    /// Access list.
    pub access_list: Vec<AccessListItem>,
    /// Signature y parity.
    pub y_parity: u8,
    /// `r`.
    pub r: U256,
    /// `s`.
    pub s: U256,
}

/// EIP-4844's payload (the transaction itself; the sidecar travels beside it).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxEip4844 {
    /// Chain id.
    pub chain_id: u64,
    /// Sender's nonce.
    pub nonce: u64,
    /// Priority fee per gas.
    pub max_priority_fee_per_gas: u128,
    /// Maximum fee per gas.
    pub max_fee_per_gas: u128,
    /// Gas limit.
    pub gas_limit: u64,
    /// Recipient (blob transactions cannot create contracts).
    pub to: Address,
    /// Value in wei.
    pub value: U256,
    /// Call data.
    pub input: Bytes,
    /// Access list.
    pub access_list: Vec<AccessListItem>,
    /// Maximum fee per blob gas.
    pub max_fee_per_blob_gas: u128,
    /// Versioned hashes of the blobs.
    pub blob_versioned_hashes: Vec<B256>,
    /// Signature y parity.
    pub y_parity: u8,
    /// `r`.
    pub r: U256,
    /// `s`.
    pub s: U256,
}

/// A blob transaction's sidecar: blobs, KZG commitments and proofs. Osaka's form (EIP-7594)
/// has a wrapper version and cell proofs; `version` is `None` for the original form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobSidecar {
    /// The wrapper version (1 for cell proofs), absent in the Cancun form.
    pub version: Option<u8>,
    /// The blobs, 131072 bytes each.
    pub blobs: Vec<Bytes>,
    /// KZG commitments, one per blob.
    pub commitments: Vec<FixedBytes<48>>,
    /// KZG proofs: one per blob, or with cell proofs 128 per blob.
    pub proofs: Vec<FixedBytes<48>>,
}

/// `[tx_payload_body, blobs, commitments, proofs]` or
/// `[tx_payload_body, wrapper_version, blobs, commitments, cell_proofs]`.
struct BlobTransactionNetwork {
    tx: TxEip4844,
    sidecar: BlobSidecar,
}

impl Decodable<'_> for BlobTransactionNetwork {
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        let mut fields = rlp.list()?;
        let tx = fields.decode()?;
        let version = if fields.peek_is_list() == Some(false) {
            Some(fields.decode()?)
        } else {
            None
        };
        let sidecar = BlobSidecar {
            version,
            blobs: fields.decode()?,
            commitments: fields.decode()?,
            proofs: fields.decode()?,
        };
        fields.finish()?;
        Ok(Self { tx, sidecar })
    }
}

/// An EIP-7702 authorization: `[chain_id, address, nonce, y_parity, r, s]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Authorization {
    /// Chain id (0: any chain).
    pub chain_id: U256,
    /// The code to delegate to.
    pub address: Address,
    /// The authority's nonce.
    pub nonce: u64,
    /// Signature y parity.
    pub y_parity: u8,
    /// `r`.
    pub r: U256,
    /// `s`.
    pub s: U256,
}

/// EIP-7702's payload.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct TxEip7702 {
    /// Chain id.
    pub chain_id: u64,
    /// Sender's nonce.
    pub nonce: u64,
    /// Priority fee per gas.
    pub max_priority_fee_per_gas: u128,
    /// Maximum fee per gas.
    pub max_fee_per_gas: u128,
    /// Gas limit.
    pub gas_limit: u64,
    /// Destination (set-code transactions cannot create contracts).
    pub to: Address,
    /// Value in wei.
    pub value: U256,
    /// Call data.
    pub input: Bytes,
    /// Access list.
    pub access_list: Vec<AccessListItem>,
    /// Authorizations.
    pub authorization_list: Vec<Authorization>,
    /// Signature y parity.
    pub y_parity: u8,
    /// `r`.
    pub r: U256,
    /// `s`.
    pub s: U256,
}
