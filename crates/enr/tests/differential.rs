//! Differential tests against sigp's `enr` crate (what reth and lighthouse use): records built by
//! either side decode identically on the other, and the same content and key give the same
//! record content on both sides. (The signatures differ: both are deterministic, but sigp derives
//! its nonce differently; ours matches libsecp256k1 and geth, which reproduce EIP-778's example.)
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use devp2p_enr::{Enr, SigningKey};
use proptest::prelude::*;

use enr::k256::ecdsa::SigningKey as SigpKey;

type SigpEnr = enr::Enr<SigpKey>;

#[derive(Debug, Clone)]
struct Content {
    secret: [u8; 32],
    seq: u64,
    ip: Option<[u8; 4]>,
    tcp: Option<u16>,
    udp: Option<u16>,
    extra: Vec<(String, Vec<u8>)>,
}

fn content() -> impl Strategy<Value = Content> {
    (
        any::<[u8; 32]>().prop_filter("valid secret key", |k| SigningKey::from_slice(k).is_ok()),
        1u64..u64::MAX,
        any::<Option<[u8; 4]>>(),
        any::<Option<u16>>(),
        any::<Option<u16>>(),
        proptest::collection::btree_map(
            "x-[a-z]{1,6}",
            proptest::collection::vec(any::<u8>(), 0..24),
            0..4,
        ),
    )
        .prop_map(|(secret, seq, ip, tcp, udp, extra)| Content {
            secret,
            seq,
            ip,
            tcp,
            udp,
            extra: extra.into_iter().collect(),
        })
}

fn ours(c: &Content) -> Enr {
    let mut b = Enr::builder();
    b.seq(c.seq);
    if let Some(ip) = c.ip {
        b.ip4(ip.into());
    }
    if let Some(tcp) = c.tcp {
        b.tcp(tcp);
    }
    if let Some(udp) = c.udp {
        b.udp(udp);
    }
    for (k, v) in &c.extra {
        b.set(k, &v.as_slice());
    }
    b.build(&SigningKey::from_slice(&c.secret).unwrap())
        .unwrap()
}

fn theirs(c: &Content) -> SigpEnr {
    let mut b = SigpEnr::builder();
    b.seq(c.seq);
    if let Some(ip) = c.ip {
        b.ip4(ip.into());
    }
    if let Some(tcp) = c.tcp {
        b.tcp4(tcp);
    }
    if let Some(udp) = c.udp {
        b.udp4(udp);
    }
    for (k, v) in &c.extra {
        b.add_value(k, &v.as_slice());
    }
    b.build(&SigpKey::from_slice(&c.secret).unwrap()).unwrap()
}

fn same(ours: &Enr, theirs: &SigpEnr) {
    assert_eq!(ours.node_id().0, theirs.node_id().raw());
    assert_eq!(ours.seq(), theirs.seq());
    let our_pairs: Vec<(Vec<u8>, Vec<u8>)> = ours
        .pairs()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    let their_pairs: Vec<(Vec<u8>, Vec<u8>)> = theirs
        .iter()
        .map(|(k, v)| (k.clone(), v.to_vec()))
        .collect();
    assert_eq!(our_pairs, their_pairs);
    assert_eq!(ours.ip(), theirs.ip4());
    assert_eq!(ours.tcp(), theirs.tcp4());
    assert_eq!(ours.udp(), theirs.udp4());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ours_decodes_on_theirs(c in content()) {
        let record = ours(&c);
        let parsed: SigpEnr = record.to_string().parse().unwrap();
        same(&record, &parsed);
    }

    #[test]
    fn theirs_decodes_on_ours(c in content()) {
        let record = theirs(&c);
        let parsed: Enr = record.to_base64().parse().unwrap();
        same(&parsed, &record);
    }

    #[test]
    fn address_values_are_judged_alike(
        key in prop::sample::select(vec!["ip", "ip6", "tcp", "tcp6", "udp", "udp6"]),
        value in prop::sample::select(vec![0usize, 1, 2, 3, 4, 5, 15, 16, 17])
            .prop_flat_map(|len| proptest::collection::vec(any::<u8>(), len)),
    ) {
        // sigp's builder signs any value; its decoder (and ours) check the address keys'.
        let mut builder = SigpEnr::builder();
        builder.add_value(key, &value.as_slice());
        let text = builder.build(&SigpKey::from_slice(&[7; 32]).unwrap()).unwrap().to_base64();
        prop_assert_eq!(
            text.parse::<Enr>().is_ok(),
            text.parse::<SigpEnr>().is_ok(),
            "{}: {:02x?}", key, value
        );
    }

    #[test]
    fn same_content_both_sides(c in content()) {
        let (ours, theirs) = (ours(&c), theirs(&c));
        same(&ours, &theirs);
        prop_assert_eq!(ours.to_rlp().len(), theirs.size());
        // Everything after the signature is identical.
        let after_signature = |rlp: &[u8]| {
            let mut list = devp2p_rlp_codec::Rlp::new(rlp).list().unwrap();
            list.bytes().unwrap();
            list.remaining().to_vec()
        };
        let theirs = theirs.to_base64().parse::<Enr>().unwrap();
        prop_assert_eq!(after_signature(ours.to_rlp()), after_signature(theirs.to_rlp()));
    }
}
