//! Lines for `iptables-restore --noflush`.
//!
//! With --noflush, declaring a chain (`:NAME - [0:0]`) creates it if missing
//! and flushes it if present. That lets us rewrite a chain we own in one
//! atomic step, and delete one whether or not it exists (declare, then -X),
//! without ever touching chains we do not own.

/// Every rule carries a comment naming its VPC, so a human reading
/// `iptables-save` knows who made it and why.
pub fn comment(vpc: &str, what: &str) -> String {
    let mut text = format!("vpcctl:vpc={vpc} {what}");
    // iptables refuses a comment over 255 bytes, and one bad line fails the
    // whole restore: cut long ones (policy descriptions) short instead.
    if text.len() > COMMENT_MAX {
        let cut = (0..=COMMENT_MAX).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
    }
    format!("-m comment --comment \"{text}\"")
}

/// Longest comment the iptables comment match takes.
pub const COMMENT_MAX: usize = 255;

/// Arguments of a jump from a built-in chain into one of ours (after the
/// verb and the built-in chain's name). The plain "vpcctl" comment says who.
pub fn jump_args(chain: &str) -> Vec<String> {
    ["-m", "comment", "--comment", "vpcctl", "-j", chain].iter().map(|s| s.to_string()).collect()
}

pub fn declare(chain: &str) -> String {
    format!(":{chain} - [0:0]")
}

/// Remove a chain whether or not it exists. Nothing may still jump to it.
pub fn remove_chain(chain: &str) -> [String; 2] {
    [declare(chain), format!("-X {chain}")]
}

pub fn append(chain: &str, spec: &str, comment: &str, target: &str) -> String {
    let spec = if spec.is_empty() { String::new() } else { format!("{spec} ") };
    format!("-A {chain} {spec}{comment} -j {target}")
}

/// One table of an `iptables-save` dump.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableDump {
    pub name: String,
    /// Every chain declared in the table (built-in and user-defined).
    pub chains: Vec<String>,
    /// Rule lines as printed (`-A CHAIN ...`).
    pub rules: Vec<String>,
    /// Policies of built-in chains, e.g. ("FORWARD", "DROP").
    pub policies: Vec<(String, String)>,
}

pub fn parse_save(text: &str) -> Vec<TableDump> {
    let mut tables: Vec<TableDump> = vec![];
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            tables.push(TableDump { name: name.trim().to_string(), ..Default::default() });
        } else if let (Some(t), Some(decl)) = (tables.last_mut(), line.strip_prefix(':')) {
            let mut words = decl.split_whitespace();
            if let Some(chain) = words.next() {
                t.chains.push(chain.to_string());
                if let Some(p) = words.next().filter(|p| *p != "-") {
                    t.policies.push((chain.to_string(), p.to_string()));
                }
            }
        } else if let (Some(t), true) = (tables.last_mut(), line.starts_with("-A ")) {
            t.rules.push(line.to_string());
        }
    }
    tables
}

pub const OUR_PREFIX: &str = "VPCCTL-";

/// A rule as comparable tokens, whether we wrote it or `iptables-save`
/// printed it. iptables-save puts -s/-d/-i/-o/-p first, adds the implicit
/// `-m tcp`/`-m udp` before a port match, and quotes a comment only when
/// it has spaces; none of that changes what the rule does.
pub fn normalize(rule: &str) -> Vec<String> {
    let tokens = split_words(rule);
    let mut head = vec![];
    let mut fixed: [Option<String>; 5] = Default::default();
    let mut negated = [false; 5];
    let mut rest = vec![];
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        let next = tokens.get(i + 1).cloned();
        match t {
            // `! -i X`: the negation travels with its match.
            "!" if matches!(next.as_deref(), Some("-s" | "-d" | "-i" | "-o" | "-p")) => {
                let slot = ["-s", "-d", "-i", "-o", "-p"].iter().position(|x| Some(*x) == next.as_deref()).expect("listed");
                negated[slot] = true;
                i += 1;
                continue;
            }
            "-A" | "-I" if head.is_empty() => {
                head = vec!["-A".to_string(), next.unwrap_or_default()];
                // `-I CHAIN 1`: the position is where, not what.
                let numbered = t == "-I" && tokens.get(i + 2).is_some_and(|n| n.parse::<u32>().is_ok());
                i += if numbered { 3 } else { 2 };
                continue;
            }
            "-s" | "-d" | "-i" | "-o" | "-p" => {
                let slot = ["-s", "-d", "-i", "-o", "-p"].iter().position(|x| *x == t).expect("listed");
                fixed[slot] = next;
                i += 2;
                continue;
            }
            "-m" if matches!(next.as_deref(), Some("tcp" | "udp")) => {
                i += 2;
                continue;
            }
            _ => rest.push(tokens[i].clone()),
        }
        i += 1;
    }
    let mut out = head;
    for ((flag, v), not) in ["-s", "-d", "-i", "-o", "-p"].iter().zip(fixed).zip(negated) {
        if let Some(v) = v {
            if not {
                out.push("!".into());
            }
            out.extend([flag.to_string(), v]);
        }
    }
    out.extend(rest);
    out
}

/// Split like a shell: whitespace separates, double quotes group, and a
/// backslash escapes the next character inside quotes.
fn split_words(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if quoted => cur.extend(chars.next()),
            c if c.is_whitespace() && !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `-A` lines of `chain` in a dump, in order.
pub fn chain_rules<'a>(tables: &'a [TableDump], table: &str, chain: &str) -> Vec<&'a str> {
    let prefix = format!("-A {chain} ");
    tables.iter().filter(|t| t.name == table).flat_map(|t| t.rules.iter()).map(String::as_str).filter(|r| r.starts_with(&prefix)).collect()
}

/// Whether two lists of rules do the same thing, in the same order.
pub fn same_rules<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| normalize(x.as_ref()) == normalize(y.as_ref()))
}

impl TableDump {
    pub fn our_chains(&self) -> Vec<&str> {
        self.chains.iter().map(String::as_str).filter(|c| c.starts_with(OUR_PREFIX)).collect()
    }

    /// Rules in chains we do not own that jump into ours.
    pub fn jumps_into_ours(&self) -> Vec<&str> {
        self.rules
            .iter()
            .map(String::as_str)
            .filter(|r| {
                let chain = r.split_whitespace().nth(1).unwrap_or("");
                !chain.starts_with(OUR_PREFIX) && r.contains(&format!("-j {OUR_PREFIX}"))
            })
            .collect()
    }
}

/// Chains of ours in `t` that nothing uses: not `expected`, and not
/// reached from a chain that is not ours except through `own_tops` (this
/// state dir's top chains, whose content is ours to judge). Another state
/// dir's chains are reached through its own top chain, so they never count.
pub fn orphans<'a>(t: &'a TableDump, expected: &std::collections::HashSet<String>, own_tops: &[String]) -> Vec<&'a str> {
    let mut edges: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for r in &t.rules {
        let words: Vec<&str> = r.split_whitespace().collect();
        if let (Some(chain), Some(target)) = (words.get(1), words.windows(2).find(|w| w[0] == "-j").map(|w| w[1])) {
            edges.entry(chain).or_default().push(target);
        }
    }
    let mut stack: Vec<&str> = t.chains.iter().map(String::as_str).filter(|c| !c.starts_with(OUR_PREFIX)).collect();
    let mut reached: std::collections::HashSet<&str> = stack.iter().copied().collect();
    while let Some(c) = stack.pop() {
        for &target in edges.get(c).into_iter().flatten() {
            if !own_tops.iter().any(|o| o == target) && reached.insert(target) {
                stack.push(target);
            }
        }
    }
    t.our_chains().into_iter().filter(|c| !expected.contains(*c) && !reached.contains(c)).collect()
}

/// A restore that removes this state dir's top chains (`own_tops`), the
/// jumps into them, and every chain of ours nothing else uses (left over
/// from a lost state file, say). Another state dir's chains stay.
pub fn sweep(dump: &str, own_tops: &[String], declare: fn(&str) -> String) -> Vec<crate::plan::TableEdit> {
    parse_save(dump)
        .into_iter()
        .map(|t| {
            let into_own = |r: &&str| own_tops.iter().any(|o| r.ends_with(&format!("-j {o}")));
            let mut lines: Vec<String> = t.jumps_into_ours().into_iter().filter(into_own).map(|r| format!("-D{}", &r[2..])).collect();
            // Our own top chains are never "reached", so they are among these.
            let gone = orphans(&t, &Default::default(), own_tops);
            lines.extend(gone.iter().map(|c| declare(c)));
            lines.extend(gone.iter().map(|c| format!("-X {c}")));
            let table: &'static str = match t.name.as_str() {
                "filter" => "filter",
                "nat" => "nat",
                "mangle" => "mangle",
                "raw" => "raw",
                "broute" => "broute",
                _ => "security",
            };
            crate::plan::TableEdit { table, lines }
        })
        .collect()
}

/// The bridge family's chains that exist, where `ebtables-save` was read.
pub type BridgeChains = std::collections::HashSet<String>;

/// How one table ends, whichever it is (the bridge family's too, see
/// `plan::spoof`).
pub struct Table {
    /// The dir's top chain: what the built-in chains jump to.
    pub top: String,
    /// Each jump into `top`, as (insert, delete) lines.
    pub jumps: Vec<(String, String)>,
    /// How this family's restore declares (and so flushes) a chain.
    pub declare: fn(&str) -> String,
    /// Some VPC still needs this table's chains.
    pub in_use: bool,
    pub dispatch_changed: bool,
    pub base_present: bool,
    /// The dispatch chain's declaration and rules.
    pub dispatch: Vec<String>,
    /// Per-VPC chains to remove.
    pub removed: Vec<String>,
}

/// The end every table's plan shares. While the table is in use: rewrite
/// the dispatch chain if it changed (or a jump to it is missing), put the
/// jumps back, then remove the chains that go (nothing jumps to them any
/// more). Once unused: remove the jumps, then every chain of ours in it.
pub fn finish(lines: &mut Vec<String>, t: Table) {
    let remove = |lines: &mut Vec<String>, c: &str| lines.extend([(t.declare)(c), format!("-X {c}")]);
    if t.in_use {
        if t.dispatch_changed || !t.base_present {
            lines.extend(t.dispatch);
        }
        if !t.base_present {
            lines.extend(t.jumps.iter().map(|(insert, _)| insert.clone()));
        }
        for c in &t.removed {
            remove(lines, c);
        }
    } else if !t.removed.is_empty() || t.base_present {
        if t.base_present {
            lines.extend(t.jumps.iter().map(|(_, delete)| delete.clone()));
        }
        lines.push((t.declare)(&t.top));
        for c in &t.removed {
            remove(lines, c);
        }
        lines.push(format!("-X {}", t.top));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "# Generated by iptables-save\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n\
        :VPCCTL-FORWARD - [0:0]\n:VPCCTL-FWD-a - [0:0]\n:DOCKER - [0:0]\n\
        -A FORWARD -m comment --comment vpcctl -j VPCCTL-FORWARD\n-A FORWARD -j DOCKER\n\
        -A VPCCTL-FORWARD -i br-a -j VPCCTL-FWD-a\n-A VPCCTL-FWD-a -j DROP\nCOMMIT\n\
        *nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n";

    #[test]
    fn normalize_matches_what_iptables_save_prints() {
        let pairs = [
            (
                "-A C -i br-a -o br-b -s 10.1.1.0/24 -d 10.2.1.0/24 -m comment --comment \"vpcctl:vpc=a peer=b\" -j ACCEPT",
                "-A C -s 10.1.1.0/24 -d 10.2.1.0/24 -i br-a -o br-b -m comment --comment \"vpcctl:vpc=a peer=b\" -j ACCEPT",
            ),
            (
                "-A C -p tcp -s 10.1.2.0/24 --dport 80 -m comment --comment \"x\" -j ACCEPT",
                "-A C -s 10.1.2.0/24 -p tcp -m tcp --dport 80 -m comment --comment x -j ACCEPT",
            ),
            ("-I FORWARD 1 -m comment --comment vpcctl -j VPCCTL-FORWARD", "-A FORWARD -m comment --comment vpcctl -j VPCCTL-FORWARD"),
        ];
        for (ours, saved) in pairs {
            assert_eq!(normalize(ours), normalize(saved), "{ours}");
        }
        assert_ne!(normalize("-A C -p tcp --dport 80 -j ACCEPT"), normalize("-A C -p tcp --dport 81 -j ACCEPT"));
        assert_ne!(normalize("-A C -j ACCEPT"), normalize("-A C -j DROP"));
        assert!(same_rules(&["-A C -i x -j DROP"], &["-A C -i x -j DROP"]));
        assert!(!same_rules(&["-A C -i x -j DROP"], &["-A C -i x -j DROP", "-A C -j ACCEPT"]));
    }

    #[test]
    fn comments_fit_iptables() {
        let long = comment("vpc", &"x".repeat(400));
        assert_eq!(long.len(), "-m comment --comment \"\"".len() + COMMENT_MAX, "{long}");
        assert_eq!(comment("vpc", "intra-vpc"), "-m comment --comment \"vpcctl:vpc=vpc intra-vpc\"");
    }

    #[test]
    fn sweep_removes_only_ours() {
        let tops = ["VPCCTL-FORWARD".to_string()];
        let r = sweep(DUMP, &tops, declare);
        assert_eq!(
            r[0].lines,
            [
                "-D FORWARD -m comment --comment vpcctl -j VPCCTL-FORWARD",
                ":VPCCTL-FORWARD - [0:0]",
                ":VPCCTL-FWD-a - [0:0]",
                "-X VPCCTL-FORWARD",
                "-X VPCCTL-FWD-a"
            ]
        );
        assert!(r[1].lines.is_empty());
    }

    #[test]
    fn another_state_dirs_chains_are_not_orphans() {
        let other = "*filter\n:FORWARD ACCEPT [0:0]\n:VPCCTL-FORWARD - [0:0]\n:VPCCTL-FWD-a - [0:0]\n\
            :VPCCTL-FORWARD-0badc0de - [0:0]\n:VPCCTL-FWD-b - [0:0]\n:VPCCTL-FWD-lost - [0:0]\n\
            -A FORWARD -m comment --comment vpcctl -j VPCCTL-FORWARD\n\
            -A FORWARD -m comment --comment vpcctl -j VPCCTL-FORWARD-0badc0de\n\
            -A VPCCTL-FORWARD -i br-a -j VPCCTL-FWD-a\n-A VPCCTL-FORWARD-0badc0de -i br-b -j VPCCTL-FWD-b\nCOMMIT\n";
        // The default dir sweeps: b's dir keeps its top chain and b.
        let r = sweep(other, &["VPCCTL-FORWARD".to_string()], declare);
        let gone: Vec<&String> = r[0].lines.iter().filter(|l| l.starts_with("-X")).collect();
        assert_eq!(gone, ["-X VPCCTL-FORWARD", "-X VPCCTL-FWD-a", "-X VPCCTL-FWD-lost"]);
        // A dir with VPC a sees only the lost chain as an orphan.
        let t = &parse_save(other)[0];
        let expected = ["VPCCTL-FORWARD".to_string(), "VPCCTL-FWD-a".to_string()].into_iter().collect();
        assert_eq!(orphans(t, &expected, &["VPCCTL-FORWARD".to_string()]), ["VPCCTL-FWD-lost"]);
    }
}
