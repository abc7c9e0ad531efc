//! The change engine: a command hands it the state it wants; it plans the
//! change against the recorded state, records it, runs it once, starts and
//! stops helpers around it, and rolls back on failure.

mod commit;
mod ctx;

pub use commit::{commit, start, start_collector, start_resolvers};
pub use ctx::{Ctx, collect_errors, require_root};
