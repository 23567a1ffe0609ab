//! Bundle errors, each naming the file and, where there is one, the field or tensor at fault.

/// Why a bundle could not be read, loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle has no file `{0}`")]
    MissingFile(String),
    #[error("{file}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Config {
        file: String,
        field: Option<String>,
        message: String,
    },
    #[error("{file}: not a valid safetensors file: {message}")]
    Corrupt { file: String, message: String },
    #[error("{file}: missing tensor `{tensor}`{}", if *more > 0 { format!(" (and {more} more)") } else { String::new() })]
    MissingTensor {
        file: String,
        /// The module path the tensor was looked up as, after key mapping.
        tensor: String,
        more: usize,
    },
    #[error("{file}: tensor `{tensor}` has shape {found:?}, the model expects {expected:?}")]
    Shape {
        file: String,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{file}: tensor `{tensor}`: {message}")]
    Tensor {
        file: String,
        tensor: String,
        message: String,
    },
    #[error("bundle archive: {0}")]
    Archive(String),
    #[error("{file}: cannot write: {message}")]
    Save { file: String, message: String },
}
