//! Crate-internal macros.

/// Defines `get_ref`, `get_mut` and `into_inner` for a service wrapping an
/// `inner` field.
macro_rules! define_inner_service_accessors {
    ($name:ident) => {
        impl<S> $name<S> {
            /// The wrapped service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// The wrapped service, mutably.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner
            }

            /// Unwraps the inner service.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }
    };
}

pub(crate) use define_inner_service_accessors;
