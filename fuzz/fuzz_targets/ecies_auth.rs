//! The recipient side of the RLPx handshake fed arbitrary bytes (whole, then split in two):
//! never panics, and a handshake it completes has its ack to send.
#![no_main]

use devp2p_ecies::{Config, Handshake, HandshakeKeys, NodeKey, read_ack, read_auth};
use k256::SecretKey;
use libfuzzer_sys::fuzz_target;
use rand_core::{TryCryptoRng, TryRng};

/// Fixed, cheap randomness: fuzzing explores the input, not the keys.
struct FixedRng(u8);

impl TryRng for FixedRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::from(self.0))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from(self.0))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0 = self.0.wrapping_add(1);
        dst.fill(self.0 | 1);
        Ok(())
    }
}
impl TryCryptoRng for FixedRng {}

fuzz_target!(|data: &[u8]| {
    let Ok(key) = SecretKey::from_slice(&[0x42; 32]) else {
        return;
    };
    let mut rng = FixedRng(0);
    let _ = read_auth(&key, data);
    let _ = read_ack(&key, data);
    let split = data.len() / 2;
    let mut recipient = Handshake::recipient(
        Config::default(),
        HandshakeKeys::generate(NodeKey::new(key), &mut rng),
    );
    let first = recipient.handle_bytes(data.get(..split).unwrap_or_default(), &mut rng);
    if first.is_ok() {
        let _ = recipient.handle_bytes(data.get(split..).unwrap_or_default(), &mut rng);
    }
    if recipient.is_complete() {
        assert!(recipient.poll_transmit().is_some());
    }
});
