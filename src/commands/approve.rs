//! Asking before a change destroys something, as terraform does: on a
//! terminal, a question; anywhere else, `--auto-approve` or nothing happens.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Result;

use super::Ctx;
use crate::error::InputError;

/// Whether stdin can answer a question (it is a terminal, and not the
/// topology being read with `-f -`).
pub fn can_ask(stdin_is_input: bool) -> bool {
    !stdin_is_input && std::io::stdin().is_terminal()
}

/// Go on only if what `lost` names may be destroyed: nothing is lost, the
/// run is dry, `--auto-approve` was given, or the user typed "yes".
/// `retry` is the command to run again with `--auto-approve`.
pub fn confirm(ctx: &Ctx, lost: &[String], auto_approve: bool, stdin_is_input: bool, retry: &str) -> Result<()> {
    if lost.is_empty() || auto_approve || ctx.dry_run {
        return Ok(());
    }
    let list = lost.join(", ");
    if !can_ask(stdin_is_input) {
        return Err(InputError::NeedsApproval(format!(
            "this would destroy {} object(s): {list}; nothing was changed. Review it with 'vpcctl plan', \
             then run '{retry} --auto-approve' (or run it in a terminal to be asked)",
            lost.len()
        ))
        .into());
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\nvpcctl will destroy {} object(s): {list}", lost.len());
    let _ = write!(err, "Only 'yes' goes on. Destroy them? ");
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == "yes" {
        return Ok(());
    }
    Err(InputError::Cancelled("cancelled: nothing was changed".into()).into())
}
