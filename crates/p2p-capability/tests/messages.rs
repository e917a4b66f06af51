//! Every `p2p` message's encoding against hand-checked bytes, including the Disconnect forms
//! geth, reth and ethereumjs put on the wire.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use devp2p_enr::PeerId;
use devp2p_p2p_capability::{
    CapabilityInfo, DisconnectReason, Hello, MAX_HELLO_SIZE, ProtocolError,
};
use devp2p_rlp_codec::{Header, encode_to_vec};

/// An RLP list of already encoded items.
fn list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload = items.concat();
    let mut out = Vec::new();
    Header::list(payload.len()).encode(&mut out);
    out.extend(payload);
    out
}

fn hello() -> Hello {
    Hello {
        protocol_version: 5,
        client_id: "a".into(),
        capabilities: vec![CapabilityInfo::new("eth", 68)],
        listen_port: 30303,
        id: PeerId([0x11; 64]),
    }
}

#[test]
fn hello_bytes() {
    // [5, "a", [["eth", 68]], 30303, id]: 78 payload bytes.
    let mut expected = hex::decode("f84e0561c6c5836574684482765fb840").unwrap();
    expected.extend([0x11; 64]);
    assert_eq!(hello().encode()[..], expected[..]);
    assert_eq!(Hello::decode(&expected).unwrap(), hello());
}

#[test]
fn hello_extra_elements_accepted() {
    // EIP-8: a newer peer appends fields; the list grows by `82 ab cd` and `c0`.
    let mut body = hello().encode()[2..].to_vec();
    body.extend([0x82, 0xab, 0xcd, 0xc0]);
    let mut data = vec![0xf8, body.len() as u8];
    data.extend(body);
    assert_eq!(Hello::decode(&data).unwrap(), hello());
}

#[test]
fn hello_limits() {
    let bad = |h: Hello| Hello::decode(&h.encode()).unwrap_err();
    let mut h = hello();
    h.id = PeerId([0; 64]);
    assert_eq!(bad(h), ProtocolError::NullNodeId);
    let mut h = hello();
    h.client_id = "x".repeat(MAX_HELLO_SIZE);
    assert!(matches!(bad(h), ProtocolError::HelloTooLarge(n) if n > MAX_HELLO_SIZE));

    // Node ids of 63, 65 and 128 bytes.
    for len in [63, 65, 128] {
        let data = list(&[
            encode_to_vec(&5u64),
            encode_to_vec("a"),
            encode_to_vec(&Vec::<CapabilityInfo>::new()),
            encode_to_vec(&30303u16),
            encode_to_vec(&vec![0x22u8; len][..]),
        ]);
        assert_eq!(
            Hello::decode(&data).unwrap_err(),
            ProtocolError::NodeIdLength(len)
        );
    }
    // Not a list, a truncated list, a version that is not an integer.
    for data in [&[0x80][..], &[0xc3, 0x05], &[0xc2, 0xc0, 0x80]] {
        assert!(matches!(
            Hello::decode(data).unwrap_err(),
            ProtocolError::InvalidHello(_)
        ));
    }
}

/// What go-ethereum's Hello decoding takes, we take: capabilities no one could share (a name
/// over 8 bytes or not UTF-8, a version past u32) are left out, a client id that is not UTF-8
/// is kept lossily, a port past u16 reads as 0, and bytes after the list are ignored.
#[test]
fn hello_takes_what_go_ethereum_takes() {
    let cap = |name: &[u8], version: u64| list(&[encode_to_vec(name), encode_to_vec(&version)]);
    let mut data = list(&[
        encode_to_vec(&5u64),
        encode_to_vec(&b"geth\xff"[..]),
        list(&[
            cap(b"eth", 68),
            cap(b"customproto", 1),
            cap(b"\xff\xfe", 1),
            cap(b"snap", 1 << 32),
            cap(b"snap", 1),
        ]),
        encode_to_vec(&70_000u64),
        encode_to_vec(&[0x11u8; 64][..]),
    ]);
    data.extend([0xc0, 0x01]);
    let hello = Hello::decode(&data).unwrap();
    assert_eq!(
        hello.capabilities,
        [
            CapabilityInfo::new("eth", 68),
            CapabilityInfo::new("snap", 1)
        ]
    );
    assert_eq!(hello.client_id, "geth\u{fffd}");
    assert_eq!(hello.listen_port, 0);
    assert_eq!(hello.id, PeerId([0x11; 64]));
    // A capability that is not [name, version] is still malformed, as for go-ethereum.
    let extra = list(&[
        encode_to_vec(&5u64),
        encode_to_vec("a"),
        list(&[list(&[
            encode_to_vec("eth"),
            encode_to_vec(&68u64),
            encode_to_vec(&1u64),
        ])]),
        encode_to_vec(&30303u16),
        encode_to_vec(&[0x11u8; 64][..]),
    ]);
    assert!(matches!(
        Hello::decode(&extra).unwrap_err(),
        ProtocolError::InvalidHello(_)
    ));
}

#[test]
fn disconnect_reasons() {
    let codes: Vec<u8> = (0x00..=0x0b).chain([0x10]).collect();
    for code in codes {
        let reason = DisconnectReason::from_code(code);
        assert!(!matches!(reason, DisconnectReason::Other(_)), "{code:#x}");
        assert_eq!(reason.code(), code);
        // We send `[reason]`: c1 followed by the reason's RLP (0x80 for zero).
        let rlp = if code == 0 { 0x80 } else { code };
        assert_eq!(reason.encode()[..], [0xc1, rlp]);
        assert_eq!(DisconnectReason::decode(&[0xc1, rlp]).unwrap(), reason);
        // ethereumjs sends the bare reason.
        assert_eq!(DisconnectReason::decode(&[rlp]).unwrap(), reason);
    }
    assert_eq!(
        DisconnectReason::from_code(0x0c),
        DisconnectReason::Other(0x0c)
    );
    assert_eq!(
        DisconnectReason::TooManyPeers.to_string(),
        "too many peers (0x04)"
    );
}

#[test]
fn disconnect_other_forms() {
    // No reason at all.
    assert_eq!(
        DisconnectReason::decode(&[0xc0]).unwrap(),
        DisconnectReason::DisconnectRequested
    );
    // Extra list elements are ignored.
    assert_eq!(
        DisconnectReason::decode(&[0xc2, 0x04, 0x01]).unwrap(),
        DisconnectReason::TooManyPeers
    );
    // Reason 0 as the byte 00, bare or in a list, as some clients send it.
    for data in [&[0x00][..], &[0xc1, 0x00], &[0x80], &[0xc1, 0x80]] {
        assert_eq!(
            DisconnectReason::decode(data).unwrap(),
            DisconnectReason::DisconnectRequested,
            "{data:x?}"
        );
    }
    // Other non-canonical forms, over a byte, trailing bytes, empty: errors, not guesses.
    for data in [
        &[0x00, 0x00][..],
        &[0x81, 0x00],
        &[0xc2, 0x81, 0x00],
        &[0xc1, 0x04, 0x00],
        &[0x81, 0x04],
        &[0x82, 0x01, 0x00],
        &[0x04, 0x04],
        &[],
    ] {
        assert!(
            matches!(
                DisconnectReason::decode(data),
                Err(ProtocolError::InvalidP2pMessage(_))
            ),
            "{data:x?}"
        );
    }
}

#[test]
fn geth_and_reth_compressed_disconnect() {
    // geth and reth send `[reason]` snappy-compressed: 02 04 c1 <reason>. snappy's own encoder
    // produces the same bytes, which pins the compressed form we send.
    for code in [0x04u8, 0x08, 0x10] {
        let compressed = snap::raw::Encoder::new()
            .compress_vec(&DisconnectReason::from_code(code).encode())
            .unwrap();
        assert_eq!(compressed, [0x02, 0x04, 0xc1, code]);
    }
}
