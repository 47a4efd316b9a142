//! Verdicts: what a run's numbers say, in the words an operator acts on, for the patterns a
//! number alone does not explain — a wrong DSN key (Relay answers 200 while it fetches the
//! key's project config, drops those envelopes as `invalid:project_id`, then answers 403),
//! quotas enforced after the 200, nothing authenticated.

use crate::model::Report;
use sentry_load_common::SendOutcome;

/// The verdicts of a report, most important first.
pub fn verdicts(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let accepted = r.sending.count(SendOutcome::Accepted);
    let refused = |o: &str| r.loss.refused.get(o).copied().unwrap_or(0);
    let invalid_key = r
        .loss
        .explained
        .get("invalid:project_id")
        .copied()
        .unwrap_or(0);
    let rejected = refused("rejected");
    let started = r.sending.started;
    if r.loss.unjournaled > 0 || r.sending.journal_damaged_bytes > 0 {
        out.push(format!(
            "the journal holds no record of {} planned sends{}: they count as lost, since \
             nothing says they reached Sentry (a process that died mid-run, or a damaged file)",
            r.loss.unjournaled,
            match r.sending.journal_damaged_bytes {
                0 => String::new(),
                n => format!(" ({n} damaged bytes skipped between intact records)"),
            }
        ));
    }
    if invalid_key > 0 && invalid_key == accepted {
        out.push(format!(
            "Relay accepted {accepted} envelopes and dropped all of them as invalid:project_id{} \
             — check the DSN's key: it is unknown, disabled, or another project's (Relay answers \
             200 while it fetches a key's project config, then 403)",
            if rejected > 0 {
                format!(", then refused the other {rejected} with 403")
            } else {
                String::new()
            }
        ));
    } else if invalid_key > 0 {
        out.push(format!(
            "{invalid_key} accepted envelopes were dropped as invalid:project_id: their key was \
             unknown or disabled when Relay fetched its project config"
        ));
    }
    if started > 0 && rejected == started {
        out.push(format!(
            "every one of {started} sends was refused with 403 — Relay has the project config \
             and rejects the DSN's key (unknown, disabled, or another project's)"
        ));
    }
    let unauthorized = refused("unauthorized");
    if started > 0 && unauthorized == started {
        out.push(format!(
            "no send of {started} was authenticated (401): the DSN has no public key Relay reads"
        ));
    }
    if r.loss.outcome_unknown > 0 && r.loss.outcome_unknown == accepted {
        out.push(format!(
            "none of the {accepted} accepted events became visible, and this source cannot see \
             outcomes: check the DSN's key (Relay answers 200 to an unknown key while it fetches \
             the project config), or read back from ClickHouse to see why"
        ));
    }
    let late: u64 = r
        .loss
        .explained
        .iter()
        .filter(|(label, _)| label.starts_with("rate_limited"))
        .map(|(_, n)| *n)
        .sum();
    if late > 0 {
        out.push(format!(
            "{late} envelopes were answered 200 and then dropped over a quota (Relay enforces \
             quotas when it processes an envelope, before it has cached the limit){}",
            match refused("rate_limited") {
                0 => String::new(),
                n => format!("; {n} more were answered 429 once it had"),
            }
        ));
    }
    if let Some(u) = &r.relay_upstream
        && (u.error.is_some() || u.total.lost_in_relay > 0 || u.total.seen_without_arriving > 0)
    {
        out.push(u.sentence.clone());
    }
    if let Some(p) = &r.probes {
        if let Some(first) = p.moves.first() {
            out.push(format!("first to move: {}", first.sentence));
        }
        for t in p
            .tracks
            .iter()
            .filter(|t| t.samples > 0 && t.failures == t.samples)
        {
            out.push(format!(
                "probe {} ({}) sampled nothing: {}",
                t.name,
                t.target,
                t.status()
            ));
        }
    }
    out
}
