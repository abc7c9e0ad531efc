//! Standard output and error that a closed pipe cannot interrupt.
//!
//! `vpcctl apply -f x | head` must not die of SIGPIPE (or of the panic
//! `println!` raises on EPIPE) half-way through a change. SIGPIPE stays
//! ignored, as Rust leaves it; a write that fails is dropped and remembered,
//! and `main` ends with `exit_code_if_closed` once the work is done.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// The shell's code for a process ended by SIGPIPE (128 + 13): what
/// `| head` users already expect, without the change being cut short.
pub const CLOSED_PIPE_EXIT: i32 = 141;

pub fn write_stdout(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

pub fn write_stderr(args: std::fmt::Arguments) {
    if std::io::stderr().lock().write_fmt(args).is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Whether some output could not be written.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// `print!` that never panics or kills the process on a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => { crate::out::write_stdout(format_args!($($arg)*)) };
}

/// `println!` that never panics or kills the process on a closed stdout.
macro_rules! outln {
    () => { crate::out::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { crate::out::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that never panics on a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => { crate::out::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Whether to colour what goes to `stream`: a terminal, and no `NO_COLOR`
/// (https://no-color.org).
pub fn colour(stream: &impl std::io::IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` in an ANSI colour (31 red, 32 green, 33 yellow) when `on`.
pub fn paint(text: &str, code: u8, on: bool) -> String {
    if on { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}
