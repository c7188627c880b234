//! The manager's metrics, through the `metrics` facade (no exporter is bundled: the application
//! installs a recorder). Names and labels are part of the API.

/// Counter: reloads, labelled `outcome` = `unchanged`, `updated`, `logged_out` or `kept_cached`
/// (a failure that kept the cached state).
pub const RELOADS: &str = "agent_identity_reloads_total";
/// Counter: `recover_unauthorized` calls, labelled `outcome` = `registered` (a new task),
/// `adopted` (the task another process of the home recovered to), `cooled_down` (within the
/// recovery cooldown: no registration) or `failed`.
pub const RECOVERIES: &str = "agent_identity_recoveries_total";
/// Counter: tasks set up for an identity, labelled `source` = `cache` (the home's cached task,
/// no round trip) or `registration`.
pub const TASKS: &str = "agent_identity_tasks_total";

pub(crate) fn reload(outcome: &'static str) {
    metrics::counter!(RELOADS, "outcome" => outcome).increment(1);
}

pub(crate) fn recovery(outcome: &'static str) {
    metrics::counter!(RECOVERIES, "outcome" => outcome).increment(1);
}

pub(crate) fn task(source: &'static str) {
    metrics::counter!(TASKS, "source" => source).increment(1);
}
