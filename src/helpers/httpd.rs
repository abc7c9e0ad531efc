//! A tiny HTTP server: vpcctl's default test app and the sandbox's fake
//! internet. It answers every request with 200 and a body naming who
//! answered and who asked, so `curl` shows both ends of a path (and whether
//! NAT rewrote the source).
//!
//! It must survive hostile clients, since it runs inside networks people
//! are testing: one thread polls every connection (no thread per client to
//! run out of), a request head is capped at 8 KiB, each request has a
//! deadline, connections are capped (the oldest goes first, so a new client
//! is always served), and accept errors back off instead of spinning.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Largest request head read; a longer one gets 431.
const HEAD_MAX: usize = 8 * 1024;
/// Time a client has to send its request head.
const DEADLINE: Duration = Duration::from_secs(5);
/// Connections held at once, well under the default limit of 1024 files.
const MAX_CONNS: usize = 512;

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    head: Vec<u8>,
    deadline: Instant,
}

enum Next {
    Wait,
    Close,
}

pub fn serve(bind: IpAddr, port: u16, banner: &str) -> Result<()> {
    let listener = TcpListener::bind((bind, port)).with_context(|| format!("cannot listen on {bind}:{port}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let mut conns: Vec<Conn> = Vec::new();
    let mut backoff = Duration::ZERO;
    let mut resume_accept = Instant::now();
    loop {
        let now = Instant::now();
        let accepting = now >= resume_accept;
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(conns.len() + 1);
        fds.push(libc::pollfd { fd: listener.as_raw_fd(), events: if accepting { libc::POLLIN } else { 0 }, revents: 0 });
        fds.extend(conns.iter().map(|c| libc::pollfd { fd: c.stream.as_raw_fd(), events: libc::POLLIN, revents: 0 }));
        let wake = conns.iter().map(|c| c.deadline).chain((!accepting).then_some(resume_accept)).min();
        let timeout = wake.map_or(1000, |w| w.saturating_duration_since(now).as_millis().min(1000) as i32);
        // SAFETY: `fds` is a valid array of pollfd for the call's duration.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if ready < 0 && std::io::Error::last_os_error().kind() != ErrorKind::Interrupted {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        // Connections first (their indices are fds[1..]), then new ones.
        let mut keep = Vec::with_capacity(conns.len());
        for (c, fd) in conns.into_iter().zip(&fds[1..]) {
            let mut c = c;
            let next = if fd.revents != 0 { read(&mut c, local, banner) } else { Next::Wait };
            if matches!(next, Next::Wait) && Instant::now() < c.deadline {
                keep.push(c);
            }
        }
        conns = keep;
        if accepting && fds[0].revents != 0 {
            loop {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        backoff = Duration::ZERO;
                        if stream.set_nonblocking(true).is_err() {
                            continue;
                        }
                        if conns.len() >= MAX_CONNS {
                            conns.remove(0);
                        }
                        conns.push(Conn { stream, peer, head: Vec::new(), deadline: Instant::now() + DEADLINE });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        // Out of files or memory: shed the oldest, wait, retry.
                        backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                        resume_accept = Instant::now() + backoff;
                        if !conns.is_empty() {
                            conns.remove(0);
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// Read what the client sent; answer once the head is complete.
fn read(c: &mut Conn, local: SocketAddr, banner: &str) -> Next {
    let mut chunk = [0u8; 2048];
    loop {
        match c.stream.read(&mut chunk) {
            Ok(0) => return Next::Close,
            Ok(n) => {
                c.head.extend_from_slice(&chunk[..n]);
                if c.head.len() > HEAD_MAX {
                    reply(c, "431 Request Header Fields Too Large", "request head too large\n");
                    return Next::Close;
                }
                if complete(&c.head) {
                    // The address the client reached, not the one bound (0.0.0.0).
                    let at = c.stream.local_addr().unwrap_or(local);
                    let body = format!("{banner} at {at}; you are {}\n", c.peer.ip());
                    reply(c, "200 OK", &body);
                    return Next::Close;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Wait,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Next::Close,
        }
    }
}

/// A blank line ends the head.
fn complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

fn reply(c: &mut Conn, status: &str, body: &str) {
    let msg = format!("HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    // A few hundred bytes fit any fresh socket's buffer; a client that
    // will not take them gets nothing.
    let _ = c.stream.write_all(msg.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_ends_at_a_blank_line() {
        assert!(complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(complete(b"GET /\n\n"));
        assert!(!complete(b"GET / HTTP/1.1\r\nHost: x\r\n"));
    }
}
