//! Reachability probes, run from inside a subnet's namespace.
//!
//! Each probe runs on a thread that joins the namespace with setns(2)
//! (network namespaces are per thread), so a probe costs no process and a
//! whole matrix of them runs in parallel.

use std::fs::File;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use serde::Serialize;

pub const TIMEOUT: Duration = Duration::from_secs(1);

pub use crate::model::Proto;

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub reachable: bool,
    /// How it was judged, in words.
    pub how: String,
}

fn yes(how: impl Into<String>) -> Verdict {
    Verdict { reachable: true, how: how.into() }
}

fn no(how: impl Into<String>) -> Verdict {
    Verdict { reachable: false, how: how.into() }
}

/// Run `f` on a thread inside network namespace `netns`.
pub fn in_netns<T: Send + 'static>(netns: &str, f: impl FnOnce() -> T + Send + 'static) -> std::io::Result<T> {
    let path = format!("/run/netns/{netns}");
    std::thread::spawn(move || {
        let ns = File::open(&path)?;
        // SAFETY: setns on a valid namespace fd; affects only this thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    })
    .join()
    .map_err(|_| std::io::Error::other("probe thread panicked"))?
}

/// One probe: from inside a namespace, to an address.
pub type Job = (String, Ipv4Addr, Proto, Option<u16>);

/// Run every probe, at most `parallel` at once (each on its own thread
/// inside its namespace); results in the order of `jobs`.
pub fn probe_all(jobs: &[Job], parallel: usize) -> Vec<std::io::Result<Verdict>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<std::io::Result<Verdict>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((ns, ip, proto, port)) = jobs.get(i).cloned() else { break };
                    let v = in_netns(&ns, move || probe(proto, ip, port));
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(v);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(std::io::Error::other("probe thread panicked")))).collect()
}

pub fn probe(proto: Proto, ip: Ipv4Addr, port: Option<u16>) -> Verdict {
    match (proto, port) {
        (Proto::Icmp, _) => icmp(ip),
        (Proto::Tcp, Some(p)) => tcp(ip, p),
        (Proto::Udp, Some(p)) => udp(ip, p),
        (_, None) => no("tcp and udp need --port"),
    }
}

fn tcp(ip: Ipv4Addr, port: u16) -> Verdict {
    let start = Instant::now();
    match TcpStream::connect_timeout(&SocketAddr::from((ip, port)), TIMEOUT) {
        Ok(_) => yes(format!("tcp connection to {ip}:{port} established in {:.1} ms", ms(start))),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            no(format!("tcp connection refused: {ip} answered, but nothing listens on port {port}"))
        }
        Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
            no(format!("no answer to tcp SYN within {} s: dropped on the way (firewall, isolation or policy)", TIMEOUT.as_secs()))
        }
        Err(e) => no(format!("tcp connect failed: {e} (no route, or an ICMP error came back)")),
    }
}

fn udp(ip: Ipv4Addr, port: u16) -> Verdict {
    let attempt = || -> std::io::Result<usize> {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.connect((ip, port))?;
        s.send(b"vpcctl probe\n")?;
        let mut buf = [0u8; 512];
        s.recv(&mut buf)
    };
    match attempt() {
        Ok(_) => yes(format!("udp reply received from {ip}:{port}")),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            no(format!("udp port {port} closed: {ip} answered with ICMP port unreachable"))
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => no(format!(
            "no udp reply within {} s: dropped on the way, or the service does not answer (udp cannot tell which)",
            TIMEOUT.as_secs()
        )),
        Err(e) => no(format!("udp probe failed: {e}")),
    }
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One ICMP echo over a raw socket (we are root).
fn icmp(ip: Ipv4Addr) -> Verdict {
    match icmp_echo(ip) {
        Ok(v) => v,
        Err(e) => no(format!("icmp probe failed: {e}")),
    }
}

fn icmp_echo(ip: Ipv4Addr) -> std::io::Result<Verdict> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket(2); the fd is owned by the File below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let sock = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let id = (std::process::id() as u16)
        ^ (Instant::now().elapsed().subsec_nanos() as u16)
        ^ u16::from_be_bytes([ip.octets()[2], ip.octets()[3]]);
    let mut pkt = [8u8, 0, 0, 0, (id >> 8) as u8, id as u8, 0, 1, b'v', b'p', b'c', b'c', b't', b'l', 0, 0];
    let c = checksum(&pkt);
    pkt[2..4].copy_from_slice(&c.to_be_bytes());
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(ip).to_be() },
        sin_zero: [0; 8],
    };
    let start = Instant::now();
    // SAFETY: valid buffer and address for the call's duration.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            pkt.as_ptr().cast(),
            pkt.len(),
            0,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    if sent < 0 {
        let e = std::io::Error::last_os_error();
        return Ok(no(format!("icmp echo could not be sent: {e} (no route to {ip})")));
    }
    let mut buf = [0u8; 1500];
    while start.elapsed() < TIMEOUT {
        let left = TIMEOUT.saturating_sub(start.elapsed());
        let tv = libc::timeval { tv_sec: left.as_secs() as _, tv_usec: left.subsec_micros().max(1000) as _ };
        // SAFETY: setting a timeval option on our socket.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        // SAFETY: reading into our buffer.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            break;
        }
        let n = n as usize;
        let ihl = usize::from(buf[0] & 0x0f) * 4;
        if n < ihl + 8 {
            continue;
        }
        let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
        let icmp = &buf[ihl..n];
        let echo_id = u16::from_be_bytes([icmp[4], icmp[5]]);
        match icmp[0] {
            0 if src == ip && echo_id == id => {
                return Ok(yes(format!("icmp echo reply from {ip} in {:.1} ms", ms(start))));
            }
            3 if n >= ihl + 8 + 20 + 8 => {
                // Destination unreachable quoting our echo.
                let inner = &icmp[8..];
                let inner_ihl = usize::from(inner[0] & 0x0f) * 4;
                let quoted_id = inner.get(inner_ihl + 4..inner_ihl + 6).map(|b| u16::from_be_bytes([b[0], b[1]]));
                if quoted_id == Some(id) {
                    return Ok(no(format!("icmp destination unreachable from {src} (code {}): no route inside the VPC", icmp[1])));
                }
            }
            _ => {}
        }
    }
    Ok(no(format!("no icmp echo reply within {} s: dropped on the way (firewall, isolation or policy)", TIMEOUT.as_secs())))
}
