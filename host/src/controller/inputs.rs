//! Inputs no cache holds (an image's labels, a discovery Job's output, a storage class's binding
//! mode), fetched only when a plan asks for one: the host plans, fetches what the plan asks for,
//! and plans again with it. Whether an input is needed is the policy's decision; the host only
//! checks what it is asked to read.

use aim_api::policy::observation::Observation;
use aim_api::policy::plan::Plan;

use super::context::Context;
use super::error::Error;
use crate::policy::{PlanSubject, SubjectKind};

/// Plans from `observe(None)`; when `fetch` gets an input that plan asks for, plans again from
/// `observe(Some(input))`. Returns the observation the resulting plan was made from, and the plan;
/// the first plan stands when there is nothing to fetch.
pub async fn plan_with_input<O, I>(
    ctx: &Context,
    kind: SubjectKind,
    subject: &PlanSubject,
    observe: impl Fn(Option<I>) -> O,
    fetch: impl AsyncFnOnce(&Plan) -> Result<Option<I>, Error>,
) -> (O, Result<Plan, Error>)
where
    O: Observation,
{
    let first = observe(None);
    let plan = match ctx.plan(kind, &first, subject.clone()).await {
        Ok(plan) => plan,
        failed => return (first, failed),
    };
    match fetch(&plan).await {
        Ok(Some(input)) => {
            let second = observe(Some(input));
            let plan = ctx.plan(kind, &second, subject.clone()).await;
            (second, plan)
        }
        Ok(None) => (first, Ok(plan)),
        Err(error) => (first, Err(error)),
    }
}
