//! Node identities: the 64-byte public key RLPx and discv4 use ([`PeerId`]) and the 32-byte
//! [`NodeId`] (keccak256 of it) with the XOR metric of the discovery protocols.

use core::{fmt, str::FromStr};

use k256::{PublicKey, elliptic_curve::sec1::ToSec1Point};
use sha3::{Digest, Keccak256};

use crate::EnodeError;

/// keccak256 of `data`.
pub(crate) fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// A node's secp256k1 public key as the 64 bytes `x || y` (the uncompressed point without its
/// `04` prefix): the node id of enode URLs, RLPx handshakes and discv4.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 64]);

impl PeerId {
    /// The 64-byte form of `key`.
    pub fn from_public_key(key: &PublicKey) -> Self {
        let point = key.to_sec1_point(false);
        // An uncompressed point is `04 || x || y`; a public key is never the identity.
        let xy = point
            .as_bytes()
            .get(1..)
            .and_then(|xy| <[u8; 64]>::try_from(xy).ok());
        Self(xy.unwrap_or([0; 64]))
    }

    /// The public key, if these bytes are a point on the curve.
    pub fn to_public_key(&self) -> Option<PublicKey> {
        PublicKey::from_sec1_bytes(&[&[0x04][..], &self.0].concat()).ok()
    }

    /// keccak256 of the 64 bytes: the discovery node id.
    pub fn node_id(&self) -> NodeId {
        NodeId(keccak256(&self.0))
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for PeerId {
    type Err = EnodeError;

    /// 128 hex characters (an optional `0x` prefix is accepted) that form a point on the curve.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 64];
        hex::decode_to_slice(s, &mut out).map_err(|_| EnodeError::InvalidNodeId)?;
        let id = Self(out);
        id.to_public_key().ok_or(EnodeError::InvalidPublicKey)?;
        Ok(id)
    }
}

impl From<&PublicKey> for PeerId {
    fn from(key: &PublicKey) -> Self {
        Self::from_public_key(key)
    }
}

/// A 32-byte node id: keccak256 of the node's 64-byte public key. Discovery measures the
/// distance between nodes as the XOR of their ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 32]);

impl NodeId {
    /// The node id of `key`.
    pub fn from_public_key(key: &PublicKey) -> Self {
        PeerId::from_public_key(key).node_id()
    }

    /// The XOR distance `self ^ other`, big-endian.
    pub fn distance(&self, other: &Self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, (a, b)) in out.iter_mut().zip(self.0.iter().zip(&other.0)) {
            *o = a ^ b;
        }
        out
    }

    /// The logarithmic distance: the bit length of `self ^ other`, from 0 (identical ids) to
    /// 256. Discovery's k-buckets and discv5's FINDNODE distances use it.
    pub fn log2_distance(&self, other: &Self) -> u16 {
        let distance = self.distance(other);
        let leading_zeros: u32 = distance
            .iter()
            .position(|b| *b != 0)
            .and_then(|i| distance.get(i).map(|b| i as u32 * 8 + b.leading_zeros()))
            .unwrap_or(256);
        (256 - leading_zeros) as u16
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A 64-byte string, as Hello, discv4's Neighbours and the RLPx handshake carry node ids.
impl devp2p_rlp_codec::Encodable for PeerId {
    fn encode<B: devp2p_rlp_codec::bytes::BufMut + ?Sized>(&self, out: &mut B) {
        self.0.encode(out);
    }

    fn length(&self) -> usize {
        self.0.length()
    }
}

impl devp2p_rlp_codec::Decodable<'_> for PeerId {
    const MIN_LENGTH: usize = 66;

    fn decode(rlp: &mut devp2p_rlp_codec::Rlp<'_>) -> Result<Self, devp2p_rlp_codec::DecodeError> {
        Ok(Self(*rlp.array::<64>()?))
    }
}

/// Whether `signature` (`r || s`, with s in the lower half) is `key`'s ECDSA signature of the
/// 32-byte `digest`, as the "v4" identity scheme signs records and discv5 its id-proof. Checked
/// by `k256`, or by libsecp256k1 with the `libsecp256k1` feature; both give the same answer.
///
/// ```
/// use devp2p_enr::{PublicKey, SigningKey, verify_signature};
/// use k256::ecdsa::{Signature, signature::hazmat::PrehashSigner};
///
/// let key = SigningKey::from_slice(&[7; 32]).unwrap();
/// let signature: Signature = key.sign_prehash(&[9; 32]).unwrap();
/// let public = PublicKey::from(key.verifying_key());
/// assert!(verify_signature(&public, &[9; 32], &signature.to_bytes().into()));
/// assert!(!verify_signature(&public, &[8; 32], &signature.to_bytes().into()));
/// ```
pub fn verify_signature(key: &PublicKey, digest: &[u8; 32], signature: &[u8; 64]) -> bool {
    #[cfg(not(feature = "libsecp256k1"))]
    {
        use k256::ecdsa::{Signature, VerifyingKey, signature::hazmat::PrehashVerifier};
        Signature::from_slice(signature)
            .is_ok_and(|s| VerifyingKey::from(key).verify_prehash(digest, &s).is_ok())
    }
    #[cfg(feature = "libsecp256k1")]
    {
        use secp256k1::{Message, SECP256K1, ecdsa::Signature};
        // The uncompressed form: parsing it needs no square root, only a check on the curve.
        let key = secp256k1::PublicKey::from_slice(key.to_sec1_point(false).as_bytes());
        match (key, Signature::from_compact(signature)) {
            (Ok(key), Ok(signature)) => SECP256K1
                .verify_ecdsa(Message::from_digest(*digest), &signature, &key)
                .is_ok(),
            _ => false,
        }
    }
}

/// The public key of a compressed SEC1 point (33 bytes, tag `02` or `03`), as records and
/// discv5's handshake carry keys; it must be on the curve. Other SEC1 forms, which a SEC1
/// parser would take (such as the 33-byte "compact" tag `05`), are refused. Finding y takes a
/// square root, which libsecp256k1 (with the feature) does faster.
///
/// ```
/// use devp2p_enr::{PublicKey, SigningKey, public_key_from_compressed};
/// use k256::elliptic_curve::sec1::ToSec1Point;
///
/// let key = PublicKey::from(SigningKey::from_slice(&[7; 32]).unwrap().verifying_key());
/// let mut point = key.to_sec1_point(true).as_bytes().to_vec();
/// assert_eq!(public_key_from_compressed(&point), Some(key));
/// point[0] = 0x05;
/// assert_eq!(public_key_from_compressed(&point), None);
/// ```
pub fn public_key_from_compressed(point: &[u8]) -> Option<PublicKey> {
    if point.len() != 33 || !matches!(point.first(), Some(0x02 | 0x03)) {
        return None;
    }
    #[cfg(not(feature = "libsecp256k1"))]
    {
        PublicKey::from_sec1_bytes(point).ok()
    }
    #[cfg(feature = "libsecp256k1")]
    {
        let point = secp256k1::PublicKey::from_slice(point).ok()?;
        PublicKey::from_sec1_bytes(&point.serialize_uncompressed()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(last: u8, first: u8) -> NodeId {
        let mut b = [0u8; 32];
        b[0] = first;
        b[31] = last;
        NodeId(b)
    }

    #[test]
    fn log2_distance_is_the_bit_length_of_the_xor() {
        assert_eq!(id(0, 0).log2_distance(&id(0, 0)), 0);
        assert_eq!(id(1, 0).log2_distance(&id(0, 0)), 1);
        assert_eq!(id(2, 0).log2_distance(&id(3, 0)), 1);
        assert_eq!(id(0x80, 0).log2_distance(&id(0, 0)), 8);
        assert_eq!(id(0, 0x80).log2_distance(&id(0, 0)), 256);
        assert_eq!(id(0, 0x01).log2_distance(&id(0xff, 0)), 249);
        assert_eq!(id(5, 9).distance(&id(3, 1))[0], 8);
    }

    #[test]
    fn peer_id_text_is_checked() {
        assert_eq!("00".parse::<PeerId>(), Err(EnodeError::InvalidNodeId));
        assert_eq!(
            "00".repeat(64).parse::<PeerId>(),
            Err(EnodeError::InvalidPublicKey)
        );
        assert_eq!(
            "zz".repeat(64).parse::<PeerId>(),
            Err(EnodeError::InvalidNodeId)
        );
    }
}
