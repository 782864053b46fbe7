//! Monitoring: alert rules evaluated every `evaluationInterval`, the way Prometheus evaluates
//! them. Services are scraped every `scrapeInterval`, so a rule sees a service as it was at the
//! last scrape; both timers have a random phase (the monitoring stream), as they do against a
//! real cluster. An alert is pending from the first evaluation at which its condition holds and
//! fires at the first evaluation at least `for` later; it resolves at the first evaluation where
//! the condition no longer holds. What a policy sees of an outage comes through here.
//!
//! `PodCrashLooping` holds for a workload while one of its pods is, or was in the last five
//! minutes, in CrashLoopBackOff (kubernetes-mixin's `max_over_time(...[5m])`), so the short
//! restart attempts between waits do not reset it.

use crate::defaults;
use crate::history::AlertRecord;
use crate::ids::ServiceId;
use crate::spec::AlertCondition;
use crate::time::SimTime;
use crate::world::{Event, World};

impl World {
    /// Evaluates every rule and schedules the next evaluation.
    pub(crate) fn on_monitor(&mut self) {
        let now = self.now;
        let mon = &self.scenario.spec.monitoring;
        let scrape = mon.scrape_interval.ms();
        // The last scrape at or before now; none yet means no data, and no alert.
        let scraped = (now.0 >= self.scrape_phase)
            .then(|| SimTime(self.scrape_phase + (now.0 - self.scrape_phase) / scrape * scrape));
        let mut ratios = Vec::new();
        if let Some(at) = scraped {
            let history = &self.history;
            self.topology.ratios(
                at,
                |s: ServiceId| (history.capacity_at(usize::from(s), at), history.dead_at(usize::from(s), at)),
                |s| history.share_at(s, at),
                &mut ratios,
            );
        }
        let window = defaults::CRASHLOOP_ALERT_WINDOW_MS;
        for r in 0..self.scenario.spec.monitoring.alerts.len() {
            let rule = &self.scenario.spec.monitoring.alerts[r];
            let (condition, for_ms) = (rule.condition, rule.for_.ms());
            let holds: Vec<bool> = match condition {
                AlertCondition::ServiceDown => (0..self.topology.len())
                    .map(|i| scraped.is_some() && ratios[i] < self.topology.outage_below[i])
                    .collect(),
                AlertCondition::PodCrashLooping => self
                    .workloads
                    .values()
                    .map(|w| w.crashlooping > 0 || w.crashloop_seen.is_some_and(|t| now.0 - t.0 <= window))
                    .collect(),
            };
            for (target, cond) in holds.into_iter().enumerate() {
                self.update_alert(r, target, cond, for_ms);
            }
        }
        let next = now.after(self.scenario.spec.monitoring.evaluation_interval);
        if next < self.end {
            self.at(next, Event::Monitor);
        }
    }

    fn update_alert(&mut self, rule: usize, target: usize, holds: bool, for_ms: u64) {
        let now = self.now;
        let st = &mut self.alerts[rule][target];
        if holds {
            let since = *st.pending_since.get_or_insert(now);
            if st.firing_since.is_none() && now.0 - since.0 >= for_ms {
                st.firing_since = Some(now);
                st.record = Some(self.history.alerts.len());
                let name = self.scenario.spec.monitoring.alerts[rule].name.clone();
                let target_name = self.alert_target_name(rule, target);
                self.history.note(now, &target_name, || format!("alert {name} firing"));
                self.history.alerts.push(AlertRecord { name, target: target_name, fired: now, resolved: None });
            }
        } else if st.pending_since.is_some() {
            if let Some(i) = st.record.take() {
                self.history.alerts[i].resolved = Some(now);
                if self.history.timeline.is_some() {
                    let (name, target) = (self.history.alerts[i].name.clone(), self.history.alerts[i].target.clone());
                    self.history.note(now, &target, || format!("alert {name} resolved"));
                }
            }
            self.alerts[rule][target] = Default::default();
        }
    }

    /// The service or workload an alert instance is about.
    pub(crate) fn alert_target_name(&self, rule: usize, target: usize) -> String {
        match self.scenario.spec.monitoring.alerts[rule].condition {
            AlertCondition::ServiceDown => self.topology.names[target].clone(),
            AlertCondition::PodCrashLooping => self.workloads[crate::ids::WorkloadId::from(target)].name.clone(),
        }
    }
}
