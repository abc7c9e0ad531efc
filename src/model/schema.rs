//! JSON Schemas of the files users write, generated (schemars) from the
//! types below, for `vpcctl schema` and for editors (`"$schema"`).
//!
//! The parsers in `topology`, `policy`, `nacl` and `expect` walk a JSON
//! value by hand so that every error names its path; these types describe
//! the same shapes for tools. Tests keep the two in step: every example and
//! every export validates, and what the parsers refuse for an unknown key
//! the schema refuses too.

use std::collections::BTreeMap;

use schemars::JsonSchema;

/// A VPC or subnet name: lowercase letters, digits and '-', at most 32.
#[derive(JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
struct NameKey(#[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,31}$"))] String);

/// An IPv4 CIDR, e.g. "10.10.0.0/16".
#[derive(JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
struct Cidr(#[schemars(regex(pattern = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"))] String);

/// A TCP or UDP port.
#[derive(JsonSchema)]
#[schemars(transparent)]
#[allow(dead_code)]
struct Port(#[schemars(range(min = 1, max = 65535))] u16);

/// A port (80) or a range of ports ("8000-8100").
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Ports {
    One(Port),
    Range(#[schemars(regex(pattern = r"^[0-9]{1,5}(-[0-9]{1,5})?$"))] String),
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Action {
    Allow,
    Deny,
    Accept,
    Drop,
}

/// A topology: every VPC on this host, for `plan`, `apply` and `export`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "vpcctl topology")]
#[allow(dead_code)]
struct TopologyFile {
    #[serde(rename = "$schema")]
    schema: Option<String>,
    /// VPCs by name.
    vpcs: Option<BTreeMap<String, VpcFile>>,
    peerings: Option<Vec<PeeringFile>>,
    /// Transit gateways by name.
    transit_gateways: Option<BTreeMap<String, TgwFile>>,
    /// Hosts by name, for VPCs that span hosts: each subnet then names its `host`.
    hosts: Option<BTreeMap<String, HostFile>>,
    /// The overlay's UDP port (default 4789).
    vxlan_port: Option<Port>,
    /// "wireguard": the overlay runs inside WireGuard between hosts.
    encryption: Option<Encryption>,
    /// Reachability expectations, for `vpcctl check` (apply ignores them).
    expect: Option<Vec<Expectation>>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct VpcFile {
    cidr: Cidr,
    /// true: the public subnets leave through the default route's interface.
    nat: Option<NatField>,
    /// Subnets by name.
    subnets: Option<BTreeMap<String, SubnetFile>>,
    /// The VPC's resolver: on unless false.
    dns: Option<DnsField>,
    expose: Option<Vec<ExposeFile>>,
    eip: Option<Vec<EipFile>>,
    flow_logs: Option<bool>,
    /// The VPC's internet gateway: true (the default route's interface) or {"interface": IF}.
    internet_gateway: Option<IgwField>,
    /// NAT gateways by name.
    nat_gateways: Option<BTreeMap<String, NatGatewayFile>>,
    /// Route tables by name; `main` is every subnet's unless associated with another.
    route_tables: Option<BTreeMap<String, RouteTableFile>>,
    /// Security groups by name; `default` (admits its members, all egress) exists unless given.
    security_groups: Option<BTreeMap<String, SecurityGroupFile>>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct SecurityGroupFile {
    /// Allow rules for what comes in (default: none; `default`'s: all from its members).
    ingress: Option<Vec<SgRuleFile>>,
    /// Allow rules for what goes out (default: all).
    egress: Option<Vec<SgRuleFile>>,
}

/// One allow rule; the peer is `cidr` or the members of `source_group`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct SgRuleFile {
    protocol: SgProtocol,
    /// Required for tcp and udp.
    port: Option<Ports>,
    cidr: Option<Cidr>,
    source_group: Option<NameKey>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum SgProtocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct InstanceFile {
    /// Default: the next free address of the subnet, from .4.
    ip: Option<String>,
    /// Default: ["default"].
    #[schemars(length(min = 1))]
    security_groups: Option<Vec<NameKey>>,
    apps: Option<Vec<AppFile>>,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum IgwField {
    On(bool),
    Spec(IgwSpec),
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct IgwSpec {
    interface: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct NatGatewayFile {
    /// The subnet it sits in.
    subnet: NameKey,
    /// Its elastic IP, on the internet gateway's uplink.
    eip: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct RouteTableFile {
    /// Subnets that use it.
    subnets: Option<Vec<NameKey>>,
    routes: Option<Vec<RouteFile>>,
}

/// One destination, exactly one target.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct RouteFile {
    destination: Cidr,
    /// "igw": the VPC's internet gateway.
    gateway: Option<String>,
    nat_gateway: Option<NameKey>,
    peering: Option<NameKey>,
    transit_gateway: Option<NameKey>,
    blackhole: Option<bool>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct TgwFile {
    /// VPCs attached to it.
    attachments: Option<Vec<NameKey>>,
    /// Its route tables by name.
    route_tables: Option<BTreeMap<String, TgwRouteTableFile>>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct TgwRouteTableFile {
    /// Attachments whose traffic it routes.
    associations: Option<Vec<NameKey>>,
    /// Attachments whose VPC CIDR it learns.
    propagations: Option<Vec<NameKey>>,
    routes: Option<Vec<TgwRouteFile>>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct TgwRouteFile {
    destination: Cidr,
    /// The attachment it goes to (else a blackhole).
    vpc: Option<NameKey>,
    blackhole: Option<bool>,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum NatField {
    On(bool),
    Spec(NatSpec),
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct NatSpec {
    interface: Option<String>,
    /// Translate exactly these subnets (default: the public ones).
    subnets: Option<Vec<NameKey>>,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum DnsField {
    On(bool),
    Options(DnsOptions),
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct DnsOptions {
    /// Forward other names to the host's resolvers (default true).
    upstream: Option<bool>,
    /// Drop upstream answers that point into private ranges.
    stop_rebind: Option<bool>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ExposeFile {
    subnet: NameKey,
    port: Port,
    host_port: Port,
    interface: Option<String>,
    allow_private: Option<bool>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct EipFile {
    subnet: NameKey,
    #[schemars(extend("format" = "ipv4"))]
    ip: String,
    interface: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct SubnetFile {
    cidr: Cidr,
    public: Option<bool>,
    /// A policy file's path (relative to this file) or the policy itself.
    policy: Option<PathOr<PolicyFile>>,
    apps: Option<Vec<AppFile>>,
    /// A NACL file's path (relative to this file) or the NACL itself.
    nacl: Option<PathOr<NaclFile>>,
    /// Instances by name (unique in the VPC), each a namespace of its own.
    instances: Option<BTreeMap<String, InstanceFile>>,
    /// The host it lives on (a file with `hosts`).
    host: Option<NameKey>,
}

/// One host of a multi-host file.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct HostFile {
    /// Its address on the network that joins the hosts.
    underlay: String,
    /// The interface NAT and gateways use on it (default: its default route's).
    uplink: Option<String>,
    /// What `vpcctl host-key` printed on it (needed with "encryption": "wireguard").
    wireguard_public_key: Option<String>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Encryption {
    Wireguard,
    None,
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum PathOr<T> {
    Path(String),
    Inline(T),
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct AppFile {
    port: Port,
    /// Default: vpcctl's own HTTP server.
    #[schemars(length(min = 1))]
    command: Option<Vec<String>>,
    /// Default: a uid of the app's own.
    user: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct PeeringFile {
    #[schemars(length(min = 2, max = 2))]
    vpcs: Vec<NameKey>,
    allow_cidrs: Option<Vec<Cidr>>,
    /// Its name, for routes (default: A-B).
    name: Option<NameKey>,
    /// true: traffic flows only where both sides' route tables send it here.
    no_routes: Option<bool>,
}

/// A security-group policy for one subnet (`apply-policy`).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "vpcctl policy")]
#[allow(dead_code)]
struct PolicyFile {
    #[serde(rename = "$schema")]
    schema: Option<String>,
    /// The subnet's CIDR; the subnet it is applied to when none is named.
    subnet: Option<Cidr>,
    default_ingress: Option<Action>,
    default_egress: Option<Action>,
    ingress: Option<Vec<PolicyRule>>,
    egress: Option<Vec<PolicyRule>>,
    description: Option<String>,
    name: Option<String>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum PolicyProtocol {
    Tcp,
    Udp,
    Icmp,
    All,
    Any,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct PolicyRule {
    /// Required for tcp and udp (the default protocol).
    port: Option<Ports>,
    protocol: Option<PolicyProtocol>,
    action: Action,
    cidr: Option<Cidr>,
    description: Option<String>,
}

/// A network ACL for one subnet's edge (`apply-nacl`).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "vpcctl nacl")]
#[allow(dead_code)]
struct NaclFile {
    #[serde(rename = "$schema")]
    schema: Option<String>,
    inbound: Option<Vec<NaclRule>>,
    outbound: Option<Vec<NaclRule>>,
    description: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
enum NaclProtocol {
    #[serde(rename = "tcp")]
    Tcp,
    #[serde(rename = "udp")]
    Udp,
    #[serde(rename = "icmp")]
    Icmp,
    #[serde(rename = "all")]
    All,
    #[serde(rename = "-1")]
    AllAws,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct NaclRule {
    /// Lower numbers are evaluated first.
    #[schemars(range(min = 1, max = 32766))]
    rule: u32,
    protocol: NaclProtocol,
    ports: Option<Ports>,
    cidr: Option<Cidr>,
    action: Action,
}

/// Reachability expectations (`vpcctl check`); a topology file may hold them too.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "vpcctl expectations")]
#[allow(dead_code)]
struct ExpectFile {
    #[serde(rename = "$schema")]
    schema: Option<String>,
    expect: Vec<Expectation>,
    vpcs: Option<BTreeMap<String, VpcFile>>,
    peerings: Option<Vec<PeeringFile>>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum ProbeProtocol {
    Icmp,
    Tcp,
    Udp,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Expectation {
    /// VPC/SUBNET
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$"))]
    from: String,
    /// VPC/SUBNET or an IPv4 address
    to: String,
    /// Default: tcp with a port, icmp without.
    protocol: Option<ProbeProtocol>,
    port: Option<Port>,
    reachable: bool,
    description: Option<String>,
}

/// The file formats `vpcctl schema` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Topology,
    Policy,
    Nacl,
    Expect,
}

/// The JSON Schema of `format`.
pub fn of(format: Format) -> serde_json::Value {
    let schema = match format {
        Format::Topology => schemars::schema_for!(TopologyFile),
        Format::Policy => schemars::schema_for!(PolicyFile),
        Format::Nacl => schemars::schema_for!(NaclFile),
        Format::Expect => schemars::schema_for!(ExpectFile),
    };
    let mut v = schema.to_value();
    without_null(&mut v);
    v
}

/// An optional key is absent, never null: the parsers refuse null where a
/// value goes, so the schema must too (schemars allows null for `Option`).
fn without_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(types)) = o.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let one = types.remove(0);
                    o.insert("type".into(), one);
                }
            }
            if let Some(Value::Array(any)) = o.get_mut("anyOf") {
                any.retain(|s| s.get("type").is_none_or(|t| t != "null"));
            }
            o.values_mut().for_each(without_null);
        }
        Value::Array(a) => a.iter_mut().for_each(without_null),
        _ => {}
    }
}
