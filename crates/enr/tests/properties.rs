//! Build → encode → decode round trips, updates, node-id distances, and enode URLs.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use devp2p_enr::{
    Builder, EnodeError, Enr, EnrError, NodeId, NodeRecord, PeerId, RawRecord, SigningKey,
};
use devp2p_rlp_codec::{DecodeErrorKind, Encodable, bytes::BufMut};
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
        let setters: [fn(&mut Builder, u16) -> &mut Builder; 6] = [
            Builder::tcp, Builder::udp, Builder::quic,
            Builder::tcp6, Builder::udp6, Builder::quic6,
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
    fn a_raw_record_verifies_as_the_record_decodes(
        key in key(),
        seq: u64,
        flip in any::<Option<(prop::sample::Index, u8)>>(),
    ) {
        let record = Enr::builder().seq(seq).udp(30303).build(&key).unwrap();
        let mut bytes = record.to_rlp().to_vec();
        if let Some((at, bit)) = flip {
            let at = at.index(bytes.len());
            bytes[at] ^= 1 << (bit % 8);
        }
        let raw = RawRecord::new(&bytes);
        if let Ok(raw) = &raw {
            prop_assert_eq!(raw.as_bytes(), &bytes[..]);
        }
        let verified = raw.and_then(|raw| raw.verify());
        match Enr::from_rlp(&bytes) {
            Ok(decoded) => prop_assert_eq!(verified, Ok(decoded)),
            Err(_) => prop_assert!(verified.is_err()),
        }
    }

    #[test]
    fn enode_urls_round_trip(key in key(), family in 0..3, ip: [u8; 16], tcp: u16, udp: u16) {
        let v4 = Ipv4Addr::from([ip[0], ip[1], ip[2], ip[3]]);
        let ip = match family {
            0 => IpAddr::V4(v4),
            1 => IpAddr::V6(ip.into()),
            _ => IpAddr::V6(v4.to_ipv6_mapped()),
        };
        let id = PeerId::from_public_key(&key.verifying_key().into());
        let url = NodeRecord { id, ip, tcp_port: tcp, udp_port: udp };
        let text = url.to_string();
        // An IPv4-mapped IPv6 address reads back as the IPv4 address, as in go-ethereum.
        let parsed = text.parse::<NodeRecord>().unwrap();
        prop_assert_eq!(parsed, NodeRecord { ip: ip.to_canonical(), ..url });
        prop_assert_eq!(parsed.to_string().parse::<NodeRecord>().unwrap(), parsed);
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
    // The scheme in any case, as go-ethereum's URL parser reads it.
    let upper: NodeRecord = format!("ENode://{id}@127.0.0.1:30303?discport=30301")
        .parse()
        .unwrap();
    assert_eq!(upper, ok);
    let cases = [
        (format!("enr://{id}@127.0.0.1:1"), EnodeError::MissingScheme),
        // The eighth byte falls inside a character.
        ("enode:/é".to_owned(), EnodeError::MissingScheme),
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
            format!("enode://{id}@127.0.0.1:1?raft=1&discport=-1"),
            EnodeError::InvalidPort,
        ),
        (
            format!("enode://0x{id}@127.0.0.1:1"),
            EnodeError::InvalidNodeId,
        ),
        (
            format!("enode://{id}@[::ffff:10.0.0.1:1"),
            EnodeError::InvalidPort,
        ),
    ];
    for (url, err) in cases {
        assert_eq!(url.parse::<NodeRecord>(), Err(err), "{url}");
    }
}

#[test]
fn enode_query_is_read_as_go_ethereum_reads_it() {
    let id = "ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f";
    let ports = |query: &str| {
        let url: NodeRecord = format!("enode://{id}@127.0.0.1:30303{query}")
            .parse()
            .unwrap();
        (url.tcp_port, url.udp_port)
    };
    // Other parameters are ignored, wherever they stand.
    assert_eq!(ports("?raft=1"), (30303, 30303));
    assert_eq!(ports("?discport=30301&raft=1"), (30303, 30301));
    assert_eq!(ports("?raft=1&discport=30301"), (30303, 30301));
    assert_eq!(ports("?flag&discport=30301"), (30303, 30301));
    // The first `discport` counts; empty, bare, or a bare `?` means none.
    assert_eq!(ports("?discport=30301&discport=x"), (30303, 30301));
    assert_eq!(ports("?discport="), (30303, 30303));
    assert_eq!(ports("?discport"), (30303, 30303));
    assert_eq!(ports("?"), (30303, 30303));
    assert_eq!(ports("?discport=&discport=30301"), (30303, 30303));
    // A path and a fragment end the address and the query, and are ignored.
    assert_eq!(ports("/"), (30303, 30303));
    assert_eq!(ports("/path?discport=30301"), (30303, 30301));
    assert_eq!(ports("#x"), (30303, 30303));
    assert_eq!(ports("?discport=30301#x"), (30303, 30301));
    assert_eq!(ports("?raft=1#&discport=30301"), (30303, 30303));

    // The printed form of what was parsed reads back the same.
    let url: NodeRecord = format!("enode://{id}@127.0.0.1:30303?raft=1&discport=30301")
        .parse()
        .unwrap();
    assert_eq!(
        url.to_string(),
        format!("enode://{id}@127.0.0.1:30303?discport=30301")
    );
    assert_eq!(url.to_string().parse::<NodeRecord>().unwrap(), url);
}

#[test]
fn enode_ipv4_mapped_host_is_ipv4() {
    let id = "ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f";
    let url: NodeRecord = format!("enode://{id}@[::ffff:10.0.0.1]:30303")
        .parse()
        .unwrap();
    assert_eq!(url.ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(url.to_string(), format!("enode://{id}@10.0.0.1:30303"));
    // Other IPv6 addresses stay IPv6, IPv4-compatible ones (`::a.b.c.d`) included.
    let url: NodeRecord = format!("enode://{id}@[::10.0.0.1]:30303").parse().unwrap();
    assert!(url.ip.is_ipv6());
}

#[test]
fn default_builder_is_new() {
    let key = SigningKey::from_slice(&[3; 32]).unwrap();
    assert_eq!(Builder::default(), Builder::new());
    assert_eq!(Builder::default().build(&key).unwrap().seq(), 1);
}

#[test]
fn update_at_the_last_seq_refuses_a_change() {
    let key = SigningKey::from_slice(&[3; 32]).unwrap();
    let record = Enr::builder().seq(u64::MAX).udp(1).build(&key).unwrap();
    assert_eq!(
        record.update(&key, |b| {
            b.udp(2);
        }),
        Err(EnrError::SeqExhausted)
    );
    let other_key = SigningKey::from_slice(&[4; 32]).unwrap();
    assert_eq!(
        record.update(&other_key, |_| {}),
        Err(EnrError::SeqExhausted)
    );
    // Nothing changed: the same record, no new sequence number needed.
    assert_eq!(
        record
            .update(&key, |b| {
                b.udp(1);
            })
            .unwrap(),
        record
    );
}

#[test]
fn update_setting_only_what_build_overrides_changes_nothing() {
    let key = SigningKey::from_slice(&[3; 32]).unwrap();
    let record = Enr::builder().udp(1).build(&key).unwrap();
    let same = record
        .update(&key, |b| {
            b.set("id", &"v5").remove("secp256k1");
        })
        .unwrap();
    assert_eq!(same, record);
    let same = record
        .update(&key, |b| {
            b.set("secp256k1", &[2_u8; 33]);
        })
        .unwrap();
    assert_eq!(same, record);
}

/// An `Encodable` writing `count` one-byte items: not one RLP item unless `count == 1`.
struct Items(usize);

impl Encodable for Items {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        for _ in 0..self.0 {
            out.put_u8(0x01);
        }
    }

    fn length(&self) -> usize {
        self.0
    }
}

#[test]
fn builder_refuses_a_value_that_is_not_one_item() {
    let key = SigningKey::from_slice(&[3; 32]).unwrap();
    for (count, kind) in [
        (0, DecodeErrorKind::MissingItem),
        (2, DecodeErrorKind::TrailingBytes),
    ] {
        match Enr::builder().set("x", &Items(count)).build(&key) {
            Err(EnrError::InvalidValue { key, source }) => {
                assert_eq!((key.as_slice(), source.kind()), (&b"x"[..], kind));
            }
            other => panic!("{count} items: {other:?}"),
        }
    }
    // A truncated item: a string header announcing more bytes than follow.
    match Enr::builder().set("y", &Truncated).build(&key) {
        Err(EnrError::InvalidValue { key, source }) => {
            assert_eq!(
                (key.as_slice(), source.kind()),
                (&b"y"[..], DecodeErrorKind::InputTooShort)
            );
        }
        other => panic!("{other:?}"),
    }
    let one = Enr::builder().set("x", &Items(1)).build(&key).unwrap();
    assert_eq!(
        Enr::from_rlp(one.to_rlp()).unwrap().get::<u8>("x"),
        Some(Ok(1))
    );
}

/// An `Encodable` writing a string header for 5 bytes and only 2 of them.
struct Truncated;

impl Encodable for Truncated {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        out.put_slice(&[0x85, 0xaa, 0xbb]);
    }

    fn length(&self) -> usize {
        3
    }
}

#[test]
fn node_record_picks_the_address_go_ethereum_picks() {
    let key = SigningKey::from_slice(&[3; 32]).unwrap();
    let private4 = Ipv4Addr::new(10, 0, 0, 1);
    let public4 = Ipv4Addr::new(8, 8, 8, 8);
    let public6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    let local6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    let url = |b: &mut Builder| {
        let record = b.build(&key).unwrap();
        let url = record.node_record()?;
        // Whatever is picked survives the URL's text form.
        assert_eq!(url.to_string().parse::<NodeRecord>(), Ok(url));
        Some((url.ip, url.tcp_port, url.udp_port))
    };
    // IPv4 address without its ports, IPv6 with them: the IPv6 endpoint.
    assert_eq!(
        url(Enr::builder()
            .ip4(private4)
            .ip6(public6)
            .tcp6(30303)
            .udp6(30301)),
        Some((IpAddr::V6(public6), 30303, 30301))
    );
    // Both with ports: the more global one; IPv6 ports fall back to the IPv4 ones.
    assert_eq!(
        url(Enr::builder().ip4(private4).udp(1).ip6(public6).tcp6(2)),
        Some((IpAddr::V6(public6), 2, 1))
    );
    assert_eq!(
        url(Enr::builder()
            .ip4(public4)
            .udp(1)
            .ip6(local6)
            .tcp6(2)
            .udp6(3)),
        Some((IpAddr::V4(public4), 0, 1))
    );
    // A tie goes to IPv4.
    assert_eq!(
        url(Enr::builder().ip4(public4).udp(1).ip6(public6).udp6(3)),
        Some((IpAddr::V4(public4), 0, 1))
    );
    assert_eq!(
        url(Enr::builder().ip6(public6).tcp(4).udp6(5)),
        Some((IpAddr::V6(public6), 4, 5))
    );
    // An IPv4-mapped ip6 is IPv4, with the IPv4 ports.
    assert_eq!(
        url(Enr::builder()
            .ip6(public4.to_ipv6_mapped())
            .tcp(6)
            .udp(7)
            .udp6(8)),
        Some((IpAddr::V4(public4), 6, 7))
    );
    // Multicast does not count.
    let multicast = Ipv4Addr::new(224, 0, 0, 1);
    assert_eq!(
        url(Enr::builder().ip4(multicast).udp(1).ip6(local6).udp6(3)),
        Some((IpAddr::V6(local6), 0, 3))
    );
    // No address with a port.
    assert_eq!(url(Enr::builder().ip4(private4).ip6(public6)), None);
    assert_eq!(url(Enr::builder().tcp(1).udp(1)), None);
}
