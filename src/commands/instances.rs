//! The instance and security group commands. Each is one edit of the
//! model, checked before the one change that applies it; a membership
//! change rewrites only the namespaces whose groups name the group
//! (`plan::instance::policies`).

use anyhow::Result;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::instances::{self as args, InstanceCommand};
use crate::error::InputError;
use crate::model::instance::{DEFAULT_GROUP, Instance, SecurityGroup, SgRule};
use crate::model::{Name, State, Status, Vpc, kernel_names, validate};

pub fn run(ctx: &Ctx, cmd: InstanceCommand) -> Result<()> {
    use InstanceCommand::*;
    match cmd {
        DescribeInstances(a) => return describe_instances(ctx, a.vpc.as_deref()),
        DescribeSecurityGroups(a) => return describe_security_groups(ctx, a.vpc.as_deref()),
        _ => {}
    }
    super::edit_and_commit(ctx, |st| edit(ctx, st, cmd), |st| instances_json(st, None))
}

fn conflict(what: String) -> anyhow::Error {
    InputError::Conflict(what).into()
}

fn groups(raw: &[String]) -> Result<Vec<Name>> {
    let mut out: Vec<Name> = vec![];
    for g in raw {
        let n = args::group_name(g)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

fn list(names: &[Name]) -> String {
    names.iter().map(Name::to_string).collect::<Vec<_>>().join(", ")
}

fn edit(ctx: &Ctx, st: &mut State, cmd: InstanceCommand) -> Result<String> {
    use InstanceCommand::*;
    Ok(match cmd {
        RunInstance(a) => run_instance(ctx, st, a)?,
        TerminateInstance(a) => {
            let (vpc, name) = (a.vpc.name()?, args::instance_name(&a.instance)?);
            let v = st.find_vpc_mut(&vpc)?;
            find_instance(v, &name)?;
            for s in &mut v.subnets {
                s.instances.retain(|i| i.name != name);
            }
            format!("instance '{name}' of VPC '{vpc}' terminated")
        }
        ModifyInstanceAttribute(a) => {
            let (vpc, name) = (a.at.vpc.name()?, args::instance_name(&a.at.instance)?);
            let wanted = groups(&a.security_groups)?;
            let v = st.find_vpc_mut(&vpc)?;
            find_instance(v, &name)?;
            validate::security_groups_exist(v, &wanted)?;
            v.instance_mut(name.as_str()).expect("found").security_groups = wanted.clone();
            format!("instance '{name}' of VPC '{vpc}' is in group(s) {}", list(&wanted))
        }
        CreateSecurityGroup(a) => {
            let (vpc, group) = a.resolve()?;
            let v = st.find_vpc_mut(&vpc)?;
            if v.security_group(group.as_str()).is_some() {
                return Ok(format!("security group '{group}' exists in VPC '{vpc}'"));
            }
            v.security_groups.push(SecurityGroup::new(group.clone()));
            format!("security group '{group}' created in VPC '{vpc}' (all egress, no ingress)")
        }
        DeleteSecurityGroup(a) => {
            let (vpc, group) = a.resolve()?;
            let v = st.find_vpc_mut(&vpc)?;
            find_group(v, &group)?;
            if group.as_str() == DEFAULT_GROUP {
                return Err(InputError::Invalid(format!("the default security group of VPC '{vpc}' cannot be deleted")).into());
            }
            if let Some((_, i)) = v.instances().find(|(_, i)| i.security_groups.contains(&group)) {
                return Err(conflict(format!(
                    "security group '{group}' is in use by instance '{}' (DependencyViolation); first: vpcctl modify-instance-attribute --vpc {vpc} --instance {} --security-groups ... (or terminate it)",
                    i.name, i.name
                )));
            }
            if let Some(by) = v.referencing(group.as_str()).into_iter().find(|g| *g != group) {
                return Err(conflict(format!(
                    "security group '{by}' has a rule that names '{group}' (DependencyViolation); first revoke it (see 'vpcctl describe-security-groups --vpc {vpc}')"
                )));
            }
            v.security_groups.retain(|g| g.name != group);
            format!("security group '{group}' deleted from VPC '{vpc}'")
        }
        AuthorizeSecurityGroupIngress(a) => rule_edit(st, &a, true, true)?,
        AuthorizeSecurityGroupEgress(a) => rule_edit(st, &a, false, true)?,
        RevokeSecurityGroupIngress(a) => rule_edit(st, &a, true, false)?,
        RevokeSecurityGroupEgress(a) => rule_edit(st, &a, false, false)?,
        DescribeInstances(_) | DescribeSecurityGroups(_) => unreachable!("handled by run"),
    })
}

fn find_instance<'a>(v: &'a Vpc, name: &Name) -> Result<&'a Instance> {
    match v.instance(name.as_str()) {
        Some((_, i)) => Ok(i),
        None => {
            let have: Vec<String> = v.instances().map(|(_, i)| i.name.to_string()).collect();
            Err(InputError::NotFound(format!(
                "VPC '{}' has no instance '{name}' ({}); see 'vpcctl describe-instances'",
                v.name,
                if have.is_empty() { "it has none".to_string() } else { format!("its instances: {}", have.join(", ")) }
            ))
            .into())
        }
    }
}

fn find_group(v: &Vpc, name: &Name) -> Result<SecurityGroup> {
    v.security_group(name.as_str()).ok_or_else(|| {
        let have: Vec<String> = v.all_security_groups().iter().map(|g| g.name.to_string()).collect();
        InputError::NotFound(format!(
            "VPC '{}' has no security group '{name}' (its groups: {}); create it with 'vpcctl create-security-group --vpc {} --group {name}'",
            v.name,
            have.join(", "),
            v.name
        ))
        .into()
    })
}

fn rule_edit(st: &mut State, a: &args::RuleArgs, ingress: bool, add: bool) -> Result<String> {
    let (vpc, group) = a.group.resolve()?;
    let rule = a.rule()?;
    let v = st.find_vpc_mut(&vpc)?;
    let mut g = find_group(v, &group)?;
    if let Some(src) = &rule.source_group {
        find_group(v, src)?;
    }
    let dir = if ingress { "ingress" } else { "egress" };
    let rules = if ingress { &mut g.ingress } else { &mut g.egress };
    let msg = if add {
        if rules.contains(&rule) {
            return Ok(format!("security group '{group}' already allows {dir} {rule}"));
        }
        rules.push(rule.clone());
        format!("security group '{group}' of VPC '{vpc}' allows {dir} {rule}")
    } else {
        let Some(at) = rules.iter().position(|r| *r == rule) else {
            let have: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
            return Err(InputError::NotFound(format!(
                "security group '{group}' has no {dir} rule {rule} (its {dir} rules: {})",
                if have.is_empty() { "none".into() } else { have.join("; ") }
            ))
            .into());
        };
        rules.remove(at);
        format!("security group '{group}' of VPC '{vpc}' no longer allows {dir} {rule}")
    };
    put_group(v, g);
    Ok(msg)
}

/// Record `g`; `default` as AWS made it needs no record.
fn put_group(v: &mut Vpc, g: SecurityGroup) {
    v.security_groups.retain(|o| o.name != g.name);
    if g != SecurityGroup::default_group() {
        v.security_groups.push(g);
    }
}

fn run_instance(ctx: &Ctx, st: &mut State, a: args::RunInstance) -> Result<String> {
    let vpc = a.vpc.name()?;
    let name = args::instance_name(&a.name)?;
    let subnet = crate::cli::routing::subnet_in(&vpc, &a.subnet)?;
    let s = st.find_subnet(&vpc, &subnet)?.clone();
    let wanted = if a.security_groups.is_empty() { vec![Name::parse("group", DEFAULT_GROUP)?] } else { groups(&a.security_groups)? };
    let taken = st.taken_names();
    let v = st.find_vpc(&vpc)?;
    if let Some((in_s, i)) = v.instance(name.as_str()) {
        let same = in_s.name == subnet && a.ip.is_none_or(|ip| ip == i.ip) && (a.security_groups.is_empty() || i.security_groups == wanted);
        if same {
            return Ok(format!("instance '{name}' runs in {vpc}/{subnet} at {}", i.ip));
        }
    }
    validate::instance_name_free(v, &name)?;
    validate::security_groups_exist(v, &wanted)?;
    let ip = match a.ip {
        Some(ip) => {
            validate::instance_address(v, &s, ip, None)?;
            ip
        }
        None => crate::model::routing::free_address(v, &s)
            .ok_or_else(|| conflict(format!("subnet '{subnet}' ({}) has no free address left", s.cidr)))?,
    };
    let (veth, namespace) = kernel_names_for(&taken, vpc.as_str(), name.as_str());
    super::names_free(ctx, st, &[&veth], &[&namespace])?;
    let inst = Instance { name: name.clone(), ip, namespace, veth, security_groups: wanted.clone(), apps: vec![], status: Status::Ready };
    let v = st.find_vpc_mut(&vpc)?;
    v.subnets.iter_mut().find(|x| x.name == subnet).expect("found").instances.push(inst);
    Ok(format!(
        "instance '{name}' runs in {vpc}/{subnet} at {ip} (groups: {}); it resolves as {name}.{}",
        list(&wanted),
        crate::model::services::dns_domain(vpc.as_str())
    ))
}

/// The host end of its veth and its namespace, clear of `taken`.
pub fn kernel_names_for(taken: &std::collections::HashSet<String>, vpc: &str, name: &str) -> (String, String) {
    let veth =
        kernel_names::pick_name("i-", &format!("{vpc}-{name}"), &format!("instance-veth/{vpc}/{name}"), kernel_names::IFNAME_MAX, &|n| {
            taken.contains(n)
        });
    let namespace = kernel_names::pick_name("i-", &format!("{vpc}-{name}"), &format!("instance/{vpc}/{name}"), 64, &|n| taken.contains(n));
    (veth, namespace)
}

fn load(ctx: &Ctx) -> Result<State> {
    Ok(crate::state::Store::open_readonly(&ctx.state_dir).load()?)
}

/// Every instance (of `vpc`, if given), as `describe-instances --json` prints them.
pub fn instances_json(st: &State, vpc: Option<&str>) -> Value {
    let mut out = vec![];
    for v in st.vpcs.iter().filter(|v| vpc.is_none_or(|n| v.name.as_str() == n)) {
        for (s, i) in v.instances() {
            out.push(json!({
                "vpc": v.name, "name": i.name, "subnet": s.name, "ip": i.ip, "namespace": i.namespace,
                "interface": i.veth, "security_groups": i.security_groups,
                "dns_name": format!("{}.{}", i.name, crate::model::services::dns_domain(v.name.as_str())),
                "apps": i.apps.iter().map(|a| a.port).collect::<Vec<_>>(),
                "status": i.status,
            }));
        }
    }
    Value::Array(out)
}

pub fn security_groups_json(st: &State, vpc: Option<&str>) -> Value {
    let mut out = vec![];
    for v in st.vpcs.iter().filter(|v| vpc.is_none_or(|n| v.name.as_str() == n)) {
        for g in v.all_security_groups() {
            let members: Vec<Value> = v
                .instances()
                .filter(|(_, i)| i.security_groups.contains(&g.name))
                .map(|(_, i)| json!({"instance": i.name, "ip": i.ip}))
                .collect();
            out.push(json!({"vpc": v.name, "name": g.name, "ingress": g.ingress, "egress": g.egress, "members": members}));
        }
    }
    Value::Array(out)
}

fn describe_instances(ctx: &Ctx, vpc: Option<&str>) -> Result<()> {
    let st = load(ctx)?;
    if let Some(v) = vpc {
        st.find_vpc(&Name::parse("VPC name", v)?)?;
    }
    let doc = instances_json(&st, vpc);
    if ctx.json {
        return ctx.doc(&doc);
    }
    let mut rows = vec![["INSTANCE", "SUBNET", "IP", "GROUPS", "NAMESPACE"].map(String::from).to_vec()];
    for i in doc.as_array().into_iter().flatten() {
        let groups: Vec<&str> = i["security_groups"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let text = |k: &str| i[k].as_str().unwrap_or_default().to_string();
        rows.push(vec![format!("{}/{}", text("vpc"), text("name")), text("subnet"), text("ip"), groups.join(","), text("namespace")]);
    }
    out!("{}", super::show::table(&rows));
    Ok(())
}

fn describe_security_groups(ctx: &Ctx, vpc: Option<&str>) -> Result<()> {
    let st = load(ctx)?;
    if let Some(v) = vpc {
        st.find_vpc(&Name::parse("VPC name", v)?)?;
    }
    if ctx.json {
        return ctx.doc(&security_groups_json(&st, vpc));
    }
    for v in st.vpcs.iter().filter(|v| vpc.is_none_or(|n| v.name.as_str() == n)) {
        for g in v.all_security_groups() {
            let members: Vec<String> =
                v.instances().filter(|(_, i)| i.security_groups.contains(&g.name)).map(|(_, i)| i.name.to_string()).collect();
            outln!("{}/{}  members: {}", v.name, g.name, if members.is_empty() { "-".into() } else { members.join(", ") });
            let show = |dir: &str, rules: &[SgRule]| {
                if rules.is_empty() {
                    outln!("  {dir:<8} (none: nothing {})", if dir == "ingress" { "comes in" } else { "goes out" });
                }
                for r in rules {
                    outln!("  {dir:<8} {r}");
                }
            };
            show("ingress", &g.ingress);
            show("egress", &g.egress);
        }
    }
    Ok(())
}
