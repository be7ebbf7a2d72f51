//! What the watcher does about one judgement (`status::judge`): a pure function of the
//! verdict's typed reason and keepalived's state here, table-tested below. The verdict itself
//! is the status core's; this module only maps it to an action, and never to a write unless
//! keepalived says this node is MASTER.

use crate::status::{Judgement, Reason};

/// What one check of a VIP calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// All agree (or it is another node's job): check again next interval.
    Nothing,
    /// Something is in flight (a task, an announcement): look again, touch nothing.
    Wait,
    /// This node is MASTER and the cloud names another holder, several, or none: re-announce
    /// and re-run the strategy (the MASTER procedure `notify` runs).
    Repair,
    /// This node is MASTER, holds the VIP, and the EIP came off it: the same procedure binds it
    /// again.
    Rebind,
    /// This node is not MASTER, yet the cloud or a local interface says it holds the VIP:
    /// alert, and never write.
    Split,
    /// Something could not be read: the error policy decides when to look again.
    Unreadable,
}

impl Decision {
    /// Whether the decision writes to the cloud (through the MASTER procedure).
    pub fn writes(self) -> bool {
        matches!(self, Decision::Repair | Decision::Rebind)
    }

    /// The name logs and the journal use.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Nothing => "nothing",
            Decision::Wait => "wait",
            Decision::Repair => "repair",
            Decision::Rebind => "rebind",
            Decision::Split => "split",
            Decision::Unreadable => "unreadable",
        }
    }
}

/// The action for `j`, given whether keepalived's last recorded state here is MASTER.
pub fn decide(j: &Judgement, master: bool) -> Decision {
    match (&j.reason, master) {
        (Reason::Agreed { .. }, _) => Decision::Nothing,
        (
            Reason::CloudUnreadable(_)
            | Reason::StateUnreadable(_)
            | Reason::InterfacesUnreadable(_),
            _,
        ) => Decision::Unreadable,
        // No event was ever recorded here, or none since this machine booted: keepalived has
        // not told havip anything to act for (a MASTER left from before a crash is not one).
        (Reason::NoLocalState | Reason::StaleLocalState { .. }, _) => Decision::Nothing,
        (Reason::Settling(_), _) => Decision::Wait,
        (
            Reason::Several(_)
            | Reason::HereButHeldElsewhere { .. }
            | Reason::MasterButHeldElsewhere { .. }
            | Reason::MasterButHeldByNobody,
            true,
        ) => Decision::Repair,
        (Reason::EipNotAttached(_), true) => Decision::Rebind,
        // keepalived's own business: it puts the address on the interface.
        (Reason::MasterWithoutAddress { .. }, _) => Decision::Nothing,
        (
            Reason::Several(_) | Reason::HereButHeldElsewhere { .. } | Reason::HeldButNotMaster(_),
            false,
        ) => Decision::Split,
        // Not MASTER here: the master's watcher repairs these.
        (
            Reason::HeldByNobody(_)
            | Reason::EipNotAttached(_)
            | Reason::MasterButHeldElsewhere { .. },
            false,
        ) => Decision::Nothing,
        // Reasons that only arise with the other keepalived state (judge's order).
        (Reason::HeldButNotMaster(_) | Reason::HeldByNobody(_), true) => Decision::Nothing,
        (Reason::MasterButHeldByNobody, false) => Decision::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::Seat;
    use crate::state::VrrpState;
    use crate::status::Verdict;
    use std::sync::Arc;

    fn j(verdict: Verdict, reason: Reason) -> Judgement {
        Judgement { verdict, reason }
    }

    #[test]
    fn each_reason_to_its_action() {
        let peer = Seat::new("ins-peer", "eni-peer");
        let io = || Arc::new(std::io::Error::other("x"));
        use Decision::*;
        let table: Vec<(Judgement, bool, Decision)> = vec![
            (
                j(Verdict::Ok, Reason::Agreed { this_node: true }),
                true,
                Nothing,
            ),
            (
                j(Verdict::Ok, Reason::Agreed { this_node: false }),
                false,
                Nothing,
            ),
            (
                j(Verdict::Unknown, Reason::StateUnreadable(io())),
                true,
                Unreadable,
            ),
            (
                j(Verdict::Unknown, Reason::InterfacesUnreadable(io())),
                false,
                Unreadable,
            ),
            // A MASTER recorded before a crash: never a repair (it would move the HAVIP away
            // from the node keepalived really made master).
            (
                j(
                    Verdict::Unknown,
                    Reason::StaleLocalState {
                        state: crate::state::VrrpState::Master,
                        at: chrono::Utc::now() - chrono::Duration::hours(1),
                        booted: chrono::Utc::now(),
                    },
                ),
                true,
                Nothing,
            ),
            (j(Verdict::Unknown, Reason::NoLocalState), false, Nothing),
            (
                j(Verdict::Drift, Reason::Settling("EIP BINDING".into())),
                true,
                Wait,
            ),
            (
                j(
                    Verdict::Split,
                    Reason::MasterButHeldElsewhere {
                        holder: peer.clone(),
                    },
                ),
                true,
                Repair,
            ),
            (
                j(Verdict::Drift, Reason::MasterButHeldByNobody),
                true,
                Repair,
            ),
            (
                j(Verdict::Split, Reason::Several(vec![peer.clone()])),
                true,
                Repair,
            ),
            (
                j(Verdict::Split, Reason::Several(vec![peer.clone()])),
                false,
                Split,
            ),
            (
                j(
                    Verdict::Split,
                    Reason::HereButHeldElsewhere {
                        label: "eth0".into(),
                        holder: peer.clone(),
                    },
                ),
                true,
                Repair,
            ),
            (
                j(
                    Verdict::Split,
                    Reason::HereButHeldElsewhere {
                        label: "eth0".into(),
                        holder: peer,
                    },
                ),
                false,
                Split,
            ),
            (
                j(Verdict::Drift, Reason::EipNotAttached(None)),
                true,
                Rebind,
            ),
            (
                j(Verdict::Drift, Reason::EipNotAttached(None)),
                false,
                Nothing,
            ),
            (
                j(Verdict::Drift, Reason::HeldButNotMaster(VrrpState::Backup)),
                false,
                Split,
            ),
            (
                j(Verdict::Drift, Reason::HeldByNobody(VrrpState::Backup)),
                false,
                Nothing,
            ),
            (
                j(
                    Verdict::Drift,
                    Reason::MasterWithoutAddress {
                        interface: "eth0".into(),
                    },
                ),
                true,
                Nothing,
            ),
        ];
        for (judgement, master, want) in table {
            assert_eq!(
                decide(&judgement, master),
                want,
                "{judgement} (master: {master})"
            );
        }
    }

    #[test]
    fn only_a_master_writes() {
        let peer = Seat::new("ins-peer", "");
        let reasons = [
            Reason::MasterButHeldElsewhere {
                holder: peer.clone(),
            },
            Reason::MasterButHeldByNobody,
            Reason::Several(vec![peer.clone()]),
            Reason::HereButHeldElsewhere {
                label: "eth0".into(),
                holder: peer,
            },
            Reason::EipNotAttached(None),
            Reason::HeldButNotMaster(VrrpState::Backup),
            Reason::HeldByNobody(VrrpState::Backup),
        ];
        for r in reasons {
            let d = decide(&j(Verdict::Drift, r.clone()), false);
            assert!(!d.writes(), "{r}: {d:?}");
        }
    }
}
