//! The descriptors a [`Reflection`](crate::Reflection) serves, and the
//! answer to each kind of reflection question, protocol-version neutral.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;

use buffa::Message as _;
use buffa_descriptor::DescriptorPool;
use buffa_descriptor::generated::descriptor::FileDescriptorSet;

/// gRPC status code `INVALID_ARGUMENT`, in an `ErrorResponse`.
pub(crate) const INVALID_ARGUMENT: i32 = 3;
/// gRPC status code `NOT_FOUND`, in an `ErrorResponse`.
pub(crate) const NOT_FOUND: i32 = 5;

/// The longest name quoted back in an error message.
const MAX_QUOTED_NAME: usize = 128;

/// One reflection question, whatever the protocol version.
#[derive(Debug)]
pub(crate) enum Question<'a> {
    FileByFilename(&'a str),
    FileContainingSymbol(&'a str),
    FileContainingExtension(&'a str, i32),
    AllExtensionNumbersOfType(&'a str),
    ListServices,
    /// The request set none of the `message_request` fields.
    Empty,
}

/// One answer, whatever the protocol version.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Serialized `FileDescriptorProto`s: the file asked for, then the files
    /// it imports (transitively) not yet sent on this stream.
    Files(Vec<Vec<u8>>),
    /// A message type's extension numbers.
    ExtensionNumbers(String, Vec<i32>),
    /// The fully-qualified names of the services.
    Services(Vec<String>),
    /// A gRPC status code and a message, for the `ErrorResponse`.
    Error(i32, String),
}

/// Why a descriptor set could not be registered.
#[derive(Debug)]
pub struct RegisterError(String);

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reflection: cannot register the descriptor set: {}",
            self.0
        )
    }
}

impl std::error::Error for RegisterError {}

/// Every registered file, linked (symbols, extensions), and each file's
/// serialized form.
#[derive(Clone, Default)]
pub(crate) struct Index {
    pool: DescriptorPool,
    /// File name → serialized `FileDescriptorProto`.
    encoded: HashMap<String, Vec<u8>>,
    /// File name → the files it imports.
    imports: HashMap<String, Vec<String>>,
    services: BTreeSet<String>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("files", &self.encoded.len())
            .field("services", &self.services)
            .finish()
    }
}

impl Index {
    /// Adds the files of a serialized `FileDescriptorSet`. Files already
    /// registered (by name) are kept as they are.
    pub(crate) fn add(&mut self, bytes: &[u8]) -> Result<(), RegisterError> {
        // The bytes come from the program itself (generated code), not from
        // a peer: a large schema may exceed buffa's default element budget.
        let options = buffa::DecodeOptions::new().with_element_memory_limit(usize::MAX);
        let set: FileDescriptorSet = options
            .decode_from_slice(bytes)
            .map_err(|e| RegisterError(e.to_string()))?;
        let new: Vec<_> = set
            .file
            .iter()
            .filter(|f| {
                f.name
                    .as_deref()
                    .is_some_and(|n| !self.encoded.contains_key(n))
            })
            .cloned()
            .collect();
        self.pool
            .add_file_descriptor_set(set)
            .map_err(|e| RegisterError(e.to_string()))?;
        for file in new {
            let name = file.name.clone().unwrap_or_default();
            let package = file.package.as_deref().unwrap_or("");
            for service in &file.service {
                let service = service.name.as_deref().unwrap_or("");
                self.services.insert(if package.is_empty() {
                    service.to_string()
                } else {
                    format!("{package}.{service}")
                });
            }
            self.imports.insert(name.clone(), file.dependency.clone());
            self.encoded.insert(name, file.encode_to_vec());
        }
        Ok(())
    }

    /// The fully-qualified names of the services declared in the
    /// registered files, sorted.
    pub(crate) fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(String::as_str)
    }

    /// Answers `question`; `sent` holds the names of the files already
    /// sent on this stream, and gains those sent now.
    pub(crate) fn answer(&self, question: &Question<'_>, sent: &mut HashSet<String>) -> Answer {
        match *question {
            Question::FileByFilename(name) => match self.encoded.get(name) {
                Some(_) => self.files(name, sent),
                None => not_found("file", name),
            },
            Question::FileContainingSymbol(symbol) => {
                match self.pool.file_containing_symbol(symbol) {
                    Some(file) => self.files(file.name.as_deref().unwrap_or(""), sent),
                    None => not_found("symbol", symbol),
                }
            }
            Question::FileContainingExtension(type_name, number) => {
                let Some(extendee) = self.pool.message_index(type_name) else {
                    return not_found("message type", type_name);
                };
                let extension = u32::try_from(number)
                    .ok()
                    .and_then(|n| self.pool.extension_for(extendee, n));
                match extension.and_then(|ext| self.pool.file_containing_symbol(ext.full_name())) {
                    Some(file) => self.files(file.name.as_deref().unwrap_or(""), sent),
                    None => Answer::Error(
                        NOT_FOUND,
                        format!(
                            "no extension {number} of \"{}\" is known",
                            quoted(type_name)
                        ),
                    ),
                }
            }
            Question::AllExtensionNumbersOfType(type_name) => {
                let Some(extendee) = self.pool.message_index(type_name) else {
                    return not_found("message type", type_name);
                };
                let numbers = self
                    .pool
                    .extensions_of(extendee)
                    .map(|ext| ext.field().number() as i32)
                    .collect();
                let name = type_name.strip_prefix('.').unwrap_or(type_name);
                Answer::ExtensionNumbers(name.to_string(), numbers)
            }
            Question::ListServices => Answer::Services(self.services.iter().cloned().collect()),
            Question::Empty => Answer::Error(
                INVALID_ARGUMENT,
                "the request sets none of the message_request fields".to_string(),
            ),
        }
    }

    /// `name` and its transitive imports not in `sent` (`name` itself
    /// always), breadth first.
    fn files(&self, name: &str, sent: &mut HashSet<String>) -> Answer {
        let mut out = Vec::new();
        let mut queue = VecDeque::from([name.to_string()]);
        let mut seen = HashSet::from([name.to_string()]);
        while let Some(file) = queue.pop_front() {
            let Some(encoded) = self.encoded.get(&file) else {
                continue;
            };
            if out.is_empty() || !sent.contains(&file) {
                out.push(encoded.clone());
                sent.insert(file.clone());
            }
            for import in self.imports.get(&file).into_iter().flatten() {
                if seen.insert(import.clone()) {
                    queue.push_back(import.clone());
                }
            }
        }
        Answer::Files(out)
    }
}

fn not_found(what: &str, name: &str) -> Answer {
    Answer::Error(NOT_FOUND, format!("{what} \"{}\" not found", quoted(name)))
}

/// `name` cut at [`MAX_QUOTED_NAME`] bytes, on a character boundary.
fn quoted(name: &str) -> &str {
    if name.len() <= MAX_QUOTED_NAME {
        return name;
    }
    let mut end = MAX_QUOTED_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}
