//! Processes vpcctl runs in subnets (deploy-app): start them detached,
//! know when they listen, and stop them without ever killing a stranger
//! who inherited a recycled PID.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Fields of /proc/PID/stat after the command name: state and start time.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
    Some((fields.first()?.chars().next()?, fields.get(19)?.parse().ok()?))
}

/// A process's command line, word by word (empty if it is gone or not
/// visible from here).
pub fn cmdline(pid: &str) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|(_, t)| t)
}

/// The recorded process is still the one we started, and not a zombie.
pub fn is_ours(pid: u32, recorded_start: u64) -> bool {
    matches!(stat(pid), Some((state, t)) if t == recorded_start && state != 'Z' && state != 'X')
}

/// The real uid a process runs as now (from /proc/PID/status).
pub fn uid_of(pid: u32) -> Option<libc::uid_t> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

/// Whether a recorded helper is still the process we started, and none
/// of its process group (ulogd, under the collector) is stopped: a
/// SIGSTOPped resolver or log daemon serves nothing, though it exists.
pub fn helper_running(h: &crate::model::services::Helper) -> bool {
    h.pid != 0 && is_ours(h.pid, h.start_time) && !group_stopped(h.pid)
}

/// Whether `pid` or a process under it (ulogd under the collector, an
/// app under its init) is stopped (SIGSTOP, or being traced). A few reads
/// of /proc, not a scan of it: every change asks this of every resolver.
pub fn group_stopped(pid: u32) -> bool {
    let mut todo = vec![(pid, 0)];
    while let Some((p, depth)) = todo.pop() {
        if matches!(stat(p), Some(('T' | 't', _))) {
            return true;
        }
        if depth < 3 {
            let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
            todo.extend(children.split_whitespace().filter_map(|c| c.parse().ok()).map(|c| (c, depth + 1)));
        }
    }
    false
}

/// The uids (and gids) vpcctl gives apps started without `--user`: each
/// app its own, so a hole in one app cannot signal, ptrace or read
/// (/proc/PID/environ, maps) another VPC's app or a resolver. No user
/// database entry is needed; nothing else on a host uses this range.
pub const APP_UIDS: std::ops::Range<u32> = 0x7000_0000..0x7001_0000;

/// Who an app runs as: a named user (`--user`; root opts out of all of
/// this), or a uid of its own from `APP_UIDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    User(String),
    Own(u32),
}

impl Who {
    pub fn of(app: &crate::model::App) -> Who {
        match (&app.user, app.uid) {
            (Some(u), _) => Who::User(u.clone()),
            (None, Some(uid)) => Who::Own(uid),
            (None, None) => Who::Own(APP_UIDS.start),
        }
    }

    fn ids(&self) -> Result<(libc::uid_t, libc::gid_t)> {
        match self {
            Who::User(name) => lookup_user(name),
            Who::Own(uid) => Ok((*uid, *uid)),
        }
    }
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::User(u) => write!(f, "{u}"),
            Who::Own(uid) => write!(f, "uid {uid}"),
        }
    }
}

/// A uid of `APP_UIDS` for a new app: none that `state` records and none
/// that a running process has (another state dir's apps). `key` picks
/// where to start looking, so a restarted app tends to get its old one.
pub fn free_app_uid(state: &crate::model::State, key: &str) -> u32 {
    let recorded: std::collections::HashSet<u32> =
        state.vpcs.iter().flat_map(|v| &v.subnets).flat_map(|s| &s.apps).filter_map(|a| a.uid).collect();
    let running = running_uids();
    let span = APP_UIDS.end - APP_UIDS.start;
    let first = (crate::model::kernel_names::stable_hash(key) % u64::from(span)) as u32;
    (0..span).map(|i| APP_UIDS.start + (first + i) % span).find(|u| !recorded.contains(u) && !running.contains(u)).unwrap_or(APP_UIDS.start)
}

/// The real uids of every process, from /proc/*/status.
fn running_uids() -> std::collections::HashSet<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else { return Default::default() };
    procs
        .flatten()
        .filter_map(|p| p.file_name().to_string_lossy().parse::<u32>().ok())
        .filter_map(uid_of)
        .filter(|u| APP_UIDS.contains(u))
        .collect()
}

/// Where cgroup v2 is mounted, from /proc/self/mountinfo (field 5 is the
/// mount point; the filesystem type follows the " - " separator). A mount
/// can be covered by a later one (a new sysfs over /sys): the path must
/// still be cgroup v2 by statfs, or a mkdir there would make a cgroup
/// somewhere else.
fn cgroup2_root() -> Option<std::path::PathBuf> {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let is_cgroup2 = |p: &std::path::Path| {
        let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else { return false };
        // SAFETY: statfs into a zeroed struct we own, with a valid path.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0) && st.f_type as i64 == CGROUP2_SUPER_MAGIC
    };
    info.lines().rev().find_map(|l| {
        let (head, tail) = l.split_once(" - ")?;
        if tail.split_whitespace().next() != Some("cgroup2") {
            return None;
        }
        let p = std::path::PathBuf::from(head.split_whitespace().nth(4)?);
        is_cgroup2(&p).then_some(p)
    })
}

/// An app's own cgroup (cgroup v2): every process it starts stays in it,
/// whatever it does with sessions and process groups, so stopping it ends
/// them all. The hierarchy is the whole machine's, so the path names the
/// network namespace vpcctl runs in (a host, or a sandbox) and the app's
/// log path (state dir, VPC, subnet, port). `None` where the host has no
/// cgroup v2; then only its process group is signalled.
pub fn app_cgroup(log: &Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let netns = std::fs::metadata("/proc/self/ns/net").ok()?.ino();
    let name = format!("app-{:016x}", crate::model::kernel_names::stable_hash(&log.display().to_string()));
    Some(cgroup2_root()?.join("vpcctl.apps").join(netns.to_string()).join(name))
}

/// Make the app's cgroup and open its `cgroup.procs`, for the child to
/// move itself in (writing "0") before it drops root.
fn open_cgroup(log: &Path) -> Option<std::fs::File> {
    let cg = app_cgroup(log)?;
    // Empty cgroups of apps that died with their host (a sandbox, a crash)
    // go now: a running app is never in an empty one, and app starts
    // hold the host lock.
    if let Some(Ok(siblings)) = cg.parent().map(std::fs::read_dir) {
        for s in siblings.flatten().filter(|s| s.path().is_dir() && s.file_name().to_string_lossy().starts_with("app-")) {
            let _ = std::fs::remove_dir(s.path());
        }
    }
    // Twice: another run may remove an empty parent under our feet.
    std::fs::create_dir_all(&cg).or_else(|_| std::fs::create_dir_all(&cg)).ok()?;
    std::fs::OpenOptions::new().write(true).open(cg.join("cgroup.procs")).ok()
}

/// End every process left in the app's cgroup (`cgroup.kill`) and remove
/// it. After `stop`, this takes what escaped the process group
/// (`setsid sleep 1000 &`).
pub fn end_cgroup(log: &Path) {
    let Some(cg) = app_cgroup(log) else { return };
    if !cg.exists() {
        return;
    }
    let _ = std::fs::write(cg.join("cgroup.kill"), "1");
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let events = std::fs::read_to_string(cg.join("cgroup.events")).unwrap_or_default();
        if !events.lines().any(|l| l == "populated 1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if let Err(e) = std::fs::remove_dir(&cg) {
        tracing::warn!("cannot remove the app's cgroup {}: {e}", cg.display());
    }
    // The parents go with the last app (removing one fails while others remain).
    for parent in cg.ancestors().skip(1).take(2) {
        let _ = std::fs::remove_dir(parent);
    }
}

/// The system users the helpers drop to, where the host has them
/// (scripts/deps.sh and scripts/install.sh make them): then no app, and no
/// other daemon running as `nobody`, shares a uid with a resolver or the
/// log daemon.
pub use crate::model::services::{DNS_USER, FLOWLOG_USER};

/// `dedicated` if the host has that user, else `nobody` (doctor warns).
pub fn helper_user(dedicated: &'static str) -> &'static str {
    if lookup_user(dedicated).is_ok() { dedicated } else { "nobody" }
}

/// What an app's environment holds: nothing of vpcctl's own (a secret in
/// root's environment must not reach an app), just enough to run.
pub const APP_ENV: [(&str, &str); 3] =
    [("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), ("HOME", "/"), ("LANG", "C.UTF-8")];

/// A user's uid and primary gid, from the password database.
pub fn lookup_user(name: &str) -> Result<(libc::uid_t, libc::gid_t)> {
    let c = std::ffi::CString::new(name).map_err(|_| anyhow::anyhow!("user name {name:?} has a NUL byte"))?;
    // SAFETY: getpwnam with a valid C string; the result is read at once,
    // before anything else could call getpw*.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return Err(crate::error::InputError::NotFound(format!(
            "no user named {name:?} on this host (see 'getent passwd'); use --user NAME"
        ))
        .into());
    }
    // SAFETY: non-null pointer from getpwnam.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// A process's log, for its stdout and stderr: 0600, truncated, and never
/// through a link planted where the log goes.
fn open_log(log: &Path) -> Result<(std::fs::File, std::fs::File)> {
    if let Some(dir) = log.parent() {
        crate::kernel::files::ensure_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let out = crate::kernel::files::create(log, 0o600).with_context(|| format!("cannot create log file {}", log.display()))?;
    let err = out.try_clone()?;
    Ok((out, err))
}

/// Start `command` inside `netns` as `who` (uid 0: as full root), in its
/// own session and cgroup, output to `log`. The namespace and the program
/// are opened here, as root; the child moves into the app's cgroup, joins
/// the namespace, takes a mount namespace of its own (the subnet's
/// resolv.conf), lets unprivileged users bind ports below 1024 there, and
/// runs `vpcctl app-init` (see `app_init`), whose children start a new PID
/// namespace. The returned child is app-init: the PID vpcctl records.
pub fn spawn_in_netns(netns: &str, command: &[String], log: &Path, who: &Who) -> Result<Child> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // Apps' logs (`apps/<vpc>/`) are root's alone, whatever was there.
    for d in log.ancestors().skip(1).take(2) {
        crate::kernel::files::dir(d, 0o700).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let (out, err) = open_log(log)?;
    let (uid, gid) = who.ids()?;
    let cgroup = open_cgroup(log);
    let cgroup_fd = cgroup.as_ref().map_or(-1, |f| f.as_raw_fd());
    let ns = std::fs::File::open(format!("/run/netns/{netns}")).with_context(|| format!("cannot open network namespace {netns}"))?;
    let program = command.first().ok_or_else(|| anyhow::anyhow!("an app needs a command"))?;
    let path = which::which(program).with_context(|| format!("cannot find {program:?} to run (on root's PATH)"))?;
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).context("program path has a NUL byte")?;
    // No O_CLOEXEC: a script's interpreter opens it again through /proc/self/fd.
    // SAFETY: open(2) with a valid path; the fd is owned below.
    let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDONLY) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("cannot open {}", path.display()));
    }
    // SAFETY: a fresh fd we own.
    let exe = unsafe { OwnedFd::from_raw_fd(fd) };
    let sysctl = CString::new("/proc/sys/net/ipv4/ip_unprivileged_port_start").expect("no NUL");
    // What `ip netns exec` does for the namespace's resolv.conf (the VPC's
    // resolver, see plan::dns), so an app resolves names as `exec` does.
    let resolv = std::path::Path::new("/etc/netns").join(netns).join("resolv.conf");
    let resolv = resolv.exists().then(|| CString::new(resolv.as_os_str().as_encoded_bytes()).ok()).flatten();
    let (etc_resolv, root) = (c"/etc/resolv.conf", c"/");
    let resolv_at = resolv.as_ref().map_or(0, |c| c.as_ptr() as usize);
    let (ns_fd, exe_fd) = (ns.as_raw_fd(), exe.as_raw_fd());
    let sysctl_at = sysctl.as_ptr() as usize;
    // The app's PID namespace gets an init of ours (`app_init`, in this
    // binary): the app is not PID 1 there, so SIGTERM works as anywhere.
    let me = std::env::current_exe().context("cannot find the vpcctl binary to start the app under")?;
    let mut cmd = Command::new(&me);
    cmd.args(["app-init", "--exe-fd", &exe_fd.to_string(), "--uid", &uid.to_string(), "--gid", &gid.to_string(), "--"]);
    cmd.args(command).env_clear().envs(APP_ENV).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: only async-signal-safe calls (write, setsid, setns, unshare,
    // mount, open, close) on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            // Into its own cgroup first, while still root ("0": this process).
            if cgroup_fd >= 0 && libc::write(cgroup_fd, b"0".as_ptr().cast(), 1) != 1 {
                return fail();
            }
            if libc::setsid() < 0 || libc::setns(ns_fd, libc::CLONE_NEWNET) != 0 {
                return fail();
            }
            // A mount namespace of its own: a /proc of its PID namespace,
            // and the subnet's resolv.conf.
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(std::ptr::null(), root.as_ptr(), std::ptr::null(), libc::MS_SLAVE | libc::MS_REC, std::ptr::null()) != 0
            {
                return fail();
            }
            if resolv_at != 0 {
                // Best effort, as for `ip netns exec`: without it the app
                // still runs, with the host's resolv.conf.
                libc::mount(resolv_at as *const libc::c_char, etc_resolv.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null());
            }
            // Per namespace: the app may bind port 80 without being root.
            let f = libc::open(sysctl_at as *const libc::c_char, libc::O_WRONLY);
            if f >= 0 {
                libc::write(f, b"0\n".as_ptr().cast(), 2);
                libc::close(f);
            }
            // The children of what runs next start a PID namespace.
            if libc::unshare(libc::CLONE_NEWPID) != 0 {
                return fail();
            }
            Ok(())
        });
    }
    let child = cmd.spawn().with_context(|| format!("cannot start {:?} in {netns} as {who}", command.join(" ")))?;
    drop((ns, exe, sysctl, resolv, cgroup));
    Ok(child)
}

/// The pid `forward` passes signals to (the app, in `app_init`).
static APP_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = APP_PID.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// `vpcctl app-init`: what `spawn_in_netns` runs, as root, in the subnet's
/// network namespace, whose children start a new PID namespace. It forks
/// that namespace's init (PID 1), which mounts the namespace's /proc (so
/// the app sees its own processes only), forks the app, drops it to
/// `uid`/`gid` with no groups, no capabilities and no_new_privs, and
/// executes the program opened before (`exe_fd`, so a program in a
/// directory the user cannot enter still runs). The init reaps, passes
/// SIGTERM, SIGINT and SIGHUP on, and ends as the app ends; this process
/// waits for it and exits the same way, and when it dies the init (and so
/// the whole namespace) is killed. Returns only in this process.
pub fn app_init(exe_fd: i32, uid: u32, gid: u32, argv: &[String]) -> Result<i32> {
    use std::ffi::CString;
    let argv: Vec<CString> =
        argv.iter().map(|a| CString::new(a.as_bytes())).collect::<Result<_, _>>().context("an argument has a NUL byte")?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let envp: Vec<CString> = APP_ENV.iter().filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok()).collect();
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let exit_code = |status: libc::c_int| {
        if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) }
    };
    // SAFETY: vpcctl is single-threaded here (nothing has started a thread
    // before this subcommand), so the children may run ordinary code.
    unsafe {
        // A pipe whose write end only this process holds: the init sees it
        // close (EOF) if this process is gone before PR_SET_PDEATHSIG holds.
        let mut life = [0; 2];
        if libc::pipe2(life.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(std::io::Error::last_os_error()).context("cannot make a pipe for the app's init");
        }
        let init = libc::fork();
        if init < 0 {
            return Err(std::io::Error::last_os_error()).context("cannot fork the app's init");
        }
        if init > 0 {
            libc::close(life[0]);
            let mut status = 0;
            while libc::waitpid(init, &mut status, 0) < 0 {
                if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                    return Ok(1);
                }
            }
            return Ok(exit_code(status));
        }
        // PID 1 of the app's namespace. It dies with the recorded process
        // (and the namespace with it), so that process is the app's life.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        libc::close(life[1]);
        libc::fcntl(life[0], libc::F_SETFL, libc::O_NONBLOCK);
        let mut byte = 0u8;
        if libc::read(life[0], (&mut byte as *mut u8).cast(), 1) == 0 {
            libc::_exit(1);
        }
        libc::close(life[0]);
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        libc::mount(c"proc".as_ptr(), c"/proc".as_ptr(), c"proc".as_ptr(), flags, std::ptr::null());
        let app = libc::fork();
        if app == 0 {
            if uid != 0 {
                // No supplementary groups: sudo's (or vpcctl's) must not leak in.
                if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                    libc::_exit(126);
                }
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(126);
                }
            }
            libc::syscall(libc::SYS_execveat, exe_fd, c"".as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr(), libc::AT_EMPTY_PATH);
            let msg = b"vpcctl app-init: cannot execute the app\n";
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(127);
        }
        if app < 0 {
            libc::_exit(1);
        }
        libc::close(exe_fd);
        APP_PID.store(app, std::sync::atomic::Ordering::Relaxed);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::signal(sig, forward as *const () as libc::sighandler_t);
        }
        loop {
            let mut status = 0;
            let reaped = libc::waitpid(-1, &mut status, 0);
            if reaped == app {
                libc::_exit(exit_code(status));
            }
            if reaped < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                libc::_exit(1);
            }
        }
    }
}

/// Start a helper (a resolver, a collector) in the host namespace, in its
/// own session so that `stop` ends it and whatever it started, output to
/// `log` (0600, never through a planted link).
pub fn spawn_helper(program: &Path, args: &[String], log: &Path) -> Result<Child> {
    let (out, err) = open_log(log)?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| if libc::setsid() < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
    }
    cmd.spawn().with_context(|| format!("cannot start {}", program.display()))
}

/// Helpers of the state dir `state_dir` still running though no record
/// names them (a lost state file): resolvers watching its dns directory
/// and collectors started for it. Their command lines say whose they are;
/// only group leaders count, as every helper is (setsid).
pub fn orphaned_helpers(state_dir: &Path) -> Vec<u32> {
    let hosts = format!("--hostsdir={}/dns/", state_dir.display());
    let dir = state_dir.display().to_string();
    let mut out = vec![];
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else { continue };
        let args = cmdline(&pid.to_string());
        let resolver = args.iter().any(|a| a.starts_with(&hosts));
        let collector = args.windows(2).any(|w| w[0] == "--state-dir" && w[1] == dir)
            && args.windows(2).any(|w| w[0] == "flow-logs" && w[1] == "collect");
        let leader = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| t.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(2).map(|g| g == pid.to_string())))
            .unwrap_or(false);
        if (resolver || collector) && leader {
            out.push(pid);
        }
    }
    out
}

/// Socket inodes held by the processes of `pid`'s process group (an app is
/// a group leader: setsid).
fn group_sockets(pid: u32) -> std::collections::HashSet<String> {
    let mut inodes = std::collections::HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return inodes };
    for p in procs.flatten() {
        let Ok(n) = p.file_name().to_string_lossy().parse::<u32>() else { continue };
        let in_group = std::fs::read_to_string(format!("/proc/{n}/stat"))
            .ok()
            .and_then(|t| t.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(2).map(|g| g == pid.to_string())))
            .unwrap_or(false);
        if !in_group {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{n}/fd")) else { continue };
        for fd in fds.flatten() {
            if let Some(i) = std::fs::read_link(fd.path())
                .ok()
                .and_then(|l| l.to_string_lossy().strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')).map(String::from))
            {
                inodes.insert(i);
            }
        }
    }
    inodes
}

/// Whether the app `pid` (its process group) listens on TCP `port`: a
/// listening socket in its namespace that one of its processes holds, so
/// another process on the same port does not count.
pub fn listening(pid: u32, port: u16) -> bool {
    let want = format!(":{port:04X}");
    let mut ours = None;
    ["tcp", "tcp6"].iter().any(|f| {
        let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/{f}")) else { return false };
        table.lines().skip(1).any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 9
                && cols[1].ends_with(&want)
                && cols[3] == "0A"
                && ours.get_or_insert_with(|| group_sockets(pid)).contains(cols[9])
        })
    })
}

pub enum Ready {
    Serving,
    Exited(String),
    TimedOut,
}

/// Wait until `ready()` says a started helper serves, it exits, or
/// `timeout` passes, asking every `poll`. Apps, resolvers and wireguard-go
/// each have their own sign of being ready.
pub fn wait_for(child: &mut Child, timeout: Duration, poll: Duration, mut ready: impl FnMut() -> bool) -> Ready {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Ready::Exited(status.to_string());
        }
        if ready() {
            return Ready::Serving;
        }
        if Instant::now() >= deadline {
            return Ready::TimedOut;
        }
        std::thread::sleep(poll);
    }
}

/// Wait until the app listens on `port`, exits, or `timeout` passes.
pub fn wait_listening(child: &mut Child, port: u16, timeout: Duration) -> Ready {
    let pid = child.id();
    wait_for(child, timeout, Duration::from_millis(20), || listening(pid, port))
}

/// SIGTERM the app's process group, then SIGKILL if it lingers. Does
/// nothing unless the PID still belongs to the process we started.
pub fn stop(pid: u32, recorded_start: u64) -> bool {
    if !is_ours(pid, recorded_start) {
        return false;
    }
    let group = -(pid as i32);
    // SAFETY: plain kill(2) on a process group we created (setsid). A
    // stopped process acts on SIGTERM only once continued.
    unsafe {
        libc::kill(group, libc::SIGTERM);
        libc::kill(group, libc::SIGCONT);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    // Most processes are gone within a millisecond or two: look soon, then
    // less and less often.
    let mut pause = Duration::from_millis(1);
    while Instant::now() < deadline {
        if !is_ours(pid, recorded_start) {
            return true;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    if is_ours(pid, recorded_start) {
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
    }
    true
}

/// The last lines of a log, for error messages.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n  ");
    if tail.is_empty() { "(the log is empty)".into() } else { format!("  {tail}") }
}
