//! The `--backend` choice and the device it gives.

use std::sync::OnceLock;

use anyhow::{Context, Result};
use burn::tensor::Device;
use tessera_core::precision::Precision;

/// The largest tensor one buffer holds on the wgpu device this process made (its adapter's
/// `max_storage_buffer_binding_size` / `max_buffer_size`, which the runtime requests).
static WGPU_MAX_TENSOR_BYTES: OnceLock<u64> = OnceLock::new();

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
    /// This backend's device, computing in f32.
    pub fn device(self) -> Result<Device> {
        self.device_in(Precision::F32)
    }

    /// This backend's device, computing in `precision` (`--precision`): refused by name where
    /// the device has no arithmetic in it.
    pub fn device_in(self, precision: Precision) -> Result<Device> {
        let mut device = self.raw_device()?;
        precision
            .configure(&mut device)
            .with_context(|| format!("--precision {precision} on the {} backend", self.name()))?;
        #[cfg(feature = "cuda")]
        if self == Self::Cuda {
            // Touch the device so a missing driver is an error here, not a panic later.
            let touch = device.clone();
            std::panic::catch_unwind(move || {
                burn::tensor::Tensor::<1>::zeros([1], &touch).into_data()
            })
            .map_err(|_| anyhow::anyhow!("CUDA device 0 could not be initialised"))?;
        }
        Ok(device)
    }

    /// The device, before its precision is set (no tensor made on it yet).
    fn raw_device(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => wgpu_device(
                Device::wgpu_options()
                    .init_with_setup()
                    .context("no wgpu adapter could be initialised")?,
            ),
            #[cfg(feature = "wgpu")]
            Self::Vulkan => wgpu_device(
                Device::wgpu_options()
                    .graphics_api(burn::tensor::wgpu::WgpuBackend::Vulkan)
                    .init_with_setup()
                    .context(
                        "no Vulkan adapter could be initialised (is a Vulkan driver installed?)",
                    )?,
            ),
            #[cfg(feature = "cuda")]
            Self::Cuda => Ok(Device::cuda(0)),
        }
    }

    /// The largest tensor (as f32) one GPU buffer holds on this backend's device, once made
    /// (`None` on the CPU): bundles read for it refuse larger tensors by name.
    pub fn max_tensor_bytes(self) -> Option<u64> {
        match self {
            Self::Cpu => None,
            #[cfg(feature = "wgpu")]
            Self::Wgpu | Self::Vulkan => WGPU_MAX_TENSOR_BYTES.get().copied(),
            #[cfg(feature = "cuda")]
            Self::Cuda => None,
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

#[cfg(feature = "wgpu")]
fn wgpu_device((device, setup): (Device, burn::tensor::wgpu::WgpuSetup)) -> Result<Device> {
    let limits = setup.device.limits();
    let max = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    WGPU_MAX_TENSOR_BYTES.get_or_init(|| max);
    Ok(device)
}

/// One device of a `--devices` list: `cpu`, `vulkan` / `vulkan:N` (the N-th discrete GPU),
/// `wgpu`, `cuda:N`; each computes in f32.
pub fn parse_device(spec: &str) -> Result<Device> {
    let (kind, index) = match spec.split_once(':') {
        Some((kind, index)) => {
            let index: usize = index
                .parse()
                .with_context(|| format!("--devices {spec}: `{index}` is not a device number"))?;
            (kind, Some(index))
        }
        None => (spec, None),
    };
    match (kind, index) {
        ("cpu", None) => Backend::Cpu.device(),
        #[cfg(feature = "wgpu")]
        ("wgpu", None) => Backend::Wgpu.device(),
        #[cfg(feature = "wgpu")]
        ("vulkan", None) => Backend::Vulkan.device(),
        #[cfg(feature = "wgpu")]
        ("vulkan", Some(index)) => wgpu_device(
            Device::wgpu_options()
                .graphics_api(burn::tensor::wgpu::WgpuBackend::Vulkan)
                .device_kind(burn::tensor::DeviceKind::DiscreteGpu(index))
                .init_with_setup()
                .with_context(|| format!("--devices {spec}: no Vulkan GPU number {index}"))?,
        ),
        #[cfg(feature = "cuda")]
        ("cuda", Some(index)) => Ok(Device::cuda(index)),
        _ => anyhow::bail!(
            "--devices {spec}: not a device of this build (cpu{}{})",
            if cfg!(feature = "wgpu") {
                ", wgpu, vulkan, vulkan:N"
            } else {
                ""
            },
            if cfg!(feature = "cuda") {
                ", cuda:N"
            } else {
                ""
            },
        ),
    }
}
