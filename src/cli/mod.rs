//! The command line: flags, subcommands, aliases and the positional forms
//! the tutorials teach. Parsing only; `commands` does the work.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::error::InputError;
use crate::model::{Name, Proto, SubnetKind, cidr};

mod complete;
mod help;
pub mod instances;
pub mod req;
pub mod routing;

pub use complete::write_completions;
pub use help::{command, man_page, man_pages};

const ABOUT: &str = "Build AWS-style VPCs on one Linux host from namespaces, bridges, veth pairs and iptables";

const EXAMPLES: &str = "\
Examples:
  sudo vpcctl create-vpc --name vpc1 --cidr 10.10.0.0/16
  sudo vpcctl add-subnet --vpc vpc1 --name public --cidr 10.10.1.0/24 --public
  sudo vpcctl add-subnet vpc1 private 10.10.2.0/24
  sudo vpcctl exec --vpc vpc1 --subnet public -- ping -c1 10.10.2.2
  sudo vpcctl list
  sudo vpcctl delete vpc1
  vpcctl --dry-run create-vpc vpc2 10.20.0.0/16   # print the commands, change nothing

Exit codes:
  0  success, or a positive answer (reachable; no drift; every expectation met)
  1  a negative answer (unreachable; drift found by doctor; an unmet expectation)
  2  bad usage or input (unknown flag, invalid CIDR, unknown VPC or subnet, a bad
     file, a change that destroys without --auto-approve). With
     --detailed-exitcode, plan exits 2 for changes and 1 for any error, as
     terraform does
  3  a system failure (ip or iptables failed, the state file cannot be read)
  4  not root
  exec: the command's own code; 125-127 for vpcctl's failures, as docker run
With --json, an error is one JSON object on stderr: {\"error\": ..., \"kind\": ...}.

Environment:
  VPCCTL_STATE_DIR     the state directory (as --state-dir)
  VPCCTL_LOG           log filter, as RUST_LOG: info, debug, or e.g. vpcctl=debug
  VPCCTL_LOCK_TIMEOUT  seconds to wait for another vpcctl run (default 120)
  NO_COLOR             no colour even on a terminal";

#[derive(Debug, Parser)]
#[command(name = "vpcctl", version, about = ABOUT, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Where vpcctl records what it created
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "VPCCTL_STATE_DIR",
        default_value = "/var/lib/vpcctl",
        value_name = "DIR"
    )]
    pub state_dir: PathBuf,
    /// Print the exact ip/iptables commands as a shell script; change nothing
    #[arg(long, global = true, help_heading = "Global options")]
    pub dry_run: bool,
    /// Echo every command as it runs (-vv: debug logs)
    #[arg(short, long, global = true, help_heading = "Global options", action = ArgAction::Count)]
    pub verbose: u8,
    /// Print only errors
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// Machine-readable output (same as -o json)
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Output format: text, json, yaml, wide (list, inspect: every column),
    /// name (list, inspect: names only)
    #[arg(short, long, global = true, help_heading = "Global options", value_enum, value_name = "FORMAT")]
    pub output: Option<Output>,
    #[command(subcommand)]
    pub command: Command,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Output {
    #[default]
    Text,
    Json,
    Yaml,
    Wide,
    Name,
}

impl Cli {
    /// The output asked for: `-o`, or `--json`, or text.
    pub fn output(&self) -> Output {
        self.output.unwrap_or(if self.json { Output::Json } else { Output::Text })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a VPC: one bridge, its address space reserved on the host
    #[command(
        alias = "create",
        after_help = "\
Examples:
  vpcctl create-vpc --name vpc1 --cidr 10.10.0.0/16
  vpcctl create-vpc vpc1 10.10.0.0/16
  vpcctl create vpc1 --cidr 10.10.0.0/16"
    )]
    CreateVpc(CreateVpc),

    /// Add a subnet: a namespace wired to the VPC bridge (private unless told)
    #[command(after_help = "\
Examples:
  vpcctl add-subnet --vpc vpc1 --name public --cidr 10.10.1.0/24 --public
  vpcctl add-subnet vpc1 private 10.10.2.0/24 --type private
  vpcctl add-subnet vpc1 web --cidr 10.10.3.0/24")]
    AddSubnet(AddSubnet),

    /// Remove one subnet and everything it owns
    #[command(after_help = "Example:\n  vpcctl delete-subnet --vpc vpc1 --name private")]
    DeleteSubnet(SubnetRef),

    /// Table of every VPC
    #[command(
        alias = "ls",
        after_help = "Examples:\n  vpcctl list\n  vpcctl list -o wide     # the bridge, and every subnet by name\n  vpcctl -q list          # names only, one per line\n  vpcctl list -o json"
    )]
    List,

    /// Show VPCs as trees: bridge, subnets, addresses
    #[command(
        alias = "inspect-vpc",
        after_help = "Examples:\n  vpcctl inspect vpc1\n  vpcctl inspect vpc1 vpc2\n  vpcctl inspect --name vpc1 -o yaml\n  vpcctl inspect vpc1 -o name      # the VPC and its subnets as VPC/SUBNET"
    )]
    Inspect(VpcRef),

    /// Delete VPCs and everything they own
    #[command(
        alias = "delete-vpc",
        after_help = "Examples:\n  vpcctl delete vpc1\n  vpcctl delete vpc1 vpc2\n  vpcctl delete-vpc --name vpc1"
    )]
    Delete(VpcRef),

    /// Delete every VPC vpcctl created, and vpcctl's own iptables chains
    #[command(
        aliases = ["cleanup-all", "cleanup"],
        after_help = "Asks first on a terminal; elsewhere (scripts, CI) it needs --auto-approve.\n\nExamples:\n  vpcctl teardown-all\n  vpcctl teardown-all --auto-approve"
    )]
    TeardownAll(Approve),

    /// Run a command inside a subnet's namespace; its exit code is passed through
    #[command(after_help = "\
Without a command, a shell. The command's exit code is exec's; vpcctl's own
failures exit 125 (bad usage, unknown VPC or subnet), 126 (the command
cannot run) or 127 (the command is not found), as docker run's do.

Examples:
  vpcctl exec --vpc vpc1 --subnet public -- ping -c1 10.10.2.2
  vpcctl exec vpc1 public -- ip addr
  vpcctl exec vpc1/public -- curl -s 10.10.2.2
  vpcctl exec vpc1 public                     # a shell in the subnet")]
    Exec(Exec),

    /// Give a VPC's public subnets (or the ones named) internet access, translated
    #[command(after_help = "\
Examples:
  vpcctl enable-nat --vpc vpc1                       # via the default route's interface
  vpcctl enable-nat vpc1 --interface eth0
  vpcctl enable-nat --vpc vpc1 --subnets public,app  # exactly these (private ones too)")]
    EnableNat(EnableNat),

    /// Remove exactly what enable-nat added
    #[command(after_help = "Example:\n  vpcctl disable-nat --vpc vpc1")]
    DisableNat(VpcArg),

    /// Let two VPCs reach each other (optionally only between some CIDRs)
    #[command(
        alias = "peer-vpcs",
        after_help = "\
Examples:
  vpcctl peer --a vpc1 --b vpc2
  vpcctl peer-vpcs vpc1 vpc2 --allow-cidrs 10.10.1.0/24,10.20.1.0/24"
    )]
    Peer(Peer),

    /// Remove a peering; the two VPCs are isolated again
    #[command(after_help = "Example:\n  vpcctl unpeer --a vpc1 --b vpc2")]
    Unpeer(PairArgs),

    /// Forward a TCP port of the host (on the uplink and for the host itself) to a subnet
    #[command(after_help = "\
The app sees the real client address (no SNAT). Only public subnets, unless
--allow-private.

Examples:
  vpcctl expose --vpc vpc1 --subnet web --port 8080 --host-port 8080
  vpcctl expose vpc1 web --port 80 --host-port 8000 --interface eth0")]
    Expose(ExposeArgs),

    /// Stop forwarding a host port (see expose)
    #[command(after_help = "Example:\n  vpcctl unexpose --vpc vpc1 --host-port 8080")]
    Unexpose(UnexposeArgs),

    /// Give a subnet an elastic IP: an uplink address of its own, 1:1 NAT both ways
    #[command(after_help = "\
Inbound to ADDR reaches the subnet on every port; the subnet's own
connections leave from ADDR. ADDR must be a free address of the uplink's
subnet.

Example:
  vpcctl associate-eip --vpc vpc1 --subnet web --ip 203.0.113.10")]
    AssociateEip(AssociateEip),

    /// Remove a subnet's elastic IP: its NAT and its address on the uplink
    #[command(
        after_help = "Examples:\n  vpcctl disassociate-eip --vpc vpc1 --ip 203.0.113.10\n  vpcctl disassociate-eip --vpc vpc1 --subnet web"
    )]
    DisassociateEip(DisassociateEip),

    /// Put a network ACL (stateless, numbered rules) at a subnet's edge
    #[command(after_help = "\
The file:
  {\"inbound\":  [{\"rule\": 100, \"protocol\": \"tcp\", \"ports\": \"5432\", \"cidr\": \"10.10.1.0/24\", \"action\": \"allow\"}],
   \"outbound\": [{\"rule\": 100, \"protocol\": \"tcp\", \"ports\": \"1024-65535\", \"action\": \"allow\"}]}
Lowest rule number first; the first match wins; anything unmatched is
denied. Stateless: replies need their own rule. Enforced in the host, so
root inside the subnet cannot remove it. Replacing one is atomic.

Example:
  vpcctl apply-nacl --vpc vpc1 --subnet db --nacl examples/nacls/db.json")]
    ApplyNacl(ApplyNacl),

    /// Remove a subnet's network ACL
    #[command(after_help = "Example:\n  vpcctl remove-nacl --vpc vpc1 --subnet db")]
    RemoveNacl(AtSubnet),

    #[command(flatten)]
    Routing(routing::RoutingCommand),

    #[command(flatten)]
    Instances(instances::InstanceCommand),

    /// Flow logs: records of accepted and rejected traffic, in AWS's format
    #[command(subcommand)]
    FlowLogs(FlowLogsCommand),

    /// Apply a security-group policy (JSON) to a subnet, replacing the previous one
    #[command(
        alias = "apply-firewall",
        after_help = "\
Examples:
  vpcctl apply-policy --vpc vpc1 --subnet web --policy examples/policies/web.json
  vpcctl apply-policy vpc1 examples/policies/web.json     # subnet from the file's \"subnet\"
  vpcctl apply-firewall vpc1 web examples/policies/web.json"
    )]
    ApplyPolicy(ApplyPolicy),

    /// Run an app in a subnet (default: a small HTTP server naming who answered)
    #[command(after_help = "\
Examples:
  vpcctl deploy-app --vpc vpc1 --subnet web --port 80
  vpcctl deploy-app vpc1 web --port 8080
  vpcctl deploy-app vpc1 db --port 5432 -- nc -lk -p 5432")]
    DeployApp(DeployApp),

    /// Stop one app (--port) or every app of a subnet
    #[command(after_help = "Examples:\n  vpcctl stop-app --vpc vpc1 --subnet web --port 80\n  vpcctl stop-app vpc1 web")]
    StopApp(StopApp),

    /// Check whether a subnet reaches an address, or print the whole matrix
    #[command(after_help = "\
Examples:
  vpcctl test-connectivity --vpc vpc1 --from web --to 10.10.2.2 --port 5432
  vpcctl test-connectivity vpc1 web 10.20.1.2            # icmp
  vpcctl test-connectivity vpc1 web 10.10.2.2 --port 5432 --explain   # why, from the model
  vpcctl test-connectivity --matrix --port 80

Exit codes: 0 reachable (open), 1 not reachable (blocked), other: an error.")]
    TestConnectivity(TestConnectivity),

    /// Check a file of reachability expectations with real probes, and explain each miss
    #[command(after_help = "\
The file (or a topology file) has an \"expect\" list:
  {\"expect\": [{\"from\": \"vpc1/web\", \"to\": \"vpc1/db\", \"protocol\": \"tcp\", \"port\": 5432, \"reachable\": true},
              {\"from\": \"vpc3/lab\", \"to\": \"10.10.1.2\", \"reachable\": false}]}

Exit codes: 0 every expectation met, 1 any unmet, 2 a bad file.

Examples:
  vpcctl check -f expect.json
  vpcctl check -f expect.json --junit report.xml")]
    Check(CheckArgs),

    /// Show what 'apply' would change to make this host match a topology file
    #[command(after_help = "\
Prints one line per object that changes: + create, - delete, ~ change.

Exit codes with --detailed-exitcode: 0 nothing to do, 2 changes, 1 error.

Examples:
  vpcctl plan -f examples/topologies/three-tier.json
  vpcctl plan -f net.json -v                       # and the exact commands
  vpcctl plan -f net.json --detailed-exitcode || echo drift")]
    Plan(PlanArgs),

    /// Make this state dir's VPCs exactly what a topology file describes
    #[command(after_help = "\
Creates, changes and deletes VPCs, subnets, NAT, peerings, policies and apps
so that they match FILE. What did not change is not touched. Applying the
same file twice changes nothing the second time.

A change that deletes or replaces something is shown first and asked about
on a terminal; elsewhere (scripts, CI) it needs --auto-approve, and without
it nothing is changed. Creates and changes never ask.

Examples:
  vpcctl apply -f examples/topologies/three-tier.json
  vpcctl export > net.json && vpcctl apply -f net.json
  cat net.json | vpcctl apply -f - --auto-approve")]
    Apply(ApplyArgs),

    /// Make this host's WireGuard key pair (once) and print its public key
    #[command(after_help = "\
For a file with \"encryption\": \"wireguard\": run it on each host and put
what it prints in that host's \"wireguard_public_key\". The private key
stays in the state dir (mode 0600).

Example:
  vpcctl host-key")]
    HostKey,

    /// Print every VPC as a topology file that 'apply' accepts
    #[command(after_help = "Example:\n  vpcctl export > net.json")]
    Export,

    /// Rebuild what the record says and the kernel lacks (after a reboot or drift)
    #[command(after_help = "\
Recreates missing namespaces, bridges, veths, addresses, routes, rules and
policies, restarts recorded apps that are not running, and sets ip_forward.
Only what differs is touched; a second repair does nothing.

Examples:
  vpcctl repair
  vpcctl repair --dry-run        # the commands it would run")]
    Repair,

    /// Check the host and compare the kernel with the record, object by object
    #[command(
        alias = "verify",
        after_help = "\
Exits 1 when anything differs; 'vpcctl repair' fixes what it lists.

Example:\n  vpcctl doctor"
    )]
    Doctor,

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(after_help = "\
Examples:
  vpcctl completions bash > /usr/share/bash-completion/completions/vpcctl
  vpcctl completions zsh  > /usr/share/zsh/vendor-completions/_vpcctl
  vpcctl completions fish > /usr/share/fish/vendor_completions.d/vpcctl.fish
  source <(vpcctl completions bash)      # this shell only
scripts/install.sh installs them all.")]
    Completions(Completions),

    /// Print the man page (roff), or write one page per command into a directory
    #[command(
        after_help = "Examples:\n  vpcctl man | man -l -\n  vpcctl man --dir /usr/local/share/man/man1   # vpcctl.1, vpcctl-create-vpc.1, ..."
    )]
    Man(ManArgs),

    /// Draw the topology as Graphviz DOT (render with: dot -Tsvg)
    #[command(after_help = "\
VPCs are clusters; subnets show CIDR, address, public/private, policy and
apps; NAT goes to the uplink; peerings are edges labelled with their
allowed CIDRs.

Examples:
  vpcctl graph | dot -Tsvg > vpcs.svg
  vpcctl graph --vpc vpc1")]
    Graph(GraphArgs),

    /// Turn another tool's description of a network into a topology file
    #[command(subcommand)]
    Import(ImportCommand),

    /// Print the JSON Schema of a file format (topology, policy, nacl, expect)
    #[command(after_help = "\
Editors validate a file that names its schema:
  {\"$schema\": \"../schemas/topology.schema.json\", \"vpcs\": {...}}

Examples:
  vpcctl schema topology > topology.schema.json
  vpcctl schema policy")]
    Schema(SchemaArgs),

    /// Print vpcctl's version
    #[command(after_help = "Examples:\n  vpcctl version\n  vpcctl version -o json")]
    Version,

    /// Serve HTTP: the default app of deploy-app (internal)
    #[command(hide = true)]
    Serve(Serve),

    /// An app's PID namespace's init (internal: deploy-app starts it)
    #[command(hide = true)]
    AppInit(AppInit),
}

#[derive(Debug, Args)]
pub struct AppInit {
    /// The program, opened by the vpcctl that started this
    #[arg(long)]
    pub exe_fd: i32,
    #[arg(long)]
    pub uid: u32,
    #[arg(long)]
    pub gid: u32,
    /// The app's command line (its argv[0] first)
    #[arg(last = true, required = true)]
    pub argv: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Topology file (JSON); - reads standard input
    #[arg(short, long, value_name = "FILE")]
    pub file: PathBuf,
    /// Exit 2 when there are changes, 0 when there are none (1 is an error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// In a file with "hosts": the host this is (default: the one whose
    /// underlay address is on this machine)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write vpcctl.1 and a vpcctl-COMMAND.1 per command here
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A Terraform state or saved plan (`terraform show -json`) as a topology file
    #[command(after_help = "\
Reads the JSON 'terraform show -json' prints: a state, or a saved plan
('terraform show -json PLANFILE'), whose links come from its configuration's
references. Maps the aws provider's network resources (VPCs, subnets, internet
and NAT gateways with their EIPs, route tables and routes, security groups and
their rules, NACLs, instances) onto a topology file; lists anything else on
stderr as not imported (an error with --strict).

Examples:
  terraform show -json > tf.json && vpcctl import terraform tf.json --out net.json
  terraform show -json | vpcctl import terraform - > net.json
  vpcctl apply -f net.json && vpcctl check -f net.json")]
    Terraform(ImportTerraform),
}

#[derive(Debug, Args)]
pub struct ImportTerraform {
    /// The JSON `terraform show -json` printed; - reads standard input
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write the topology here instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Refuse a document with resources vpcctl does not import
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The file format
    #[arg(value_enum)]
    pub format: crate::model::schema::Format,
}

#[derive(Debug, Args)]
pub struct Completions {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Only this VPC (and the VPCs it is peered with, as edges)
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Expectations file (JSON), or a topology file with an "expect" list
    #[arg(short, long, value_name = "FILE", required_unless_present = "peers")]
    pub file: Option<PathBuf>,
    /// Instead: whether each other host of a multi-host file answers
    /// through the overlay's underlay (or WireGuard), and the age of its
    /// WireGuard handshake
    #[arg(long, conflicts_with_all = ["file", "junit"])]
    pub peers: bool,
    /// Also write a JUnit XML report here, one testcase per expectation
    #[arg(long, value_name = "OUT.xml")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Topology file (JSON); - reads standard input
    #[arg(short, long, value_name = "FILE")]
    pub file: PathBuf,
    /// In a file with "hosts": the host this is (default: the one whose
    /// underlay address is on this machine)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    #[command(flatten)]
    pub approve: Approve,
}

#[derive(Debug, Args)]
pub struct Approve {
    /// Destroy what the change destroys without asking (needed where no
    /// terminal can be asked: scripts, CI)
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct Serve {
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: std::net::IpAddr,
    #[arg(long)]
    pub port: u16,
    /// First words of every response body
    #[arg(long, default_value = "hello from vpcctl")]
    pub banner: String,
}

/// `exec`'s exit code when vpcctl itself fails (docker run's): the
/// command's own codes pass through, so vpcctl's errors use 125-127.
pub const EXEC_FAILED: i32 = 125;

/// The subcommand in raw arguments (the first word that is not a global
/// flag or its value), for what must be known even when parsing fails.
pub fn subcommand_name(args: impl Iterator<Item = String>) -> Option<String> {
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        if a == "--" {
            return None;
        }
        if matches!(a.as_str(), "--state-dir" | "-o" | "--output") {
            args.next();
            continue;
        }
        if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// Fields given either as flags or, in order, as positional arguments.
/// `create vpc1 --cidr C`, `create vpc1 C` and `create --name vpc1 --cidr C`
/// all resolve the same way.
pub fn fill<const N: usize>(fields: [(&'static str, Option<String>); N], positional: Vec<String>) -> Result<[String; N], InputError> {
    let mut rest = positional.into_iter();
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for (slot, (_, flag)) in out.iter_mut().zip(fields.iter()) {
        *slot = flag.clone().or_else(|| rest.next());
    }
    if let Some(extra) = rest.next() {
        return Err(usage(format!("unexpected argument {extra:?}")));
    }
    let mut values: [String; N] = std::array::from_fn(|_| String::new());
    for ((value, slot), (what, _)) in values.iter_mut().zip(out).zip(fields.iter()) {
        *value = slot.ok_or_else(|| usage(format!("missing {what}")))?;
    }
    Ok(values)
}

fn usage(e: String) -> InputError {
    InputError::Usage(format!("{e} (see 'vpcctl <command> --help' for the forms it accepts)"))
}

fn vpc_name(raw: &str) -> Result<Name, InputError> {
    Name::parse("VPC name", raw)
}

pub fn subnet_name(raw: &str) -> Result<Name, InputError> {
    Name::parse("subnet name", raw)
}

/// A port: 1-65535 (clap refuses anything else before we run).
fn port() -> clap::builder::RangedU64ValueParser<u16> {
    clap::builder::RangedU64ValueParser::<u16>::new().range(1..=65535)
}

/// One VPC, as --vpc or positionally.
#[derive(Debug, Args)]
pub struct VpcArg {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
    /// VPC, positionally
    #[arg(value_name = "VPC", num_args = 0..=1, add = complete::vpcs())]
    pub args: Vec<String>,
}

impl VpcArg {
    pub fn resolve(self) -> Result<Name, InputError> {
        let [vpc] = fill([("VPC (--vpc)", self.vpc)], self.args)?;
        vpc_name(&vpc)
    }
}

/// One VPC or several, as --name or positionally (inspect, delete).
#[derive(Debug, Args)]
pub struct VpcRef {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub name: Option<String>,
    /// NAME..., positionally
    #[arg(value_name = "NAME", num_args = 0.., add = complete::vpcs())]
    pub args: Vec<String>,
}

impl VpcRef {
    /// Every name given, each checked, none twice.
    pub fn resolve(self) -> Result<Vec<Name>, InputError> {
        let raw: Vec<String> = self.name.into_iter().chain(self.args).collect();
        if raw.is_empty() {
            return Err(usage("missing VPC name (--name)".into()));
        }
        let mut names: Vec<Name> = vec![];
        for r in &raw {
            let n = vpc_name(r)?;
            if !names.contains(&n) {
                names.push(n);
            }
        }
        Ok(names)
    }
}

/// A subnet of a VPC, as --vpc/--subnet or positionally.
#[derive(Debug, Args)]
pub struct AtSubnet {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
    /// Subnet name (or VPC/SUBNET)
    #[arg(long, add = complete::subnets())]
    pub subnet: Option<String>,
    /// VPC and SUBNET (or VPC/SUBNET), positionally
    #[arg(value_name = "VPC SUBNET", num_args = 0..=2, add = complete::paths())]
    pub args: Vec<String>,
}

/// Where an app or a command runs: a subnet's namespace or an instance's.
#[derive(Debug, Args)]
pub struct AtHost {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
    /// Subnet name (or VPC/SUBNET)
    #[arg(long, add = complete::subnets())]
    pub subnet: Option<String>,
    /// Instance name (or VPC/INSTANCE), instead of a subnet
    #[arg(long, conflicts_with = "subnet", add = complete::instances())]
    pub instance: Option<String>,
    /// VPC and SUBNET or INSTANCE (or VPC/NAME), positionally
    #[arg(value_name = "VPC NAME", num_args = 0..=2, add = complete::paths())]
    pub args: Vec<String>,
}

impl AtHost {
    pub fn resolve(self) -> Result<req::At, InputError> {
        let (vpc, name) = split_flags(self.vpc, self.subnet.or(self.instance));
        let [vpc, name] = fill([("VPC (--vpc)", vpc), ("subnet or instance (--subnet, --instance)", name)], split_path(self.args))?;
        Ok(req::At { vpc: vpc_name(&vpc)?, subnet: subnet_name(&name)? })
    }
}

/// `VPC/SUBNET` as the first positional is the VPC and the subnet: the one
/// form for a subnet that every command takes (names never hold a '/').
fn split_path(mut args: Vec<String>) -> Vec<String> {
    if let Some((vpc, subnet)) = args.first().and_then(|a| a.split_once('/')).map(|(v, s)| (v.to_string(), s.to_string())) {
        args.splice(0..1, [vpc, subnet]);
    }
    args
}

/// `--subnet VPC/SUBNET` without `--vpc`: the same form as a flag.
fn split_flags(vpc: Option<String>, subnet: Option<String>) -> (Option<String>, Option<String>) {
    match (vpc, subnet) {
        (None, Some(s)) if s.contains('/') => {
            let (v, s) = s.split_once('/').unwrap_or_default();
            (Some(v.to_string()), Some(s.to_string()))
        }
        other => other,
    }
}

impl AtSubnet {
    pub fn resolve(self) -> Result<req::At, InputError> {
        let (vpc, subnet) = split_flags(self.vpc, self.subnet);
        let [vpc, subnet] = fill([("VPC (--vpc)", vpc), ("subnet (--subnet)", subnet)], split_path(self.args))?;
        Ok(req::At { vpc: vpc_name(&vpc)?, subnet: subnet_name(&subnet)? })
    }
}

#[derive(Debug, Args)]
pub struct ExposeArgs {
    #[command(flatten)]
    pub at: AtSubnet,
    /// Port the app in the subnet listens on
    #[arg(long, value_parser = port())]
    pub port: u16,
    /// Port of the host that is forwarded
    #[arg(long, value_parser = port())]
    pub host_port: u16,
    /// Uplink to forward on (default: the default route's interface)
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Expose a private subnet too
    #[arg(long)]
    pub allow_private: bool,
}

#[derive(Debug, Args)]
pub struct UnexposeArgs {
    #[command(flatten)]
    pub vpc: VpcArg,
    /// The host port to stop forwarding
    #[arg(long, value_parser = port())]
    pub host_port: u16,
}

#[derive(Debug, Args)]
pub struct AssociateEip {
    #[command(flatten)]
    pub at: AtSubnet,
    /// The elastic IP: a free address of the uplink's subnet
    #[arg(long, value_name = "ADDR")]
    pub ip: Ipv4Addr,
    /// Uplink that carries it (default: the default route's interface)
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
}

#[derive(Debug, Args)]
pub struct DisassociateEip {
    #[command(flatten)]
    pub vpc: VpcArg,
    /// The elastic IP
    #[arg(long, value_name = "ADDR", required_unless_present = "subnet")]
    pub ip: Option<Ipv4Addr>,
    /// Or the subnet that has it
    #[arg(long, add = complete::subnets())]
    pub subnet: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyNacl {
    #[command(flatten)]
    pub at: AtSubnet,
    /// NACL file (JSON)
    #[arg(long, value_name = "FILE")]
    pub nacl: std::path::PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum FlowLogsCommand {
    /// Start recording the VPC's flows
    #[command(after_help = "Examples:\n  vpcctl flow-logs enable --vpc vpc1\n  vpcctl flow-logs enable vpc1 --window 10")]
    Enable(FlowLogsEnable),
    /// Stop recording the VPC's flows (its records stay until the VPC goes)
    Disable(VpcArg),
    /// Print the VPC's flow records
    #[command(after_help = "\
Fields (AWS's default format; '-' where there is no value):
  version account-id interface-id srcaddr dstaddr srcport dstport protocol
  packets bytes start end action log-status

Examples:
  vpcctl flow-logs show --vpc vpc1
  vpcctl flow-logs show vpc1 --json
  vpcctl flow-logs show vpc1 --follow")]
    Show(FlowLogsShow),
    /// The collector itself (started by enable; not for direct use)
    #[command(hide = true)]
    Collect,
}

#[derive(Debug, Args)]
pub struct FlowLogsEnable {
    #[command(flatten)]
    pub vpc: VpcArg,
    /// Seconds a flow is aggregated over before its record is written
    #[arg(long, value_name = "SECS", value_parser = clap::builder::RangedU64ValueParser::<u32>::new().range(1..=600))]
    pub window: Option<u32>,
}

#[derive(Debug, Args)]
pub struct FlowLogsShow {
    #[command(flatten)]
    pub vpc: VpcArg,
    /// Keep printing records as they are written
    #[arg(long)]
    pub follow: bool,
}

/// Two VPCs, as --a/--b or positionally.
#[derive(Debug, Args)]
pub struct PairArgs {
    /// First VPC
    #[arg(long, add = complete::vpcs())]
    pub a: Option<String>,
    /// Second VPC
    #[arg(long, add = complete::vpcs())]
    pub b: Option<String>,
    /// A and B, positionally
    #[arg(value_name = "A B", num_args = 0..=2, add = complete::vpcs())]
    pub args: Vec<String>,
}

impl PairArgs {
    pub fn resolve(self) -> Result<req::Pair, InputError> {
        let [a, b] = fill([("first VPC (--a)", self.a), ("second VPC (--b)", self.b)], self.args)?;
        Ok(req::Pair { a: vpc_name(&a)?, b: vpc_name(&b)? })
    }
}

#[derive(Debug, Args)]
pub struct CreateVpc {
    /// VPC name (lowercase letters, digits, '-')
    #[arg(long)]
    pub name: Option<String>,
    /// VPC address range, e.g. 10.10.0.0/16
    #[arg(long)]
    pub cidr: Option<String>,
    /// NAME and CIDR, positionally
    #[arg(value_name = "NAME CIDR", num_args = 0..=2)]
    pub args: Vec<String>,
    /// No resolver for this VPC (by default <subnet>.<vpc>.internal resolves
    /// in every subnet, and other names through the host's resolvers)
    #[arg(long)]
    pub no_dns: bool,
    /// The resolver answers <subnet>.<vpc>.internal names only, and
    /// forwards nothing: DNS cannot carry data out, even from a private subnet
    #[arg(long, conflicts_with = "no_dns")]
    pub no_dns_upstream: bool,
    /// The resolver drops upstream answers that point into private ranges
    /// (DNS rebinding)
    #[arg(long, conflicts_with = "no_dns")]
    pub stop_dns_rebind: bool,
}

impl CreateVpc {
    pub fn resolve(self) -> Result<req::NewVpc, InputError> {
        let [name, cidr] = fill([("VPC name (--name)", self.name), ("VPC CIDR (--cidr)", self.cidr)], self.args)?;
        let dns_options = crate::model::services::DnsOptions { upstream: !self.no_dns_upstream, stop_rebind: self.stop_dns_rebind };
        Ok(req::NewVpc { name: vpc_name(&name)?, cidr: cidr::parse("VPC CIDR", &cidr)?, dns: !self.no_dns, dns_options })
    }
}

#[derive(Debug, Args)]
pub struct AddSubnet {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
    /// Subnet name
    #[arg(long)]
    pub name: Option<String>,
    /// Subnet range inside the VPC, e.g. 10.10.1.0/24
    #[arg(long)]
    pub cidr: Option<String>,
    /// Same as --type public
    #[arg(long, conflicts_with = "kind")]
    pub public: bool,
    /// public or private (default: private)
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub kind: Option<SubnetKind>,
    /// VPC, NAME and CIDR, positionally
    #[arg(value_name = "VPC NAME CIDR", num_args = 0..=3)]
    pub args: Vec<String>,
}

impl AddSubnet {
    pub fn resolve(self) -> Result<req::NewSubnet, InputError> {
        let [vpc, name, cidr] = fill(
            [("VPC (--vpc)", self.vpc), ("subnet name (--name)", self.name), ("subnet CIDR (--cidr)", self.cidr)],
            split_path(self.args),
        )?;
        let kind = if self.public { SubnetKind::Public } else { self.kind.unwrap_or(SubnetKind::Private) };
        Ok(req::NewSubnet { vpc: vpc_name(&vpc)?, name: subnet_name(&name)?, cidr: cidr::parse("subnet CIDR", &cidr)?, kind })
    }
}

/// delete-subnet: --vpc and --name, or positionally.
#[derive(Debug, Args)]
pub struct SubnetRef {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
    /// Subnet name (or VPC/SUBNET)
    #[arg(long, add = complete::subnets())]
    pub name: Option<String>,
    /// VPC and NAME (or VPC/NAME), positionally
    #[arg(value_name = "VPC NAME", num_args = 0..=2, add = complete::paths())]
    pub args: Vec<String>,
}

impl SubnetRef {
    pub fn resolve(self) -> Result<req::At, InputError> {
        let (vpc, name) = split_flags(self.vpc, self.name);
        let [vpc, name] = fill([("VPC (--vpc)", vpc), ("subnet name (--name)", name)], split_path(self.args))?;
        Ok(req::At { vpc: vpc_name(&vpc)?, subnet: subnet_name(&name)? })
    }
}

#[derive(Debug, Args)]
pub struct EnableNat {
    #[command(flatten)]
    pub vpc: VpcArg,
    /// Uplink to translate to (default: the interface of the default route)
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Translate exactly these subnets (default: the VPC's public subnets)
    #[arg(long, alias = "subnet-filter", value_delimiter = ',', value_name = "A,B", add = complete::subnets())]
    pub subnets: Vec<String>,
}

impl EnableNat {
    pub fn resolve(self) -> Result<req::Nat, InputError> {
        let subnets = self.subnets.iter().map(|s| subnet_name(s)).collect::<Result<_, _>>()?;
        Ok(req::Nat { vpc: self.vpc.resolve()?, interface: self.interface, subnets })
    }
}

#[derive(Debug, Args)]
pub struct Peer {
    #[command(flatten)]
    pub pair: PairArgs,
    /// Only traffic between these CIDRs (each inside one of the two VPCs) passes
    #[arg(long, value_delimiter = ',', value_name = "C1,C2")]
    pub allow_cidrs: Vec<String>,
    /// The peering's name, for `create-route --peering` (default: A-B)
    #[arg(long)]
    pub name: Option<String>,
    /// Add no routes: traffic flows only where both sides' route tables send it (`create-route --peering`)
    #[arg(long)]
    pub no_routes: bool,
}

impl Peer {
    pub fn resolve(self) -> Result<req::Peering, InputError> {
        let allow = self.allow_cidrs.iter().map(|c| cidr::parse("allowed CIDR", c)).collect::<Result<_, _>>()?;
        let name = self.name.map(|n| Name::parse("peering name", &n)).transpose()?;
        Ok(req::Peering { pair: self.pair.resolve()?, allow, name, no_routes: self.no_routes })
    }
}

#[derive(Debug, Args)]
pub struct ApplyPolicy {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
    /// Subnet name (default: the subnet whose CIDR the file's "subnet" names)
    #[arg(long, add = complete::subnets())]
    pub subnet: Option<String>,
    /// Policy file (JSON)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<std::path::PathBuf>,
    /// VPC [SUBNET] FILE, positionally
    #[arg(value_name = "VPC [SUBNET] FILE", num_args = 0..=3)]
    pub args: Vec<String>,
}

impl ApplyPolicy {
    /// `apply-policy VPC FILE`, `apply-firewall VPC SUBNET FILE`, or flags:
    /// the first positional is the VPC, the last the file, one between is
    /// the subnet.
    pub fn resolve(self) -> Result<req::Policy, InputError> {
        let mut pos: std::collections::VecDeque<String> = split_path(self.args).into();
        let vpc = self.vpc.or_else(|| pos.pop_front()).ok_or_else(|| usage("missing VPC (--vpc)".into()))?;
        let file = match self.policy {
            Some(p) => p,
            None => pos.pop_back().ok_or_else(|| usage("missing policy file (--policy FILE)".into()))?.into(),
        };
        let subnet = self.subnet.or_else(|| pos.pop_front());
        if let Some(extra) = pos.pop_front() {
            return Err(usage(format!("unexpected argument {extra:?}")));
        }
        Ok(req::Policy { vpc: vpc_name(&vpc)?, subnet: subnet.as_deref().map(subnet_name).transpose()?, file })
    }
}

#[derive(Debug, Args)]
pub struct DeployApp {
    #[command(flatten)]
    pub at: AtHost,
    /// Port the app listens on
    #[arg(long, value_parser = port())]
    pub port: u16,
    /// Run as this user (default: a uid of the app's own, no capabilities, no groups); --user root opts out
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Command to run instead of the default HTTP server, after --
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl DeployApp {
    pub fn resolve(self) -> Result<req::App, InputError> {
        Ok(req::App { at: self.at.resolve()?, port: self.port, command: self.command, user: self.user })
    }
}

#[derive(Debug, Args)]
pub struct StopApp {
    #[command(flatten)]
    pub at: AtHost,
    /// Only the app on this port (default: all apps of the subnet)
    #[arg(long, value_parser = port())]
    pub port: Option<u16>,
}

impl StopApp {
    pub fn resolve(self) -> Result<req::StopApp, InputError> {
        Ok(req::StopApp { at: self.at.resolve()?, port: self.port })
    }
}

#[derive(Debug, Args)]
pub struct TestConnectivity {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
    /// Subnet or instance to test from (or VPC/NAME)
    #[arg(long, add = complete::subnets())]
    pub from: Option<String>,
    /// Instance to test from (the same as --from INSTANCE)
    #[arg(long, conflicts_with = "from", add = complete::instances())]
    pub instance: Option<String>,
    /// Address to reach, a subnet of the VPC, or VPC/SUBNET
    #[arg(long, add = complete::paths())]
    pub to: Option<String>,
    /// Port (tcp or udp)
    #[arg(long, value_parser = port())]
    pub port: Option<u16>,
    /// Default: tcp with --port, icmp without
    #[arg(long, value_enum)]
    pub protocol: Option<crate::model::Proto>,
    /// Every subnet of every VPC against every other
    #[arg(long, conflicts_with_all = ["vpc", "from", "instance", "to", "explain"])]
    pub matrix: bool,
    /// Explain from the model, hop by hop, why the path is open or blocked; send no packet
    #[arg(long)]
    pub explain: bool,
    /// VPC FROM TO, positionally (or VPC/FROM TO)
    #[arg(value_name = "VPC FROM TO", num_args = 0..=3, add = complete::paths())]
    pub args: Vec<String>,
}

/// Tcp with a port, icmp without; a port with icmp, or tcp/udp without one, is refused.
fn protocol(proto: Option<Proto>, port: Option<u16>) -> Result<Proto, InputError> {
    match (proto, port) {
        (Some(Proto::Icmp), Some(_)) => Err(InputError::Usage("--port makes no sense with --protocol icmp; drop one of them".into())),
        (Some(p @ (Proto::Tcp | Proto::Udp)), None) => {
            Err(InputError::Usage(format!("--protocol {} needs --port", format!("{p:?}").to_lowercase())))
        }
        (Some(p), _) => Ok(p),
        (None, Some(_)) => Ok(Proto::Tcp),
        (None, None) => Ok(Proto::Icmp),
    }
}

impl TestConnectivity {
    pub fn resolve_matrix(self) -> Result<req::Matrix, InputError> {
        if !self.args.is_empty() {
            return Err(usage("--matrix takes no VPC, FROM or TO".into()));
        }
        Ok(req::Matrix { protocol: protocol(self.protocol, self.port)?, port: self.port })
    }

    pub fn resolve(self) -> Result<req::Probe, InputError> {
        let (vpc, from) = split_flags(self.vpc, self.from.or(self.instance));
        let [vpc, from, to] =
            fill([("VPC (--vpc)", vpc), ("subnet to test from (--from)", from), ("address (--to)", self.to)], split_path(self.args))?;
        let vpc = vpc_name(&vpc)?;
        let bad = |to: &str| InputError::Usage(format!("--to {to:?} is not an IPv4 address (e.g. 10.10.2.2), a subnet or VPC/SUBNET"));
        let to = match (to.parse(), to.split_once('/')) {
            (Ok(addr), _) => req::Target::Addr(addr),
            (Err(_), Some((v, s))) => req::Target::Subnet(vpc_name(v).map_err(|_| bad(&to))?, subnet_name(s).map_err(|_| bad(&to))?),
            (Err(_), None) => req::Target::Subnet(vpc.clone(), subnet_name(&to).map_err(|_| bad(&to))?),
        };
        Ok(req::Probe { vpc, from: subnet_name(&from)?, to, protocol: protocol(self.protocol, self.port)?, port: self.port })
    }
}

#[derive(Debug, Args)]
pub struct Exec {
    #[command(flatten)]
    pub at: AtHost,
    /// The command to run, after -- (default: a shell, $SHELL or /bin/sh)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl Exec {
    pub fn resolve(self) -> Result<req::Exec, InputError> {
        let command = if self.command.is_empty() {
            vec![std::env::var("SHELL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into())]
        } else {
            self.command
        };
        Ok(req::Exec { at: self.at.resolve()?, command })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("vpcctl").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn create_forms_all_resolve_the_same() {
        for args in [
            &["create-vpc", "--name", "v", "--cidr", "10.0.0.0/16"][..],
            &["create", "v", "10.0.0.0/16"],
            &["create", "v", "--cidr", "10.0.0.0/16"],
            &["create-vpc", "v", "10.0.0.0/16", "--dry-run"],
        ] {
            let Command::CreateVpc(c) = parse(args).command else { panic!() };
            let r = c.resolve().unwrap();
            assert_eq!((r.name.as_str(), r.cidr.to_string().as_str()), ("v", "10.0.0.0/16"), "{args:?}");
        }
    }

    #[test]
    fn global_flags_before_or_after() {
        let a = parse(&["--state-dir", "/tmp/x", "-v", "list"]);
        let b = parse(&["list", "--state-dir", "/tmp/x", "-v"]);
        assert_eq!(a.state_dir, b.state_dir);
        assert_eq!((a.verbose, b.verbose), (1, 1));
    }

    #[test]
    fn subnet_forms_and_type() {
        let Command::AddSubnet(s) = parse(&["add-subnet", "v", "web", "10.0.1.0/24", "--type", "public"]).command else { panic!() };
        let r = s.resolve().unwrap();
        assert_eq!((r.vpc.as_str(), r.name.as_str(), r.kind), ("v", "web", SubnetKind::Public));
        assert!(Cli::try_parse_from(["vpcctl", "add-subnet", "v", "w", "--public", "--type", "private"]).is_err());
    }

    #[test]
    fn fill_reports_missing_and_extra() {
        let e = fill([("--name", None), ("--cidr", None)], vec!["x".into()]).unwrap_err().to_string();
        assert!(e.starts_with("missing --cidr"), "{e}");
        let e = fill([("--name", Some("x".into())), ("--cidr", Some("y".into()))], vec!["z".into()]).unwrap_err().to_string();
        assert!(e.starts_with("unexpected argument \"z\""), "{e}");
        assert_eq!(fill([("--name", Some("x".into())), ("--cidr", None)], vec!["y".into()]).unwrap(), ["x", "y"]);
    }

    #[test]
    fn names_cidrs_ports_and_protocols_are_checked_while_resolving() {
        let Command::CreateVpc(c) = parse(&["create-vpc", "Bad", "10.0.0.0/16"]).command else { panic!() };
        assert!(matches!(c.resolve(), Err(InputError::BadName { .. })));
        let Command::AddSubnet(s) = parse(&["add-subnet", "v", "w", "10.0.1.5/24"]).command else { panic!() };
        assert!(s.resolve().unwrap_err().to_string().contains("did you mean 10.0.1.0/24"));
        assert!(Cli::try_parse_from(["vpcctl", "deploy-app", "v", "s", "--port", "0"]).is_err(), "port 0 is refused by clap");
        let Command::TestConnectivity(t) = parse(&["test-connectivity", "v", "s", "10.0.0.2", "--protocol", "udp"]).command else {
            panic!()
        };
        assert!(matches!(t.resolve(), Err(InputError::Usage(_))));
        let Command::TestConnectivity(t) = parse(&["test-connectivity", "v", "s", "10.0.0.2", "--port", "80"]).command else { panic!() };
        assert_eq!(t.resolve().unwrap().protocol, Proto::Tcp);
        let Command::TestConnectivity(t) = parse(&["test-connectivity", "vpc1", "web", "shop/db"]).command else { panic!() };
        let r = t.resolve().unwrap();
        assert_eq!((r.vpc.as_str(), r.from.as_str()), ("vpc1", "web"));
        assert_eq!(r.to, req::Target::Subnet(vpc_name("shop").unwrap(), subnet_name("db").unwrap()));
        let Command::TestConnectivity(t) = parse(&["test-connectivity", "vpc1/web", "db"]).command else { panic!() };
        assert_eq!(t.resolve().unwrap().to, req::Target::Subnet(vpc_name("vpc1").unwrap(), subnet_name("db").unwrap()));
        for args in [
            &["deploy-app", "v/s", "--port", "80"][..],
            &["deploy-app", "v", "s", "--port", "80"],
            &["deploy-app", "--subnet", "v/s", "--port", "80"],
        ] {
            let Command::DeployApp(d) = parse(args).command else { panic!() };
            let r = d.resolve().unwrap();
            assert_eq!((r.at.vpc.as_str(), r.at.subnet.as_str()), ("v", "s"), "{args:?}");
        }
        let Command::ApplyPolicy(p) = parse(&["apply-firewall", "v", "web", "p.json"]).command else { panic!() };
        let r = p.resolve().unwrap();
        assert_eq!((r.vpc.as_str(), r.subnet.map(|s| s.to_string()), r.file), ("v", Some("web".into()), "p.json".into()));
    }

    #[test]
    fn aliases_and_exec() {
        for cmd in ["ls", "list"] {
            assert!(matches!(parse(&[cmd]).command, Command::List));
        }
        for cmd in ["cleanup", "cleanup-all", "teardown-all"] {
            assert!(matches!(parse(&[cmd]).command, Command::TeardownAll(_)));
        }
        assert!(matches!(parse(&["verify"]).command, Command::Doctor));
        let Command::Exec(e) = parse(&["exec", "--vpc", "v", "--subnet", "s", "--", "ping", "-c1", "x"]).command else { panic!() };
        let r = e.resolve().unwrap();
        assert_eq!((r.at.vpc.as_str(), r.at.subnet.as_str()), ("v", "s"));
        assert_eq!(r.command, ["ping", "-c1", "x"]);
    }
}
