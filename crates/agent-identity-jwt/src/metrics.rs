//! The JWT crate's metrics, through the `metrics` facade (no exporter is bundled: the
//! application installs a recorder). Names and labels are part of the API.

/// Counter: key set fetches, labelled `outcome` = `ok`, `failed` (the source answered with an
/// error), `no_usable_key` or `timed_out`.
pub const KEY_SET_FETCHES: &str = "agent_identity_key_set_fetches_total";
/// Counter: tokens whose `kid` the cached key set lacks, labelled `action` = `refetch` (a fetch
/// was started or joined for it) or `refused` (within the refetch interval: `KidNotYetKnown`).
pub const UNKNOWN_KIDS: &str = "agent_identity_unknown_kids_total";

pub(crate) fn key_set_fetch(outcome: &'static str) {
    metrics::counter!(KEY_SET_FETCHES, "outcome" => outcome).increment(1);
}

pub(crate) fn unknown_kid(action: &'static str) {
    metrics::counter!(UNKNOWN_KIDS, "action" => action).increment(1);
}
