//! The service scheduler: a deployment starts its tasks, the old ones drain, the circuit breaker
//! trips (and rolls back) or the deployment completes.

use super::{
    Behaviour, Deployment, Phase, SERVICE, Scenario, TARGET_GROUP_ARN, World, history, split_td_arn,
};

pub fn service_behaviour(scenario: &Scenario, new: bool) -> Behaviour {
    if new && scenario.crash_loop {
        Behaviour::Crash
    } else if new && scenario.unhealthy_targets {
        Behaviour::Unhealthy
    } else {
        Behaviour::Healthy
    }
}

pub fn circuit_breaker_threshold(desired: i64) -> i64 {
    ((desired + 1) / 2).clamp(3, 200)
}

impl World {
    /// The service scheduler: starts the primary deployment's tasks, drains the old ones,
    /// trips the circuit breaker and completes deployments.
    pub(super) fn schedule(&mut self, at: i64) {
        let Some(p) = self.service.deployments.iter().position(|d| d.primary) else {
            return;
        };
        let primary = self.service.deployments[p].clone();
        let live: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| {
                self.tasks[i].deployment.as_deref() == Some(&primary.id) && self.tasks[i].is_live()
            })
            .collect();
        if primary.rollout_state != "FAILED" && (live.len() as i64) < primary.desired {
            let (family, revision) = split_td_arn(&primary.td_arn);
            let mut started = Vec::new();
            for _ in live.len() as i64..primary.desired {
                let i = self.create_task(&family, revision, Some(primary.id.clone()), None, at);
                if i != usize::MAX {
                    started.push(self.tasks[i].id.clone());
                }
            }
            if !started.is_empty() {
                let list: String = started.iter().map(|t| format!(" (task {t})")).collect();
                self.service_event_at(
                    at,
                    format!(
                        "(service {SERVICE}) has started {} tasks:{list}.",
                        started.len()
                    ),
                );
                self.event(at, "tasks-started", started.join(" "));
            }
        } else if (live.len() as i64) > primary.desired {
            let extra = live.len() - primary.desired.max(0) as usize;
            let reason = format!("Scaling activity initiated by (deployment {})", primary.id);
            let mut stopped = Vec::new();
            for &i in live.iter().take(extra) {
                self.begin_stop(i, at, "ServiceSchedulerInitiated", &reason, Some(0));
                stopped.push(self.tasks[i].id.clone());
            }
            self.stopped_events(at, &stopped);
        }

        let primary_healthy = self
            .tasks
            .iter()
            .filter(|t| t.deployment.as_deref() == Some(&primary.id) && t.healthy_target())
            .count() as i64;
        let mut allowed_old = (primary.desired - primary_healthy).max(0);
        let reason = format!("Scaling activity initiated by (deployment {})", primary.id);
        let mut old: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| {
                let t = &self.tasks[i];
                t.deployment.is_some()
                    && t.deployment.as_deref() != Some(&primary.id)
                    && t.is_live()
            })
            .collect();
        old.sort_by_key(|&i| std::cmp::Reverse(self.tasks[i].created_at));
        if self.keeps_old_tasks() {
            old.clear();
        }
        let mut stopped = Vec::new();
        for i in old {
            if self.tasks[i].healthy_target() && allowed_old > 0 {
                allowed_old -= 1;
                continue;
            }
            self.begin_stop(i, at, "ServiceSchedulerInitiated", &reason, Some(0));
            stopped.push(self.tasks[i].id.clone());
        }
        self.stopped_events(at, &stopped);

        let d = &self.service.deployments[p];
        if d.rollout_state == "IN_PROGRESS"
            && self.service.circuit_breaker
            && d.failed_tasks >= circuit_breaker_threshold(d.desired)
        {
            self.fail_deployment(p, at);
            return;
        }
        let others_left = self.tasks.iter().any(|t| {
            t.deployment.is_some()
                && t.deployment.as_deref() != Some(&primary.id)
                && t.phase != Phase::Stopped
        });
        let live_now = self
            .tasks
            .iter()
            .filter(|t| t.deployment.as_deref() == Some(&primary.id) && t.is_live())
            .count() as i64;
        let d = &mut self.service.deployments[p];
        if d.rollout_state == "IN_PROGRESS"
            && primary_healthy >= d.desired
            && live_now == d.desired
            && !others_left
        {
            d.rollout_state = "COMPLETED".into();
            d.rollout_reason = format!("ECS deployment {} completed.", d.id);
            d.updated_at = at;
            let (id, td) = (d.id.clone(), d.td_arn.clone());
            if self.service.shift.as_ref().is_some_and(|s| s.ecs_id == id) {
                self.service.shift = None;
            }
            self.service.deployments.retain(|d| d.primary);
            self.service.last_completed = (id.clone(), td.clone());
            self.service.steady_reported = false;
            history::completed(self, &id, at);
            self.event(at, "deployment-completed", format!("{id} {td}"));
        }
        if !self.service.steady_reported
            && self.service.deployments.len() == 1
            && self.service.deployments[0].rollout_state == "COMPLETED"
        {
            self.service.steady_reported = true;
            self.service_event_at(
                at,
                format!("(service {SERVICE}) has reached a steady state."),
            );
            self.event(at, "steady-state", SERVICE.to_string());
        }
        self.drive_shift(at);
    }

    /// The service events for tasks the scheduler has just stopped: those registered in the
    /// target group begin draining (their stop is announced when the drain ends); the others
    /// stop at once.
    pub(super) fn stopped_events(&mut self, at: i64, stopped: &[String]) {
        let (draining, immediate): (Vec<&String>, Vec<&String>) = stopped.iter().partition(|id| {
            self.tasks
                .iter()
                .any(|t| &t.id == *id && t.phase == Phase::Deactivating)
        });
        if !draining.is_empty() {
            self.service_event_at(
                at,
                format!(
                    "(service {SERVICE}) has begun draining connections on {} tasks.",
                    draining.len()
                ),
            );
            self.service_event_at(
                at,
                format!(
                    "(service {SERVICE}) deregistered {} targets in (target-group {TARGET_GROUP_ARN})",
                    draining.len()
                ),
            );
        }
        let immediate: Vec<String> = immediate.into_iter().cloned().collect();
        self.stopped_event(at, &immediate);
        for id in stopped {
            self.event(at, "task-stopping", id.clone());
        }
    }

    /// Announces the tasks whose drain ended (at one instant) as stopped.
    pub(super) fn announce_drained(&mut self) {
        let Some(&(at, _)) = self.drained.first() else {
            return;
        };
        let ids: Vec<String> = std::mem::take(&mut self.drained)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        self.stopped_event(at, &ids);
    }

    pub(super) fn stopped_event(&mut self, at: i64, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let list: String = ids.iter().map(|t| format!(" (task {t})")).collect();
        self.service_event_at(
            at,
            format!(
                "(service {SERVICE}) has stopped {} running tasks:{list}.",
                ids.len()
            ),
        );
    }

    pub(super) fn fail_deployment(&mut self, p: usize, at: i64) {
        let (failed_id, failed_td, failures) = {
            let d = &mut self.service.deployments[p];
            d.rollout_state = "FAILED".into();
            d.rollout_reason = "ECS deployment circuit breaker: tasks failed to start.".into();
            d.updated_at = at;
            (d.id.clone(), d.td_arn.clone(), d.failed_tasks)
        };
        self.service_event_at(
            at,
            format!("(service {SERVICE}) (deployment {failed_id}) deployment failed: tasks failed to start."),
        );
        self.event(at, "deployment-failed", format!("{failed_id} {failed_td}"));
        if !self.service.rollback {
            history::failed(self, &failed_id, failures, None, at);
            return;
        }
        let (id, to_id) = self.start_rollback(
            &failed_id,
            |to| format!("ECS deployment circuit breaker: rolling back to deploymentId {to}."),
            at,
        );
        history::failed(self, &failed_id, failures, Some((&id, &to_id)), at);
    }

    /// StopServiceDeployment ROLLBACK of the service deployment carried by `ecs_id`: a new
    /// PRIMARY deployment on the revision that last completed, as the circuit breaker's rollback
    /// does, whatever the service's rollback setting.
    pub fn roll_back_on_request(&mut self, ecs_id: &str, at: i64) {
        self.advance();
        if self
            .service
            .shift
            .as_ref()
            .is_some_and(|s| s.ecs_id == ecs_id)
        {
            self.roll_back_shift("Rollback requested by StopServiceDeployment.".into(), at);
            return;
        }
        let (id, to_id) = self.start_rollback(
            ecs_id,
            |to| format!("ECS deployment rollback requested: rolling back to deploymentId {to}."),
            at,
        );
        history::rollback_requested(self, ecs_id, &id, &to_id, at);
    }

    /// Rolls the service back to the revision that last completed, away from the ECS deployment
    /// `from`: a new PRIMARY deployment (its rollout reason worded by `reason` for the deployment
    /// it goes back to) that adopts the old tasks when a traffic shift was in flight. Returns
    /// its id and the id of the deployment it goes back to.
    pub(super) fn start_rollback(
        &mut self,
        from: &str,
        reason: impl Fn(&str) -> String,
        at: i64,
    ) -> (String, String) {
        let (to_id, to_td) = self.service.last_completed.clone();
        let id = self.push_primary(&to_td, |_| reason(&to_id), at);
        if self.service.shift.take().is_some() {
            self.adopt_old_tasks(&id, from);
        }
        self.service.steady_reported = false;
        self.service_event_at(
            at,
            format!("(service {SERVICE}) (deployment {id}) rolling back to deployment {to_id}."),
        );
        self.event(at, "rollback-started", format!("{id} {to_td}"));
        (id, to_id)
    }

    /// Puts a new IN_PROGRESS deployment of `td_arn` first, as PRIMARY (the others become
    /// ACTIVE), with the rollout reason `reason` gives for its id; returns the id.
    pub(super) fn push_primary(
        &mut self,
        td_arn: &str,
        reason: impl Fn(&str) -> String,
        at: i64,
    ) -> String {
        let id = format!("ecs-svc/{}", self.next_number(19));
        for d in &mut self.service.deployments {
            d.primary = false;
        }
        let deployment = Deployment {
            id: id.clone(),
            primary: true,
            td_arn: td_arn.to_string(),
            desired: self.service.desired,
            failed_tasks: 0,
            created_at: at,
            updated_at: at,
            rollout_state: "IN_PROGRESS".into(),
            rollout_reason: reason(&id),
        };
        self.service.deployments.insert(0, deployment);
        id
    }

    /// Creates a new PRIMARY deployment on `td_arn`; the old ones become ACTIVE.
    pub fn new_deployment(&mut self, td_arn: &str, at: i64) -> String {
        let id = self.push_primary(td_arn, |id| format!("ECS deployment {id} in progress."), at);
        self.service.steady_reported = false;
        self.event(at, "deployment-created", format!("{id} {td_arn}"));
        // A newer deployment replaces a traffic shift in flight; the scheduler drains its tasks.
        self.service.shift = None;
        history::started(self, &id, td_arn, at);
        if self.service.strategy.shifts_traffic() {
            self.begin_shift(&id, at);
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_circuit_breaker_threshold_is_half_the_desired_count_within_3_and_200() {
        assert_eq!(circuit_breaker_threshold(1), 3);
        assert_eq!(circuit_breaker_threshold(2), 3);
        assert_eq!(circuit_breaker_threshold(7), 4);
        assert_eq!(circuit_breaker_threshold(10), 5);
        assert_eq!(circuit_breaker_threshold(1000), 200);
    }
}
