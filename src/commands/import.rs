//! import terraform: read `terraform show -json`, write a topology file.

use std::io::Read;

use anyhow::{Context, Result};

use super::Ctx;
use crate::cli::ImportTerraform;
use crate::error::InputError;
use crate::model::terraform;

/// Largest document read: a state of thousands of resources is a few MiB.
const MAX_BYTES: u64 = 256 << 20;

/// Returns the exit code: 0, or 2 when refused.
pub fn terraform(ctx: &Ctx, a: &ImportTerraform) -> Result<i32> {
    let text = if a.file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().take(MAX_BYTES).read_to_string(&mut s).context("cannot read standard input")?;
        s
    } else {
        let mut s = String::new();
        std::fs::File::open(&a.file)
            .with_context(|| format!("cannot read {}", a.file.display()))?
            .take(MAX_BYTES)
            .read_to_string(&mut s)
            .with_context(|| format!("cannot read {}", a.file.display()))?;
        s
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| InputError::Invalid(format!("{}: not JSON ({e}); give what 'terraform show -json' prints", a.file.display())))?;
    let read = terraform::read(&doc).map_err(|e| InputError::Invalid(e.to_string()))?;
    let imported = terraform::to_topology(&read).map_err(|e| InputError::Invalid(e.to_string()))?;
    for left in &imported.not_imported {
        if !ctx.quiet {
            errln!("not imported: {left}");
        }
    }
    for link in &imported.unresolved {
        if !ctx.quiet {
            let what = if link.contains(" -> ") { "link not resolved" } else { "note" };
            errln!("{what}: {link}");
        }
    }
    if a.strict && !imported.not_imported.is_empty() {
        return Err(InputError::Invalid(format!(
            "--strict: {} resource(s) are not imported (listed above), e.g. {}; drop --strict to import the rest",
            imported.not_imported.len(),
            imported.not_imported[0]
        ))
        .into());
    }
    // What vpcctl cannot build is refused now, named by the resource.
    let none = |p: &std::path::Path| Err(std::io::Error::other(format!("{} is not read on import", p.display())));
    if let Err(e) = crate::model::topology::Topology::from_value(&imported.topology, std::path::Path::new("."), &none) {
        let at = imported.origin(&e.path).unwrap_or("(the document)").to_string();
        return Err(InputError::Invalid(format!(
            "{at}: {} (in the topology: {}); change it in Terraform, or edit the imported file",
            e.message, e.path
        ))
        .into());
    }
    let text = if ctx.output == crate::cli::Output::Yaml {
        serde_norway::to_string(&imported.topology)?
    } else {
        format!("{}\n", serde_json::to_string_pretty(&imported.topology)?)
    };
    match &a.out {
        Some(path) if !ctx.dry_run => {
            std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
            ctx.say(format!(
                "wrote {} ({} VPC(s)); next: vpcctl plan -f {}",
                path.display(),
                imported.topology["vpcs"].as_object().map_or(0, |v| v.len()),
                path.display()
            ));
        }
        _ => out!("{text}"),
    }
    Ok(0)
}
