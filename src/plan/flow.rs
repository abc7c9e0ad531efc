//! Where flow-log rules come from. While some VPC has flow logs on, every
//! packet vpcctl decides on is copied (headers only) to one NFLOG group,
//! read by the collector (`crate::helpers::flowlogs`, on ulogd2): each ACCEPT and
//! each DROP of ours in the forward path (the VPC chains, the NACL chains)
//! and each DROP of the host's INPUT chain is preceded by the same match
//! with NFLOG. Every packet that crosses a VPC bridge is decided by one of
//! those (a VPC chain ends in DROP), so each is copied once, labelled
//! with the decision. In FORWARD the addresses are the subnet's own: DNAT
//! came before, SNAT comes after.
//!
//! The collector turns packets into AWS-style records per subnet interface.

use crate::model::State;

pub const ACCEPT_PREFIX: &str = "vpcctl-ACCEPT";
pub const REJECT_PREFIX: &str = "vpcctl-REJECT";

/// The collector is on: some VPC has flow logs.
pub fn in_use(state: &State) -> bool {
    state.host.flow_logs.is_some() && state.vpcs.iter().any(|v| v.flow_logs)
}

/// Packets a second (and the burst) each NFLOG rule copies at most: a
/// flood must not cost the host more than a bounded stream of copies.
/// Beyond it, packets are still decided, just not logged.
pub const LOG_RATE: (u32, u32) = (2000, 4000);

/// The NFLOG target, in the order `iptables-save` prints its options.
/// Only headers are copied; a threshold of 1 sends each at once.
fn nflog(group: u16, prefix: &str) -> String {
    format!("NFLOG --nflog-prefix {prefix} --nflog-group {group} --nflog-size 128 --nflog-threshold 1")
}

/// `lines` with an NFLOG copy (the same match, the same comment) before
/// each DROP of ours, and before each ACCEPT when `accepts`, while flow
/// logs are on.
pub fn with_logs(state: &State, lines: Vec<String>, accepts: bool) -> Vec<String> {
    let Some(c) = state.host.flow_logs.as_ref().filter(|_| in_use(state)) else { return lines };
    let (reject, accept) = (nflog(c.group, REJECT_PREFIX), nflog(c.group, ACCEPT_PREFIX));
    let limit = format!("-m limit --limit {}/sec --limit-burst {}", LOG_RATE.0, LOG_RATE.1);
    let mut out = Vec::with_capacity(lines.len() * 2);
    for l in lines {
        if let Some(head) = l.strip_suffix(" -j DROP") {
            out.push(format!("{head} {limit} -j {reject}"));
        } else if let Some(head) = l.strip_suffix(" -j ACCEPT").filter(|_| accepts) {
            out.push(format!("{head} {limit} -j {accept}"));
        }
        out.push(l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::services::FlowLogCollector;
    use crate::model::testing::vpc;

    fn state(on: bool) -> State {
        let mut a = vpc("a", "10.1.0.0/16", &[]);
        a.flow_logs = on;
        let mut st = State { vpcs: vec![a, vpc("b", "10.2.0.0/16", &[])], ..State::default() };
        if on {
            st.host.flow_logs = Some(FlowLogCollector {
                group: 4242,
                dir: "/st/flow-logs".into(),
                window_secs: 5,
                max_bytes: 1 << 20,
                process: Default::default(),
            });
        }
        st
    }

    #[test]
    fn decisions_are_copied_only_while_flow_logs_are_on() {
        let lines = vec![
            "-A C -i br-a -m comment --comment \"x\" -j DROP".to_string(),
            "-A C -o br-a -j ACCEPT".to_string(),
            "-A C -j RETURN".to_string(),
        ];
        assert_eq!(with_logs(&state(false), lines.clone(), true), lines);
        let logged = with_logs(&state(true), lines.clone(), true);
        assert_eq!(
            logged,
            [
                "-A C -i br-a -m comment --comment \"x\" -m limit --limit 2000/sec --limit-burst 4000 -j NFLOG --nflog-prefix vpcctl-REJECT --nflog-group 4242 --nflog-size 128 --nflog-threshold 1",
                "-A C -i br-a -m comment --comment \"x\" -j DROP",
                "-A C -o br-a -m limit --limit 2000/sec --limit-burst 4000 -j NFLOG --nflog-prefix vpcctl-ACCEPT --nflog-group 4242 --nflog-size 128 --nflog-threshold 1",
                "-A C -o br-a -j ACCEPT",
                "-A C -j RETURN",
            ]
        );
        assert_eq!(with_logs(&state(true), lines.clone(), false).len(), 4, "drops only");
    }
}
