//! Dynamic completion (clap_complete's): VPC and subnet names come from the
//! state file (`VPCCTL_STATE_DIR`, or the default), read-only, when TAB is
//! pressed. A state that cannot be read offers nothing.

use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

fn state() -> crate::model::State {
    let dir = std::env::var_os("VPCCTL_STATE_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| "/var/lib/vpcctl".into());
    crate::state::Store::open_readonly(&dir).load().unwrap_or_default()
}

fn names(list: impl Iterator<Item = String>) -> Vec<CompletionCandidate> {
    let mut all: Vec<String> = list.collect();
    all.sort_by(|a, b| crate::model::name::natural_cmp(a, b));
    all.dedup();
    all.into_iter().map(CompletionCandidate::new).collect()
}

pub fn vpcs() -> ArgValueCandidates {
    ArgValueCandidates::new(|| names(state().vpcs.iter().map(|v| v.name.to_string())))
}

pub fn subnets() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let st = state();
        let plain = st.vpcs.iter().flat_map(|v| v.subnets.iter().map(|s| s.name.to_string()));
        let paths = st.vpcs.iter().flat_map(|v| v.subnets.iter().map(move |s| format!("{}/{}", v.name, s.name)));
        names(plain.chain(paths).collect::<Vec<_>>().into_iter())
    })
}

pub fn instances() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let st = state();
        let plain = st.vpcs.iter().flat_map(|v| v.instances().map(|(_, i)| i.name.to_string()).collect::<Vec<_>>());
        let paths = st.vpcs.iter().flat_map(|v| v.instances().map(|(_, i)| format!("{}/{}", v.name, i.name)).collect::<Vec<_>>());
        names(plain.chain(paths).collect::<Vec<_>>().into_iter())
    })
}

pub fn security_groups() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        names(
            state()
                .vpcs
                .iter()
                .flat_map(|v| v.all_security_groups().into_iter().map(|g| g.name.to_string()))
                .collect::<Vec<_>>()
                .into_iter(),
        )
    })
}

/// Route tables of every VPC (`main` among them).
pub fn route_tables() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let st = state();
        let tables = st.vpcs.iter().flat_map(|v| v.route_tables.iter().map(|t| t.name.to_string()));
        names(tables.chain(["main".to_string()]).collect::<Vec<_>>().into_iter())
    })
}

pub fn nat_gateways() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        names(state().vpcs.iter().flat_map(|v| v.nat_gateways.iter().map(|g| g.name.to_string())).collect::<Vec<_>>().into_iter())
    })
}

pub fn peerings() -> ArgValueCandidates {
    ArgValueCandidates::new(|| names(state().peerings.iter().map(|p| p.name().to_string()).collect::<Vec<_>>().into_iter()))
}

pub fn transit_gateways() -> ArgValueCandidates {
    ArgValueCandidates::new(|| names(state().transit_gateways.iter().map(|t| t.name.to_string()).collect::<Vec<_>>().into_iter()))
}

/// VPCs, and every subnet as VPC/SUBNET.
pub fn paths() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let st = state();
        let vpcs = st.vpcs.iter().map(|v| v.name.to_string());
        let paths = st.vpcs.iter().flat_map(|v| v.subnets.iter().map(move |s| format!("{}/{}", v.name, s.name)));
        names(vpcs.chain(paths).collect::<Vec<_>>().into_iter())
    })
}

/// The shell's registration for dynamic completion: the shell calls
/// `COMPLETE=<shell> vpcctl -- <words>` at each TAB, so names of VPCs and
/// subnets come from the state of that moment.
pub fn write_completions(shell: clap_complete::Shell) -> std::io::Result<()> {
    use clap_complete::env::EnvCompleter;
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &clap_complete::env::Bash,
        clap_complete::Shell::Zsh => &clap_complete::env::Zsh,
        clap_complete::Shell::Fish => &clap_complete::env::Fish,
        clap_complete::Shell::Elvish => &clap_complete::env::Elvish,
        clap_complete::Shell::PowerShell => &clap_complete::env::Powershell,
        _ => &clap_complete::env::Bash,
    };
    let mut buf = Vec::new();
    completer.write_registration("COMPLETE", "vpcctl", "vpcctl", "vpcctl", &mut buf)?;
    out!("{}", String::from_utf8_lossy(&buf));
    Ok(())
}
