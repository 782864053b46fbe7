//! Typed ids and the arenas that own entities.
//!
//! Entities live in `Vec`s and are named by their index wrapped in a type per kind, so a pod id
//! can never be used where a node id is expected and iteration order is always insertion order
//! (a determinism rule: see the crate docs). Nothing is ever removed from an arena: a deleted pod
//! keeps its slot, marked gone, because the run's history still refers to it.

use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// Defines a `Copy` id type that indexes an [`Arena`].
macro_rules! typed_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl From<usize> for $name {
            fn from(i: usize) -> Self {
                $name(u32::try_from(i).expect("arena sizes are bounded by validation"))
            }
        }

        impl From<$name> for usize {
            fn from(id: $name) -> usize {
                id.0 as usize
            }
        }
    };
}

typed_id!(
    /// A node (a machine in the cluster).
    NodeId
);
typed_id!(
    /// A pod, live or deleted.
    PodId
);
typed_id!(
    /// A workload (a Deployment).
    WorkloadId
);
typed_id!(
    /// A Service and its endpoints.
    ServiceId
);
typed_id!(
    /// A ConfigMap.
    ConfigMapId
);
typed_id!(
    /// A cloud instance (the machine a node runs on, billed while it runs).
    InstanceId
);

/// A growable vector of entities addressed by a typed id.
#[derive(Clone, Debug)]
pub struct Arena<I, T> {
    items: Vec<T>,
    _id: PhantomData<fn(I) -> I>,
}

impl<I, T> Default for Arena<I, T> {
    fn default() -> Self {
        Arena { items: Vec::new(), _id: PhantomData }
    }
}

impl<I: From<usize> + Into<usize> + Copy, T> Arena<I, T> {
    /// Adds an entity and returns its id.
    pub fn push(&mut self, item: T) -> I {
        let id = I::from(self.items.len());
        self.items.push(item);
        id
    }

    /// The id the next [`Arena::push`] returns (so a map can be keyed by it before the
    /// entity is built).
    pub fn next_id(&self) -> I {
        I::from(self.items.len())
    }

    /// How many entities were ever added.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Ids and entities in insertion order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (I, &T)> {
        self.items.iter().enumerate().map(|(i, t)| (I::from(i), t))
    }

    /// Entities in insertion order, mutably.
    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }

    /// Entities in insertion order.
    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// All ids in insertion order.
    pub fn ids(&self) -> impl Iterator<Item = I> + use<I, T> {
        (0..self.items.len()).map(I::from)
    }
}

impl<I: Into<usize>, T> Index<I> for Arena<I, T> {
    type Output = T;
    fn index(&self, id: I) -> &T {
        &self.items[id.into()]
    }
}

impl<I: Into<usize>, T> IndexMut<I> for Arena<I, T> {
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.items[id.into()]
    }
}
