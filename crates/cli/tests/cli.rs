//! Runs the `devp2p` binary: every subcommand, with good and bad input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const EIP778: &str = "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
const EIP778_KEY: &str = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
const EIP778_ID: &str = "a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7";
const EIP778_PUBKEY: &str = "ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f";

/// A scratch directory of this test, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn devp2p() -> Command {
    Command::cargo_bin("devp2p").unwrap()
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Output {
    let out = devp2p().args(args).output().unwrap();
    Output {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A failure: the given exit code, nothing on stdout, and exactly one line on stderr.
fn fails(args: &[&str], code: i32, needle: &str) {
    let out = run(args);
    assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
    assert!(out.stdout.is_empty(), "{args:?} printed {}", out.stdout);
    assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    assert!(out.stderr.starts_with("devp2p: "), "{}", out.stderr);
    assert!(
        out.stderr.contains(needle),
        "{args:?}: {} lacks {needle}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"));
}

fn key_file(dir: &Path) -> String {
    let path = dir.join("node.key");
    std::fs::write(&path, format!("{EIP778_KEY}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn key_generate_writes_a_usable_key_once() {
    let dir = scratch("generate");
    let file = dir.join("new.key");
    let file = file.to_str().unwrap();
    let out = run(&["key", "generate", file]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let key = std::fs::read_to_string(file).unwrap();
    assert_eq!(key.trim().len(), 64);
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    // It prints the node id, the same `to-id` prints for the file.
    assert_eq!(run(&["key", "to-id", file]).stdout, out.stdout);
    fails(&["key", "generate", file], 1, "exists");
    fails(
        &[
            "key",
            "generate",
            dir.join("missing/x.key").to_str().unwrap(),
        ],
        1,
        "cannot create",
    );
}

#[test]
fn key_to_id_enode_and_enr() {
    let dir = scratch("derive");
    let file = key_file(&dir);
    assert_eq!(
        run(&["key", "to-id", &file]).stdout,
        format!("{EIP778_ID}\n")
    );
    assert_eq!(
        run(&["key", "to-enode", &file]).stdout,
        format!("enode://{EIP778_PUBKEY}@127.0.0.1:30303\n")
    );
    assert_eq!(
        run(&[
            "key", "to-enode", &file, "--ip", "::1", "--tcp", "1", "--udp", "2"
        ])
        .stdout,
        format!("enode://{EIP778_PUBKEY}@[::1]:1?discport=2\n")
    );
    let enr = run(&["key", "to-enr", &file, "--ip", "10.1.2.3", "--tcp", "30304"]).stdout;
    let dump = run(&["enrdump", enr.trim()]).stdout;
    assert!(dump.contains(&format!("Node ID: {EIP778_ID}")), "{dump}");
    assert!(dump.contains("\"ip\"        10.1.2.3"), "{dump}");
    assert!(dump.contains("\"tcp\"       30304"), "{dump}");
    assert!(dump.contains("\"udp\"       30304"), "{dump}");
}

#[test]
fn key_commands_reject_bad_files_and_flags() {
    let dir = scratch("bad-keys");
    let short = dir.join("short.key");
    std::fs::write(&short, "abcd").unwrap();
    fails(
        &["key", "to-id", short.to_str().unwrap()],
        1,
        "64 hex characters",
    );
    let zero = dir.join("zero.key");
    std::fs::write(&zero, "00".repeat(32)).unwrap();
    fails(
        &["key", "to-enode", zero.to_str().unwrap()],
        1,
        "not a valid secp256k1 secret key",
    );
    fails(
        &["key", "to-enr", dir.join("none.key").to_str().unwrap()],
        1,
        "cannot read",
    );
    let file = key_file(&dir);
    fails(&["key", "to-enode", &file, "--tcp", "70000"], 2, "70000");
    fails(
        &["key", "to-enr", &file, "--ip", "localhost"],
        2,
        "localhost",
    );
    fails(&["key", "frobnicate"], 2, "frobnicate");
}

#[test]
fn enrdump_prints_every_key_readably() {
    let out = run(&["enrdump", EIP778]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected = format!(
        "Node ID: {EIP778_ID}\n\
         URLv4:   enode://{EIP778_PUBKEY}@127.0.0.1:0?discport=30303\n\
         Record has sequence number 1 and 4 key/value pairs.\n  \
         \"id\"        v4\n  \
         \"ip\"        127.0.0.1\n  \
         \"secp256k1\" 03ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138\n  \
         \"udp\"       30303\n"
    );
    assert_eq!(out.stdout, expected);
}

#[test]
fn enrdump_json() {
    let out = run(&["enrdump", "--json", EIP778]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["node_id"], EIP778_ID);
    assert_eq!(json["seq"], 1);
    assert_eq!(json["pairs"]["udp"], 30303);
    assert_eq!(json["pairs"]["ip"], "127.0.0.1");
    assert_eq!(json["record"], EIP778);
}

/// Keys that are not text show as hex, so that two of them stay two (in JSON, two map keys).
#[test]
fn enrdump_shows_keys_that_are_not_text_as_hex() {
    let key = devp2p_enr::SigningKey::from_slice(&[9; 32]).unwrap();
    let record = devp2p_enr::Enr::builder()
        .set([0xfe], &1u8)
        .set([0xff], &2u8)
        .set("a\nb", &3u8)
        .build(&key)
        .unwrap()
        .to_string();
    let out = run(&["enrdump", "--json", &record]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let pairs = json["pairs"].as_object().unwrap();
    assert_eq!(pairs.len(), 5, "{pairs:?}");
    for key in ["0xfe", "0xff", "0x610a62", "id", "secp256k1"] {
        assert!(pairs.contains_key(key), "{key} in {pairs:?}");
    }
    let text = run(&["enrdump", &record]).stdout;
    assert!(
        text.contains("\n  0xfe ") && text.contains("\n  0xff "),
        "{text}"
    );
}

#[test]
fn enrdump_reads_text_hex_and_rlp_files() {
    let dir = scratch("enrdump-files");
    let record: devp2p_enr::Enr = EIP778.parse().unwrap();
    let forms: [(&str, Vec<u8>); 4] = [
        ("text", format!("{EIP778}\n").into_bytes()),
        ("hex", record.to_hex().into_bytes()),
        ("0xhex", format!("0x{}", record.to_hex()).into_bytes()),
        ("rlp", record.to_rlp().to_vec()),
    ];
    let expected = run(&["enrdump", EIP778]).stdout;
    for (name, bytes) in forms {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let path = path.to_str().unwrap();
        assert_eq!(run(&["enrdump", "--file", path]).stdout, expected, "{name}");
        assert_eq!(
            run(&["enrdump", "-file", path]).stdout,
            expected,
            "{name} (geth spelling)"
        );
    }
    assert_eq!(run(&["enrdump", &record.to_hex()]).stdout, expected);
}

#[test]
fn enrdump_decodes_the_eth_fork_id() {
    let dir = scratch("enrdump-eth");
    let file = key_file(&dir);
    let enr = run(&["key", "to-enr", &file]).stdout;
    let record: devp2p_enr::Enr = enr.trim().parse().unwrap();
    let key = devp2p_enr::SigningKey::from_slice(&hex::decode(EIP778_KEY).unwrap()).unwrap();
    #[derive(devp2p_rlp_codec::RlpEncodable)]
    struct Entry([u8; 4], u64);
    let with_eth = record
        .update(&key, |b| {
            b.set("eth", &vec![Entry([0x37, 0x7a, 0xaa, 0x78], 0)]);
        })
        .unwrap();
    let out = run(&["enrdump", &with_eth.to_string()]).stdout;
    assert!(
        out.contains("\"eth\"       fork id 377aaa78 next 0"),
        "{out}"
    );
    assert!(out.contains("sequence number 2"), "{out}");
}

#[test]
fn enrdump_rejects_bad_records() {
    let dir = scratch("enrdump-bad");
    fails(&["enrdump", "enr:@@@"], 1, "base64");
    fails(&["enrdump", "enr:"], 1, "invalid RLP");
    fails(&["enrdump", "0xzz"], 1, "hex");
    fails(&["enrdump", ""], 1, "the record is empty");
    fails(&["enrdump", " \n"], 1, "the record is empty");
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").unwrap();
    fails(
        &["enrdump", "--file", empty.to_str().unwrap()],
        1,
        "the file is empty",
    );
    let mut tampered = EIP778.to_owned();
    tampered.replace_range(10..11, "A");
    fails(&["enrdump", &tampered], 1, "invalid record");
    fails(
        &["enrdump", "--file", dir.join("missing").to_str().unwrap()],
        1,
        "cannot read",
    );
    let garbage = dir.join("garbage");
    std::fs::write(&garbage, [0xf8, 0x01, 0x02]).unwrap();
    fails(
        &["enrdump", "--file", garbage.to_str().unwrap()],
        1,
        "invalid record",
    );
    let huge = dir.join("huge");
    std::fs::write(&huge, vec![b'a'; 100_000]).unwrap();
    fails(
        &["enrdump", "--file", huge.to_str().unwrap()],
        1,
        "larger than",
    );
    fails(&["key", "to-id", huge.to_str().unwrap()], 1, "larger than");
    fails(&["enrdump"], 2, "required");
    fails(
        &["enrdump", EIP778, "--file", "x"],
        2,
        "cannot be used with",
    );
}

/// Output into a pipe nobody reads any more (`devp2p … | head -1`): the tool ends quietly with
/// success, as a Unix tool killed by SIGPIPE would, instead of panicking.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("devp2p"))
        .args(["enrdump", EIP778])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
