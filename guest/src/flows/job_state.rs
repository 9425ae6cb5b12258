//! Where a Job stands, read from its conditions and counters, and which of several Jobs is the
//! newest: discovery and download flows both decide from this alone.

use k8s_openapi::api::batch::v1::Job;

/// The state of one Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Neither succeeded nor failed yet.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished after its last retry failed.
    Failed,
}

impl JobState {
    /// True once the Job will not run again.
    pub fn is_finished(self) -> bool {
        self != Self::Running
    }
}

/// A Job's state: a true `Failed`/`FailureTarget` condition wins over success, because a Job
/// that failed its final attempt may still count earlier successes of other pods.
pub fn job_state(job: &Job) -> JobState {
    let Some(status) = &job.status else {
        return JobState::Running;
    };
    let holds = |types: &[&str]| {
        status.conditions.iter().flatten().any(|condition| {
            types.contains(&condition.type_.as_str()) && condition.status == "True"
        })
    };
    if holds(&["Failed", "FailureTarget"]) {
        JobState::Failed
    } else if holds(&["Complete", "SuccessCriteriaMet"]) || status.succeeded.unwrap_or(0) > 0 {
        JobState::Succeeded
    } else {
        JobState::Running
    }
}

/// The newest Job by creation time; equal times are broken by name so the answer is stable.
pub fn newest<'a>(jobs: impl IntoIterator<Item = &'a Job>) -> Option<&'a Job> {
    jobs.into_iter().max_by(|a, b| {
        let key = |job: &'a Job| {
            (
                job.metadata.creation_timestamp.clone(),
                job.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;

    fn job_with(name: &str, created: &str, condition: Option<&str>) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                creation_timestamp: Some(Time(created.parse().unwrap())),
                ..ObjectMeta::default()
            },
            status: condition.map(|type_| JobStatus {
                conditions: Some(vec![JobCondition {
                    type_: type_.to_owned(),
                    status: "True".to_owned(),
                    ..JobCondition::default()
                }]),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    #[test]
    fn a_job_without_status_is_running() {
        assert_eq!(job_state(&Job::default()), JobState::Running);
    }

    #[test]
    fn complete_and_failed_conditions_finish_a_job() {
        let complete = job_with("a", "2025-01-01T00:00:00Z", Some("Complete"));
        let failed = job_with("b", "2025-01-01T00:00:00Z", Some("Failed"));
        assert_eq!(job_state(&complete), JobState::Succeeded);
        assert_eq!(job_state(&failed), JobState::Failed);
        assert!(job_state(&failed).is_finished());
    }

    #[test]
    fn the_newest_job_is_the_last_created() {
        let old = job_with("z-old", "2025-01-01T00:00:00Z", None);
        let new = job_with("a-new", "2025-01-02T00:00:00Z", None);
        let jobs = [old, new];
        assert_eq!(
            newest(&jobs).and_then(|j| j.metadata.name.as_deref()),
            Some("a-new")
        );
        assert!(newest(&[]).is_none());
    }
}
