//! vpcctl: AWS-style VPCs on one Linux host.

// First: its macros (out!, outln!, errln!) are used by every module below.
#[macro_use]
mod out;
mod analyze;
mod cli;
mod commands;
mod engine;
mod error;
mod helpers;
mod kernel;
mod model;
mod plan;
mod state;

use cli::{Cli, Command};

fn main() {
    // SIGPIPE stays ignored (Rust's default): a reader that goes away
    // (`| head`) must not end vpcctl in the middle of a change (see `out`).
    // Whatever the caller's umask, what vpcctl creates is private unless
    // it says otherwise (see `files`); the helpers it starts inherit this.
    // SAFETY: umask(2) has no preconditions.
    unsafe { libc::umask(0o077) };
    // `COMPLETE=bash vpcctl ...` is the shell asking for completions.
    clap_complete::CompleteEnv::with_factory(cli::command).complete();
    let json = std::env::args().any(|a| a == "--json");
    let detailed = std::env::args().any(|a| a == "--detailed-exitcode");
    let exec = cli::subcommand_name(std::env::args().skip(1)).as_deref() == Some("exec");
    let parsed = cli::command().try_get_matches().and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        // --help and --version are clap "errors" that exit 0.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) if detailed => {
            let _ = e.print();
            std::process::exit(1);
        }
        Err(e) if exec => {
            // As docker run: 125 is vpcctl's own failure, never the command's.
            let _ = e.print();
            if e.kind() == clap::error::ErrorKind::UnknownArgument || e.kind() == clap::error::ErrorKind::TooManyValues {
                errln!("hint: put the command after '--', e.g. vpcctl exec vpc1 web -- ping -c1 10.10.2.2");
            }
            std::process::exit(cli::EXEC_FAILED);
        }
        Err(e) if !json => e.exit(),
        Err(e) => {
            let text = e.to_string();
            let msg = text.lines().next().unwrap_or_default().trim_start_matches("error: ");
            errln!("{}", serde_json::json!({"error": msg, "kind": error::Kind::Usage.as_str()}));
            std::process::exit(error::Kind::Usage.code());
        }
    };
    init_logging(cli.verbose, cli.quiet);
    // As terraform's: 2 means "changes", so every error is 1.
    let detailed = matches!(&cli.command, Command::Plan(a) if a.detailed_exitcode);
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let kind = error::Kind::of(&e);
            if json {
                errln!("{}", serde_json::json!({"error": format!("{e:#}"), "kind": kind.as_str()}));
            } else {
                errln!("error: {e:#}");
            }
            if detailed {
                1
            } else if exec {
                e.downcast_ref::<commands::ExecError>().map_or(cli::EXEC_FAILED, |x| x.code())
            } else {
                kind.code()
            }
        }
    };
    // Everything is done; now say that some output was lost, quietly.
    std::process::exit(if out::closed() && code == 0 { out::CLOSED_PIPE_EXIT } else { code });
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
        // Colour for a person at a terminal only: never escapes in a pipe or a log.
        .with_ansi(out::colour(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let verbose = cli.verbose > 0;
    let output = cli.output();
    check_output(&cli.command, output)?;
    // Absolute: the helpers vpcctl starts are handed paths under it.
    let state_dir = std::path::absolute(&cli.state_dir).unwrap_or(cli.state_dir);
    let ctx = Ctx::new(state_dir, cli.dry_run, output, cli.quiet, verbose);
    use commands::*;
    match cli.command {
        Command::CreateVpc(a) => vpc::create(&ctx, a.resolve()?)?,
        Command::AddSubnet(a) => subnet::add(&ctx, a.resolve()?)?,
        Command::DeleteSubnet(a) => subnet::delete(&ctx, a.resolve()?)?,
        Command::List => show::list(&ctx)?,
        Command::Inspect(a) => show::inspect(&ctx, &a.resolve()?)?,
        Command::Delete(a) => vpc::delete(&ctx, &a.resolve()?)?,
        Command::TeardownAll(a) => vpc::teardown_all(&ctx, a.auto_approve)?,
        Command::Exec(a) => return run_exec(&ctx, a.resolve()?),
        Command::EnableNat(a) => nat::enable(&ctx, a.resolve()?)?,
        Command::DisableNat(a) => nat::disable(&ctx, &a.resolve()?)?,
        Command::Peer(a) => peering::peer(&ctx, a.resolve()?)?,
        Command::Unpeer(a) => peering::unpeer(&ctx, a.resolve()?)?,
        Command::Expose(a) => expose::expose(&ctx, a)?,
        Command::Unexpose(a) => expose::unexpose(&ctx, &a.vpc.resolve()?, a.host_port)?,
        Command::AssociateEip(a) => expose::associate(&ctx, a)?,
        Command::DisassociateEip(a) => expose::disassociate(&ctx, a)?,
        Command::ApplyNacl(a) => nacl::apply(&ctx, a)?,
        Command::RemoveNacl(a) => nacl::remove(&ctx, a.resolve()?)?,
        Command::Routing(c) => routing::run(&ctx, c)?,
        Command::Instances(c) => instances::run(&ctx, c)?,
        Command::FlowLogs(c) => return flow_logs::run(&ctx, c),
        Command::ApplyPolicy(a) => policy::apply(&ctx, a.resolve()?)?,
        Command::DeployApp(a) => app::deploy(&ctx, a.resolve()?)?,
        Command::StopApp(a) => app::stop(&ctx, a.resolve()?)?,
        Command::TestConnectivity(a) if a.matrix => return connectivity::matrix(&ctx, a.resolve_matrix()?),
        Command::TestConnectivity(a) if a.explain => return connectivity::explain(&ctx, a.resolve()?),
        Command::TestConnectivity(a) => return connectivity::single(&ctx, a.resolve()?),
        Command::Check(a) => match &a.file {
            Some(f) if !a.peers => return check::run(&ctx, f, a.junit.as_deref()),
            _ => return check::peers(&ctx),
        },
        Command::Plan(a) => return topology::plan(&ctx, &a.file, a.host.as_deref(), a.detailed_exitcode, verbose),
        Command::Apply(a) => topology::apply(&ctx, &a.file, a.host.as_deref(), a.approve.auto_approve)?,
        Command::HostKey => fabric::host_key(&ctx)?,
        Command::Export => topology::export(&ctx)?,
        Command::Repair => repair::run(&ctx)?,
        Command::Doctor => return doctor::run(&ctx),
        Command::Graph(a) => graph::run(&ctx, a.vpc.as_deref())?,
        Command::Completions(a) => cli::write_completions(a.shell)?,
        Command::Man(a) => match a.dir {
            Some(dir) => {
                let pages = cli::man_pages()?;
                if !ctx.dry_run {
                    std::fs::create_dir_all(&dir)?;
                    for (name, text) in &pages {
                        std::fs::write(dir.join(name), text)?;
                    }
                }
                let verb = if ctx.dry_run { "would write" } else { "wrote" };
                ctx.say(format!("{verb} {} man pages to {}", pages.len(), dir.display()));
            }
            None => out!("{}", cli::man_page()?),
        },
        Command::Import(cli::ImportCommand::Terraform(a)) => return import::terraform(&ctx, &a),
        Command::Schema(a) => outln!("{}", serde_json::to_string_pretty(&model::schema::of(a.format))?),
        Command::Version if ctx.json => ctx.doc_line(&serde_json::json!({"version": env!("CARGO_PKG_VERSION")}))?,
        Command::Version => outln!("vpcctl {}", env!("CARGO_PKG_VERSION")),
        Command::Serve(a) => helpers::httpd::serve(a.bind, a.port, &a.banner)?,
        Command::AppInit(a) => return helpers::apps::app_init(a.exe_fd, a.uid, a.gid, &a.argv),
    }
    Ok(0)
}

/// Refuse an output format a command cannot give, rather than ignore it.
fn check_output(command: &Command, output: cli::Output) -> anyhow::Result<()> {
    use cli::Output::*;
    let name = match command {
        Command::Graph(_) => Some("graph prints Graphviz DOT only"),
        Command::Exec(_) => Some("exec prints what the command prints"),
        Command::Completions(_) | Command::Man(_) | Command::Schema(_) => Some("it prints a file for a shell, man or an editor"),
        _ => None,
    };
    let structured_ok = name.is_none();
    let rows_ok = matches!(command, Command::List | Command::Inspect(_));
    let fine = match output {
        Text => true,
        Json | Yaml => structured_ok,
        Wide | Name => rows_ok,
    };
    if fine {
        return Ok(());
    }
    let why = name.unwrap_or("only list and inspect have -o wide and -o name");
    let flag = format!("{output:?}").to_lowercase();
    Err(error::InputError::Usage(format!("-o {flag} (or --json) does not apply here: {why}; drop the flag")).into())
}
