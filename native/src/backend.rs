//! The `--backend` choice and the device it gives.

use anyhow::{Context, Result};
use burn::tensor::Device;

/// Where tensors live. `wgpu` lets wgpu pick the graphics API (Vulkan, Metal, DX12, GL);
/// `vulkan` insists on Vulkan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Cpu,
    #[cfg(feature = "wgpu")]
    Wgpu,
    #[cfg(feature = "wgpu")]
    Vulkan,
    #[cfg(feature = "cuda")]
    Cuda,
}

impl Backend {
    pub fn device(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Device::wgpu_options()
                .init()
                .context("no wgpu adapter could be initialised"),
            #[cfg(feature = "wgpu")]
            Self::Vulkan => Device::wgpu_options()
                .graphics_api(burn::tensor::wgpu::WgpuBackend::Vulkan)
                .init()
                .context("no Vulkan adapter could be initialised (is a Vulkan driver installed?)"),
            #[cfg(feature = "cuda")]
            Self::Cuda => {
                let device = Device::cuda(0);
                // Touch the device so a missing driver is an error here, not a panic later.
                std::panic::catch_unwind(|| {
                    burn::tensor::Tensor::<1>::zeros([1], &device).into_data()
                })
                .map_err(|_| anyhow::anyhow!("CUDA device 0 could not be initialised"))?;
                Ok(device)
            }
        }
    }

    /// Every backend compiled into this binary.
    pub fn compiled() -> Vec<Self> {
        use clap::ValueEnum;
        Self::value_variants().to_vec()
    }

    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}
