//! The ingest topics: Relay produces each envelope to one of three Kafka topics, each read by
//! its own consumers, so one kind's backlog shows in that kind's latency only. An envelope
//! with an attachment goes to `ingest-attachments`, a transaction to `ingest-transactions`,
//! any other event to `ingest-events` (getsentry/relay `relay-server/src/services/store.rs` at
//! bcb4c3dcbe9fbfd57c9880697513f7081905e9ea, `StoreService`: `if envelope.get_item_by(
//! is_slow_item).is_some() { KafkaTopic::Attachments } else if … Transaction {
//! KafkaTopic::Transactions } else { KafkaTopic::Events }`; the topic names in
//! `relay-kafka/src/config.rs`, `define_topic_assignments!`). Self-hosted runs a consumer per
//! topic (`events-consumer`, `attachments-consumer`, `transactions-consumer`:
//! getsentry/self-hosted `docker-compose.yml` at 89a143f8e4d396a858cf6f462a832ae7da9fd2db).

use crate::ingest::event::IngestedEvent;

/// One ingest topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `ingest-events`: events without attachments.
    Events,
    /// `ingest-transactions`.
    Transactions,
    /// `ingest-attachments`: events that came with an attachment (native crashes).
    Attachments,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 3] = [Topic::Events, Topic::Transactions, Topic::Attachments];

    /// The Kafka topic's name.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Events => "ingest-events",
            Topic::Transactions => "ingest-transactions",
            Topic::Attachments => "ingest-attachments",
        }
    }

    /// The topic an event travels on, as Relay picks it.
    pub fn of(ev: &IngestedEvent) -> Topic {
        if !ev.minidumps.is_empty() {
            Topic::Attachments
        } else if ev.transaction.is_some() {
            Topic::Transactions
        } else {
            Topic::Events
        }
    }

    /// The topic's position in [`Topic::ALL`].
    pub fn index(self) -> usize {
        match self {
            Topic::Events => 0,
            Topic::Transactions => 1,
            Topic::Attachments => 2,
        }
    }
}
