//! The float precision a device computes in: f32 everywhere, or f16 where the device has f16
//! arithmetic (Vulkan and CUDA GPUs, WebGPU adapters with `shader-f16`), for inference.
//!
//! A device set to f16 creates every float tensor in f16, and bundles load their weights into it
//! as f16 whatever dtype they are stored in; results are read back as f32. Training stays f32.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{DType, Device, FloatDType};

/// A float precision models compute in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    #[default]
    F32,
    F16,
}

/// Why a device cannot compute in the precision asked for.
#[derive(Debug, thiserror::Error)]
pub enum PrecisionError {
    #[error("this device ({device}) has no f16 arithmetic; compute in f32 instead")]
    Unsupported { device: String },
    #[error("the device's precision is fixed once its first tensor exists ({0})")]
    AlreadyInUse(String),
    #[error("unknown precision `{0}` (expected f32 or f16)")]
    Unknown(String),
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
        }
    }

    fn dtype(self) -> FloatDType {
        match self {
            Self::F32 => FloatDType::F32,
            Self::F16 => FloatDType::F16,
        }
    }

    /// Whether `device` can compute in this precision.
    pub fn supported_on(self, device: &Device) -> bool {
        self == Self::F32 || device.supports_dtype(self.dtype())
    }

    /// Makes `device` compute in this precision; call it before any tensor is made there. f32
    /// is every device's own, so asking for it changes nothing.
    pub fn configure(self, device: &mut Device) -> Result<(), PrecisionError> {
        if self == Self::F32 {
            return Ok(());
        }
        if !self.supported_on(device) {
            return Err(PrecisionError::Unsupported {
                device: format!("{device:?}"),
            });
        }
        device
            .configure(self.dtype())
            .map_err(|e| PrecisionError::AlreadyInUse(format!("{e:?}")))
    }

    /// The precision `device` computes in.
    pub fn of(device: &Device) -> Self {
        match DType::from(device.settings().float_dtype) {
            DType::F16 => Self::F16,
            _ => Self::F32,
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = PrecisionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            other => Err(PrecisionError::Unknown(other.into())),
        }
    }
}
