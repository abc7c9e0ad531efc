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

/// Progress of a long change, on stderr: only at a terminal, only once
/// the change is big (more than 50 objects) or slow (past a second), and
/// never with -q or structured output. In a pipe it draws nothing.
pub struct Progress {
    bar: indicatif::ProgressBar,
    started: std::time::Instant,
    big: bool,
    allowed: bool,
}

impl Progress {
    /// `objects` counts what the change touches; it is asked only where
    /// progress could show (a terminal), so pipes and scripts never pay it.
    pub fn new(objects: impl FnOnce() -> usize, quiet: bool) -> Progress {
        let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        let allowed = !quiet && colour(&std::io::stderr());
        Progress { bar, started: std::time::Instant::now(), big: allowed && objects() > 50, allowed }
    }

    /// Say what the change is doing now.
    pub fn phase(&self, msg: impl Into<String>) {
        if self.allowed && self.bar.is_hidden() && (self.big || self.started.elapsed() > std::time::Duration::from_secs(1)) {
            self.bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        self.bar.set_message(msg.into());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
