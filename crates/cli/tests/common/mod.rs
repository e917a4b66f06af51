//! Running `devp2p` in tests: to completion, or in the background until dropped.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader, Lines},
    process::{Child, ChildStdout, Command as StdCommand, Stdio},
    time::Duration,
};

use assert_cmd::{Command, cargo::cargo_bin};

/// Runs `devp2p args…` (killed after 30 s) and returns its exit code, stdout and stderr.
pub fn devp2p(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("devp2p")
        .unwrap()
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `devp2p args…` in the background, its first line of output read; killed when dropped.
pub struct Background {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// The first line it printed.
    pub first_line: String,
}

impl Background {
    pub fn start(args: &[&str]) -> Self {
        let mut child = StdCommand::new(cargo_bin("devp2p"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first_line = lines.next().unwrap().unwrap().trim().to_owned();
        Self {
            child,
            lines,
            first_line,
        }
    }

    /// Reads stdout up to the line `pick` accepts (reading ends with the process).
    pub fn line_where(&mut self, pick: impl Fn(&str) -> bool) -> Option<String> {
        self.lines.by_ref().map_while(Result::ok).find(|l| pick(l))
    }

    /// Waits for the process to end by itself and returns its exit code.
    pub fn wait(mut self) -> Option<i32> {
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
