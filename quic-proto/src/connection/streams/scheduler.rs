//! The order in which streams get to send (RFC 9000 §2.3): higher priority
//! first, round-robin among streams of equal priority so that none starves
//! the others.

use std::collections::VecDeque;

use crate::shared::StreamId;

/// Empty priority levels are kept for reuse (no allocation when a queue
/// drains and refills) until there are more levels than this.
const KEEP_LEVELS: usize = 8;

/// Streams waiting to send, by priority.
///
/// The caller keeps a flag per stream saying whether it is queued, so a
/// stream is never queued twice.
#[derive(Debug, Default)]
pub struct Scheduler {
    /// Sorted by priority, highest first; priorities are distinct.
    levels: Vec<Level>,
}

#[derive(Debug)]
struct Level {
    priority: i32,
    queue: VecDeque<StreamId>,
}

impl Scheduler {
    fn level(&mut self, priority: i32) -> &mut VecDeque<StreamId> {
        let i = self.levels.partition_point(|l| l.priority > priority);
        if self.levels.get(i).is_none_or(|l| l.priority != priority) {
            if self.levels.len() >= KEEP_LEVELS {
                self.levels.retain(|l| !l.queue.is_empty());
            }
            let i = self.levels.partition_point(|l| l.priority > priority);
            self.levels.insert(
                i,
                Level {
                    priority,
                    queue: VecDeque::new(),
                },
            );
            return &mut self.levels[i].queue;
        }
        &mut self.levels[i].queue
    }

    /// Queues `id` behind the streams of its priority.
    pub fn push_back(&mut self, id: StreamId, priority: i32) {
        self.level(priority).push_back(id);
    }

    /// Queues `id` ahead of the streams of its priority (it keeps its turn).
    pub fn push_front(&mut self, id: StreamId, priority: i32) {
        self.level(priority).push_front(id);
    }

    /// Takes the first stream of the highest priority.
    pub fn pop(&mut self) -> Option<StreamId> {
        self.levels.iter_mut().find_map(|l| l.queue.pop_front())
    }

    /// Removes `id`; returns whether it was queued.
    pub fn remove(&mut self, id: StreamId) -> bool {
        for level in &mut self.levels {
            if let Some(i) = level.queue.iter().position(|&q| q == id) {
                level.queue.remove(i);
                return true;
            }
        }
        false
    }

    /// Whether no stream is queued.
    pub fn is_empty(&self) -> bool {
        self.levels.iter().all(|l| l.queue.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::{Dir, Side};

    fn id(i: u64) -> StreamId {
        StreamId::new(Side::Client, Dir::Bi, i)
    }

    /// RFC 9000 §2.3: higher priority first, FIFO within a priority.
    #[test]
    fn rfc9000_2_3_priority_then_fifo() {
        let mut s = Scheduler::default();
        s.push_back(id(0), 0);
        s.push_back(id(1), 5);
        s.push_back(id(2), 0);
        s.push_back(id(3), -3);
        s.push_front(id(4), 0);
        let order: Vec<_> = std::iter::from_fn(|| s.pop()).collect();
        assert_eq!(order, [id(1), id(4), id(0), id(2), id(3)]);
        assert!(s.is_empty());
    }

    #[test]
    fn remove_and_level_reuse() {
        let mut s = Scheduler::default();
        for p in 0..20 {
            s.push_back(id(p as u64), p);
            assert_eq!(s.pop(), Some(id(p as u64)));
        }
        assert!(s.levels.len() <= KEEP_LEVELS + 1);
        s.push_back(id(1), 1);
        s.push_back(id(2), 1);
        assert!(s.remove(id(1)));
        assert!(!s.remove(id(1)));
        assert_eq!(s.pop(), Some(id(2)));
        assert_eq!(s.pop(), None);
    }
}
