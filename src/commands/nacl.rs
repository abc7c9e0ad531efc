//! apply-nacl, remove-nacl: edits of a subnet's network ACL (see
//! `plan::nacl`), applied by the one change path in one atomic restore.

use anyhow::Result;

use super::Ctx;
use crate::cli::req::At;
use crate::engine::commit;
use crate::error::InputError;
use crate::model::nacl::Nacl;

pub fn apply(ctx: &Ctx, req: crate::cli::ApplyNacl) -> Result<()> {
    let At { vpc, subnet } = req.at.resolve()?;
    let file = req.nacl.as_path();
    let text =
        super::topology::read_capped(file).map_err(|e| InputError::Invalid(format!("cannot read NACL file {}: {e}", file.display())))?;
    let nacl = Nacl::parse(&text).map_err(|e| InputError::Invalid(format!("NACL file {}: {e}; nothing was changed", file.display())))?;
    let store = ctx.open()?;
    let before = store.load()?;
    let old = before.find_subnet(&vpc, &subnet)?.nacl.clone();
    let mut after = before.clone();
    after.find_subnet_mut(&vpc, &subnet)?.nacl = Some(nacl.clone());
    let after = commit(ctx, &store, &before, after)?;
    let verb = match old {
        None => "applied",
        Some(o) if o == nacl => "unchanged:",
        Some(_) => "replaced (atomically) with",
    };
    ctx.report(
        format!(
            "{vpc}/{subnet}: NACL {verb} {} inbound and {} outbound rule(s); anything unmatched is denied",
            nacl.inbound.len(),
            nacl.outbound.len()
        ),
        super::show::vpc_json(&after, after.find_vpc(&vpc)?),
    );
    Ok(())
}

pub fn remove(ctx: &Ctx, at: At) -> Result<()> {
    let At { vpc, subnet } = at;
    let store = ctx.open()?;
    let before = store.load()?;
    if before.find_subnet(&vpc, &subnet)?.nacl.is_none() {
        ctx.report(format!("{vpc}/{subnet} has no NACL; nothing to do"), super::show::vpc_json(&before, before.find_vpc(&vpc)?));
        return Ok(());
    }
    let mut after = before.clone();
    after.find_subnet_mut(&vpc, &subnet)?.nacl = None;
    let after = commit(ctx, &store, &before, after)?;
    ctx.report(format!("{vpc}/{subnet}: NACL removed"), super::show::vpc_json(&after, after.find_vpc(&vpc)?));
    Ok(())
}
