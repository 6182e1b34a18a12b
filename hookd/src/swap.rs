//! [`Swap`]: a value replaced whole on reload and read as an `Arc` clone, shared by the
//! daemon's state and the script runner (which holds the redactor, not the whole state).

use std::sync::{Arc, PoisonError, RwLock};

/// A value swapped whole on reload and read as an `Arc` clone (the ruleset, the redactor).
/// Cloning the handle shares the value.
pub struct Swap<T>(Arc<RwLock<Arc<T>>>);

impl<T> Clone for Swap<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Swap<T> {
    /// A handle to `value`.
    pub fn new(value: T) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(value))))
    }

    /// A handle to a value already shared.
    pub fn from_arc(value: Arc<T>) -> Self {
        Self(Arc::new(RwLock::new(value)))
    }

    /// The value now.
    #[must_use]
    pub fn get(&self) -> Arc<T> {
        // A poisoned lock still holds a valid Arc: a panic cannot leave it half-written.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the value; readers holding the old one keep it until they drop it.
    pub fn set(&self, value: T) {
        self.set_arc(Arc::new(value));
    }

    /// Replaces the value with one already shared.
    pub fn set_arc(&self, value: Arc<T>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}
