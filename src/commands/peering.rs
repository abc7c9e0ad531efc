//! peer, unpeer.

use anyhow::Result;

use super::Ctx;
use crate::cli::req::{Pair, Peering};
use crate::engine::commit;
use crate::model::validate::{self, Create};
use crate::model::{self, Name};

pub fn peer(ctx: &Ctx, req: Peering) -> Result<()> {
    let Peering { pair: Pair { a, b }, allow, name, no_routes } = req;
    let store = ctx.open()?;
    let before = store.load()?;
    let wanted = model::Peering { a: a.clone(), b: b.clone(), allow_cidrs: allow.clone(), name, no_routes };
    let exists = validate::peer(&before, &wanted)? == Create::Exists;
    let mut after = before.clone();
    if !exists {
        after.peerings.push(wanted);
    }
    let after = commit(ctx, &store, &before, after)?;
    let scope = if allow.is_empty() {
        "fully, both ways".to_string()
    } else {
        format!("only between {}", allow.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", "))
    };
    ctx.report(
        format!("VPCs '{a}' and '{b}' are peered: they reach each other {scope}{}", if exists { " (unchanged)" } else { "" }),
        both(&after, &a, &b),
    );
    Ok(())
}

pub fn unpeer(ctx: &Ctx, req: Pair) -> Result<()> {
    let Pair { a, b } = req;
    let store = ctx.open()?;
    let before = store.load()?;
    before.find_vpc(&a)?;
    before.find_vpc(&b)?;
    if !before.peerings.iter().any(|p| p.joins(a.as_str(), b.as_str())) {
        return Err(crate::error::InputError::NotFound(format!("VPCs '{a}' and '{b}' are not peered (see 'vpcctl list')")).into());
    }
    let mut after = before.clone();
    after.peerings.retain(|p| !p.joins(a.as_str(), b.as_str()));
    let after = commit(ctx, &store, &before, after)?;
    ctx.report(format!("VPCs '{a}' and '{b}' are no longer peered"), both(&after, &a, &b));
    Ok(())
}

/// The two VPCs a peering joins, as `inspect --json` shows them.
fn both(state: &crate::model::State, a: &Name, b: &Name) -> serde_json::Value {
    let one = |n: &Name| state.vpc(n.as_str()).map(|v| super::show::vpc_json(state, v));
    serde_json::json!([one(a), one(b)])
}
