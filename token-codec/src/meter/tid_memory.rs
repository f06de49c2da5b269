//! The meter's memory of accepted TIDs (brief decision 11).
//!
//! A TID already held is `used`. When the memory is full, a TID lower than the lowest held is
//! `old`; while it has room, a lower TID passes (a meter cannot know about tokens it never
//! saw). A passing TID is stored only once its token is accepted, evicting the lowest when
//! full, so a token refused by a later check leaves the memory as it was.
//!
//! Capacity: storage is a const generic `N` (fixed memory, no allocation) and a run-time
//! capacity up to `N` may be set lower. The default of 50 follows the brief: the only number
//! found in public sources is the 50 TIDs a vending implementation keeps per meter
//! (SPEC-codec §6.3); with one token a day it covers about seven weeks of out-of-order entry.

use crate::tid::Tid;

/// Why a TID cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TidVerdict {
    /// Already held.
    Used,
    /// Memory full and the TID is below the lowest held.
    Old,
}

/// Fixed-size set of accepted TIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TidMemory<const N: usize> {
    tids: [u32; N],
    len: usize,
    capacity: usize,
}

impl<const N: usize> Default for TidMemory<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TidMemory<N> {
    /// An empty memory using all `N` slots.
    pub const fn new() -> Self {
        Self {
            tids: [0; N],
            len: 0,
            capacity: N,
        }
    }

    /// An empty memory of `capacity` slots; `None` if `capacity` is 0 or exceeds `N`.
    pub const fn with_capacity(capacity: usize) -> Option<Self> {
        if capacity == 0 || capacity > N {
            return None;
        }
        Some(Self {
            tids: [0; N],
            len: 0,
            capacity,
        })
    }

    /// Slots in use.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True when no TID is held.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Run-time capacity.
    pub const fn capacity(&self) -> usize {
        self.capacity
    }

    /// The TIDs held, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Tid> + '_ {
        self.tids
            .iter()
            .take(self.len)
            .map(|&t| Tid::from_low_bits(u64::from(t)))
    }

    fn held(&self) -> &[u32] {
        self.tids.get(..self.len).unwrap_or(&[])
    }

    /// The lowest TID held.
    pub fn lowest(&self) -> Option<Tid> {
        self.held()
            .iter()
            .min()
            .map(|&t| Tid::from_low_bits(u64::from(t)))
    }

    /// Checks a TID without changing the memory.
    pub fn check(&self, tid: Tid) -> Result<(), TidVerdict> {
        let held = self.held();
        if held.contains(&tid.get()) {
            return Err(TidVerdict::Used);
        }
        let full = self.len >= self.capacity;
        if full && held.iter().min().is_some_and(|&lowest| tid.get() < lowest) {
            return Err(TidVerdict::Old);
        }
        Ok(())
    }

    /// Stores an accepted TID (after [`TidMemory::check`] passed), evicting the lowest when
    /// full. Storing a TID already held changes nothing.
    pub fn insert(&mut self, tid: Tid) {
        if self.held().contains(&tid.get()) {
            return;
        }
        if self.len < self.capacity {
            if let Some(slot) = self.tids.get_mut(self.len) {
                *slot = tid.get();
                self.len += 1;
            }
            return;
        }
        let lowest = self
            .held()
            .iter()
            .enumerate()
            .min_by_key(|&(_, &t)| t)
            .map(|(i, _)| i);
        if let Some(slot) = lowest.and_then(|i| self.tids.get_mut(i)) {
            *slot = tid.get();
        }
    }

    /// Forgets every TID (rollover key change).
    pub fn clear(&mut self) {
        self.tids = [0; N];
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tid(v: u32) -> Tid {
        Tid::new(v).unwrap()
    }

    #[test]
    fn used_old_and_eviction() {
        let mut m = TidMemory::<3>::new();
        for v in [10, 20, 30] {
            assert_eq!(m.check(tid(v)), Ok(()));
            m.insert(tid(v));
        }
        assert_eq!(m.check(tid(20)), Err(TidVerdict::Used));
        assert_eq!(m.check(tid(5)), Err(TidVerdict::Old));
        assert_eq!(m.check(tid(15)), Ok(()));
        m.insert(tid(15));
        assert_eq!(m.lowest(), Some(tid(15)));
        assert_eq!(m.check(tid(10)), Err(TidVerdict::Old));
    }

    #[test]
    fn lower_tid_passes_while_there_is_room() {
        let mut m = TidMemory::<50>::with_capacity(2).unwrap();
        m.insert(tid(100));
        assert_eq!(m.check(tid(50)), Ok(()));
        m.insert(tid(50));
        assert_eq!(m.check(tid(49)), Err(TidVerdict::Old));
        m.clear();
        assert_eq!(m.check(tid(49)), Ok(()));
        assert!(TidMemory::<2>::with_capacity(3).is_none());
    }
}
