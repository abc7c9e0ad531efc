//! The only code that touches the host: it runs what a plan says (runner),
//! reads the kernel back (observe, host facts), sends probes, and writes
//! files with exact modes. It decides nothing.

pub mod files;
pub mod host;
pub mod observe;
pub mod probe;
pub mod runner;
