//! A small in-memory cache whose entries expire.
//!
//! Resolution results are few and cheap to hold, so a mutex-guarded map is enough; it avoids
//! pulling in a concurrent cache crate for a few thousand entries at most. The lock is shared
//! with the firehose workers, so every operation is O(1) amortized: a full cache evicts from the
//! front of an insertion-order queue instead of scanning the map.

use foldhash::HashMap;
use foldhash::HashMapExt;
use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    entries: HashMap<K, (Instant, V)>,
    /// Keys in the order they were (re)inserted, with the insertion time. An entry whose time
    /// differs from the map's was re-inserted or removed later: it is skipped when reached.
    order: VecDeque<(Instant, K)>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(super) fn new(ttl: Duration, capacity: usize) -> Self {
        TtlCache {
            ttl,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // A panic while holding the lock leaves at worst a stale entry, never a broken map.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value for `key` if it was inserted less than the TTL ago.
    pub(super) fn get(&self, key: &K) -> Option<V> {
        self.get_with_age(key).map(|(v, _)| v)
    }

    /// The value for `key` and how long ago it was inserted, if within the TTL.
    pub(super) fn get_with_age(&self, key: &K) -> Option<(V, Duration)> {
        let mut inner = self.lock();
        match inner.entries.get(key) {
            Some((at, v)) if at.elapsed() < self.ttl => Some((v.clone(), at.elapsed())),
            Some(_) => {
                inner.entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(super) fn insert(&self, key: K, value: V) {
        let mut inner = self.lock();
        let now = Instant::now();
        if !inner.entries.contains_key(&key) {
            while inner.entries.len() >= self.capacity {
                // The front is the oldest insertion: expired or not, it goes first.
                let Some((at, old)) = inner.order.pop_front() else {
                    break;
                };
                if inner.entries.get(&old).is_some_and(|(t, _)| *t == at) {
                    inner.entries.remove(&old);
                }
            }
        }
        inner.entries.insert(key.clone(), (now, value));
        inner.order.push_back((now, key));
        // Re-insertions of live keys leave stale queue entries behind; rebuilding the queue
        // when it is twice the map keeps it bounded, in amortized O(1) per insert.
        if inner.order.len() > 2 * self.capacity {
            let Inner { entries, order } = &mut *inner;
            order.retain(|(at, k)| entries.get(k).is_some_and(|(t, _)| t == at));
        }
    }

    pub(super) fn remove(&self, key: &K) {
        self.lock().entries.remove(key);
    }

    #[cfg(test)]
    fn queue_len(&self) -> usize {
        self.lock().order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::TtlCache;
    use std::time::Duration;

    #[test]
    fn a_full_cache_evicts_the_oldest_insertion() {
        let cache = TtlCache::new(Duration::from_secs(60), 3);
        for k in 0..3 {
            cache.insert(k, k * 10);
        }
        // Re-inserting 0 makes 1 the oldest.
        cache.insert(0, 0);
        cache.insert(3, 30);
        assert_eq!(cache.get(&1), None);
        for k in [0, 2, 3] {
            assert!(cache.get(&k).is_some(), "{k} should still be cached");
        }
    }

    #[test]
    fn the_insertion_queue_stays_bounded() {
        let cache = TtlCache::new(Duration::from_secs(60), 100);
        for round in 0..50 {
            for k in 0..100 {
                cache.insert(k, round);
            }
        }
        assert!(cache.queue_len() <= 200, "queue {}", cache.queue_len());
        for k in 0..100 {
            assert_eq!(cache.get(&k), Some(49));
        }
    }

    #[test]
    fn expired_entries_are_not_served() {
        let cache = TtlCache::new(Duration::from_millis(1), 10);
        cache.insert("a", 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get(&"a"), None);
    }

    /// Inserting into a full cache must not scan it: 200,000 inserts into a 10,000-entry cache
    /// take a fraction of what 200,000 full scans of 10,000 entries would.
    #[test]
    fn inserting_when_full_does_not_scan() {
        let cache = TtlCache::new(Duration::from_secs(600), 10_000);
        for k in 0..200_000u32 {
            cache.insert(k, k);
        }
        assert_eq!(cache.get(&199_999), Some(199_999));
        assert_eq!(cache.get(&0), None);
        assert!(cache.queue_len() <= 20_000);
    }
}
