//! vpcctl: AWS-style VPCs on one Linux host.

mod analyze;
mod apps;
mod cli;
mod commands;
mod error;
mod host;
mod httpd;
mod model;
mod plan;
mod observe;
mod probe;
mod runner;
mod state;

use clap::Parser;

use cli::{fill, Cli, Command};
use commands::Ctx;
use model::SubnetKind;

fn main() {
    // Behave like other Unix tools when stdout is closed early (`| head`).
    // SAFETY: setting a signal disposition before any threads exist.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let json = std::env::args().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are clap "errors" that exit 0.
        Err(e) if !json || !e.use_stderr() => e.exit(),
        Err(e) => {
            let text = e.to_string();
            let msg = text.lines().next().unwrap_or_default().trim_start_matches("error: ");
            eprintln!("{}", serde_json::json!({"error": msg, "kind": error::Kind::Usage.as_str()}));
            std::process::exit(error::Kind::Usage.code());
        }
    };
    init_logging(cli.verbose, cli.quiet);
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let kind = error::Kind::of(&e);
            if json {
                eprintln!("{}", serde_json::json!({"error": format!("{e:#}"), "kind": kind.as_str()}));
            } else {
                eprintln!("error: {e:#}");
            }
            kind.code()
        }
    };
    std::process::exit(code);
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VPCCTL_LOG").unwrap_or_else(|_| level.into()))
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
}

fn usage(e: String) -> anyhow::Error {
    error::InputError::Usage(format!("{e} (see 'vpcctl <command> --help' for the forms it accepts)")).into()
}

/// `apply-policy VPC FILE`, `apply-firewall VPC SUBNET FILE`, or flags:
/// the first positional is the VPC, the last the file, one between is the
/// subnet.
fn policy_args(a: &mut cli::ApplyPolicy) -> Result<(String, Option<String>, String), String> {
    let mut pos: std::collections::VecDeque<String> = std::mem::take(&mut a.args).into();
    let vpc = a.vpc.take().or_else(|| pos.pop_front()).ok_or("missing VPC (--vpc)")?;
    let file = match a.policy.take() {
        Some(p) => p.to_string_lossy().into_owned(),
        None => pos.pop_back().ok_or("missing policy file (--policy FILE)")?,
    };
    let subnet = a.subnet.take().or_else(|| pos.pop_front());
    if let Some(extra) = pos.pop_front() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    Ok((vpc, subnet, file))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let verbose = cli.verbose > 0;
    let ctx = Ctx::new(cli.state_dir, cli.dry_run, cli.json, cli.quiet, verbose);
    match cli.command {
        Command::CreateVpc(mut a) => {
            let (mut name, mut cidr) = (a.name.take(), a.cidr.take());
            fill(&mut [("VPC name (--name)", &mut name), ("VPC CIDR (--cidr)", &mut cidr)], a.args).map_err(usage)?;
            commands::vpc::create(&ctx, &name.unwrap(), &cidr.unwrap())?;
        }
        Command::AddSubnet(mut a) => {
            let (mut vpc, mut name, mut cidr) = (a.vpc.take(), a.name.take(), a.cidr.take());
            fill(
                &mut [("VPC (--vpc)", &mut vpc), ("subnet name (--name)", &mut name), ("subnet CIDR (--cidr)", &mut cidr)],
                a.args,
            )
            .map_err(usage)?;
            let kind = if a.public { SubnetKind::Public } else { a.kind.unwrap_or(SubnetKind::Private) };
            commands::subnet::add(&ctx, &vpc.unwrap(), &name.unwrap(), &cidr.unwrap(), kind)?;
        }
        Command::DeleteSubnet(mut a) => {
            let (mut vpc, mut name) = (a.vpc.take(), a.name.take());
            fill(&mut [("VPC (--vpc)", &mut vpc), ("subnet name (--name)", &mut name)], a.args).map_err(usage)?;
            commands::subnet::delete(&ctx, &vpc.unwrap(), &name.unwrap())?;
        }
        Command::List => commands::show::list(&ctx)?,
        Command::Inspect(mut a) => {
            let mut name = a.name.take();
            fill(&mut [("VPC name (--name)", &mut name)], a.args).map_err(usage)?;
            commands::show::inspect(&ctx, &name.unwrap())?;
        }
        Command::Delete(mut a) => {
            let mut name = a.name.take();
            fill(&mut [("VPC name (--name)", &mut name)], a.args).map_err(usage)?;
            commands::vpc::delete(&ctx, &name.unwrap())?;
        }
        Command::TeardownAll => commands::vpc::teardown_all(&ctx)?,
        Command::Exec(mut a) => {
            let (mut vpc, mut subnet) = (a.vpc.take(), a.subnet.take());
            fill(&mut [("VPC (--vpc)", &mut vpc), ("subnet (--subnet)", &mut subnet)], a.args).map_err(usage)?;
            return commands::run_exec(&ctx, &vpc.unwrap(), &subnet.unwrap(), &a.command);
        }
        Command::EnableNat(mut a) => {
            let mut vpc = a.vpc.take();
            fill(&mut [("VPC (--vpc)", &mut vpc)], a.args).map_err(usage)?;
            commands::nat::enable(&ctx, &vpc.unwrap(), a.interface.as_deref(), &a.subnets)?;
        }
        Command::DisableNat(mut a) => {
            let mut vpc = a.vpc.take();
            fill(&mut [("VPC (--vpc)", &mut vpc)], a.args).map_err(usage)?;
            commands::nat::disable(&ctx, &vpc.unwrap())?;
        }
        Command::Peer(mut p) => {
            let (mut a, mut b) = (p.a.take(), p.b.take());
            fill(&mut [("first VPC (--a)", &mut a), ("second VPC (--b)", &mut b)], p.args).map_err(usage)?;
            commands::peering::peer(&ctx, &a.unwrap(), &b.unwrap(), &p.allow_cidrs)?;
        }
        Command::Unpeer(mut p) => {
            let (mut a, mut b) = (p.a.take(), p.b.take());
            fill(&mut [("first VPC (--a)", &mut a), ("second VPC (--b)", &mut b)], p.args).map_err(usage)?;
            commands::peering::unpeer(&ctx, &a.unwrap(), &b.unwrap())?;
        }
        Command::ApplyPolicy(mut a) => {
            let (vpc, subnet, file) = policy_args(&mut a).map_err(usage)?;
            commands::policy::apply(&ctx, &vpc, subnet.as_deref(), std::path::Path::new(&file))?;
        }
        Command::DeployApp(mut a) => {
            let (mut vpc, mut subnet) = (a.vpc.take(), a.subnet.take());
            fill(&mut [("VPC (--vpc)", &mut vpc), ("subnet (--subnet)", &mut subnet)], a.args).map_err(usage)?;
            commands::app::deploy(&ctx, &vpc.unwrap(), &subnet.unwrap(), a.port, a.command)?;
        }
        Command::StopApp(mut a) => {
            let (mut vpc, mut subnet) = (a.vpc.take(), a.subnet.take());
            fill(&mut [("VPC (--vpc)", &mut vpc), ("subnet (--subnet)", &mut subnet)], a.args).map_err(usage)?;
            commands::app::stop(&ctx, &vpc.unwrap(), &subnet.unwrap(), a.port)?;
        }
        Command::TestConnectivity(mut a) => {
            if a.matrix {
                if !a.args.is_empty() {
                    return Err(usage("--matrix takes no VPC, FROM or TO".into()));
                }
                return commands::connectivity::matrix(&ctx, a.port, a.protocol);
            }
            let (mut vpc, mut from, mut to) = (a.vpc.take(), a.from.take(), a.to.take());
            fill(&mut [("VPC (--vpc)", &mut vpc), ("subnet to test from (--from)", &mut from), ("address (--to)", &mut to)], a.args)
                .map_err(usage)?;
            let to = to.unwrap();
            let ip: std::net::Ipv4Addr =
                to.parse().map_err(|_| error::InputError::Usage(format!("--to {to:?} is not an IPv4 address (e.g. 10.10.2.2)")))?;
            if a.explain {
                return commands::connectivity::explain(&ctx, &vpc.unwrap(), &from.unwrap(), ip, a.port, a.protocol);
            }
            return commands::connectivity::single(&ctx, &vpc.unwrap(), &from.unwrap(), ip, a.port, a.protocol);
        }
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(a.shell, &mut cmd, "vpcctl", &mut std::io::stdout());
        }
        Command::Man => print!("{}", cli::man_page()?),
        Command::Graph(a) => commands::graph::run(&ctx, a.vpc.as_deref())?,
        Command::Check(a) => return commands::check::run(&ctx, &a.file, a.junit.as_deref()),
        Command::Plan(a) => return commands::topology::plan(&ctx, &a.file, a.detailed_exitcode, verbose),
        Command::Apply(a) => commands::topology::apply(&ctx, &a.file)?,
        Command::Export => commands::topology::export(&ctx)?,
        Command::Repair => commands::repair::run(&ctx)?,
        Command::Doctor => return commands::doctor::run(&ctx),
        Command::Serve(a) => httpd::serve(a.bind, a.port, &a.banner)?,
    }
    Ok(0)
}
