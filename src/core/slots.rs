//! A map from request ids to values, shaped by how ids are handed out.
//!
//! Ids only grow, so a deque indexed by `id - first` gives O(1) insert,
//! lookup and removal, and iteration in issue order, with far less code in
//! the `.wasm` than a `BTreeMap` (every kilobyte there is downloaded by every
//! user of the app).

use alloc::collections::VecDeque;

use super::request::RequestId;

#[derive(Debug)]
pub(crate) struct Slots<T> {
    /// The id of `slots[0]`.
    first: u64,
    /// `None` for ids already removed. Never starts with `None`: leading
    /// holes are trimmed, so memory follows the oldest live request.
    slots: VecDeque<Option<T>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            first: 0,
            slots: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    /// Inserts `value` for `id`, which must be newer than every id inserted
    /// before; an older id is ignored and returns false.
    pub(crate) fn insert(&mut self, id: RequestId, value: T) -> bool {
        if self.slots.is_empty() {
            self.first = id.get();
        }
        let Some(index) = self.index(id).or_else(|| self.end_index(id)) else {
            return false;
        };
        while self.slots.len() < index {
            self.slots.push_back(None);
        }
        if index == self.slots.len() {
            self.slots.push_back(Some(value));
            self.len += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn get(&self, id: RequestId) -> Option<&T> {
        self.slots.get(self.index(id)?)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: RequestId) -> Option<&mut T> {
        let index = self.index(id)?;
        self.slots.get_mut(index)?.as_mut()
    }

    pub(crate) fn remove(&mut self, id: RequestId) -> Option<T> {
        let index = self.index(id)?;
        let value = self.slots.get_mut(index)?.take()?;
        self.len -= 1;
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
        Some(value)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every id from the oldest live entry's to the newest's, in order,
    /// removed ones included. It borrows nothing, so entries can be changed
    /// and removed on the way.
    pub(crate) fn ids(&self) -> impl Iterator<Item = RequestId> {
        let end = self.first.saturating_add(self.slots.len() as u64);
        (self.first..end).map(RequestId::new)
    }

    /// The index of an id within the current range.
    fn index(&self, id: RequestId) -> Option<usize> {
        let offset = id.get().checked_sub(self.first)?;
        let index = usize::try_from(offset).ok()?;
        (index < self.slots.len()).then_some(index)
    }

    /// The index a new id at or past the end would take.
    fn end_index(&self, id: RequestId) -> Option<usize> {
        let offset = id.get().checked_sub(self.first)?;
        usize::try_from(offset).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> RequestId {
        RequestId::new(n)
    }

    #[test]
    fn keeps_issue_order_and_trims_leading_holes() {
        let mut slots = Slots::default();
        for n in 5..10 {
            assert!(slots.insert(id(n), n));
        }
        assert_eq!(slots.remove(id(7)), Some(7));
        assert_eq!(slots.remove(id(5)), Some(5));
        assert_eq!(slots.remove(id(5)), None);
        assert_eq!(slots.len(), 3);
        let order: Vec<u64> = slots
            .ids()
            .filter(|&i| slots.get(i).is_some())
            .map(RequestId::get)
            .collect();
        assert_eq!(order, [6, 8, 9]);
        assert_eq!(slots.first, 6, "the hole at 5 was trimmed");
        assert!(!slots.insert(id(7), 7), "an old id is not reused");
        assert!(slots.insert(id(12), 12), "gaps are allowed");
        assert_eq!(slots.get(id(12)), Some(&12));
        assert_eq!(slots.get(id(11)), None);
        for n in [6, 8, 9, 12] {
            slots.remove(id(n));
        }
        assert_eq!(slots.len(), 0);
        assert!(slots.slots.is_empty());
        assert!(slots.insert(id(40), 40));
        assert_eq!(slots.get_mut(id(40)), Some(&mut 40));
    }
}
