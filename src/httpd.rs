//! A tiny HTTP server: vpcctl's default test app and the sandbox's fake
//! internet. It answers every request with 200 and a body naming who
//! answered and who asked, so `curl` shows both ends of a path (and whether
//! NAT rewrote the source).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result};

pub fn serve(bind: IpAddr, port: u16, banner: &str) -> Result<()> {
    let listener = TcpListener::bind((bind, port)).with_context(|| format!("cannot listen on {bind}:{port}"))?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let banner = banner.to_string();
        std::thread::spawn(move || {
            let _ = answer(conn, &banner);
        });
    }
    Ok(())
}

fn answer(mut conn: TcpStream, banner: &str) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let peer = conn.peer_addr()?.ip();
    let local = conn.local_addr()?;
    let mut reader = BufReader::new(conn.try_clone()?);
    // Read the request head; its content does not matter.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let body = format!("{banner} at {local}; you are {peer}\n");
    write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    conn.flush()
}
