//! `terraform show -json` -> a vpcctl topology file (`vpcctl import terraform`).
//!
//! Two inputs: a state (`values.root_module`, child modules included),
//! where ids are known and link resources; and a saved plan
//! (`planned_values` plus `configuration`), where ids of what is still to
//! be created are unknown and links come from the `references` of each
//! expression in `configuration`.
//!
//! Done here: reading both forms into one list of resources, with their
//! module path, index and attribute values, and for a plan their
//! references; linking an attribute to the resource it names (by id, else
//! by reference, matching `count`/`for_each` indexes); names from
//! `tags.Name` when valid, else `name` and index; and the mapping of
//! aws_vpc, aws_subnet, aws_internet_gateway, aws_route_table (inline
//! routes), aws_route_table_association, aws_security_group (inline
//! rules: cidr_blocks, security_groups, self) and aws_instance.
//! Also done: aws_eip with aws_nat_gateway, aws_route, route table
//! associations, aws_main_route_table_association (its table becomes main).
//! Also done: the separate group rule resources, NACLs (inline, rule
//! resources, subnet_ids, associations), aws_default_route_table (the
//! VPC's `main`), peerings (routes decide: `no_routes`) and the transit
//! gateway family (with AWS's default route table when it is on).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::model::Name;

/// One managed resource of the document.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its full address, e.g. `module.vpc.aws_subnet.private[0]`.
    pub address: String,
    /// `module.vpc` (nested: `module.a.module.b`), empty at the root.
    pub module: String,
    pub rtype: String,
    pub name: String,
    /// `count` index (a number) or `for_each` key (a string).
    pub index: Option<Value>,
    pub values: Map<String, Value>,
    /// A plan's references by attribute (`vpc_id` -> [`aws_vpc.main.id`, `aws_vpc.main`]),
    /// and by `block.N.attr` for nested blocks (`ingress.0.security_groups`).
    pub refs: HashMap<String, Vec<String>>,
}

impl Resource {
    pub fn str(&self, attr: &str) -> Option<&str> {
        self.values.get(attr).and_then(Value::as_str)
    }
}

/// What was read, and what was left out (data sources, other modes).
#[derive(Debug, Default)]
pub struct Doc {
    pub resources: Vec<Resource>,
    pub skipped: Vec<String>,
    pub plan: bool,
    /// A plan's module outputs: (module path, output) -> its references.
    pub outputs: HashMap<(String, String), Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ImportError {
    pub at: String,
    pub message: String,
}

fn err(at: &str, message: impl Into<String>) -> ImportError {
    ImportError { at: at.to_string(), message: message.into() }
}

/// Read `terraform show -json`'s output: a state or a saved plan.
pub fn read(doc: &Value) -> Result<Doc, ImportError> {
    let mut out = Doc::default();
    if let Some(root) = doc.pointer("/values/root_module") {
        walk(root, "", &HashMap::new(), &mut out);
        return Ok(out);
    }
    if let Some(root) = doc.pointer("/planned_values/root_module") {
        out.plan = true;
        let mut config = HashMap::new();
        if let Some(c) = doc.pointer("/configuration/root_module") {
            config_walk(c, "", &mut config, &mut out.outputs);
        }
        walk(root, "", &config, &mut out);
        return Ok(out);
    }
    Err(err(
        "(document)",
        "is neither a state (values.root_module) nor a saved plan (planned_values); give the output of 'terraform show -json' or 'terraform show -json PLANFILE'",
    ))
}

/// A module's resources and its child modules'.
fn walk(module: &Value, _path: &str, config: &HashMap<(String, String), HashMap<String, Vec<String>>>, out: &mut Doc) {
    for r in module.get("resources").and_then(Value::as_array).into_iter().flatten() {
        let address = r.get("address").and_then(Value::as_str).unwrap_or_default().to_string();
        if r.get("mode").and_then(Value::as_str).is_some_and(|m| m != "managed") {
            out.skipped.push(address);
            continue;
        }
        let rtype = r.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
        let name = r.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let module = module_of(&address);
        let refs = config.get(&(module.clone(), format!("{rtype}.{name}"))).cloned().unwrap_or_default();
        let values = r.get("values").and_then(Value::as_object).cloned().unwrap_or_default();
        out.resources.push(Resource { address, module, rtype, name, index: r.get("index").cloned(), values, refs });
    }
    for c in module.get("child_modules").and_then(Value::as_array).into_iter().flatten() {
        walk(c, c.get("address").and_then(Value::as_str).unwrap_or_default(), config, out);
    }
}

/// `module.a.module.b.aws_x.y[0]` -> `module.a.module.b`.
fn module_of(address: &str) -> String {
    let parts: Vec<&str> = address.split('.').collect();
    let mut i = 0;
    let mut out = vec![];
    while i + 1 < parts.len() && parts[i] == "module" {
        out.push(format!("module.{}", parts[i + 1].split('[').next().unwrap_or_default()));
        i += 2;
    }
    out.join(".")
}

/// A configuration's references by (module path, `type.name`), then by attribute.
fn config_walk(
    module: &Value,
    path: &str,
    out: &mut HashMap<(String, String), HashMap<String, Vec<String>>>,
    outputs: &mut HashMap<(String, String), Vec<String>>,
) {
    for r in module.get("resources").and_then(Value::as_array).into_iter().flatten() {
        let local = r.get("address").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut refs = HashMap::new();
        if let Some(exprs) = r.get("expressions").and_then(Value::as_object) {
            expr_refs(exprs, "", &mut refs);
        }
        out.insert((path.to_string(), local), refs);
    }
    for (name, call) in module.get("module_calls").and_then(Value::as_object).into_iter().flatten() {
        if let Some(m) = call.get("module") {
            let sub = if path.is_empty() { format!("module.{name}") } else { format!("{path}.module.{name}") };
            // `module.vpc.private_subnets` in the caller: what the output's expression references.
            for (o, spec) in m.get("outputs").and_then(Value::as_object).into_iter().flatten() {
                let refs = spec.pointer("/expression/references").and_then(Value::as_array).into_iter().flatten();
                outputs.insert((sub.clone(), o.clone()), refs.filter_map(Value::as_str).map(String::from).collect());
            }
            config_walk(m, &sub, out, outputs);
        }
    }
}

/// Expressions are `{"references": [...]}` (or `constant_value`), and
/// nested blocks lists of objects of expressions.
fn expr_refs(exprs: &Map<String, Value>, prefix: &str, out: &mut HashMap<String, Vec<String>>) {
    for (k, v) in exprs {
        let key = format!("{prefix}{k}");
        match v {
            Value::Object(o) if o.contains_key("references") => {
                let list = o["references"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
                out.insert(key, list);
            }
            Value::Array(blocks) => {
                for (i, b) in blocks.iter().enumerate() {
                    if let Some(b) = b.as_object() {
                        expr_refs(b, &format!("{key}.{i}."), out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Links between resources: by id (a state, and known ids of a plan), else
/// by the references of a plan's configuration.
pub struct Links<'a> {
    doc: &'a Doc,
    by_id: HashMap<&'a str, usize>,
    /// Links that could not be resolved, for the report.
    pub unresolved: std::cell::RefCell<Vec<String>>,
}

impl<'a> Links<'a> {
    pub fn new(doc: &'a Doc) -> Links<'a> {
        let mut by_id = HashMap::new();
        for (i, r) in doc.resources.iter().enumerate() {
            if let Some(id) = r.str("id") {
                by_id.insert(id, i);
            }
        }
        Links { doc, by_id, unresolved: Default::default() }
    }

    /// The resource of type `want` that `from`'s `attr` names. `value` is
    /// the attribute's value where it is not top-level (a list element).
    pub fn target(&self, from: &Resource, attr: &str, value: Option<&Value>, want: &str) -> Option<&'a Resource> {
        let v = value.or_else(|| from.values.get(attr));
        if let Some(id) = v.and_then(Value::as_str)
            && let Some(&i) = self.by_id.get(id)
        {
            return Some(&self.doc.resources[i]);
        }
        self.by_reference(from, attr, want).into_iter().next()
    }

    /// Every resource of type `want` that a plan's references for `attr` name.
    pub fn by_reference(&self, from: &Resource, attr: &str, want: &str) -> Vec<&'a Resource> {
        let mut out: Vec<&'a Resource> = vec![];
        for r in from.refs.get(attr).into_iter().flatten() {
            let Some((rtype, name, idx)) = parse_reference(r) else { continue };
            let pick = if rtype == "module" {
                // `module.vpc.private_subnets[0]`: the output's references, in that module.
                let out_name = r.splitn(3, '.').nth(2).map(|t| t.split(['[', '.']).next().unwrap_or_default()).unwrap_or_default();
                if out_name.is_empty() {
                    continue; // `module.vpc` alone: the module, not a value of it
                }
                let sub = if from.module.is_empty() { format!("module.{name}") } else { format!("{}.module.{name}", from.module) };
                let index = match &idx {
                    Some(i) if i.contains("count.index") || i.contains("each.key") => from.index.clone(),
                    Some(i) => {
                        Some(i.trim_matches('"').parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(i.trim_matches('"'))))
                    }
                    None => from.index.clone(),
                };
                let inner = self.doc.outputs.get(&(sub.clone(), out_name.to_string())).cloned().unwrap_or_default();
                inner.iter().filter_map(|x| parse_reference(x)).filter(|(t, _, _)| *t == want).find_map(|(t, n, _)| {
                    let c: Vec<&'a Resource> =
                        self.doc.resources.iter().filter(|c| c.rtype == t && c.name == n && c.module == sub).collect();
                    if c.len() == 1 && c[0].index.is_none() {
                        Some(c[0])
                    } else {
                        c.into_iter().find(|c| c.index.is_some() && c.index == index)
                    }
                })
            } else if rtype != want {
                continue;
            } else {
                let candidates: Vec<&'a Resource> =
                    self.doc.resources.iter().filter(|c| c.rtype == rtype && c.name == name && c.module == from.module).collect();
                match (&idx, candidates.len()) {
                    (_, 0) => None,
                    (None, 1) => Some(candidates[0]),
                    // `x[count.index]`, `x[each.key]`, or an indexed `x`: the same index as `from`.
                    (Some(i), _) if i.contains("count.index") || i.contains("each.key") => {
                        candidates.iter().copied().find(|c| c.index.is_some() && c.index == from.index)
                    }
                    (Some(i), _) => {
                        candidates.iter().copied().find(|c| c.index.as_ref().is_some_and(|x| index_text(x) == i.trim_matches('"')))
                    }
                    (None, _) => candidates.iter().copied().find(|c| c.index.is_some() && c.index == from.index),
                }
            };
            match pick {
                Some(p) if !out.iter().any(|o| std::ptr::eq(*o, p)) => out.push(p),
                Some(_) => {}
                None => self.unresolved.borrow_mut().push(format!("{}.{attr} -> {r}", from.address)),
            }
        }
        out
    }
}

/// `aws_subnet.private[count.index].id` -> (`aws_subnet`, `private`, `count.index`).
fn parse_reference(r: &str) -> Option<(&str, &str, Option<String>)> {
    let (rtype, rest) = r.split_once('.')?;
    let end = rest.find(['[', '.']).unwrap_or(rest.len());
    let name = &rest[..end];
    let idx = rest[end..].strip_prefix('[').and_then(|t| t.find(']').map(|k| t[..k].to_string()));
    (!name.is_empty()).then_some((rtype, name, idx))
}

/// Attributes named `*ipv6*` that hold something (a non-empty string or
/// list, true), anywhere in `v`, as `ADDRESS.path (IPv6)`.
fn ipv6_set(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let here = format!("{at}.{k}");
                let set = match x {
                    Value::String(s) => !s.is_empty(),
                    Value::Array(l) => !l.is_empty(),
                    Value::Bool(b) => *b,
                    _ => false,
                };
                if k.contains("ipv6") && set && !matches!(x, Value::Array(l) if l.iter().all(Value::is_object)) {
                    out.push(format!("{here} (IPv6)"));
                } else {
                    ipv6_set(x, &here, out);
                }
            }
        }
        Value::Array(l) => {
            for (i, x) in l.iter().enumerate() {
                ipv6_set(x, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The topology name of the VPC `r`'s `vpc_id` names.
fn vpc_named(links: &Links, vpc_name: &HashMap<&str, String>, r: &Resource) -> Result<String, ImportError> {
    links
        .target(r, "vpc_id", None, "aws_vpc")
        .and_then(|v| vpc_name.get(v.address.as_str()).cloned())
        .ok_or_else(|| err(&r.address, "names no aws_vpc of this document in vpc_id"))
}

fn index_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A vpcctl name for `r`: its `tags.Name` when that is a valid name, else
/// its resource name and index (`private-0`, `private-a`).
pub fn name_of(r: &Resource) -> String {
    if let Some(n) = r.values.get("tags").and_then(|t| t.get("Name")).and_then(Value::as_str)
        && Name::parse("name", n).is_ok()
    {
        return n.to_string();
    }
    let base: String = r
        .name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    match &r.index {
        None => base,
        Some(i) => {
            let tail: String = index_text(i).to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
            format!("{base}-{tail}")
        }
    }
}

/// What an import gives: the topology file, the addresses of what was not
/// imported, the links that could not be resolved, and where each object
/// of the file came from (its topology path, its Terraform address).
#[derive(Debug)]
pub struct Imported {
    pub topology: Value,
    pub not_imported: Vec<String>,
    pub unresolved: Vec<String>,
    pub origins: Vec<(String, String)>,
}

impl Imported {
    /// The address of the resource behind topology path `path` (the
    /// longest recorded prefix of it).
    pub fn origin(&self, path: &str) -> Option<&str> {
        self.origins
            .iter()
            .filter(|(p, _)| path == p || path.starts_with(&format!("{p}.")))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, a)| a.as_str())
    }
}

/// The topology file, and the addresses of what was not imported.
pub fn to_topology(doc: &Doc) -> Result<Imported, ImportError> {
    let mut origins: Vec<(String, String)> = vec![];
    let links = Links::new(doc);
    let of = |t: &'static str| doc.resources.iter().filter(move |r| r.rtype == t);
    let mut vpcs = Map::new();
    let mut vpc_name: HashMap<&str, String> = HashMap::new();
    for v in of("aws_vpc") {
        let cidr = v.str("cidr_block").ok_or_else(|| err(&v.address, "has no cidr_block (vpcctl needs the VPC's IPv4 range)"))?;
        let n = name_of(v);
        if vpcs.contains_key(&n) {
            return Err(err(&v.address, format!("its name '{n}' is another VPC's too; give one of them another tags.Name")));
        }
        vpc_name.insert(v.address.as_str(), n.clone());
        origins.push((format!("vpcs.{n}"), v.address.clone()));
        vpcs.insert(n, json!({"cidr": cidr, "subnets": {}}));
    }
    let vpc_of = |r: &Resource| vpc_named(&links, &vpc_name, r);
    let mut subnet_name: HashMap<&str, (String, String)> = HashMap::new();
    for s in of("aws_subnet") {
        let vpc = vpc_of(s)?;
        let cidr = s.str("cidr_block").ok_or_else(|| err(&s.address, "has no cidr_block"))?;
        let n = name_of(s);
        let mut o = json!({"cidr": cidr});
        if s.values.get("map_public_ip_on_launch").and_then(Value::as_bool) == Some(true) {
            o["public"] = json!(true);
        }
        if vpcs[&vpc]["subnets"].get(&n).is_some() {
            return Err(err(&s.address, format!("its name '{n}' is another subnet's of the same VPC; give one of them another tags.Name")));
        }
        vpcs[&vpc]["subnets"][&n] = o;
        origins.push((format!("vpcs.{vpc}.subnets.{n}"), s.address.clone()));
        subnet_name.insert(s.address.as_str(), (vpc, n));
    }
    for g in of("aws_internet_gateway") {
        let vpc = vpc_of(g)?;
        vpcs[&vpc]["internet_gateway"] = json!(true);
    }
    let mut group_name: HashMap<&str, (String, String)> = HashMap::new();
    for g in of("aws_security_group") {
        let vpc = vpc_of(g)?;
        let raw = g.str("name").map(String::from).unwrap_or_else(|| name_of(g));
        let n = if Name::parse("n", &raw).is_ok() { raw } else { name_of(g) };
        group_name.insert(g.address.as_str(), (vpc, n));
    }
    for g in of("aws_security_group") {
        let (vpc, n) = group_name[g.address.as_str()].clone();
        let mut out = json!({"ingress": [], "egress": []});
        for dir in ["ingress", "egress"] {
            for (i, rule) in g.values.get(dir).and_then(Value::as_array).into_iter().flatten().enumerate() {
                let at = format!("{}.{dir}[{i}]", g.address);
                let base = rule_base(rule.get("protocol").and_then(Value::as_str), rule.get("from_port"), rule.get("to_port"), &at)?;
                let mut peers = vec![];
                for c in rule.get("cidr_blocks").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                    peers.push(("cidr", c.to_string()));
                }
                if rule.get("self").and_then(Value::as_bool) == Some(true) {
                    peers.push(("source_group", n.clone()));
                }
                let sgs = rule.get("security_groups").and_then(Value::as_array).cloned().unwrap_or_default();
                if sgs.is_empty() {
                    // A plan's unknown ids: the block's references name the groups.
                    for t in links.by_reference(g, &format!("{dir}.{i}.security_groups"), "aws_security_group") {
                        if let Some((_, other)) = group_name.get(t.address.as_str()) {
                            peers.push(("source_group", other.clone()));
                        }
                    }
                }
                for (k, sg) in sgs.iter().enumerate() {
                    let attr = format!("{dir}.{i}.security_groups");
                    let target = links.target(g, &attr, Some(sg), "aws_security_group");
                    match target.and_then(|t| group_name.get(t.address.as_str())) {
                        Some((_, other)) => peers.push(("source_group", other.clone())),
                        None => {
                            return Err(err(
                                &format!("{}.{dir}[{i}].security_groups[{k}]", g.address),
                                "names no aws_security_group of this document",
                            ));
                        }
                    }
                }
                for (key, v) in peers {
                    let mut r = base.clone();
                    r[key] = json!(v);
                    out[dir].as_array_mut().expect("list").push(r);
                }
            }
        }
        origins.push((format!("vpcs.{vpc}.security_groups.{n}"), g.address.clone()));
        vpcs[&vpc]["security_groups"][&n] = out;
    }
    let mut instance_name: HashMap<&str, (String, String)> = HashMap::new();
    for i in of("aws_instance") {
        let Some(s) = links.target(i, "subnet_id", None, "aws_subnet") else {
            return Err(err(&i.address, "names no aws_subnet of this document in subnet_id"));
        };
        let (vpc, subnet) = subnet_name[s.address.as_str()].clone();
        let mut groups = vec![];
        for (k, sg) in i.values.get("vpc_security_group_ids").and_then(Value::as_array).into_iter().flatten().enumerate() {
            match links.target(i, "vpc_security_group_ids", Some(sg), "aws_security_group").and_then(|t| group_name.get(t.address.as_str()))
            {
                Some((_, g)) => groups.push(g.clone()),
                None => {
                    return Err(err(&format!("{}.vpc_security_group_ids[{k}]", i.address), "names no aws_security_group of this document"));
                }
            }
        }
        if groups.is_empty() {
            // A plan with unknown ids: the references name them.
            for t in links.by_reference(i, "vpc_security_group_ids", "aws_security_group") {
                if let Some((_, g)) = group_name.get(t.address.as_str()) {
                    groups.push(g.clone());
                }
            }
        }
        let mut o = json!({});
        if let Some(ip) = i.str("private_ip") {
            o["ip"] = json!(ip);
        }
        if !groups.is_empty() {
            o["security_groups"] = json!(groups);
        }
        let n = name_of(i);
        instance_name.insert(i.address.as_str(), (vpc.clone(), n.clone()));
        origins.push((format!("vpcs.{vpc}.subnets.{subnet}.instances.{n}"), i.address.clone()));
        vpcs[&vpc]["subnets"][&subnet]["instances"][&n] = o;
    }
    // An EIP on an instance: `aws_eip_association`, or `aws_eip.instance`.
    for (r, eip) in of("aws_eip_association").map(|a| (a, links.target(a, "allocation_id", None, "aws_eip"))).chain(
        of("aws_eip").filter(|e| e.str("instance").is_some_and(|x| !x.is_empty()) || e.refs.contains_key("instance")).map(|e| (e, Some(e))),
    ) {
        let Some(eip) = eip else { return Err(err(&r.address, "names no aws_eip of this document in allocation_id")) };
        let Some((vpc, inst)) = links
            .target(r, "instance_id", None, "aws_instance")
            .or_else(|| links.target(r, "instance", None, "aws_instance"))
            .and_then(|i| instance_name.get(i.address.as_str()))
        else {
            return Err(err(&r.address, "names no aws_instance of this document (an EIP on a network interface is not imported)"));
        };
        let Some(ip) = eip.str("public_ip") else {
            links
                .unresolved
                .borrow_mut()
                .push(format!("{}: {} has no address yet (a plan): add an \"eip\" for {inst} in the file", r.address, eip.address));
            continue;
        };
        let list = &mut vpcs[vpc]["eip"];
        if !list.is_array() {
            *list = json!([]);
        }
        let k = list.as_array().map_or(0, Vec::len);
        list.as_array_mut().expect("list").push(json!({"subnet": inst, "ip": ip}));
        origins.push((format!("vpcs.{vpc}.eip[{k}]"), r.address.clone()));
    }
    rule_resources(doc, &links, &group_name, &mut vpcs)?;
    let peerings = peerings(doc, &links, &vpc_name)?;
    let transit_gateways = transit_gateways(doc, &links, &vpc_name)?;
    routing(doc, &links, &vpc_name, &subnet_name, &mut vpcs)?;
    nacls(doc, &links, &subnet_name, &mut vpcs)?;
    let mut not_imported: Vec<String> = doc.skipped.clone();
    const DONE: &[&str] = &[
        "aws_vpc",
        "aws_subnet",
        "aws_internet_gateway",
        "aws_security_group",
        "aws_instance",
        "aws_eip",
        "aws_eip_association",
        "aws_nat_gateway",
        "aws_route_table",
        "aws_route",
        "aws_route_table_association",
        "aws_main_route_table_association",
        "aws_security_group_rule",
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
        "aws_network_acl",
        "aws_network_acl_rule",
        "aws_network_acl_association",
        "aws_default_route_table",
        "aws_vpc_peering_connection",
        "aws_ec2_transit_gateway",
        "aws_ec2_transit_gateway_vpc_attachment",
        "aws_ec2_transit_gateway_route_table",
        "aws_ec2_transit_gateway_route_table_association",
        "aws_ec2_transit_gateway_route_table_propagation",
        "aws_ec2_transit_gateway_route",
    ];
    not_imported.extend(doc.resources.iter().filter(|r| !DONE.contains(&r.rtype.as_str())).map(|r| r.address.clone()));
    // IPv6 is not in vpcctl's model yet: say where it was set.
    for r in doc.resources.iter().filter(|r| DONE.contains(&r.rtype.as_str())) {
        ipv6_set(&Value::Object(r.values.clone()), &r.address, &mut not_imported);
    }
    let unresolved = links.unresolved.borrow().clone();
    let mut topology = json!({"vpcs": vpcs, "peerings": peerings.0});
    origins.extend(peerings.1);
    if !transit_gateways.is_empty() {
        topology["transit_gateways"] = Value::Object(transit_gateways);
    }
    Ok(Imported { topology, not_imported, unresolved, origins })
}

fn protocol_word(raw: &str, at: &str) -> Result<&'static str, ImportError> {
    crate::model::policy::Protocol::from_aws(raw)
        .map(|p| p.word())
        .ok_or_else(|| err(at, format!("protocol {raw:?} is not tcp, udp, icmp or -1")))
}

/// `from_port`/`to_port` as vpcctl writes a port: one, a range, or none (all).
fn ports_of(from: Option<u64>, to: Option<u64>) -> Option<Value> {
    match (from, to) {
        (Some(a), Some(b)) if a == b && a > 0 => Some(json!(a)),
        (Some(0), Some(0)) | (Some(0), Some(65535)) | (None, None) => None,
        (Some(a), Some(b)) => Some(json!(format!("{}-{b}", a.max(1)))),
        _ => None,
    }
}

/// A group rule's protocol and port, as a topology rule without its peer.
fn rule_base(protocol: Option<&str>, from: Option<&Value>, to: Option<&Value>, at: &str) -> Result<Value, ImportError> {
    let proto = protocol_word(protocol.unwrap_or("-1"), at)?;
    let mut base = json!({"protocol": proto});
    if matches!(proto, "tcp" | "udp") {
        base["port"] = ports_of(from.and_then(Value::as_u64), to.and_then(Value::as_u64)).unwrap_or(json!("1-65535"));
    }
    Ok(base)
}

/// aws_security_group_rule (type ingress|egress) and the newer
/// aws_vpc_security_group_ingress_rule / _egress_rule: one rule each,
/// added to the group they name.
fn rule_resources(
    doc: &Doc,
    links: &Links,
    group_name: &HashMap<&str, (String, String)>,
    vpcs: &mut Map<String, Value>,
) -> Result<(), ImportError> {
    for r in doc.resources.iter().filter(|r| {
        matches!(r.rtype.as_str(), "aws_security_group_rule" | "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule")
    }) {
        let dir = match r.rtype.as_str() {
            "aws_vpc_security_group_ingress_rule" => "ingress",
            "aws_vpc_security_group_egress_rule" => "egress",
            _ => match r.str("type") {
                Some("ingress") => "ingress",
                Some("egress") => "egress",
                other => return Err(err(&r.address, format!("type {other:?} is neither ingress nor egress"))),
            },
        };
        let Some((vpc, group)) =
            links.target(r, "security_group_id", None, "aws_security_group").and_then(|g| group_name.get(g.address.as_str()))
        else {
            return Err(err(&r.address, "names no aws_security_group of this document in security_group_id"));
        };
        let base = rule_base(r.str("protocol").or(r.str("ip_protocol")), r.values.get("from_port"), r.values.get("to_port"), &r.address)?;
        let mut peers: Vec<(&str, String)> = vec![];
        for c in r.values.get("cidr_blocks").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            peers.push(("cidr", c.into()));
        }
        if let Some(c) = r.str("cidr_ipv4") {
            peers.push(("cidr", c.into()));
        }
        if r.values.get("self").and_then(Value::as_bool) == Some(true) {
            peers.push(("source_group", group.clone()));
        }
        for attr in ["source_security_group_id", "referenced_security_group_id"] {
            let named = r.str(attr).is_some() || r.refs.contains_key(attr);
            if !named {
                continue;
            }
            match links.target(r, attr, None, "aws_security_group").and_then(|g| group_name.get(g.address.as_str())) {
                Some((_, other)) => peers.push(("source_group", other.clone())),
                None => return Err(err(&format!("{}.{attr}", r.address), "names no aws_security_group of this document")),
            }
        }
        for (key, v) in peers {
            let mut rule = base.clone();
            rule[key] = json!(v);
            let list = &mut vpcs[vpc]["security_groups"][group][dir];
            if !list.is_array() {
                *list = json!([]);
            }
            list.as_array_mut().expect("list").push(rule);
        }
    }
    Ok(())
}

/// aws_network_acl (inline rules, `subnet_ids`), aws_network_acl_rule and
/// aws_network_acl_association: each subnet it guards gets its rules.
fn nacls(
    doc: &Doc,
    links: &Links,
    subnet_name: &HashMap<&str, (String, String)>,
    vpcs: &mut Map<String, Value>,
) -> Result<(), ImportError> {
    let rule = |r: &Map<String, Value>, at: &str| -> Result<Value, ImportError> {
        let proto = protocol_word(r.get("protocol").and_then(Value::as_str).unwrap_or("-1"), at)?;
        let action = match r.get("action").or_else(|| r.get("rule_action")).and_then(Value::as_str) {
            Some("allow") => "allow",
            Some("deny") => "deny",
            other => return Err(err(at, format!("action {other:?} is neither allow nor deny"))),
        };
        let number =
            r.get("rule_no").or_else(|| r.get("rule_number")).and_then(Value::as_u64).ok_or_else(|| err(at, "has no rule number"))?;
        let mut o = json!({"rule": number, "protocol": proto, "cidr": r.get("cidr_block").and_then(Value::as_str).unwrap_or("0.0.0.0/0"), "action": action});
        if matches!(proto, "tcp" | "udp")
            && let Some(p) = ports_of(r.get("from_port").and_then(Value::as_u64), r.get("to_port").and_then(Value::as_u64))
        {
            o["ports"] = json!(p.to_string().trim_matches('"'));
        }
        Ok(o)
    };
    let mut acl: HashMap<&str, Value> = HashMap::new();
    for a in doc.resources.iter().filter(|r| r.rtype == "aws_network_acl") {
        let mut n = json!({"inbound": [], "outbound": []});
        for (dir, key) in [("ingress", "inbound"), ("egress", "outbound")] {
            for (i, r) in a.values.get(dir).and_then(Value::as_array).into_iter().flatten().enumerate() {
                if let Some(r) = r.as_object() {
                    n[key].as_array_mut().expect("list").push(rule(r, &format!("{}.{dir}[{i}]", a.address))?);
                }
            }
        }
        acl.insert(a.address.as_str(), n);
    }
    for r in doc.resources.iter().filter(|r| r.rtype == "aws_network_acl_rule") {
        let Some(a) = links.target(r, "network_acl_id", None, "aws_network_acl") else {
            return Err(err(&r.address, "names no aws_network_acl of this document in network_acl_id"));
        };
        let key = if r.values.get("egress").and_then(Value::as_bool) == Some(true) { "outbound" } else { "inbound" };
        let x = rule(&r.values, &r.address)?;
        acl.get_mut(a.address.as_str()).expect("read above")[key].as_array_mut().expect("list").push(x);
    }
    let mut guarded: Vec<(&Resource, &Resource)> = vec![];
    for a in doc.resources.iter().filter(|r| r.rtype == "aws_network_acl") {
        for (k, id) in a.values.get("subnet_ids").and_then(Value::as_array).into_iter().flatten().enumerate() {
            match links.target(a, "subnet_ids", Some(id), "aws_subnet") {
                Some(s) => guarded.push((a, s)),
                None => return Err(err(&format!("{}.subnet_ids[{k}]", a.address), "names no aws_subnet of this document")),
            }
        }
        if a.values.get("subnet_ids").is_none_or(|v| v.as_array().is_none_or(|l| l.is_empty())) {
            guarded.extend(links.by_reference(a, "subnet_ids", "aws_subnet").into_iter().map(|s| (a, s)));
        }
    }
    for assoc in doc.resources.iter().filter(|r| r.rtype == "aws_network_acl_association") {
        match (links.target(assoc, "network_acl_id", None, "aws_network_acl"), links.target(assoc, "subnet_id", None, "aws_subnet")) {
            (Some(a), Some(s)) => guarded.push((a, s)),
            _ => return Err(err(&assoc.address, "names no aws_network_acl or aws_subnet of this document")),
        }
    }
    for (a, s) in guarded {
        let Some((vpc, subnet)) = subnet_name.get(s.address.as_str()) else { continue };
        let mut n = acl[a.address.as_str()].clone();
        for key in ["inbound", "outbound"] {
            n[key].as_array_mut().expect("list").sort_by_key(|r| r["rule"].as_u64());
        }
        vpcs[vpc]["subnets"][subnet]["nacl"] = n;
    }
    Ok(())
}

/// aws_vpc_peering_connection: a peering whose traffic the route tables
/// decide (`no_routes`), as in AWS.
#[allow(clippy::type_complexity)]
fn peerings(doc: &Doc, links: &Links, vpc_name: &HashMap<&str, String>) -> Result<(Vec<Value>, Vec<(String, String)>), ImportError> {
    let mut out = vec![];
    let mut origins = vec![];
    for (k, p) in doc.resources.iter().filter(|r| r.rtype == "aws_vpc_peering_connection").enumerate() {
        let side = |attr: &str| {
            links.target(p, attr, None, "aws_vpc").and_then(|v| vpc_name.get(v.address.as_str()).cloned()).ok_or_else(|| {
                err(&format!("{}.{attr}", p.address), "names no aws_vpc of this document (a peer in another account is not imported)")
            })
        };
        out.push(json!({"vpcs": [side("vpc_id")?, side("peer_vpc_id")?], "name": name_of(p), "no_routes": true}));
        origins.push((format!("peerings[{k}]"), p.address.clone()));
    }
    Ok((out, origins))
}

/// The transit gateway family. A gateway whose default route table is on
/// (AWS's default) gets a table `default` that every attachment without
/// another association uses, and to which every attachment propagates.
fn transit_gateways(doc: &Doc, links: &Links, vpc_name: &HashMap<&str, String>) -> Result<Map<String, Value>, ImportError> {
    let of = |t: &'static str| doc.resources.iter().filter(move |r| r.rtype == t);
    let mut out = Map::new();
    let mut tgw_of_attachment: HashMap<&str, (String, String)> = HashMap::new();
    let mut table_of: HashMap<&str, (String, String)> = HashMap::new();
    for t in of("aws_ec2_transit_gateway") {
        out.insert(name_of(t), json!({"attachments": [], "route_tables": {}}));
    }
    let tgw = |r: &Resource| -> Result<String, ImportError> {
        links
            .target(r, "transit_gateway_id", None, "aws_ec2_transit_gateway")
            .map(name_of)
            .ok_or_else(|| err(&r.address, "names no aws_ec2_transit_gateway of this document"))
    };
    for a in of("aws_ec2_transit_gateway_vpc_attachment") {
        let g = tgw(a)?;
        let vpc = links
            .target(a, "vpc_id", None, "aws_vpc")
            .and_then(|v| vpc_name.get(v.address.as_str()).cloned())
            .ok_or_else(|| err(&a.address, "names no aws_vpc of this document in vpc_id"))?;
        out[&g]["attachments"].as_array_mut().expect("list").push(json!(vpc));
        tgw_of_attachment.insert(a.address.as_str(), (g, vpc));
    }
    for t in of("aws_ec2_transit_gateway_route_table") {
        let g = tgw(t)?;
        let n = name_of(t);
        out[&g]["route_tables"][&n] = json!({"associations": [], "propagations": [], "routes": []});
        table_of.insert(t.address.as_str(), (g, n));
    }
    let table = |r: &Resource| {
        links
            .target(r, "transit_gateway_route_table_id", None, "aws_ec2_transit_gateway_route_table")
            .and_then(|t| table_of.get(t.address.as_str()).cloned())
            .ok_or_else(|| err(&r.address, "names no aws_ec2_transit_gateway_route_table of this document"))
    };
    let attachment = |r: &Resource| {
        links
            .target(r, "transit_gateway_attachment_id", None, "aws_ec2_transit_gateway_vpc_attachment")
            .and_then(|a| tgw_of_attachment.get(a.address.as_str()).cloned())
    };
    let mut associated: Vec<String> = vec![];
    for (kind, key) in [
        ("aws_ec2_transit_gateway_route_table_association", "associations"),
        ("aws_ec2_transit_gateway_route_table_propagation", "propagations"),
    ] {
        for r in doc.resources.iter().filter(|r| r.rtype == kind) {
            let (g, n) = table(r)?;
            let (_, vpc) =
                attachment(r).ok_or_else(|| err(&r.address, "names no aws_ec2_transit_gateway_vpc_attachment of this document"))?;
            if key == "associations" {
                associated.push(format!("{g}/{vpc}"));
            }
            out[&g]["route_tables"][&n][key].as_array_mut().expect("list").push(json!(vpc));
        }
    }
    for r in of("aws_ec2_transit_gateway_route") {
        let (g, n) = table(r)?;
        let dest = r.str("destination_cidr_block").ok_or_else(|| err(&r.address, "has no destination_cidr_block"))?;
        let route = if r.values.get("blackhole").and_then(Value::as_bool) == Some(true) {
            json!({"destination": dest, "blackhole": true})
        } else {
            let (_, vpc) = attachment(r).ok_or_else(|| err(&r.address, "names no attachment of this document and is no blackhole"))?;
            json!({"destination": dest, "vpc": vpc})
        };
        out[&g]["route_tables"][&n]["routes"].as_array_mut().expect("list").push(route);
    }
    for t in of("aws_ec2_transit_gateway") {
        let g = name_of(t);
        let on = |attr: &str| t.str(attr) != Some("disable");
        if !on("default_route_table_association") && !on("default_route_table_propagation") {
            continue;
        }
        let attached: Vec<Value> = out[&g]["attachments"].as_array().cloned().unwrap_or_default();
        let assoc: Vec<Value> = if on("default_route_table_association") {
            attached.iter().filter(|v| !associated.contains(&format!("{g}/{}", v.as_str().unwrap_or_default()))).cloned().collect()
        } else {
            vec![]
        };
        let prop = if on("default_route_table_propagation") { attached.clone() } else { vec![] };
        out[&g]["route_tables"]["default"] = json!({"associations": assoc, "propagations": prop, "routes": []});
    }
    for (_, t) in out.iter_mut() {
        if t["route_tables"].as_object().is_some_and(|m| m.is_empty()) {
            t.as_object_mut().expect("object").remove("route_tables");
        }
    }
    Ok(out)
}

/// NAT gateways (with their EIP's address), route tables with their
/// inline and separate routes, and their associations; the table a
/// `aws_main_route_table_association` names becomes the VPC's `main`.
fn routing(
    doc: &Doc,
    links: &Links,
    vpc_name: &HashMap<&str, String>,
    subnet_name: &HashMap<&str, (String, String)>,
    vpcs: &mut Map<String, Value>,
) -> Result<(), ImportError> {
    let of = |t: &'static str| doc.resources.iter().filter(move |r| r.rtype == t);
    let vpc_of = |r: &Resource| vpc_named(links, vpc_name, r);
    let subnet_of = |r: &Resource| -> Result<(String, String), ImportError> {
        links
            .target(r, "subnet_id", None, "aws_subnet")
            .and_then(|s| subnet_name.get(s.address.as_str()).cloned())
            .ok_or_else(|| err(&r.address, "names no aws_subnet of this document in subnet_id"))
    };
    let mut ngw_name: HashMap<&str, String> = HashMap::new();
    for g in of("aws_nat_gateway") {
        let (vpc, subnet) = subnet_of(g)?;
        let mut o = json!({"subnet": subnet});
        if let Some(e) = links.target(g, "allocation_id", None, "aws_eip") {
            match e.str("public_ip") {
                Some(ip) => o["eip"] = json!(ip),
                None => links.unresolved.borrow_mut().push(format!(
                    "{}: its EIP {} has no address yet (a plan), so it has none here and leaves as the uplink's address; add \"eip\" in the file",
                    g.address, e.address
                )),
            }
        }
        let n = name_of(g);
        vpcs[&vpc]["nat_gateways"][&n] = o;
        ngw_name.insert(g.address.as_str(), n);
    }
    let mut table_name: HashMap<&str, (String, String)> = HashMap::new();
    for m in of("aws_main_route_table_association") {
        if let Some(t) = links.target(m, "route_table_id", None, "aws_route_table") {
            table_name.insert(t.address.as_str(), (vpc_of(m)?, "main".into()));
        }
    }
    // `key` is where a plan's references for the attribute are (`route.0.gateway_id` inline).
    let target = |from: &Resource, attr: &str, key: &str, value: &Value| -> Result<Option<Value>, ImportError> {
        let at = format!("{}.{attr}", from.address);
        let link = |want: &str| {
            let by_id = value.as_str().filter(|x| !x.is_empty()).and_then(|_| links.target(from, key, Some(value), want));
            by_id.or_else(|| links.by_reference(from, key, want).into_iter().next())
        };
        Ok(match attr {
            "gateway_id" => link("aws_internet_gateway").map(|_| json!({"gateway": "igw"})),
            "nat_gateway_id" => {
                link("aws_nat_gateway").map(|g| json!({"nat_gateway": ngw_name.get(g.address.as_str()).cloned().unwrap_or_default()}))
            }
            "vpc_peering_connection_id" => link("aws_vpc_peering_connection").map(|p| json!({"peering": name_of(p)})),
            "transit_gateway_id" => link("aws_ec2_transit_gateway").map(|t| json!({"transit_gateway": name_of(t)})),
            _ => return Err(err(&at, "is a route target vpcctl does not import")),
        })
    };
    let route = |from: &Resource, r: &Map<String, Value>, at: &str, prefix: &str| -> Result<Option<Value>, ImportError> {
        let dest = r.get("cidr_block").or_else(|| r.get("destination_cidr_block")).and_then(Value::as_str).filter(|d| !d.is_empty());
        let Some(dest) = dest else { return Ok(None) };
        for attr in ["gateway_id", "nat_gateway_id", "vpc_peering_connection_id", "transit_gateway_id"] {
            let v = r.get(attr).cloned().unwrap_or(Value::Null);
            let key = format!("{prefix}{attr}");
            if v.as_str().is_some_and(|x| !x.is_empty()) || from.refs.get(&key).is_some_and(|l| !l.is_empty()) {
                let Some(mut t) = target(from, attr, &key, &v)? else {
                    return Err(err(&format!("{}{at}.{attr}", from.address), "names nothing of this document"));
                };
                t["destination"] = json!(dest);
                return Ok(Some(t));
            }
        }
        Ok(None)
    };
    for t in of("aws_default_route_table") {
        // The VPC's own table: vpcctl's `main`.
        let vpc = links
            .target(t, "vpc_id", None, "aws_vpc")
            .or_else(|| links.by_reference(t, "default_route_table_id", "aws_vpc").into_iter().next())
            .and_then(|v| vpc_name.get(v.address.as_str()).cloned())
            .ok_or_else(|| err(&t.address, "names no aws_vpc of this document (vpc_id, default_route_table_id)"))?;
        table_name.insert(t.address.as_str(), (vpc, "main".into()));
    }
    for t in of("aws_route_table").chain(of("aws_default_route_table")) {
        let vpc = match table_name.get(t.address.as_str()) {
            Some((v, _)) if t.rtype == "aws_default_route_table" => v.clone(),
            _ => vpc_of(t)?,
        };
        let n = table_name.get(t.address.as_str()).map(|(_, n)| n.clone()).unwrap_or_else(|| name_of(t));
        let mut routes = vec![];
        for (i, r) in t.values.get("route").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(r) = r.as_object()
                && let Some(x) = route(t, r, &format!(".route[{i}]"), &format!("route.{i}."))?
            {
                routes.push(x);
            }
        }
        vpcs[&vpc]["route_tables"][&n] = json!({"routes": routes});
        table_name.insert(t.address.as_str(), (vpc, n));
    }
    for r in of("aws_route") {
        let Some(t) = links.target(r, "route_table_id", None, "aws_route_table") else {
            return Err(err(&r.address, "names no aws_route_table of this document in route_table_id"));
        };
        let (vpc, n) = table_name[t.address.as_str()].clone();
        if let Some(x) = route(r, &r.values, "", "")? {
            vpcs[&vpc]["route_tables"][&n]["routes"].as_array_mut().expect("list").push(x);
        }
    }
    for a in of("aws_route_table_association") {
        let Some(t) = links.target(a, "route_table_id", None, "aws_route_table") else {
            return Err(err(&a.address, "names no aws_route_table of this document in route_table_id"));
        };
        let (vpc, n) = table_name[t.address.as_str()].clone();
        let (_, subnet) = subnet_of(a)?;
        if n != "main" {
            let list = &mut vpcs[&vpc]["route_tables"][&n];
            if list.get("subnets").is_none() {
                list["subnets"] = json!([]);
            }
            list["subnets"].as_array_mut().expect("list").push(json!(subnet));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Value {
        json!({"format_version": "1.0", "values": {"root_module": {
            "resources": [
                {"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main",
                 "values": {"id": "vpc-1", "cidr_block": "10.0.0.0/16", "tags": {"Name": "shop"}}},
                {"address": "aws_security_group.web", "mode": "managed", "type": "aws_security_group", "name": "web",
                 "values": {"id": "sg-1", "name": "web", "vpc_id": "vpc-1",
                            "ingress": [{"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"], "security_groups": [], "self": false}],
                            "egress": [{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"], "security_groups": [], "self": false}]}},
                {"address": "aws_security_group.app", "mode": "managed", "type": "aws_security_group", "name": "app",
                 "values": {"id": "sg-2", "name": "app", "vpc_id": "vpc-1",
                            "ingress": [{"protocol": "tcp", "from_port": 8080, "to_port": 8080, "cidr_blocks": [], "security_groups": ["sg-1"], "self": true}],
                            "egress": []}},
                {"address": "data.aws_region.current", "mode": "data", "type": "aws_region", "name": "current", "values": {}}
            ],
            "child_modules": [{"address": "module.net", "resources": [
                {"address": "module.net.aws_subnet.private[0]", "mode": "managed", "type": "aws_subnet", "name": "private", "index": 0,
                 "values": {"id": "subnet-1", "vpc_id": "vpc-1", "cidr_block": "10.0.1.0/24", "tags": {"Name": "Private A"}}},
                {"address": "module.net.aws_instance.app[0]", "mode": "managed", "type": "aws_instance", "name": "app", "index": 0,
                 "values": {"id": "i-1", "subnet_id": "subnet-1", "private_ip": "10.0.1.10", "vpc_security_group_ids": ["sg-2"]}}
            ]}]
        }}})
    }

    #[test]
    fn a_state_links_by_id_across_modules_and_names_from_tags_or_address() {
        let doc = read(&state()).unwrap();
        assert!(!doc.plan);
        assert_eq!(doc.skipped, ["data.aws_region.current"]);
        let i = to_topology(&doc).unwrap();
        let (topo, left) = (i.topology, i.not_imported);
        let shop = &topo["vpcs"]["shop"];
        assert_eq!(shop["cidr"], "10.0.0.0/16");
        // "Private A" is no vpcctl name: the resource's name and index are.
        assert_eq!(shop["subnets"]["private-0"]["cidr"], "10.0.1.0/24");
        assert_eq!(shop["subnets"]["private-0"]["instances"]["app-0"], json!({"ip": "10.0.1.10", "security_groups": ["app"]}));
        assert_eq!(
            shop["security_groups"]["app"]["ingress"],
            json!([
                {"protocol": "tcp", "port": 8080, "source_group": "app"},
                {"protocol": "tcp", "port": 8080, "source_group": "web"}
            ])
        );
        assert_eq!(shop["security_groups"]["app"]["egress"], json!([]));
        assert!(left.is_empty() || left == ["data.aws_region.current"], "{left:?}");
    }

    #[test]
    fn a_plan_links_by_references_matching_count_indexes() {
        let plan = json!({
            "planned_values": {"root_module": {"resources": [
                {"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main", "values": {"cidr_block": "10.0.0.0/16"}},
                {"address": "aws_subnet.private[0]", "mode": "managed", "type": "aws_subnet", "name": "private", "index": 0, "values": {"cidr_block": "10.0.1.0/24"}},
                {"address": "aws_subnet.private[1]", "mode": "managed", "type": "aws_subnet", "name": "private", "index": 1, "values": {"cidr_block": "10.0.2.0/24"}},
                {"address": "aws_instance.app[0]", "mode": "managed", "type": "aws_instance", "name": "app", "index": 0, "values": {"private_ip": "10.0.1.10"}},
                {"address": "aws_instance.app[1]", "mode": "managed", "type": "aws_instance", "name": "app", "index": 1, "values": {"private_ip": "10.0.2.10"}}
            ]}},
            "configuration": {"root_module": {"resources": [
                {"address": "aws_vpc.main", "type": "aws_vpc", "name": "main", "expressions": {"cidr_block": {"constant_value": "10.0.0.0/16"}}},
                {"address": "aws_subnet.private", "type": "aws_subnet", "name": "private",
                 "expressions": {"vpc_id": {"references": ["aws_vpc.main.id", "aws_vpc.main"]}}, "count_expression": {"constant_value": 2}},
                {"address": "aws_instance.app", "type": "aws_instance", "name": "app",
                 "expressions": {"subnet_id": {"references": ["aws_subnet.private[count.index].id", "aws_subnet.private"]}}}
            ]}}
        });
        let doc = read(&plan).unwrap();
        assert!(doc.plan);
        assert_eq!(parse_reference("aws_subnet.private[count.index].id"), Some(("aws_subnet", "private", Some("count.index".into()))));
        assert_eq!(parse_reference("aws_vpc.main"), Some(("aws_vpc", "main", None)));
        let topo = to_topology(&doc).unwrap().topology;
        let main = &topo["vpcs"]["main"];
        assert_eq!(main["subnets"]["private-0"]["instances"]["app-0"]["ip"], "10.0.1.10");
        assert_eq!(main["subnets"]["private-1"]["instances"]["app-1"]["ip"], "10.0.2.10");
    }

    #[test]
    fn nat_gateways_route_tables_and_associations_come_with_their_links() {
        let mut s = state();
        let res = s["values"]["root_module"]["resources"].as_array_mut().unwrap();
        let add = |v: Value| v;
        res.extend([
            add(json!({"address": "aws_internet_gateway.gw", "mode": "managed", "type": "aws_internet_gateway", "name": "gw",
                       "values": {"id": "igw-1", "vpc_id": "vpc-1"}})),
            add(json!({"address": "aws_eip.nat", "mode": "managed", "type": "aws_eip", "name": "nat",
                       "values": {"id": "eipalloc-1", "public_ip": "203.0.113.20"}})),
            add(json!({"address": "aws_nat_gateway.a", "mode": "managed", "type": "aws_nat_gateway", "name": "a",
                       "values": {"id": "nat-1", "subnet_id": "subnet-1", "allocation_id": "eipalloc-1"}})),
            add(json!({"address": "aws_route_table.private", "mode": "managed", "type": "aws_route_table", "name": "private",
                       "values": {"id": "rtb-1", "vpc_id": "vpc-1", "route": [{"cidr_block": "0.0.0.0/0", "nat_gateway_id": "nat-1", "gateway_id": ""}]}})),
            add(json!({"address": "aws_route_table.public", "mode": "managed", "type": "aws_route_table", "name": "public",
                       "values": {"id": "rtb-2", "vpc_id": "vpc-1", "route": []}})),
            add(json!({"address": "aws_route.public_out", "mode": "managed", "type": "aws_route", "name": "public_out",
                       "values": {"route_table_id": "rtb-2", "destination_cidr_block": "0.0.0.0/0", "gateway_id": "igw-1"}})),
            add(json!({"address": "aws_route_table_association.p", "mode": "managed", "type": "aws_route_table_association", "name": "p",
                       "values": {"subnet_id": "subnet-1", "route_table_id": "rtb-1"}})),
        ]);
        let i = to_topology(&read(&s).unwrap()).unwrap();
        let (topo, left) = (i.topology, i.not_imported);
        let shop = &topo["vpcs"]["shop"];
        assert_eq!(shop["internet_gateway"], true);
        assert_eq!(shop["nat_gateways"]["a"], json!({"subnet": "private-0", "eip": "203.0.113.20"}));
        assert_eq!(
            shop["route_tables"]["private"],
            json!({"routes": [{"destination": "0.0.0.0/0", "nat_gateway": "a"}], "subnets": ["private-0"]})
        );
        assert_eq!(shop["route_tables"]["public"], json!({"routes": [{"destination": "0.0.0.0/0", "gateway": "igw"}]}));
        assert_eq!(left, ["data.aws_region.current"]);
    }

    #[test]
    fn separate_group_rules_and_nacls_land_on_their_group_and_subnets() {
        let mut s = state();
        let res = s["values"]["root_module"]["resources"].as_array_mut().unwrap();
        res.extend([
            json!({"address": "aws_security_group_rule.db_from_app", "mode": "managed", "type": "aws_security_group_rule", "name": "db_from_app",
                   "values": {"type": "ingress", "security_group_id": "sg-1", "protocol": "tcp", "from_port": 5432, "to_port": 5432,
                              "source_security_group_id": "sg-2"}}),
            json!({"address": "aws_vpc_security_group_egress_rule.out", "mode": "managed", "type": "aws_vpc_security_group_egress_rule", "name": "out",
                   "values": {"security_group_id": "sg-2", "ip_protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "10.0.0.0/8"}}),
            json!({"address": "aws_network_acl.db", "mode": "managed", "type": "aws_network_acl", "name": "db",
                   "values": {"id": "acl-1", "vpc_id": "vpc-1", "subnet_ids": ["subnet-1"],
                              "ingress": [{"rule_no": 200, "action": "allow", "protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/0"},
                                          {"rule_no": 100, "action": "deny", "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_block": "10.0.0.0/16"}],
                              "egress": []}}),
            json!({"address": "aws_network_acl_rule.out", "mode": "managed", "type": "aws_network_acl_rule", "name": "out",
                   "values": {"network_acl_id": "acl-1", "egress": true, "rule_number": 100, "rule_action": "allow", "protocol": "tcp",
                              "from_port": 1024, "to_port": 65535, "cidr_block": "0.0.0.0/0"}}),
        ]);
        let topo = to_topology(&read(&s).unwrap()).unwrap().topology;
        let shop = &topo["vpcs"]["shop"];
        assert_eq!(shop["security_groups"]["web"]["ingress"][1], json!({"protocol": "tcp", "port": 5432, "source_group": "app"}));
        assert_eq!(shop["security_groups"]["app"]["egress"], json!([{"protocol": "tcp", "port": 443, "cidr": "10.0.0.0/8"}]));
        let nacl = &shop["subnets"]["private-0"]["nacl"];
        assert_eq!(nacl["inbound"][0], json!({"rule": 100, "protocol": "tcp", "cidr": "10.0.0.0/16", "action": "deny", "ports": "22"}));
        assert_eq!(nacl["inbound"][1]["rule"], 200);
        assert_eq!(
            nacl["outbound"],
            json!([{"rule": 100, "protocol": "tcp", "cidr": "0.0.0.0/0", "action": "allow", "ports": "1024-65535"}])
        );
        // The result is a topology vpcctl reads.
        crate::model::topology::Topology::from_value(&topo, std::path::Path::new("."), &|_| Err(std::io::Error::other("no files")))
            .unwrap();
    }

    #[test]
    fn peerings_transit_gateways_and_the_default_route_table() {
        let vpc = |n: &str, id: &str, cidr: &str| {
            json!({"address": format!("aws_vpc.{n}"), "mode": "managed", "type": "aws_vpc", "name": n,
                   "values": {"id": id, "cidr_block": cidr, "default_route_table_id": format!("rtb-{id}")}})
        };
        let r = |addr: &str, t: &str, v: Value| {
            let name = addr.split('.').nth(1).unwrap();
            json!({"address": addr, "mode": "managed", "type": t, "name": name, "values": v})
        };
        let doc = json!({"values": {"root_module": {"resources": [
            vpc("dev", "v1", "10.1.0.0/16"), vpc("prod", "v2", "10.2.0.0/16"), vpc("shared", "v3", "10.3.0.0/16"),
            r("aws_vpc_peering_connection.dp", "aws_vpc_peering_connection", json!({"id": "pcx-1", "vpc_id": "v1", "peer_vpc_id": "v2"})),
            r("aws_default_route_table.dev", "aws_default_route_table", json!({"id": "rtb-v1", "default_route_table_id": "rtb-v1", "vpc_id": "v1",
                "route": [{"cidr_block": "10.2.0.0/16", "vpc_peering_connection_id": "pcx-1"}, {"cidr_block": "10.3.0.0/16", "transit_gateway_id": "tgw-1"}]})),
            r("aws_ec2_transit_gateway.hub", "aws_ec2_transit_gateway", json!({"id": "tgw-1", "default_route_table_association": "enable", "default_route_table_propagation": "enable"})),
            r("aws_ec2_transit_gateway_vpc_attachment.dev", "aws_ec2_transit_gateway_vpc_attachment", json!({"id": "att-1", "transit_gateway_id": "tgw-1", "vpc_id": "v1"})),
            r("aws_ec2_transit_gateway_vpc_attachment.shared", "aws_ec2_transit_gateway_vpc_attachment", json!({"id": "att-3", "transit_gateway_id": "tgw-1", "vpc_id": "v3"})),
            r("aws_ec2_transit_gateway_route_table.hub", "aws_ec2_transit_gateway_route_table", json!({"id": "tgw-rtb-1", "transit_gateway_id": "tgw-1"})),
            r("aws_ec2_transit_gateway_route_table_association.shared", "aws_ec2_transit_gateway_route_table_association",
              json!({"transit_gateway_attachment_id": "att-3", "transit_gateway_route_table_id": "tgw-rtb-1"})),
            r("aws_ec2_transit_gateway_route.hole", "aws_ec2_transit_gateway_route",
              json!({"destination_cidr_block": "10.9.0.0/16", "blackhole": true, "transit_gateway_route_table_id": "tgw-rtb-1"})),
        ]}}});
        let i = to_topology(&read(&doc).unwrap()).unwrap();
        let t = &i.topology;
        assert_eq!(t["peerings"], json!([{"vpcs": ["dev", "prod"], "name": "dp", "no_routes": true}]));
        assert_eq!(
            t["vpcs"]["dev"]["route_tables"]["main"]["routes"],
            json!([{"destination": "10.2.0.0/16", "peering": "dp"}, {"destination": "10.3.0.0/16", "transit_gateway": "hub"}])
        );
        let hub = &t["transit_gateways"]["hub"];
        assert_eq!(hub["attachments"], json!(["dev", "shared"]));
        assert_eq!(
            hub["route_tables"]["hub"],
            json!({"associations": ["shared"], "propagations": [], "routes": [{"destination": "10.9.0.0/16", "blackhole": true}]})
        );
        assert_eq!(hub["route_tables"]["default"], json!({"associations": ["dev"], "propagations": ["dev", "shared"], "routes": []}));
        assert!(i.not_imported.is_empty(), "{:?}", i.not_imported);
        crate::model::topology::Topology::from_value(t, std::path::Path::new("."), &|_| Err(std::io::Error::other("no files"))).unwrap();
    }

    #[test]
    fn unresolved_links_ipv6_and_origins_are_said() {
        let mut s = state();
        let res = s["values"]["root_module"]["resources"].as_array_mut().unwrap();
        res[0]["values"]["ipv6_cidr_block"] = json!("2001:db8::/56");
        res[0]["values"]["assign_generated_ipv6_cidr_block"] = json!(false);
        let i = to_topology(&read(&s).unwrap()).unwrap();
        assert!(i.not_imported.contains(&"aws_vpc.main.ipv6_cidr_block (IPv6)".to_string()), "{:?}", i.not_imported);
        assert!(!i.not_imported.iter().any(|x| x.contains("assign_generated")), "{:?}", i.not_imported);
        assert_eq!(i.origin("vpcs.shop.subnets.private-0.cidr"), Some("module.net.aws_subnet.private[0]"));
        assert_eq!(i.origin("vpcs.shop"), Some("aws_vpc.main"));
        // A plan whose reference names nothing in the document says so.
        let plan = json!({
            "planned_values": {"root_module": {"resources": [
                {"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main", "values": {"cidr_block": "10.0.0.0/16"}},
                {"address": "aws_subnet.a", "mode": "managed", "type": "aws_subnet", "name": "a", "values": {"cidr_block": "10.0.1.0/24"}}
            ]}},
            "configuration": {"root_module": {"resources": [
                {"address": "aws_subnet.a", "type": "aws_subnet", "name": "a", "expressions": {"vpc_id": {"references": ["aws_vpc.other.id", "aws_vpc.other"]}}}
            ]}}
        });
        let doc = read(&plan).unwrap();
        let e = to_topology(&doc).unwrap_err().to_string();
        assert!(e.starts_with("aws_subnet.a: names no aws_vpc"), "{e}");
        let links = Links::new(&doc);
        assert!(links.target(&doc.resources[1], "vpc_id", None, "aws_vpc").is_none());
        assert_eq!(links.unresolved.borrow()[0], "aws_subnet.a.vpc_id -> aws_vpc.other.id");
    }

    #[test]
    fn a_plan_follows_a_modules_outputs() {
        let plan = json!({
            "planned_values": {"root_module": {
                "resources": [
                    {"address": "aws_instance.web[0]", "mode": "managed", "type": "aws_instance", "name": "web", "index": 0, "values": {"private_ip": "10.0.101.10"}},
                    {"address": "aws_instance.web[1]", "mode": "managed", "type": "aws_instance", "name": "web", "index": 1, "values": {"private_ip": "10.0.102.10"}}
                ],
                "child_modules": [{"address": "module.vpc", "resources": [
                    {"address": "module.vpc.aws_vpc.this[0]", "mode": "managed", "type": "aws_vpc", "name": "this", "index": 0, "values": {"cidr_block": "10.0.0.0/16", "tags": {"Name": "main"}}},
                    {"address": "module.vpc.aws_subnet.public[0]", "mode": "managed", "type": "aws_subnet", "name": "public", "index": 0, "values": {"cidr_block": "10.0.101.0/24"}},
                    {"address": "module.vpc.aws_subnet.public[1]", "mode": "managed", "type": "aws_subnet", "name": "public", "index": 1, "values": {"cidr_block": "10.0.102.0/24"}}
                ]}]
            }},
            "configuration": {"root_module": {
                "resources": [{"address": "aws_instance.web", "type": "aws_instance", "name": "web",
                               "expressions": {"subnet_id": {"references": ["module.vpc.public_subnets[count.index]", "module.vpc.public_subnets", "module.vpc", "count.index"]}}}],
                "module_calls": {"vpc": {"source": "terraform-aws-modules/vpc/aws", "module": {
                    "outputs": {"public_subnets": {"expression": {"references": ["aws_subnet.public"]}}},
                    "resources": [
                        {"address": "aws_subnet.public", "type": "aws_subnet", "name": "public",
                         "expressions": {"vpc_id": {"references": ["aws_vpc.this[0].id", "aws_vpc.this[0]", "aws_vpc.this"]}}}
                    ]}}}
            }}
        });
        let i = to_topology(&read(&plan).unwrap()).unwrap();
        assert!(i.unresolved.is_empty(), "{:?}", i.unresolved);
        let v = &i.topology["vpcs"]["main"];
        assert_eq!(v["subnets"]["public-0"]["instances"]["web-0"]["ip"], "10.0.101.10");
        assert_eq!(v["subnets"]["public-1"]["instances"]["web-1"]["ip"], "10.0.102.10");
    }

    #[test]
    fn a_document_of_neither_kind_is_refused_and_a_dangling_link_names_the_resource() {
        assert!(read(&json!({"format_version": "1.0"})).unwrap_err().to_string().contains("neither a state"));
        let mut s = state();
        s["values"]["root_module"]["child_modules"][0]["resources"][0]["values"]["vpc_id"] = json!("vpc-nope");
        let e = to_topology(&read(&s).unwrap()).unwrap_err().to_string();
        assert!(e.starts_with("module.net.aws_subnet.private[0]: names no aws_vpc"), "{e}");
    }
}
