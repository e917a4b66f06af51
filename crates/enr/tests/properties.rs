//! Build → encode → decode round trips, updates, node-id distances, and enode URLs.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use devp2p_enr::{EnodeError, Enr, NodeId, NodeRecord, PeerId, SigningKey};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = SigningKey> {
    any::<[u8; 32]>().prop_filter_map("valid secret key", |k| SigningKey::from_slice(&k).ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn build_encode_decode_round_trips(
        key in key(),
        seq in 1u64..,
        ip4 in any::<Option<[u8; 4]>>(),
        ip6 in any::<Option<[u8; 16]>>(),
        ports in any::<[Option<u16>; 6]>(),
        eth in any::<Option<([u8; 4], u64)>>(),
    ) {
        let mut b = Enr::builder();
        b.seq(seq);
        if let Some(ip) = ip4 { b.ip4(ip.into()); }
        if let Some(ip) = ip6 { b.ip6(ip.into()); }
        let setters: [fn(&mut devp2p_enr::Builder, u16) -> &mut devp2p_enr::Builder; 6] = [
            devp2p_enr::Builder::tcp, devp2p_enr::Builder::udp, devp2p_enr::Builder::quic,
            devp2p_enr::Builder::tcp6, devp2p_enr::Builder::udp6, devp2p_enr::Builder::quic6,
        ];
        for (set, port) in setters.iter().zip(ports) {
            if let Some(port) = port { set(&mut b, port); }
        }
        if let Some((hash, next)) = eth {
            // EIP-2124's ENR entry: [[fork hash, fork next]].
            b.set("eth", &vec![ForkEntry { hash, next }]);
        }
        let record = b.build(&key).unwrap();
        for decoded in [
            record.to_string().parse::<Enr>().unwrap(),
            Enr::from_hex(&record.to_hex()).unwrap(),
            Enr::from_rlp(record.to_rlp()).unwrap(),
        ] {
            prop_assert_eq!(&decoded, &record);
            prop_assert_eq!(decoded.seq(), seq);
            prop_assert_eq!(decoded.ip(), ip4.map(Ipv4Addr::from));
            prop_assert_eq!(decoded.ip6(), ip6.map(Ipv6Addr::from));
            let got = [decoded.tcp(), decoded.udp(), decoded.quic(), decoded.tcp6(), decoded.udp6(), decoded.quic6()];
            prop_assert_eq!(got, ports);
            let entry = decoded.get::<Vec<ForkEntry>>("eth").map(Result::unwrap);
            prop_assert_eq!(entry, eth.map(|(hash, next)| vec![ForkEntry { hash, next }]));
            prop_assert_eq!(decoded.node_id(), NodeId::from_public_key(&key.verifying_key().into()));
        }
    }

    #[test]
    fn enode_urls_round_trip(key in key(), v6 in any::<bool>(), ip: [u8; 16], tcp: u16, udp: u16) {
        let ip = if v6 { IpAddr::V6(ip.into()) } else { IpAddr::V4([ip[0], ip[1], ip[2], ip[3]].into()) };
        let id = PeerId::from_public_key(&key.verifying_key().into());
        let url = NodeRecord { id, ip, tcp_port: tcp, udp_port: udp };
        let text = url.to_string();
        prop_assert_eq!(text.parse::<NodeRecord>().unwrap(), url);
        prop_assert_eq!(text.contains("?discport="), tcp != udp);
    }

    #[test]
    fn distance_is_symmetric_and_zero_only_for_self(a: [u8; 32], b: [u8; 32]) {
        let (a, b) = (NodeId(a), NodeId(b));
        prop_assert_eq!(a.log2_distance(&b), b.log2_distance(&a));
        prop_assert_eq!(a.log2_distance(&a), 0);
        prop_assert_eq!(a.log2_distance(&b) == 0, a == b);
        prop_assert!(a.log2_distance(&b) <= 256);
    }
}

#[derive(
    Debug, Clone, PartialEq, devp2p_rlp_codec::RlpEncodable, devp2p_rlp_codec::RlpDecodable,
)]
struct ForkEntry {
    hash: [u8; 4],
    next: u64,
}

#[test]
fn update_bumps_seq_only_on_change() {
    let key = SigningKey::from_slice(&[3; 32]).unwrap();
    let record = Enr::builder().udp(1).build(&key).unwrap();
    assert_eq!(record.update(&key, |_| {}).unwrap(), record);
    let changed = record
        .update(&key, |b| {
            b.tcp(2).remove("udp");
        })
        .unwrap();
    assert_eq!(
        (changed.seq(), changed.tcp(), changed.udp()),
        (2, Some(2), None)
    );
    let other_key = SigningKey::from_slice(&[4; 32]).unwrap();
    let rekeyed = changed.update(&other_key, |_| {}).unwrap();
    assert_eq!(rekeyed.seq(), 3);
    assert_ne!(rekeyed.node_id(), changed.node_id());
}

#[test]
fn malformed_enode_urls() {
    let id = "ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f";
    let ok: NodeRecord = format!("enode://{id}@127.0.0.1:30303?discport=30301")
        .parse()
        .unwrap();
    assert_eq!((ok.tcp_port, ok.udp_port), (30303, 30301));
    let v6: NodeRecord = format!("enode://{id}@[::1]:30303").parse().unwrap();
    assert_eq!(v6.to_string(), format!("enode://{id}@[::1]:30303"));
    let cases = [
        (format!("enr://{id}@127.0.0.1:1"), EnodeError::MissingScheme),
        (format!("enode://{id}"), EnodeError::MissingAddress),
        (
            format!("enode://{}@127.0.0.1:1", &id[2..]),
            EnodeError::InvalidNodeId,
        ),
        (
            format!("enode://{}@127.0.0.1:1", "00".repeat(64)),
            EnodeError::InvalidPublicKey,
        ),
        (format!("enode://{id}@localhost:1"), EnodeError::InvalidIp),
        (format!("enode://{id}@::1:1"), EnodeError::InvalidIp),
        (format!("enode://{id}@127.0.0.1"), EnodeError::InvalidPort),
        (
            format!("enode://{id}@127.0.0.1:65536"),
            EnodeError::InvalidPort,
        ),
        (
            format!("enode://{id}@127.0.0.1:+1"),
            EnodeError::InvalidPort,
        ),
        (
            format!("enode://{id}@127.0.0.1:1?discport=x"),
            EnodeError::InvalidPort,
        ),
        (
            format!("enode://{id}@127.0.0.1:1?raft=1"),
            EnodeError::UnknownQuery,
        ),
    ];
    for (url, err) in cases {
        assert_eq!(url.parse::<NodeRecord>(), Err(err), "{url}");
    }
}
