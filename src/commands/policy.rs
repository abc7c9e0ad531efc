//! apply-policy (alias apply-firewall).

use anyhow::{Context, Result};

use super::Ctx;
use crate::engine::commit;
use crate::error::InputError;
use crate::model::policy::Policy;
use crate::model::validate;

pub fn apply(ctx: &Ctx, req: crate::cli::req::Policy) -> Result<()> {
    let crate::cli::req::Policy { vpc: vpc_name, subnet, file } = req;
    let file = file.as_path();
    let text =
        super::topology::read_capped(file).map_err(|e| InputError::Invalid(format!("cannot read policy file {}: {e}", file.display())))?;
    let policy =
        Policy::parse(&text).map_err(|e| InputError::Invalid(format!("policy file {}: {e}; nothing was changed", file.display())))?;
    let store = ctx.open()?;
    let before = store.load()?;
    let v = before.find_vpc(&vpc_name)?;
    let s = match (subnet, policy.subnet) {
        (Some(name), file_cidr) => {
            let s = validate::find_subnet(v, name.as_str())?;
            if let Some(c) = file_cidr.filter(|c| *c != s.cidr) {
                return Err(InputError::Conflict(format!(
                    "policy file {} is for subnet {c}, but subnet '{name}' is {}; fix the file's \"subnet\" or drop --subnet",
                    file.display(),
                    s.cidr
                ))
                .into());
            }
            s
        }
        (None, Some(c)) => v.subnets.iter().find(|s| s.cidr == c).ok_or_else(|| {
            let have: Vec<String> = v.subnets.iter().map(|s| format!("{} {}", s.name, s.cidr)).collect();
            InputError::NotFound(format!(
                "policy file {} is for subnet {c}, which no subnet of VPC '{vpc_name}' has (its subnets: {})",
                file.display(),
                if have.is_empty() { "none".into() } else { have.join(", ") }
            ))
        })?,
        (None, None) => {
            return Err(
                InputError::Invalid(format!("policy file {} names no \"subnet\"; add one or pass --subnet NAME", file.display())).into()
            );
        }
    };
    let (subnet_name, cidr) = (s.name.clone(), s.cidr);
    // Recorded with the subnet's CIDR whatever the file said, so the same
    // rules from a file or a topology compare equal.
    let policy = Policy { subnet: Some(cidr), ..policy };
    let unchanged = s.policy.as_ref() == Some(&policy);
    let mut after = before.clone();
    after.find_subnet_mut(&vpc_name, &subnet_name)?.policy = Some(policy.clone());
    let after = commit(ctx, &store, &before, after).context("applying the policy failed; the previous policy is still in force")?;
    let shown = super::show::subnet_json(after.find_subnet(&vpc_name, &subnet_name)?);
    ctx.report(
        format!(
            "policy {} applied to {vpc_name}/{subnet_name}: {} ingress, {} egress rule(s); default ingress {}, egress {}{}",
            file.display(),
            policy.ingress.len(),
            policy.egress.len(),
            policy.default_ingress.as_str(),
            policy.default_egress.as_str(),
            if unchanged { " (unchanged)" } else { "" }
        ),
        shown,
    );
    Ok(())
}
