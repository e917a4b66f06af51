//! Building and updating records: set keys, sign with the node's key, bump `seq` on change.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::BTreeMap;

use devp2p_rlp_codec::{Encodable, Header, Rlp, encode_to_vec};
use k256::ecdsa::{Signature, SigningKey, signature::hazmat::PrehashSigner};

use crate::{
    Enr, EnrError,
    keys::keccak256,
    record::{MAX_RECORD_SIZE, check_address_value, check_v4, content, pairs_length, put_pairs},
};

/// Collects a record's entries, then [`build`](Self::build)s and signs it.
///
/// `id` and `secp256k1` are set by `build` from the signing key; values set for them here are
/// replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    seq: u64,
    pairs: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Default for Builder {
    /// The same as [`Builder::new`]: sequence number 1.
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// An empty builder; records start at sequence number 1.
    pub fn new() -> Self {
        Self {
            seq: 1,
            pairs: BTreeMap::new(),
        }
    }

    /// A builder holding `record`'s entries and sequence number.
    pub fn from_record(record: &Enr) -> Self {
        let pairs = record
            .pairs()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        Self {
            seq: record.seq(),
            pairs,
        }
    }

    /// Sets the sequence number.
    pub fn seq(&mut self, seq: u64) -> &mut Self {
        self.seq = seq;
        self
    }

    /// Sets `key` to the RLP encoding of `value`, replacing any previous value. The encoding
    /// must be exactly one RLP item, or [`build`](Self::build) fails with
    /// [`EnrError::InvalidValue`].
    pub fn set(&mut self, key: impl AsRef<[u8]>, value: &impl Encodable) -> &mut Self {
        self.pairs
            .insert(key.as_ref().to_vec(), encode_to_vec(value));
        self
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.pairs.remove(key.as_ref());
        self
    }

    /// Sets `ip` or `ip6`, whichever fits the address.
    pub fn ip(&mut self, ip: IpAddr) -> &mut Self {
        match ip {
            IpAddr::V4(v4) => self.ip4(v4),
            IpAddr::V6(v6) => self.ip6(v6),
        }
    }

    /// Sets `ip`.
    pub fn ip4(&mut self, ip: Ipv4Addr) -> &mut Self {
        self.set("ip", &ip.octets())
    }

    /// Sets `ip6`.
    pub fn ip6(&mut self, ip: Ipv6Addr) -> &mut Self {
        self.set("ip6", &ip.octets())
    }

    /// Sets `tcp`.
    pub fn tcp(&mut self, port: u16) -> &mut Self {
        self.set("tcp", &port)
    }

    /// Sets `tcp6`.
    pub fn tcp6(&mut self, port: u16) -> &mut Self {
        self.set("tcp6", &port)
    }

    /// Sets `udp`.
    pub fn udp(&mut self, port: u16) -> &mut Self {
        self.set("udp", &port)
    }

    /// Sets `udp6`.
    pub fn udp6(&mut self, port: u16) -> &mut Self {
        self.set("udp6", &port)
    }

    /// Sets `quic`.
    pub fn quic(&mut self, port: u16) -> &mut Self {
        self.set("quic", &port)
    }

    /// Sets `quic6`.
    pub fn quic6(&mut self, port: u16) -> &mut Self {
        self.set("quic6", &port)
    }

    /// The entries `build` signs: these, with `id` and `secp256k1` set for `key`.
    fn signed_pairs(&self, key: &SigningKey) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut pairs = self.pairs.clone();
        pairs.insert(b"id".to_vec(), encode_to_vec("v4"));
        let public = key.verifying_key().to_sec1_point(true);
        pairs.insert(b"secp256k1".to_vec(), encode_to_vec(public.as_bytes()));
        pairs
    }

    /// Sets `id` to `v4` and `secp256k1` to `key`'s public key, checks that each value is one
    /// RLP item and each address key's value of its form ([`EnrError::InvalidValue`]: `ip` 4
    /// bytes, `ip6` 16, the ports integers up to 65535), signs, and checks the 300-byte limit.
    pub fn build(&self, key: &SigningKey) -> Result<Enr, EnrError> {
        let pairs: Vec<_> = self.signed_pairs(key).into_iter().collect();
        for (name, value) in &pairs {
            let mut item = Rlp::new(value);
            item.raw()
                .and_then(|_| item.finish())
                .and_then(|()| check_address_value(name, value))
                .map_err(|source| EnrError::InvalidValue {
                    key: name.clone(),
                    source,
                })?;
        }

        let digest = keccak256(&content(self.seq, &pairs));
        // RFC 6979 deterministic signing; k256 normalizes `s` to the lower half.
        let signature: Signature = key
            .sign_prehash(&digest)
            .map_err(|_| EnrError::BadSignature)?;
        let signature: [u8; 64] = signature.to_bytes().into();

        let payload = signature.as_slice().length() + self.seq.length() + pairs_length(&pairs);
        let mut encoded = Vec::with_capacity(payload + 3);
        Header::list(payload).encode(&mut encoded);
        signature.as_slice().encode(&mut encoded);
        self.seq.encode(&mut encoded);
        put_pairs(&pairs, &mut encoded);
        if encoded.len() > MAX_RECORD_SIZE {
            return Err(EnrError::TooLarge {
                size: encoded.len(),
            });
        }
        let public_key = check_v4(&pairs)?;
        Ok(Enr::assemble(self.seq, pairs, public_key, encoded))
    }
}

impl Enr {
    /// A new record with `change` applied to this one's entries, signed with `key`. The sequence
    /// number goes up by one when the signed entries changed (including `secp256k1`, for a new
    /// key; `id` and `secp256k1` set by `change` are replaced as [`Builder::build`] does, so
    /// they alone change nothing); otherwise the same record is returned. A sequence number set
    /// by `change` is ignored. Fails with [`EnrError::SeqExhausted`] when a change would need a
    /// sequence number above `u64::MAX`.
    ///
    /// ```
    /// use devp2p_enr::{Enr, SigningKey};
    ///
    /// let key = SigningKey::from_slice(&[7; 32]).unwrap();
    /// let record = Enr::builder().udp(30303).build(&key)?;
    /// let moved = record.update(&key, |b| { b.udp(30304); })?;
    /// assert_eq!((moved.seq(), moved.udp()), (2, Some(30304)));
    /// assert_eq!(moved.update(&key, |b| { b.udp(30304); })?.seq(), 2);
    /// # Ok::<(), devp2p_enr::EnrError>(())
    /// ```
    pub fn update(
        &self,
        key: &SigningKey,
        change: impl FnOnce(&mut Builder),
    ) -> Result<Self, EnrError> {
        let mut after = Builder::from_record(self);
        change(&mut after);
        let signed = after.signed_pairs(key);
        let unchanged = signed
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .eq(self.pairs());
        if unchanged {
            return Ok(self.clone());
        }
        after.seq(self.seq().checked_add(1).ok_or(EnrError::SeqExhausted)?);
        after.build(key)
    }
}
