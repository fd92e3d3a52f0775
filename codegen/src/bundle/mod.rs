//! Every generated file for one descriptor set, in one call: buffa's
//! message code, the ConnectRPC service code of each `service`, one
//! stitcher per package and the module tree nesting the packages.
//!
//! `connectrpc-build` (from `build.rs`) and `protoc-gen-connect-rust` (from
//! `protoc` or `buf generate`) both call [`generate`], so the same `.proto`
//! files give the same code either way.
//!
//! ```
//! use buffa_codegen::generated::descriptor::{
//!     DescriptorProto, FileDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto,
//! };
//! use connectrpc_codegen::bundle::{self, Config};
//!
//! let file = FileDescriptorProto {
//!     name: Some("greet/v1/greet.proto".into()),
//!     package: Some("greet.v1".into()),
//!     syntax: Some("proto3".into()),
//!     message_type: vec![DescriptorProto {
//!         name: Some("GreetRequest".into()),
//!         ..Default::default()
//!     }],
//!     service: vec![ServiceDescriptorProto {
//!         name: Some("GreetService".into()),
//!         method: vec![MethodDescriptorProto {
//!             name: Some("Greet".into()),
//!             input_type: Some(".greet.v1.GreetRequest".into()),
//!             output_type: Some(".greet.v1.GreetRequest".into()),
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let output = bundle::generate(&[file], &["greet/v1/greet.proto".into()], &Config::new())?;
//! let names: Vec<_> = output.files.iter().map(|f| f.name.as_str()).collect();
//! assert!(names.contains(&"greet.v1.greet.rs")); // messages
//! assert!(names.contains(&"greet.v1.greet.__connect.rs")); // services
//! assert!(names.contains(&"greet.v1.mod.rs")); // the package's stitcher
//! let tree = output.module_tree(buffa_codegen::IncludeMode::Relative(""));
//! assert!(tree.contains("pub mod greet {"));
//! # Ok::<(), connectrpc_codegen::bundle::Error>(())
//! ```
//!
//! With [`Messages::Extern`] only the service code is generated; its
//! request and response types are found through
//! [`Config::buffa_module`] (where `protoc-gen-buffa`'s output is mounted)
//! and [`Config::extern_path`].

mod checks;
mod config;
mod error;
mod generate;

pub use self::config::{Config, Messages};
pub use self::error::{Error, TypeProblem};
pub use self::generate::{Output, generate};

#[cfg(test)]
mod tests;
