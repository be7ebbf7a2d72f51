//! Async tasks: what each one does, the intermediate state it shows while it runs (EIP
//! BINDING/UNBINDING, IP MIGRATING), and its lazy completion: applied on success, rolled back on
//! failure, in start order.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{bound_status, Address, Binding, World};

/// What an async task does when it completes.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TaskOp {
    HavipBindEip {
        havip_id: String,
        address_id: String,
    },
    HavipUnbindEip {
        havip_id: String,
        address_id: String,
    },
    BindAddress {
        address_id: String,
        binding: Binding,
    },
    UnbindAddress {
        address_id: String,
    },
    MigrateIp {
        source: String,
        destination: String,
        ip: String,
    },
    DeleteHavip {
        havip_id: String,
    },
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Running,
    Success,
    Failed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Running => "RUNNING",
            TaskStatus::Success => "SUCCESS",
            TaskStatus::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Task {
    /// The integer TaskId (DescribeTaskResult).
    pub task_id: u64,
    /// The RequestId of the call that started it (DescribeVpcTaskResult).
    pub request_id: String,
    pub action: String,
    pub region: String,
    pub status: TaskStatus,
    /// Decided at creation (a `task_result: FAILED` fault).
    pub will_fail: bool,
    #[serde(skip)]
    pub deadline: Instant,
    /// Resources a second operation must not touch while this runs.
    pub resources: Vec<String>,
    pub op: TaskOp,
    pub output: String,
}

/// Finished tasks kept for DescribeTaskResult/DescribeVpcTaskResult.
const FINISHED_TASKS_KEPT: usize = 10_000;

impl World {
    /// The running task that holds `resource`, if any.
    pub fn running_task_on(&self, resource: &str) -> Option<&Task> {
        if self.running_tasks == 0 {
            return None;
        }
        self.tasks
            .iter()
            .find(|t| t.status == TaskStatus::Running && t.resources.iter().any(|r| r == resource))
    }

    /// Starts an async task: applies the intermediate state (EIP BINDING/UNBINDING, IP
    /// MIGRATING) and returns the integer TaskId.
    #[allow(clippy::too_many_arguments)]
    pub fn start_task(
        &mut self,
        action: &str,
        region: &str,
        request_id: &str,
        op: TaskOp,
        resources: Vec<String>,
        will_fail: bool,
        now: Instant,
    ) -> u64 {
        match &op {
            TaskOp::HavipBindEip { address_id, .. } | TaskOp::BindAddress { address_id, .. } => {
                self.set_address_status(address_id, |_| "BINDING");
            }
            TaskOp::HavipUnbindEip { address_id, .. } | TaskOp::UnbindAddress { address_id } => {
                self.set_address_status(address_id, |_| "UNBINDING");
            }
            TaskOp::MigrateIp { source, ip, .. } => self.set_ip_state(source, ip, "MIGRATING"),
            TaskOp::DeleteHavip { .. } => {}
        }
        let task_id = self.next_task_id;
        self.next_task_id += 1;
        self.tasks.push(Task {
            task_id,
            request_id: request_id.to_string(),
            action: action.to_string(),
            region: region.to_string(),
            status: TaskStatus::Running,
            will_fail,
            deadline: now
                .checked_add(Duration::from_millis(self.settings.task_duration_ms))
                .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400)),
            resources,
            op,
            output: String::new(),
        });
        self.running_tasks += 1;
        self.prune_tasks();
        task_id
    }

    fn prune_tasks(&mut self) {
        let finished = self.tasks.len() - self.running_tasks;
        if finished > FINISHED_TASKS_KEPT {
            let mut drop = finished - FINISHED_TASKS_KEPT;
            self.tasks.retain(|t| {
                if drop > 0 && t.status != TaskStatus::Running {
                    drop -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }

    /// Completes every running task whose deadline has passed, in start order.
    pub fn tick(&mut self, now: Instant, wall: DateTime<Utc>) {
        if self.running_tasks == 0 {
            return;
        }
        let due: Vec<usize> = self
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status == TaskStatus::Running && t.deadline <= now)
            .map(|(i, _)| i)
            .collect();
        for i in due {
            let (op, will_fail) = (self.tasks[i].op.clone(), self.tasks[i].will_fail);
            let result = if will_fail {
                self.rollback(&op);
                Err("injected failure (task_result fault)".to_string())
            } else {
                self.apply(&op, wall)
            };
            let task = &mut self.tasks[i];
            match result {
                Ok(()) => {
                    task.status = TaskStatus::Success;
                    task.output = "SUCCESS".into();
                }
                Err(why) => {
                    task.status = TaskStatus::Failed;
                    task.output = format!("FAILED: {why}");
                }
            }
            self.running_tasks -= 1;
        }
    }

    /// Undoes the intermediate state of a failed task.
    fn rollback(&mut self, op: &TaskOp) {
        match op {
            TaskOp::HavipBindEip { address_id, .. } | TaskOp::BindAddress { address_id, .. } => {
                self.set_address_status(address_id, |_| "UNBIND");
            }
            TaskOp::HavipUnbindEip { address_id, .. } | TaskOp::UnbindAddress { address_id } => {
                self.set_address_status(address_id, |a| bound_status(a.binding.as_ref()));
            }
            TaskOp::MigrateIp { source, ip, .. } => self.set_ip_state(source, ip, "AVAILABLE"),
            TaskOp::DeleteHavip { .. } => {}
        }
    }

    /// Applies a successful task. Resources may have changed meanwhile (an instance
    /// stopped, …); anything that no longer makes sense fails the task instead.
    fn apply(&mut self, op: &TaskOp, _wall: DateTime<Utc>) -> Result<(), String> {
        match op {
            TaskOp::HavipBindEip {
                havip_id,
                address_id,
            } => {
                if self.havip(havip_id).is_none() {
                    self.rollback(op);
                    return Err(format!("HAVIP {havip_id} no longer exists"));
                }
                let binding = Binding::Havip {
                    havip_id: havip_id.clone(),
                };
                self.bind_address(address_id, Some(binding))
            }
            TaskOp::BindAddress {
                address_id,
                binding,
            } => self.bind_address(address_id, Some(binding.clone())),
            TaskOp::HavipUnbindEip { address_id, .. } | TaskOp::UnbindAddress { address_id } => {
                self.bind_address(address_id, None)
            }
            TaskOp::MigrateIp {
                source,
                destination,
                ip,
            } => self.migrate_ip(source, destination, ip),
            TaskOp::DeleteHavip { havip_id } => {
                self.havips.retain(|h| &h.id != havip_id);
                Ok(())
            }
        }
    }

    /// The final state of a (un)bind: the binding, and the status it implies.
    fn bind_address(&mut self, address_id: &str, binding: Option<Binding>) -> Result<(), String> {
        let a = self
            .address_mut(address_id)
            .ok_or_else(|| format!("EIP {address_id} no longer exists"))?;
        a.status = bound_status(binding.as_ref()).into();
        a.binding = binding;
        Ok(())
    }

    /// Moves a secondary IP between ENIs; an EIP on that IP follows it to the new ENI.
    fn migrate_ip(&mut self, source: &str, destination: &str, ip: &str) -> Result<(), String> {
        let src = self
            .eni_mut(source)
            .ok_or_else(|| format!("ENI {source} no longer exists"))?;
        let Some(pos) = src.private_ips.iter().position(|p| p.ip == ip) else {
            return Err(format!("{ip} is no longer on {source}"));
        };
        let mut moved = src.private_ips.remove(pos);
        moved.state = "AVAILABLE".into();
        moved.primary = false;
        let Some(dst) = self.eni_mut(destination) else {
            // Put it back: the destination vanished.
            if let Some(src) = self.eni_mut(source) {
                src.private_ips.insert(pos, moved);
            }
            return Err(format!("ENI {destination} no longer exists"));
        };
        dst.private_ips.push(moved);
        let dst_instance = dst.instance_id.clone();
        for a in &mut self.addresses {
            if let Some(Binding::Eni {
                eni_id,
                private_ip,
                instance_id,
            }) = &mut a.binding
            {
                if eni_id == source && private_ip == ip {
                    *eni_id = destination.to_string();
                    *instance_id = dst_instance.clone();
                    a.status = bound_status(a.binding.as_ref()).into();
                }
            }
        }
        Ok(())
    }

    fn set_address_status(&mut self, id: &str, status: impl FnOnce(&Address) -> &'static str) {
        if let Some(a) = self.address_mut(id) {
            a.status = status(a).into();
        }
    }

    fn set_ip_state(&mut self, eni_id: &str, ip: &str, state: &str) {
        if let Some(p) = self
            .eni_mut(eni_id)
            .and_then(|e| e.private_ips.iter_mut().find(|p| p.ip == ip))
        {
            p.state = state.into();
        }
    }
}
