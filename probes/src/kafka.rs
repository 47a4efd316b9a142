//! The Kafka probe: consumer lag per group and topic, read from the broker's own
//! `kafka-consumer-groups --describe` (run by the operator's `command`, e.g. through
//! `docker compose exec kafka`). Its table is printed once per group under a header of
//! `GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID`, a lag
//! it cannot compute as `-` (apache/kafka,
//! tools/src/main/java/org/apache/kafka/tools/consumer/group/ConsumerGroupCommand.java at
//! commit 94314bce7dca0dfbb554991a2256625062e0c45d; streams groups say `OFFSET-LAG`, and older
//! releases' Scala tool had no `GROUP` column). Lines that are not rows of such a table ("Consumer
//! group 'x' has no active members.", warnings) are skipped; the command's output is read up to
//! [`MAX_OUTPUT`] and its stderr discarded.

use crate::sampler::{Reading, Sampled};
use std::collections::BTreeMap;
use std::process::Stdio;
use tokio::io::AsyncReadExt;

/// The command's output read at most.
pub const MAX_OUTPUT: usize = 1 << 20;
/// Group and topic pairs reported at most (the most lag first).
const MAX_PAIRS: usize = 32;

/// A Kafka probe.
pub struct KafkaProbe {
    command: String,
}

impl KafkaProbe {
    /// The probe running `command`.
    pub fn new(command: &str) -> KafkaProbe {
        KafkaProbe {
            command: command.to_owned(),
        }
    }

    /// What it runs. Not shown: a command may carry a secret (`--command-config`, a password).
    pub fn shown(&self) -> String {
        "kafka-consumer-groups (the profile's command)".into()
    }

    /// One sample: the command run (killed when the sample's timeout drops it), its table read.
    pub async fn sample(&mut self) -> Sampled {
        let child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return Sampled::failed(format!("could not start the command: {e}")),
        };
        let mut out = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = stdout.take(MAX_OUTPUT as u64).read_to_end(&mut out).await;
        }
        let status = child.wait().await;
        let text = String::from_utf8_lossy(&out);
        let lag = lag_by_group_and_topic(&text);
        match status {
            Ok(s) if !s.success() && lag.is_empty() => {
                Sampled::failed(format!("the command ended with {s} and printed no lag"))
            }
            Err(e) => Sampled::failed(format!("could not wait for the command: {e}")),
            _ if lag.is_empty() => Sampled::failed("the command printed no lag table".into()),
            _ => {
                let mut pairs: Vec<((String, String), u64)> = lag.into_iter().collect();
                pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                pairs.truncate(MAX_PAIRS);
                Sampled {
                    readings: pairs
                        .into_iter()
                        .map(|((g, t), n)| {
                            Reading::new(format!("lag {g} {t}"), "messages", n as f64)
                        })
                        .collect(),
                    error: None,
                }
            }
        }
    }
}

/// The lag summed over partitions, per (group, topic), of every `--describe` table in `text`;
/// `-` lags count 0, a table without `GROUP` names its group `-`.
pub fn lag_by_group_and_topic(text: &str) -> BTreeMap<(String, String), u64> {
    let mut out: BTreeMap<(String, String), u64> = BTreeMap::new();
    // (group, topic, partition, lag) columns of the header in force.
    let mut columns: Option<(Option<usize>, usize, usize, usize)> = None;
    for line in text.lines() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let at = |name: &str| cells.iter().position(|c| *c == name);
        if let (Some(topic), Some(partition), Some(lag)) = (
            at("TOPIC"),
            at("PARTITION"),
            at("LAG").or_else(|| at("OFFSET-LAG")),
        ) {
            columns = Some((at("GROUP"), topic, partition, lag));
            continue;
        }
        let Some((group, topic, partition, lag)) = columns else {
            continue;
        };
        let need = group.unwrap_or(0).max(topic).max(partition).max(lag);
        if cells.len() <= need || cells[partition].parse::<u32>().is_err() {
            continue;
        }
        let n = match cells[lag] {
            "-" => 0,
            v => match v.parse::<u64>() {
                Ok(n) => n,
                Err(_) => continue,
            },
        };
        let g = group.map_or("-", |g| cells[g]).to_owned();
        if out.len() >= 4096 && !out.contains_key(&(g.clone(), cells[topic].to_owned())) {
            continue;
        }
        let e = out.entry((g, cells[topic].to_owned())).or_default();
        *e = e.saturating_add(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// As Kafka 3.x prints it for two groups of self-hosted Sentry.
    const DESCRIBE: &str = "\
Consumer group 'ingest-consumer' has no active members.

GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
ingest-consumer ingest-events   0          1200            1500            300             -               -               -
ingest-consumer ingest-events   1          1000            1041            41              -               -               -

GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID                                  HOST            CLIENT-ID
snuba-consumers events          0          -               41000           -               rdkafka-0b6c7a1e-0f7e-4f5e-9d0e-5a3c1c2b1a00 /172.18.0.12    rdkafka
snuba-consumers events          1          90              41090           41000           rdkafka-0b6c7a1e-0f7e-4f5e-9d0e-5a3c1c2b1a00 /172.18.0.12    rdkafka
";

    #[test]
    fn lag_is_summed_per_group_and_topic() {
        let lag = lag_by_group_and_topic(DESCRIBE);
        let get = |g: &str, t: &str| lag.get(&(g.to_owned(), t.to_owned())).copied();
        assert_eq!(get("ingest-consumer", "ingest-events"), Some(341));
        assert_eq!(get("snuba-consumers", "events"), Some(41_000));
        assert_eq!(lag.len(), 2);
    }

    #[test]
    fn an_old_table_without_group_and_noise_are_read_or_skipped() {
        let text = "WARN something\nTOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID\n\
                    events 0 5 9 4 c1\nevents x 5 9 4 c1\nevents 1 5 9 lots c1\n";
        let lag = lag_by_group_and_topic(text);
        assert_eq!(lag.get(&("-".to_owned(), "events".to_owned())), Some(&4));
        assert_eq!(lag.len(), 1);
    }

    #[tokio::test]
    async fn the_command_is_run_and_its_failure_is_a_failed_sample() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("describe.txt");
        std::fs::write(&file, DESCRIBE).unwrap();
        let mut p = KafkaProbe::new(&format!("cat {}", file.display()));
        let s = p.sample().await;
        assert_eq!(s.error, None);
        assert_eq!(s.readings[0].name, "lag snuba-consumers events");
        assert_eq!(s.readings[0].value, 41_000.0);
        let s = KafkaProbe::new("echo nope >&2; exit 3").sample().await;
        assert!(s.error.unwrap().contains("exit status: 3"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_output_is_read_without_panic(lines in proptest::collection::vec(
            prop_oneof![
                Just("GROUP TOPIC PARTITION LAG".to_owned()),
                Just("TOPIC LAG PARTITION".to_owned()),
                "[a-z0-9 -]{0,40}",
                "\\PC{0,60}",
            ], 0..40)) {
            let text = lines.join("\n");
            let lag = lag_by_group_and_topic(&text);
            prop_assert!(lag.len() <= 4096);
        }
    }
}
