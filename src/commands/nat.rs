//! enable-nat, disable-nat.

use anyhow::Result;

use super::Ctx;
use crate::engine::commit;
use crate::model::validate;
use crate::model::{Name, Nat};

pub fn enable(ctx: &Ctx, req: crate::cli::req::Nat) -> Result<()> {
    let crate::cli::req::Nat { vpc: vpc_name, interface, subnets } = req;
    let store = ctx.open()?;
    let before = store.load()?;
    let v = before.find_vpc(&vpc_name)?;
    if let Some(g) = &v.internet_gateway {
        return Err(crate::error::InputError::Conflict(format!(
            "VPC '{vpc_name}' has an internet gateway (via {}): route subnets to it (create-route --gateway igw) or through a NAT gateway instead of enable-nat",
            g.interface
        ))
        .into());
    }
    let (iface, chosen) = super::uplink(ctx, &before, interface, " to NAT through")?;
    let names = if subnets.is_empty() { None } else { Some(validate::nat_subnets(v, &subnets)?) };
    let nat = Nat { interface: iface.clone(), subnets: names };
    let mut after = before.clone();
    after.find_vpc_mut(&vpc_name)?.nat = Some(nat);
    let same = v.nat == after.find_vpc(&vpc_name)?.nat;
    let after = commit(ctx, &store, &before, after)?;
    let v = after.find_vpc(&vpc_name)?;
    let translated: Vec<String> = v.translated_subnets().iter().map(|s| s.name.to_string()).collect();
    let via = if chosen { format!("{iface} (the default route's interface)") } else { iface.clone() };
    let which =
        if translated.is_empty() { "no subnets yet (public subnets added later get NAT)".to_string() } else { translated.join(", ") };
    ctx.report(
        format!("NAT for VPC '{vpc_name}' goes out via {via}, translating: {which}{}", if same { " (unchanged)" } else { "" }),
        super::show::vpc_json(&after, v),
    );
    Ok(())
}

pub fn disable(ctx: &Ctx, vpc_name: &Name) -> Result<()> {
    let store = ctx.open()?;
    let before = store.load()?;
    let v = before.find_vpc(vpc_name)?;
    if v.nat.is_none() {
        ctx.report(format!("NAT is not enabled for VPC '{vpc_name}'; nothing to do"), super::show::vpc_json(&before, v));
        return Ok(());
    }
    let mut after = before.clone();
    after.find_vpc_mut(vpc_name)?.nat = None;
    let after = commit(ctx, &store, &before, after)?;
    let v = after.find_vpc(vpc_name)?;
    ctx.report(format!("NAT disabled for VPC '{vpc_name}'"), super::show::vpc_json(&after, v));
    Ok(())
}
