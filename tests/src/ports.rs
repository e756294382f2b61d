//! Free ports for parallel tests.
//!
//! nextest runs every test in its own process, so a process-local counter is not enough.
//! Ports come from a pool below the kernel's ephemeral range (so that no socket bound to
//! port 0 can take them meanwhile), handed out round-robin from a counter in
//! `<state_dir>/ports.next` under an exclusive file lock, and each one is checked free
//! (binding UDP and TCP on 0.0.0.0) before it is handed out. The pool is large enough
//! (about 10 000 ports) that a block is handed out again only long after the test that
//! had it is over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::ops::Range;

/// The pool when the ephemeral range is the usual Linux one (32768-60999).
const POOL: Range<u16> = Range {
    start: 20_000,
    end: 32_000,
};

/// `len` consecutive ports, free for both UDP and TCP, the first one even. For SIP ports
/// (baresip also takes port+1 for TLS), RTP ranges (RTP on even ports, RTCP on odd ones),
/// and anything else.
#[track_caller]
pub fn block(len: u16) -> Range<u16> {
    assert!(
        len > 0 && len <= 200,
        "unreasonable port block length {len}"
    );
    let pool = pool();
    let lock_path = crate::state_dir().join("ports.lock");
    let lock = File::create(&lock_path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
    // Released when `lock` is dropped.
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));

    let counter_path = crate::state_dir().join("ports.next");
    let mut counter = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&counter_path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", counter_path.display()));
    let mut text = String::new();
    let _ = counter.read_to_string(&mut text);
    let mut next = text.trim().parse::<u16>().unwrap_or(pool.start);

    // Each round either succeeds or moves past a busy port, so this visits the whole pool.
    for _ in 0..usize::from(pool.end - pool.start) {
        let mut start = next + next % 2;
        if start < pool.start || start + len > pool.end {
            start = pool.start;
        }
        match (start..start + len).find(|&p| !is_free(p)) {
            None => {
                write_counter(&mut counter, start + len);
                return start..start + len;
            }
            Some(busy) => next = busy + 1,
        }
    }
    panic!("no block of {len} free ports in {pool:?}");
}

/// One port, free for both UDP and TCP.
#[track_caller]
pub fn port() -> u16 {
    block(1).start
}

/// An even-aligned range of `len` ports (RTP on the even ones, RTCP on the odd ones).
#[track_caller]
pub fn rtp_range(len: u16) -> Range<u16> {
    block(len + len % 2)
}

/// Whether `port` can be bound on 0.0.0.0 with UDP and with TCP (which also fails when
/// only 127.0.0.1:port is taken).
pub fn is_free(port: u16) -> bool {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
        && TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

fn write_counter(file: &mut File, next: u16) {
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    let _ = write!(file, "{next}");
}

/// [`POOL`], moved below the ephemeral range when that starts lower than usual.
fn pool() -> Range<u16> {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if ephemeral_low >= POOL.end {
        POOL
    } else {
        let end = ephemeral_low.max(12_000);
        (end - 10_000)..end
    }
}
